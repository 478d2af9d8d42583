"""Who hears about a report: point-in-area matching, overlaps, the actor, the kinds of event."""

from __future__ import annotations

from sqlalchemy import select

from bpt311.community import changes, comments, following
from bpt311.extensions import db
from bpt311.models import Notice, Outbox, Report, WatchEvent
from bpt311.reports.service import NewReport, submit_report
from bpt311.watch import service, shapes
from bpt311.watchers.events import announce
from bpt311.watchers.matching import watchers_of
from tests.factories import make_report, make_user
from tests.test_watch_support import (
    LAT,
    LON,
    D,
    circle_area,
    count,
    follow,
    notices_of,
    outbox_to,
    polygon_area,
    settings,
    site_fixture,  # noqa: F401  (the "site" fixture)
    smtp_fixture,  # noqa: F401  (the "smtp" fixture)
    square,
)


def heard(lat, lon, kind="new", category_id=None, actor_id=None) -> set[int]:
    return {w.user_id for w in watchers_of(lat, lon, kind, category_id, actor_id)}


def test_a_point_on_the_edge_of_an_area_matches_and_one_just_outside_does_not(site):
    owner = make_user()
    polygon_area(owner)
    east_edge = round(LON + D, 6)
    assert heard(LAT, east_edge) == {owner.id}
    assert heard(round(LAT + D, 6), LON) == {owner.id}  # the north edge
    assert heard(round(LAT + D, 6), east_edge) == {owner.id}  # a corner
    assert heard(LAT, east_edge + 0.00001) == set()  # about a metre outside
    assert heard(LAT, LON) == {owner.id}


def test_a_point_in_a_hole_does_not_match_but_its_rim_does(site):
    owner = make_user()
    polygon_area(owner, square(hole=D / 2))
    assert heard(LAT, LON) == set()  # in the hole
    assert heard(LAT, round(LON + D / 2, 6)) == {owner.id}  # on the hole's edge
    assert heard(LAT, round(LON + D * 0.75, 6)) == {owner.id}  # between hole and rim


def test_a_circle_matches_by_distance_not_by_its_bounding_box(site):
    owner = make_user()
    circle_area(owner, radius=200)
    # The corner of the box is about 283 m away: inside the box, outside the circle.
    north, east = LAT + 200 / 111_132 * 0.99, LON + 200 / 83_800 * 0.99
    assert heard(north, east) == set()
    assert heard(LAT + 190 / 111_132, LON) == {owner.id}
    assert heard(LAT + 210 / 111_132, LON) == set()


def test_a_neighbourhood_area_hears_of_reports_in_that_neighbourhood_only(site):
    from bpt311.models import Neighbourhood

    owner = make_user()
    downtown = db.session.scalars(
        select(Neighbourhood).where(Neighbourhood.name == "Downtown")
    ).one()
    service.create_area(owner, shapes.of_neighbourhood(downtown), settings())
    assert heard(LAT, LON) == {owner.id}  # City Hall is downtown
    assert heard(41.1500, -73.2200) == set()  # Black Rock harbour


def test_overlapping_areas_give_one_email_and_one_notice_each(site):
    maria, luis = make_user("maria@example.org"), make_user("luis@example.org")
    polygon_area(maria, name="Block")
    circle_area(maria, name="Around home")
    polygon_area(maria, square(d=D * 2), name="Bigger", delivery="digest")
    circle_area(luis, radius=500)
    public = polygon_area(make_user("ward@example.org"), name="Ward", is_public=True)
    follow(public, maria)

    report = make_report()
    announce(report, "new")
    db.session.commit()

    assert len(outbox_to("maria@example.org")) == 1
    assert len(outbox_to("luis@example.org")) == 1
    assert len(notices_of(maria)) == 1
    # the loudest of her ways wins: an email, not the digest, and her own area, not a follow
    notice = notices_of(maria)[0]
    assert notice.delivery == "email" and notice.emailed_at is not None
    assert notice.area.owner_id == maria.id
    assert count(WatchEvent) == 1


def test_nobody_is_told_of_their_own_action(site):
    maria, luis = make_user("maria@example.org"), make_user("luis@example.org")
    circle_area(maria)
    circle_area(luis)
    report = make_report(reporter=maria)
    announce(report, "new", actor=maria)
    announce(report, "comment", actor=luis, note="Still there")
    db.session.commit()
    assert [n.event.kind for n in notices_of(maria)] == ["comment"]
    assert [n.event.kind for n in notices_of(luis)] == ["new"]


def test_a_report_sent_through_the_service_tells_watchers_in_the_same_transaction(site):
    watcher, reporter = make_user("watcher@example.org"), make_user("reporter@example.org")
    circle_area(watcher, radius=500)
    circle_area(reporter, radius=500)
    report = submit_report(
        NewReport(
            category_code="pothole",
            description="A deep pothole by the steps.",
            latitude=LAT,
            longitude=LON,
            address="45 Lyon Terrace",
            answers={"size": "small"},
        ),
        reporter=reporter,
    )
    [email] = outbox_to("watcher@example.org")
    assert email.report_id == report.id
    assert "New report: Pothole" in email.subject
    assert outbox_to("reporter@example.org") == []  # not about their own report


def test_a_status_change_by_the_reporter_is_announced(site):
    watcher, reporter = make_user("watcher@example.org"), make_user("reporter@example.org")
    circle_area(watcher)
    report = make_report(reporter=reporter)
    changes.close_by_reporter(report, reporter, "Filled this morning.")
    [email] = outbox_to("watcher@example.org")
    assert "Pothole was closed" in email.subject
    assert "Filled this morning." in email.body_text


def test_a_comment_is_announced_only_to_areas_that_want_comments(site):
    keen, quiet = make_user("keen@example.org"), make_user("quiet@example.org")
    circle_area(keen, kinds=["comment"])
    circle_area(quiet, kinds=["new", "status"])
    report = make_report()
    comments.add_comment(report, make_user("luis@example.org"), "It got bigger overnight.")
    assert len(outbox_to("keen@example.org")) == 1
    assert "It got bigger overnight." in outbox_to("keen@example.org")[0].body_text
    assert outbox_to("quiet@example.org") == []


def test_a_merge_is_announced_as_a_status_change_with_the_public_note_only(site):
    from bpt311.models import TimelineEvent

    watcher, staff = make_user("watcher@example.org"), make_user("staff@example.org", "staff")
    circle_area(watcher)
    report, original = make_report(), make_report()
    # What the staff merge does, by hand: the step, then the announcement.
    report.status = "closed"
    report.duplicate_of = original
    report.events.append(
        TimelineEvent(
            kind="duplicate",
            actor=staff,
            actor_label="City of Bridgeport",
            public_note=f"The same problem as {original.tracking_number}: follow that report.",
            internal_note="Crew saw both, same hole.",
        )
    )
    announce(report, "status", actor=staff)
    db.session.commit()
    [email] = outbox_to("watcher@example.org")
    assert "was merged into another report" in email.subject
    assert original.tracking_number in email.body_text
    assert "Crew saw both" not in email.body_text + email.body_html


def test_areas_can_listen_for_some_categories_only(site):
    graffiti_only = make_user("walls@example.org")
    circle_area(graffiti_only, all_categories=False, category_codes=["graffiti"])
    assert outbox_to("walls@example.org") == []
    announce(make_report("pothole"), "new")
    announce(make_report("graffiti"), "new")
    db.session.commit()
    [email] = outbox_to("walls@example.org")
    assert "Graffiti" in email.subject


def test_a_paused_area_is_silent_but_followers_of_a_public_one_still_hear(site):
    owner, fan = make_user("owner@example.org"), make_user("fan@example.org")
    area = circle_area(owner, is_public=True)
    follow(area, fan)
    service.set_paused(area, owner, True)
    announce(make_report(), "new")
    db.session.commit()
    assert outbox_to("owner@example.org") == []
    assert len(outbox_to("fan@example.org")) == 1


def test_followers_of_an_area_made_private_hear_nothing(site):
    owner, fan = make_user("owner@example.org"), make_user("fan@example.org")
    area = circle_area(owner, is_public=True)
    follow(area, fan)
    service.update_area(area, owner, None, settings(is_public=False))
    announce(make_report(), "new")
    db.session.commit()
    assert len(outbox_to("owner@example.org")) == 1
    assert outbox_to("fan@example.org") == []


def test_someone_who_follows_the_report_gets_one_email_about_a_change_not_two(site):
    maria, luis = make_user("maria@example.org"), make_user("luis@example.org")
    circle_area(maria)
    report = make_report()
    following.set_follow(report, maria, True)
    comments.add_comment(report, luis, "It got bigger overnight.")
    assert len(outbox_to("maria@example.org")) == 1
    [notice] = notices_of(maria)  # still listed on the site
    assert notice.emailed_at is None


def test_the_announcement_rolls_back_with_the_change(site):
    owner = make_user()
    circle_area(owner)
    report = make_report()
    announce(report, "new")
    db.session.rollback()
    assert count(Notice) == 0 and count(WatchEvent) == 0 and count(Outbox) == 0


def test_matching_takes_a_fixed_number_of_queries_however_many_areas(site, count_queries):
    people = [make_user(f"p{n}@example.org") for n in range(30)]
    follow(circle_area(people[0], is_public=True), people[1])
    report_id = make_report().id

    def reads_and_writes():
        report = db.session.get(Report, report_id)
        with count_queries() as counter:
            announce(report, "new")
        db.session.rollback()
        statements = [s.lstrip().upper() for s in counter.statements]
        return (
            len([s for s in statements if s.startswith("SELECT")]),
            len([s for s in statements if s.startswith("INSERT INTO NOTICE ")]),
        )

    few = reads_and_writes()
    for person in people[1:]:
        circle_area(person, is_public=True)
        polygon_area(person)
    for person in people[2:12]:
        follow(polygon_area(people[1], name=f"for {person.id}", is_public=True), person)
    # the outbox takes a row per email; the reads and the notices do not grow
    assert reads_and_writes() == few == (few[0], 1)


def test_an_unknown_kind_of_event_is_a_programming_error(site):
    import pytest

    with pytest.raises(ValueError):
        announce(make_report(), "vote")
