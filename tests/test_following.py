"""No dead ends when finding and following a report (issue #22): tracking numbers typed in
any box, a new account's follow, email-only updates, unconfirmed addresses, closed reports."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bpt311.extensions import db
from bpt311.models import Department, Follow, Outbox, Report, User, utcnow
from tests.conftest import HTMX, client_for
from tests.conftest import post_form as post
from tests.factories import make_report, make_user


def spellings(report: Report) -> list[str]:
    number = report.id
    return [
        report.tracking_number,
        f"bpt {number}",
        f"BPT{number:06d}",
        f"#{number}",
        str(number),
        f"{number:06d}",
        f"  bpt-{number}  ",
    ]


# ---- 9: a tracking number in any box goes straight to its report ------------------------


def test_a_tracking_number_in_the_home_search_box_opens_the_report(site):
    make_report()
    report = make_report(description="A fallen tree across the path.")
    client = site.test_client()
    home = client.get("/").get_data(as_text=True)
    assert 'name="near"' in home
    for typed in spellings(report):
        response = client.get("/reports", query_string={"near": typed})
        assert response.status_code == 303, typed
        assert response.headers["Location"].endswith(f"/reports/{report.tracking_number}")
        response = client.get("/reports", query_string={"q": typed})
        assert response.status_code == 303, typed
    page = client.get("/reports", query_string={"q": str(report.id)}, follow_redirects=True)
    assert "A fallen tree across the path." in page.get_data(as_text=True)


def test_live_search_puts_the_report_a_number_names_on_top(site):
    # HTMX searches as people type: "3" on the way to "302" must not carry them off.
    report = make_report()
    clerk = make_user(
        "clerk@bridgeport.example",
        role="staff",
        department=db.session.get(Department, report.department_id),
    )
    for client, path, target in (
        (site.test_client(), "/reports", f"/reports/{report.tracking_number}"),
        (client_for(site, clerk), "/staff", f"/staff/reports/{report.tracking_number}"),
    ):
        response = client.get(path, query_string={"q": f"bpt {report.id}"}, headers=HTMX)
        assert response.status_code == 200 and "HX-Redirect" not in response.headers
        html = response.get_data(as_text=True)
        assert "<html" not in html
        link = re.search(r'id="typed-report"><a href="([^"]+)">([^<]+)</a>', html)
        assert link and link.group(1) == target
        assert link.group(2) == f"Go to report {report.tracking_number}"


def test_a_hidden_report_is_not_revealed_by_its_number(site):
    report = make_report(hidden_at=utcnow(), hidden_reason="Abusive")
    client = site.test_client()
    response = client.get("/reports", query_string={"q": str(report.id)})
    assert response.status_code == 200
    response = client.get("/kiosk/lookup", query_string={"number": str(report.id)})
    assert response.status_code == 422


def test_the_kiosk_and_the_staff_queue_read_the_same_spellings(site):
    report = make_report()
    clerk = make_user(
        "clerk@bridgeport.example",
        role="staff",
        department=db.session.get(Department, report.department_id),
    )
    kiosk = site.test_client()
    queue = client_for(site, clerk)
    for typed in spellings(report):
        response = kiosk.get("/kiosk/lookup", query_string={"number": typed})
        assert response.status_code == 303, typed
        assert response.headers["Location"].endswith(f"/kiosk/reports/{report.tracking_number}")
        response = queue.get("/staff", query_string={"q": typed})
        assert response.status_code == 303, typed
        assert response.headers["Location"].endswith(f"/staff/reports/{report.tracking_number}")


# ---- the icon browsers ask for ----------------------------------------------------------


def test_favicon_is_served_and_cached(site):
    client = site.test_client()
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.cache_control.max_age >= 7 * 24 * 3600
    assert 'rel="icon"' in client.get("/").get_data(as_text=True)


# ---- 15: a closed report offers reopening, or a new report, not "Me too" ------------------


def test_a_closed_report_offers_reopening_to_a_guest_who_then_reopens_it(site):
    report = make_report(status="closed", closed_at=utcnow())
    luis = make_user("luis@example.org", display_name="Luis", password_hash="x")
    client = site.test_client()
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert "Me too" not in page
    link = re.search(r'id="reopen-link"[^>]*href="([^"]+)"', page)
    assert link and "Still a problem? Reopen" in page
    response = client.get(link.group(1))
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    from tests.factories import sign_in_as

    sign_in_as(client, luis)
    form = client.get(link.group(1))
    assert form.status_code == 200
    response = post(client, link.group(1), {"note": "The hole is back"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Report, report.id).status == "open"


def test_who_may_not_reopen_is_offered_a_new_report_for_the_same_place_and_kind(site):
    archived = make_report(status="archived", closed_at=utcnow())
    closed = make_report(status="closed", closed_at=utcnow())
    banned = make_user("banned@example.org", banned_at=utcnow())
    page = site.test_client().get(f"/reports/{archived.tracking_number}").get_data(as_text=True)
    assert "Me too" not in page and "reopen-link" not in page
    link = re.search(r'id="report-again-link"[^>]*href="([^"]+)"', page)
    assert link, page
    form = site.test_client().get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert re.search(r'name="category"[^>]*value="pothole"', form)
    assert re.search(rf'name="latitude"[^>]*value="{archived.latitude}"', form)
    # an account barred from posting is offered no form it could not send, and told why
    barred = client_for(site, banned).get(f"/reports/{closed.tracking_number}")
    text = barred.get_data(as_text=True)
    assert "reopen-link" not in text and "report-again-link" not in text
    assert "Me too" not in text


# ---- 10: a follow asked for before having an account is done after confirming -------------

PASSWORD = "correct horse battery staple"


def href(page: str, text: str) -> str:
    match = re.search(r'<a href="([^"]+)">' + re.escape(text), page)
    assert match, text
    return match.group(1).replace("&amp;", "&")


def verify_link(email: str) -> str:
    body = db.session.scalars(
        select(Outbox.body_text).where(Outbox.recipient == email).order_by(Outbox.id.desc())
    ).first()
    return re.search(r"/verify/[\w.\-]+", body).group(0)


@pytest.mark.parametrize("other_browser", [False, True])
def test_a_new_persons_follow_survives_registering_and_confirming(site, other_browser):
    report = make_report()
    guest = site.test_client()
    response = post(guest, f"/reports/{report.tracking_number}/follow", {"wanted": "1"})
    assert response.status_code == 303
    sign_in_page = guest.get(response.headers["Location"]).get_data(as_text=True)
    register_url = href(sign_in_page, "Create an account")
    assert "next=" in register_url
    register_page = guest.get(register_url).get_data(as_text=True)
    back = re.search(r'name="next" type="hidden" value="([^"]*)"', register_page).group(1)
    response = post(
        guest,
        "/register",
        {
            "email": "nadia@example.org",
            "display_name": "Nadia",
            "password": PASSWORD,
            "confirm": PASSWORD,
            "next": back,
        },
    )
    assert response.status_code == 303

    browser = site.test_client() if other_browser else guest  # the link opened on a phone
    response = browser.get(verify_link("nadia@example.org"))
    assert response.status_code == 303
    sign_in_url = response.headers["Location"]
    assert sign_in_url.startswith("/sign-in?next=")
    sign_in_page = browser.get(sign_in_url).get_data(as_text=True)
    assert "Your email address is confirmed" in sign_in_page
    back = re.search(r'name="next" type="hidden" value="([^"]*)"', sign_in_page).group(1)
    assert back == f"/reports/{report.tracking_number}/resume"
    response = post(
        browser, "/sign-in", {"email": "nadia@example.org", "password": PASSWORD, "next": back}
    )
    assert response.status_code == 303
    landing = browser.get(response.headers["Location"], follow_redirects=True)
    assert landing.request.path == f"/reports/{report.tracking_number}"
    assert "You are following this report." in landing.get_data(as_text=True)
    follows = db.session.scalars(select(Follow).where(Follow.report_id == report.id)).all()
    assert len(follows) == 1


# ---- 12: nothing but the confirmation goes to an address not yet confirmed ---------------


def outbox_subjects(email: str) -> list[str]:
    return db.session.scalars(
        select(Outbox.subject).where(Outbox.recipient == email).order_by(Outbox.id)
    ).all()


def test_an_unconfirmed_address_gets_its_confirmation_and_nothing_else_until_confirmed(site):
    from bpt311.community.following import tell_followers
    from bpt311.watchers.events import announce
    from tests.test_watch_support import circle_area

    client = site.test_client()
    response = post(
        client,
        "/register",
        {
            "email": "nadia@example.org",
            "display_name": "Nadia",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert response.status_code == 303
    nadia = db.session.scalars(select(User).where(User.email == "nadia@example.org")).one()
    circle_area(nadia, name="Around home")
    report = make_report()
    db.session.add(Follow(report_id=report.id, user_id=nadia.id))
    db.session.commit()
    announce(report, "new")
    tell_followers(report, "Acknowledged")
    db.session.commit()
    [subject] = outbox_subjects("nadia@example.org")
    assert "Confirm your email address" in subject

    assert client.get(verify_link("nadia@example.org")).status_code == 200
    announce(report, "status")
    tell_followers(report, "Fixed")
    db.session.commit()
    assert len(outbox_subjects("nadia@example.org")) > 1


# ---- 11: email updates on a report with only an email address ----------------------------


def test_email_updates_without_an_account_confirmed_by_a_link_and_stopped_in_one_click(site):
    from bpt311.community.following import tell_followers
    from bpt311.models import EmailSubscription

    report = make_report()
    guest = site.test_client()
    page = guest.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert "Email me updates on this report" in page
    # The public page (cached, no token) links to the same page with its forms.
    respond = f"/reports/{report.tracking_number}/respond"
    assert f'href="{respond}#email-updates"' in page
    page = guest.get(respond).get_data(as_text=True)
    action = f"/reports/{report.tracking_number}/email-updates"
    assert f'action="{action}"' in page

    refused = post(guest, action, {"email": "not an address"})
    assert refused.status_code == 422
    assert "Enter an email address like name@example.com" in refused.get_data(as_text=True)
    assert 'value="not an address"' in refused.get_data(as_text=True)  # nothing typed is lost
    assert guest.post(action, data={"email": "ana@example.org"}).status_code == 400  # no CSRF

    response = post(guest, action, {"email": "Ana@Example.org"})
    assert response.status_code == 303
    assert "Check your email" in guest.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.scalars(select(EmailSubscription)).all() == []  # nothing kept yet
    tell_followers(report, "Acknowledged")
    db.session.commit()
    [subject] = outbox_subjects("ana@example.org")
    assert subject.startswith("Confirm email updates")

    body = db.session.scalars(
        select(Outbox.body_text).where(Outbox.recipient == "ana@example.org")
    ).one()
    link = re.search(r"/email-updates/[\w.\-]+", body).group(0)
    other_browser = site.test_client()
    response = other_browser.get(link)
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"/reports/{report.tracking_number}")
    assert other_browser.get(link).status_code == 303  # twice is still one subscription
    assert len(db.session.scalars(select(EmailSubscription)).all()) == 1

    tell_followers(report, "Fixed")
    db.session.commit()
    update = db.session.scalars(
        select(Outbox).where(Outbox.recipient == "ana@example.org").order_by(Outbox.id.desc())
    ).first()
    assert "Fixed" in update.subject
    assert update.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = update.headers["List-Unsubscribe"].strip("<>").replace("http://bpt311.test", "")
    assert unsubscribe.split("/")[-1] in update.body_text  # and a visible link too
    assert unsubscribe.split("/")[-1] in update.body_html
    assert site.test_client().post(unsubscribe).status_code == 200  # RFC 8058: no CSRF
    assert db.session.scalars(select(EmailSubscription)).all() == []
    tell_followers(report, "Closed")
    db.session.commit()
    assert len(outbox_subjects("ana@example.org")) == 2


def test_a_broken_email_updates_link_says_so(site):
    response = site.test_client().get("/email-updates/not-a-token")
    assert response.status_code == 400
    assert "This link cannot be used" in response.get_data(as_text=True)


def test_retention_forgets_addresses_following_long_closed_reports(site):
    from datetime import timedelta

    from bpt311.models import EmailSubscription
    from bpt311.privacy.retention import purge

    days = site.config["RETENTION_CONTACT_DAYS"]
    old = make_report(status="closed", closed_at=utcnow() - timedelta(days=days + 1))
    recent = make_report(status="closed", closed_at=utcnow())
    db.session.add_all(
        [
            EmailSubscription(report_id=old.id, email="ana@example.org"),
            EmailSubscription(report_id=recent.id, email="ana@example.org"),
        ]
    )
    db.session.commit()
    assert purge().subscriptions == 1
    assert db.session.scalars(select(EmailSubscription.report_id)).all() == [recent.id]


def test_asking_for_email_updates_is_rate_limited_per_address(make_app):
    app = make_app(RATELIMIT_ENABLED=True)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        report = make_report()
        action = f"/reports/{report.tracking_number}/email-updates"
        codes = [
            post(app.test_client(), action, {"email": "ana@example.org"}).status_code
            for _ in range(4)
        ]
        assert codes == [303, 303, 303, 429]
