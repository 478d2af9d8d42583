"""``flask open311 ...``: send a category's reports on to the city's work-order system."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from bpt311 import effects
from bpt311.outbound311 import endpoints, syncing
from bpt311.templating import local_time

open311_cli = AppGroup(
    "open311", help="Send reports on to the city's work-order system (Open311) and sync back."
)
endpoints_cli = AppGroup("endpoints", help="The city systems reports are sent to.")
open311_cli.add_command(endpoints_cli)


@endpoints_cli.command("add")
@click.argument("name")
@click.option("--url", "root_url", required=True, help="The GeoReport v2 root URL.")
@click.option("--api-key", "api_key", required=True, help="The key the city system gave us.")
@click.option("--jurisdiction", default="", help="jurisdiction_id, if the system wants one.")
def add_command(name: str, root_url: str, api_key: str, jurisdiction: str) -> None:
    """Add the endpoint NAME (its key is stored and never shown again)."""
    try:
        endpoint = endpoints.add_endpoint(name, root_url, api_key, jurisdiction)
    except endpoints.EndpointProblem as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Added {endpoint.name} at {endpoint.root_url}.")
    click.echo(f"Send a category's reports there with: flask open311 route CODE --endpoint {name}")


@endpoints_cli.command("list")
def list_command() -> None:
    """Every endpoint, what is routed to it, and its requests by state (keys never shown)."""
    rows = endpoints.endpoint_counts()
    if not rows:
        click.echo("No endpoints yet. Add one with: flask open311 endpoints add NAME --url ...")
        return
    for endpoint, counts, routes in rows:
        click.echo(f"{endpoint.name}  {endpoint.root_url}")
        if endpoint.jurisdiction:
            click.echo(f"  jurisdiction: {endpoint.jurisdiction}")
        click.echo(f"  routed here: {', '.join(routes) or '-'}")
        click.echo(
            "  requests: "
            + ", ".join(f"{counts.get(state, 0)} {state}" for state in endpoints.STATES_SHOWN)
        )
        synced = local_time(endpoint.synced_at, "%Y-%m-%d %H:%M") or "never"
        click.echo(f"  last sync: {synced}")


@open311_cli.command("route")
@click.argument("category_code")
@click.option("--endpoint", "endpoint_name", required=True, help="An endpoint's name, or none.")
@click.option("--service-code", default="", help="The service code there (default: ours).")
def route_command(category_code: str, endpoint_name: str, service_code: str) -> None:
    """Send new reports of CATEGORY_CODE to an endpoint (--endpoint none: keep them here)."""
    try:
        category = endpoints.route_category(category_code, endpoint_name, service_code)
    except endpoints.EndpointProblem as exc:
        raise click.ClickException(str(exc)) from exc
    if category.send_endpoint_id is None:
        click.echo(f"New {category.service_code} reports stay here (sent nowhere).")
    else:
        remote = category.remote_service_code or category.service_code
        click.echo(
            f"New {category.service_code} reports go to {endpoint_name.strip()} "
            f"as service {remote}."
        )


@open311_cli.command("test")
@click.argument("name")
def test_command(name: str) -> None:
    """Read NAME's services.json and list what it offers."""
    try:
        endpoint = endpoints.endpoint_named(name)
        offered = endpoints.services_of(endpoint)
    except (endpoints.EndpointProblem, endpoints.RemoteUnavailable) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{endpoint.name} offers {len(offered)} services:")
    for item in offered:
        click.echo(f"  {item.get('service_code', '?')}: {item.get('service_name', '')}")


@open311_cli.command("sync")
def sync_command() -> None:
    """Bring each endpoint's updates back to our reports (each once)."""
    rows = endpoints.endpoint_counts()
    failed = False
    for endpoint, _counts, _routes in rows:
        name = endpoint.name
        try:
            applied = syncing.sync_endpoint(endpoint)
        except endpoints.RemoteUnavailable as exc:
            effects.rollback()
            failed = True
            click.echo(f"{name}: not reached, nothing changed: {exc}", err=True)
            continue
        click.echo(f"{name}: {applied} update{'s' if applied != 1 else ''} applied.")
    if failed:
        raise click.ClickException("Some endpoints could not be read: run sync again later.")
