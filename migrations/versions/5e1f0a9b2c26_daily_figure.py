"""daily_figure: the daily summary /stats, the home page and the dashboard read; an
index for the dashboard's desks

Revision ID: 5e1f0a9b2c26
Revises: 5e1f0a9b2c25
Create Date: 2026-12-06 20:30:00

Filled from the reports already there, with the counting of bpt311/reports/daily.py
repeated here on purpose (a migration must not change when the app does);
``flask stats rebuild`` makes the same rows.
"""

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c26"
down_revision = "5e1f0a9b2c25"
branch_labels = None
depends_on = None

BANDS, FIRST, RATIO = 140, 60.0, 1.1


def upgrade():
    op.create_table(
        "daily_figure",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("span", sa.SmallInteger(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("in_time", sa.Integer(), server_default="0", nullable=False),
        *(
            sa.Column(f"b{n}", sa.Integer(), server_default="0", nullable=False)
            for n in range(BANDS)
        ),
        sa.PrimaryKeyConstraint(
            "day", "span", "level", "group_id", "hidden", "kind", name=op.f("pk_daily_figure")
        ),
    )
    _fill(op.get_bind())
    op.create_index(
        "ix_report_desks", "report", ["department_id", "status", "due_at", "assignee_id"]
    )


def downgrade():
    op.drop_index("ix_report_desks", table_name="report")
    op.drop_table("daily_figure")


def _zone() -> ZoneInfo:
    try:
        from flask import current_app

        return ZoneInfo(current_app.config["CITY_TIMEZONE"])
    except (ImportError, RuntimeError, KeyError):
        return ZoneInfo("America/New_York")


def _moment(value):
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands back text for an untyped column
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _band(seconds: float) -> int:
    if seconds < FIRST:
        return 0
    return min(BANDS - 1, 1 + math.floor(math.log(seconds / FIRST) / math.log(RATIO)))


def _fill(connection) -> None:
    report = sa.table(
        "report",
        *(
            sa.column(name)
            for name in (
                "created_at",
                "acknowledged_at",
                "closed_at",
                "due_at",
                "hidden_at",
                "department_id",
                "category_id",
                "neighbourhood_id",
            )
        ),
    )
    category = sa.table("category", sa.column("id"), sa.column("sla_hours"))
    zone = _zone()
    found: dict[tuple, list[int]] = {}
    rows = connection.execute(
        sa.select(
            report.c.created_at,
            report.c.acknowledged_at,
            report.c.closed_at,
            report.c.due_at,
            report.c.hidden_at,
            report.c.department_id,
            report.c.category_id,
            report.c.neighbourhood_id,
            category.c.sla_hours,
        ).join(category, category.c.id == report.c.category_id)
    )
    for created, acknowledged, closed, due, hidden, department, kind_id, place, sla in rows:
        created, acknowledged, closed, due = map(_moment, (created, acknowledged, closed, due))
        groups = ((0, 0), (1, department), (2, kind_id), (3, place or 0))
        for kind, moment in ((0, created), (1, acknowledged), (2, closed)):
            if moment is None:
                continue
            day = moment.astimezone(zone).date()
            band = in_time = None
            if kind:
                took = (moment - created).total_seconds()
                band = _band(took)
                if kind == 2:
                    allowed = (due - created).total_seconds() if due else sla * 3600.0
                    in_time = took <= allowed
            monday = day - timedelta(days=day.weekday())
            for start, span in ((day, 1), (monday, 7)):
                for level, group in groups:
                    key = (start, span, level, group, hidden is not None, kind)
                    row = found.setdefault(key, [0] * (2 + BANDS))
                    row[0] += 1
                    if in_time:
                        row[1] += 1
                    if band is not None:
                        row[2 + band] += 1
    names = [f"b{n}" for n in range(BANDS)]
    table = sa.table(
        "daily_figure",
        *(
            sa.column(name)
            for name in ("day", "span", "level", "group_id", "hidden", "kind", "reports", "in_time")
        ),
        *(sa.column(name) for name in names),
    )
    items = list(found.items())
    for start in range(0, len(items), 1000):
        connection.execute(
            table.insert(),
            [
                {
                    "day": day,
                    "span": span,
                    "level": level,
                    "group_id": group,
                    "hidden": hidden,
                    "kind": kind,
                    "reports": counts[0],
                    "in_time": counts[1],
                    **dict(zip(names, counts[2:], strict=True)),
                }
                for (day, span, level, group, hidden, kind), counts in items[start : start + 1000]
            ],
        )
