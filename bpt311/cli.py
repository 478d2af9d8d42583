"""Command-line tasks: ``flask --app app seed``, ``flask --app app notify run`` ..."""

from __future__ import annotations

import signal
import threading

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_migrate import upgrade
from sqlalchemy import func, select

from bpt311 import effects
from bpt311.accounts.cli import users_cli
from bpt311.api.cli import api_keys_cli
from bpt311.backup import backup_command, restore_command
from bpt311.config import MIGRATIONS_DIR
from bpt311.extensions import db
from bpt311.imports.cli import import_cli
from bpt311.jobs.loop import run_pass, run_worker
from bpt311.models import Category, Report
from bpt311.outbound311.cli import open311_cli
from bpt311.privacy.cli import privacy_cli
from bpt311.reports import daily, map_summary
from bpt311.seed import load_city, make_demo_reports
from bpt311.site import city_zone
from bpt311.staff.housekeeping import archive_closed, send_overdue_emails
from bpt311.watch.cli import digest_command

notify_cli = AppGroup("notify", help="Deliver the email outbox.")
stats_cli = AppGroup("stats", help="The figures' daily summary.")


def prepare_database(demo_reports: int = 300) -> None:
    """Bring the schema up to date and fill an empty database: what the first run needs."""

    upgrade(directory=MIGRATIONS_DIR)
    if db.session.scalar(select(func.count(Category.id))) == 0:
        load_city()
        wants_demo = current_app.config["DEMO_REPORTS"] and demo_reports
        if wants_demo and db.session.scalar(select(func.count(Report.id))) == 0:
            make_demo_reports(demo_reports)


@click.command("seed")
@click.option(
    "--reports",
    "report_count",
    type=click.IntRange(min=0),
    default=0,
    help="Also make this many demo reports (for load tests).",
)
def seed_command(report_count: int) -> None:
    """Load Bridgeport's departments, categories and neighbourhoods (idempotent)."""

    counts = load_city()
    click.echo(
        f"Loaded {counts['departments']} departments, {counts['categories']} categories "
        f"and {counts['neighbourhoods']} neighbourhoods."
    )
    if report_count:
        made = make_demo_reports(report_count)
        click.echo(f"Made {made} demo reports.")


@stats_cli.command("rebuild")
def stats_rebuild() -> None:
    """Count the daily summary behind /stats, the home page and the dashboard, and the
    map's summary of its fine cells, again from every report (idempotent: nothing changes
    unless a summary had drifted)."""
    rows = daily.rebuild(db.session.connection(), city_zone())
    cells = map_summary.rebuild(db.session.connection())
    effects.commit()
    click.echo(f"Counted the daily figures again: {rows} rows.")
    click.echo(f"Counted the map's cells again: {cells} rows.")


@notify_cli.command("run")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option(
    "--interval", type=click.FloatRange(min=0.5), default=5.0, help="Seconds between passes."
)
def notify_run(once: bool, interval: float) -> None:
    """Deliver queued emails and push messages, retrying failures with backoff, until stopped."""

    if once:
        done = run_pass()
        click.echo(f"Sent {done.emails} emails and {done.pushes} push messages.")
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo("Delivering the outbox; Ctrl+C to stop.")
    run_worker(current_app._get_current_object(), stop, interval)


@notify_cli.command("overdue")
def notify_overdue() -> None:
    """Email each department its overdue reports: once per city day, however often run."""

    run = send_overdue_emails()
    click.echo(
        f"Queued overdue emails for {run.sent} department{'s' if run.sent != 1 else ''}; "
        f"{run.already_sent} already had today's, {run.no_address} have no email address."
    )


@click.command("archive")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=90,
    show_default=True,
    help="Archive reports closed more than this many days ago.",
)
def archive_command(days: int) -> None:
    """Move long-closed reports to "archived" (idempotent; safe to run from cron)."""

    count = archive_closed(days)
    click.echo(
        f"Archived {count} report{'s' if count != 1 else ''} closed more than {days} days ago."
    )


def register_cli(app: Flask) -> None:
    if "digest" not in notify_cli.commands:
        notify_cli.add_command(digest_command)

    app.cli.add_command(seed_command)
    app.cli.add_command(archive_command)
    app.cli.add_command(notify_cli)
    app.cli.add_command(stats_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(api_keys_cli)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(privacy_cli)
    app.cli.add_command(import_cli)
    app.cli.add_command(open311_cli)
