"""Concurrency over real HTTP: the app under gunicorn with four workers, and from this
process 200 signed-in residents voting and commenting on one report while a clerk
changes its status. Every vote counted once, every comment stored, every status change
in the timeline in the order it was made, no 5xx. Runs on the engine under test
(SQLite, or PostgreSQL with TEST_DATABASE_URL); bench/concurrency.py runs bigger."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, insert, select

from bpt311.extensions import db
from bpt311.models import Comment, Report, TimelineEvent, User, Vote
from tests.conftest import department
from tests.factories import make_report, make_user
from tests.load.server import browser, gunicorn, server_errors

pytestmark = [pytest.mark.load, pytest.mark.slow]

PEOPLE = 200
STATUS_CHANGES = ["acknowledge", "close", "reopen"] * 4
VERSION_RE = re.compile(r'name="version"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="version"')


def make_people(count: int) -> list[User]:
    """Residents in one INSERT: no password hashing, they sign in by cookie."""
    db.session.execute(
        insert(User),
        [{"email": f"resident{n}@example.org", "role": "resident"} for n in range(count)],
    )
    db.session.commit()
    return list(db.session.scalars(select(User).where(User.role == "resident").order_by(User.id)))


def run_load(site, base: str, people: list[str], clerk: str, number: str) -> dict:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        browsers = list(pool.map(lambda person: browser(base, site, person), people))

    def vote(pair):
        session, token = pair
        return session.post(
            f"{base}/reports/{number}/vote",
            data={"wanted": "1", "csrf_token": token},
            allow_redirects=False,
            timeout=60,
        ).status_code

    def comment(indexed):
        index, (session, token) = indexed
        return session.post(
            f"{base}/reports/{number}/comments",
            data={"body": f"Load comment number {index} about this pothole.", "csrf_token": token},
            allow_redirects=False,
            timeout=60,
        ).status_code

    def status_changes():
        """One clerk, one change after another; a 409 (someone changed the report
        meanwhile) is answered as a person would: reload, send again."""
        session, token = browser(base, site, clerk)
        made, conflicts, codes = [], 0, []
        for index, action in enumerate(STATUS_CHANGES):
            for _attempt in range(20):
                page = session.get(f"{base}/staff/reports/{number}", timeout=60).text
                match = VERSION_RE.search(page)
                version = next(group for group in match.groups() if group)
                response = session.post(
                    f"{base}/staff/reports/{number}/status",
                    data={
                        "csrf_token": token,
                        "version": version,
                        "action": action,
                        "public_note": f"Status change {index}: {action}",
                    },
                    allow_redirects=False,
                    timeout=60,
                )
                codes.append(response.status_code)
                if response.status_code == 409:
                    conflicts += 1
                    continue
                made.append(f"Status change {index}: {action}")
                break
        return made, conflicts, codes

    with ThreadPoolExecutor(max_workers=32) as pool:
        staff_future = pool.submit(status_changes)
        votes = pool.map(vote, browsers)
        comments = pool.map(comment, enumerate(browsers))
        vote_codes, comment_codes = list(votes), list(comments)
        made, conflicts, staff_codes = staff_future.result()
    seconds = time.monotonic() - started
    return {
        "vote_codes": vote_codes,
        "comment_codes": comment_codes,
        "staff_codes": staff_codes,
        "made": made,
        "conflicts": conflicts,
        "seconds": seconds,
        "requests": 2 * len(people) + len(people) + len(staff_codes) * 2 + 1,
    }


def test_two_hundred_people_vote_and_comment_while_the_clerk_works(site, tmp_path, capsys):
    report = make_report()
    clerk = make_user(
        "clerk@bridgeport.example", role="staff", department=department("Roadway Maintenance")
    )
    people = [person.get_id() for person in make_people(PEOPLE)]
    clerk_id, number, report_id = clerk.get_id(), report.tracking_number, report.id
    database_url = db.engine.url.render_as_string(hide_password=False)
    db.session.remove()
    log = tmp_path / "gunicorn.log"
    with gunicorn(database_url, tmp_path / "media", log, workers=4) as base:
        result = run_load(site, base, people, clerk_id, number)

    db.session.expire_all()
    fresh = db.session.get(Report, report_id)
    votes = db.session.scalar(select(func.count(Vote.id)).where(Vote.report_id == report_id))
    comments = db.session.scalar(
        select(func.count(Comment.id)).where(Comment.report_id == report_id)
    )
    notes = list(
        db.session.scalars(
            select(TimelineEvent.public_note)
            .where(TimelineEvent.report_id == report_id)
            .where(TimelineEvent.public_note.like("Status change %"))
            .order_by(TimelineEvent.created_at, TimelineEvent.id)
        )
    )
    codes = result["vote_codes"] + result["comment_codes"] + result["staff_codes"]
    with capsys.disabled():
        print(
            f"\n[load {db.engine.dialect.name}] {PEOPLE} votes, {PEOPLE} comments, "
            f"{len(result['made'])} status changes ({result['conflicts']} conflicts retried), "
            f"~{result['requests']} requests in {result['seconds']:.1f} s; "
            f"votes={votes} vote_count={fresh.vote_count} comments={comments} "
            f"comment_count={fresh.comment_count}; statuses {sorted(set(codes))}"
        )
    assert all(code < 500 for code in codes), sorted(set(codes))
    assert set(result["vote_codes"]) == {303}
    assert set(result["comment_codes"]) == {303}
    assert votes == PEOPLE and fresh.vote_count == PEOPLE
    assert comments == PEOPLE and fresh.comment_count == PEOPLE
    assert notes == result["made"] and len(notes) == len(STATUS_CHANGES)
    assert fresh.status == "open"  # the last change was a reopen
    assert server_errors(log) == []
