"""``flask --app app api-keys ...``: keys for outside systems that file reports."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from bpt311.api import keys
from bpt311.extensions import db
from bpt311.models import User
from bpt311.templating import local_time

api_keys_cli = AppGroup("api-keys", help="Create, list and revoke Open311 API keys.")


@api_keys_cli.command("create")
@click.argument("name")
@click.option("--by", "created_by", default="", help="Email of the admin making the key.")
def create_command(name: str, created_by: str) -> None:
    """Make a key for NAME (who will use it) and print it, once."""
    admin = None
    if created_by:
        admin = db.session.scalars(
            select(User).where(func.lower(User.email) == created_by.strip().lower())
        ).one_or_none()
        if admin is None:
            raise click.ClickException(f"No account has the email {created_by!r}")
    try:
        made = keys.create_key(name, created_by=admin)
    except keys.KeyProblem as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"API key for {made.record.name} (prefix {made.record.prefix}):")
    click.echo(made.secret)
    click.echo("It is shown only now and cannot be recovered: give it to its user securely.")


@api_keys_cli.command("list")
def list_command() -> None:
    """Every key: prefix, name, when it was made, last used and revoked."""
    rows = keys.all_keys()
    if not rows:
        click.echo("No API keys yet. Make one with: flask --app app api-keys create NAME")
        return
    fmt = "%Y-%m-%d %H:%M"
    click.echo(f"{'prefix':10} {'created':17} {'last used':17} {'revoked':17} name")
    for key in rows:
        click.echo(
            f"{key.prefix:10} {local_time(key.created_at, fmt):17} "
            f"{local_time(key.last_used_at, fmt) or 'never':17} "
            f"{local_time(key.revoked_at, fmt) or '-':17} {key.name}"
        )


@api_keys_cli.command("revoke")
@click.argument("prefix")
def revoke_command(prefix: str) -> None:
    """Revoke the key that starts with PREFIX; it stops working at once."""
    try:
        key = keys.revoke_key(prefix)
    except keys.KeyProblem as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Revoked {key.prefix} ({key.name}) at {local_time(key.revoked_at, '%Y-%m-%d %H:%M')}."
    )
