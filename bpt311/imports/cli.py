"""``flask import open311|seeclickfix|csv``: bring an earlier system's reports over."""

from __future__ import annotations

import csv
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from bpt311.imports import readers
from bpt311.imports.service import Importer

import_cli = AppGroup("import", help="Import reports from SeeClickFix, an Open311 server or CSV.")

CATEGORY_MAP_HELP = (
    "JSON object, or CSV of two columns: their service code or request type -> our "
    "service_code. Kinds not mapped go to 'Imported — other'."
)


def _category_map(path: str | None) -> dict[str, str]:
    if not path:
        return {}
    text = Path(path).read_text(encoding="utf-8-sig")
    if path.lower().endswith(".json"):
        found = json.loads(text)
        if not isinstance(found, dict):
            raise click.BadParameter(
                "the category map must be a JSON object", param_hint="--category-map"
            )
        return {str(key): str(value) for key, value in found.items()}
    return {row[0]: row[1] for row in csv.reader(text.splitlines()) if len(row) >= 2}


def _date(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        found = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter("use a date like 2024-01-31", param_hint=name) from exc
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _run(importer: Importer, records, origin: str, dry_run: bool, skipped_file: str | None):
    started, seen = time.monotonic(), 0

    def progress(count: int) -> None:
        nonlocal seen
        seen += count
        rate = seen / max(time.monotonic() - started, 0.001)
        counts = importer.summary.counts()
        click.echo(
            f"\r{seen:,} read · {counts['imported']:,} new · {counts['updated']:,} updated · "
            f"{counts['skipped'] + counts['failed']:,} not imported · {rate:,.0f}/s",
            nl=False,
            err=True,
        )

    summary = importer.run(records, dry_run=dry_run, progress=progress)
    importer.finish(origin, dry_run)
    click.echo("", err=True)
    counts = summary.counts()
    click.echo(
        ("Dry run, nothing written: " if dry_run else "")
        + f"{counts['imported']:,} imported, {counts['updated']:,} updated, "
        f"{counts['unchanged']:,} unchanged, {counts['skipped']:,} skipped, "
        f"{counts['failed']:,} failed."
    )
    for name, count in summary.unknown_categories.most_common():
        click.echo(f"  Not in our catalogue (filed under 'Imported — other'): {name} × {count}")
    problems = [("skipped", *row) for row in summary.skipped] + [
        ("failed", *row) for row in summary.failed
    ]
    if problems:
        target = Path(
            skipped_file
            or Path(current_app.instance_path)
            / f"import-skipped-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.csv"
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["outcome", "id", "reason"])
            writer.writerows(problems)
        click.echo(f"The reports not imported, and why: {target}")


def _options(command):
    command = click.option(
        "--dry-run", is_flag=True, help="Read and check everything; write nothing."
    )(command)
    command = click.option(
        "--category-map", type=click.Path(exists=True, dir_okay=False), help=CATEGORY_MAP_HELP
    )(command)
    command = click.option(
        "--skipped",
        "skipped_file",
        type=click.Path(dir_okay=False),
        help="Where to write the CSV of reports not imported.",
    )(command)
    return command


@import_cli.command("open311")
@click.argument("root_url")
@click.option("--api-key", default="", help="If the server wants one for reading.")
@click.option("--jurisdiction", default="", help="jurisdiction_id, for servers of several cities.")
@click.option("--since", default="", help="Created on or after this date (default: 2010-01-01).")
@click.option("--until", default="", help="Created before this date (default: now).")
@_options
def import_open311(
    root_url, api_key, jurisdiction, since, until, category_map, dry_run, skipped_file
):
    """Every request of the GeoReport v2 server at ROOT_URL (where services.json is)."""
    start = _date(since, "--since") or datetime(2010, 1, 1, tzinfo=UTC)
    end = _date(until, "--until") or datetime.now(UTC)
    host = root_url.split("//", 1)[-1].split("/", 1)[0]
    importer = Importer(f"open311:{host}", _category_map(category_map))
    records = readers.from_open311(
        root_url, since=start, until=end, api_key=api_key, jurisdiction=jurisdiction
    )
    try:
        _run(importer, records, root_url, dry_run, skipped_file)
    except readers.SourceUnavailable as exc:
        raise click.ClickException(
            f"Stopped: {exc}. What was imported so far is kept; run the same command again "
            "to carry on."
        ) from exc


@import_cli.command("seeclickfix")
@click.argument("path", type=click.Path(exists=True))
@_options
def import_seeclickfix(path, category_map, dry_run, skipped_file):
    """SeeClickFix API v2 issues: a JSON page, or a folder of them."""
    importer = Importer("seeclickfix", _category_map(category_map))
    _run(importer, readers.from_seeclickfix(path), str(path), dry_run, skipped_file)


@import_cli.command("csv")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--columns",
    required=True,
    help="field=column pairs, comma-separated (or a .json file of them); fields: "
    + ", ".join(readers.CSV_FIELDS),
)
@_options
def import_csv(file, columns, category_map, dry_run, skipped_file):
    """A spreadsheet export, its columns named by --columns."""
    try:
        column_map = readers.parse_column_map(columns)
        records = readers.from_csv(file, column_map)
        importer = Importer(f"csv:{Path(file).stem}", _category_map(category_map))
        _run(importer, records, str(file), dry_run, skipped_file)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--columns") from exc
