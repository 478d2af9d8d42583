"""``flask --app app users ...``: managing accounts from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from bpt311.accounts import queries, service
from bpt311.models import ROLES

users_cli = AppGroup("users", help="Create and manage accounts.")


@users_cli.command("create")
@click.option("--email", required=True, help="The address the person signs in with.")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="resident",
    show_default=True,
    help="What the account may do.",
)
@click.option("--department", "department_name", help="Department name (staff need one).")
@click.option("--name", "display_name", default="", help="The person's name.")
@click.option(
    "--password",
    help="Leave out to be asked for it (better: it stays out of the shell history).",
)
def create_user(
    email: str, role: str, department_name: str | None, display_name: str, password: str | None
) -> None:
    """Create an account whose email address counts as confirmed."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = service.create_account(
            email, role, password, department_name=department_name, display_name=display_name
        )
    except service.InvalidAccount as exc:
        raise click.ClickException(str(exc)) from exc
    where = f" in {user.department.name}" if user.department else ""
    click.echo(f"Created {user.role} account {user.id} for {user.email}{where}.")


@users_cli.command("list")
def list_users() -> None:
    """Every account: id, role, email, department, and whether it is confirmed and open."""
    users = queries.all_users()
    if not users:
        click.echo("No accounts yet.")
        return
    for user in users:
        flags = [
            "confirmed" if user.email_verified_at else "unconfirmed",
            "active" if user.active else "deactivated",
        ]
        department = user.department.name if user.department else "-"
        click.echo(
            f"{user.id:>5}  {user.role:<8}  {user.email:<40}  {department:<30}  {', '.join(flags)}"
        )
