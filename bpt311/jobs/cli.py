"""``flask --app app jobs worker`` runs the queue's jobs; ``jobs sweep`` catches up."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from bpt311.jobs.sweep import retry_spooled_media, sweep_media, sweep_watch_events
from bpt311.jobs.worker import make_worker

jobs_cli = AppGroup("jobs", help="The job queue on Redis: workers and the sweep.")


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queues are empty.")
@click.option("--simple", is_flag=True, help="Run jobs in this process (no fork).")
@click.option("--name", default=None, help="The worker's name in Redis (default: unique).")
def worker_command(burst: bool, simple: bool, name: str | None) -> None:
    """Run jobs from the email, watch and media queues (emails first), with retries."""

    app = current_app._get_current_object()
    if not app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: there is no job queue to work on.")
    worker = make_worker(app, simple=simple, name=name)
    # The scheduler puts jobs waiting for their retry back on the queue when it is time.
    worker.work(burst=burst, with_scheduler=True, logging_level="INFO")


@jobs_cli.command("sweep")
@click.option("--older-than", type=float, default=None, help="Seconds (default: the setting).")
def sweep_command(older_than: float | None) -> None:
    """Queue again (or, Redis down, do here) photos whose copies were never made and watch
    events whose watchers were never told, and send media spooled while the object store
    was down."""

    handled = sweep_media(limit=1000, older_than=older_than)
    click.echo(f"Swept {handled} photo{'s' if handled != 1 else ''}.")
    events = sweep_watch_events(limit=1000, older_than=older_than)
    if events:
        click.echo(f"Swept {events} watch-area event{'s' if events != 1 else ''}.")
    replayed = retry_spooled_media()
    if replayed:
        click.echo(f"Sent {replayed} spooled media operation{'s' if replayed != 1 else ''}.")
