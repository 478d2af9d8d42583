"""``flask --app app notify digest``: queue the daily digests (attach to the notify group)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from bpt311.watch.digest import send_digests


@click.command("digest")
@with_appcontext
def digest_command() -> None:
    """Queue each daily-digest subscriber one email of what happened in their areas.

    Safe to run again, or twice at once: nothing is ever sent twice. Run it once a day,
    for example from cron; the outbox worker (``notify run``) delivers the emails.
    """

    sent = send_digests()
    click.echo(f"Queued {sent} digest email{'s' if sent != 1 else ''}.")
