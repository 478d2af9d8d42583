"""``flask --app app privacy purge``: the retention settings, applied."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from bpt311.privacy.retention import purge

privacy_cli = AppGroup("privacy", help="Personal data: retention.")


@privacy_cli.command("purge")
def purge_command() -> None:
    """Erase contact details of long-closed reports and old sent emails (idempotent)."""

    done = purge()
    config = current_app.config
    click.echo(
        f"Erased the contact details of {done.contacts} report"
        f"{'s' if done.contacts != 1 else ''} closed more than "
        f"{config['RETENTION_CONTACT_DAYS']} days ago and deleted {done.emails} email"
        f"{'s' if done.emails != 1 else ''} sent more than {config['RETENTION_OUTBOX_DAYS']} "
        f"days ago; deleted {done.notices} watch-area notice{'s' if done.notices != 1 else ''} "
        f"older than {config['RETENTION_NOTICE_DAYS']} days and {done.pushes} push "
        f"notification{'s' if done.pushes != 1 else ''} sent more than "
        f"{config['RETENTION_OUTBOX_DAYS']} days ago."
    )
    if done.subscriptions:
        click.echo(
            f"Deleted {done.subscriptions} email subscription"
            f"{'s' if done.subscriptions != 1 else ''} to reports closed more than "
            f"{config['RETENTION_CONTACT_DAYS']} days ago."
        )
