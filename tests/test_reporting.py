"""The new-report flow, as a resident uses it: with and without JavaScript."""

import io
import re
import threading
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from bpt311 import storage
from bpt311.extensions import db
from bpt311.models import Media, Outbox, Report
from tests.conftest import HTMX
from tests.factories import CITY_HALL, hidden, make_report, phone_video

# One report form for every test file; several import it (and hidden) from here.
from tests.factories import report_form_data as form_data
from tests.fake_nominatim import FakeNominatim, nominatim_place
from tests.smtp import SMTPServer

FAIRFIELD = (41.1415, -73.2637)


def report_count():
    return db.session.scalar(select(func.count(Report.id)))


def jpeg(gps=None, size=(640, 480), name="pothole.jpg"):
    image = Image.new("RGB", size, (120, 90, 60))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # camera make: must not survive
    if gps:
        lat, lon = gps

        def dms(value):
            value = abs(value)
            d = int(value)
            m = int((value - d) * 60)
            return (float(d), float(m), round((value - d - m / 60) * 3600, 4))

        exif[0x8825] = {1: "N", 2: dms(lat), 3: "W" if lon < 0 else "E", 4: dms(lon)}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return (io.BytesIO(buffer.getvalue()), name)


def post(client, data, headers=None):
    return client.post(
        "/reports/new", data=data, headers=headers or {}, content_type="multipart/form-data"
    )


# ---- choosing a category -----------------------------------------------------


def test_new_report_starts_with_grouped_categories(client, city):
    page = client.get("/reports/new").get_data(as_text=True)
    assert "<legend>Streets and sidewalks</legend>" in page
    assert "<legend>Trash and recycling</legend>" in page
    assert 'type="radio" name="category"' in page
    assert 'role="search"' in page


@pytest.mark.parametrize(
    "words, expected, absent",
    [
        ("rats", "Rodents", "Pothole"),
        ("light", "Street light out", "Graffiti"),
        ("dumped mattress", "Illegal dumping", "Rodents"),
        ("potholes", "Pothole", "Noise complaint"),
    ],
)
def test_keyword_search_finds_categories_without_javascript(client, city, words, expected, absent):
    response = client.get("/reports/new", query_string={"q": words})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in page
    assert expected in page and absent not in page


def test_keyword_search_through_htmx_returns_only_the_choices(client, city):
    response = client.get("/reports/new?q=rats", headers=HTMX)
    fragment = response.get_data(as_text=True)
    assert "<html" not in fragment and 'id="category-choices"' in fragment
    assert "Rodents" in fragment and 'data-announce="1 kind of problem matches"' in fragment
    assert "HX-Request" in response.headers["Vary"]


def test_search_with_no_match_says_what_to_try(client, city):
    page = client.get("/reports/new?q=zebra").get_data(as_text=True)
    assert "Nothing matches “zebra”" in page and "category=other" in page


def test_unknown_category_code_shows_the_list_with_a_message(client, city):
    page = client.get("/reports/new?category=unicorns").get_data(as_text=True)
    assert "not on our list" in page and "Pothole" in page


def test_chosen_category_shows_its_questions(client, city):
    page = client.get("/reports/new?category=pothole").get_data(as_text=True)
    assert "Report a pothole" in page
    assert "<legend>How big is it?</legend>" in page
    assert 'name="answer_size"' in page and 'value="large"' in page
    assert "Roadway Maintenance aims to respond within 3 days" in page
    assert 'enctype="multipart/form-data"' in page and 'name="csrf_token"' in page


def test_deep_link_carries_the_point(client, city):
    page = client.get("/reports/new?category=graffiti&lat=41.18&lon=-73.19").get_data(as_text=True)
    assert hidden(page, "latitude") == "41.18" and hidden(page, "longitude") == "-73.19"


# ---- the happy paths ----------------------------------------------------------


def test_report_without_javascript_gives_a_tracking_number(client, city):
    response = post(client, form_data(client))
    assert response.status_code == 303
    [report] = db.session.scalars(select(Report)).all()
    assert response.headers["Location"].endswith(f"/reports/{report.tracking_number}/submitted")
    assert report.status == "open" and report.source == "web"
    assert report.department.name == "Roadway Maintenance"
    assert report.neighbourhood.name == "Downtown"
    assert report.answers == {"size": "medium"}
    assert [e.kind for e in report.events] == ["submitted"]
    assert report.due_at == report.created_at + __import__("datetime").timedelta(hours=72)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f'<p class="tracking-big">{report.tracking_number}</p>' in page
    assert "Roadway Maintenance" in page and "within 3 days" in page
    assert "<svg" in page and "QR code linking to http://bpt311.test/reports/" in page


def test_report_through_htmx_redirects_the_browser(client, city):
    response = post(client, form_data(client), headers=HTMX)
    assert response.status_code == 204
    report = db.session.scalars(select(Report)).one()
    assert response.headers["HX-Redirect"] == f"/reports/{report.tracking_number}/submitted"


def test_report_page_shows_answers_in_words(client, city):
    post(client, form_data(client, answer_size="large", answer_travel_lane="yes"))
    report = db.session.scalars(select(Report)).one()
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert "Larger than a car tyre" in page and "45 Lyon Terrace" in page


def test_multi_value_and_typed_answers_are_stored_by_type(client, city):
    data = form_data(client, "bulky_item", answer_items="One sofa", answer_item_count="2")
    assert post(client, data).status_code == 303
    assert db.session.scalars(select(Report)).one().answers == {
        "items": "One sofa",
        "item_count": 2,
    }
    data = form_data(client, "illegal_dumping", answer_what=["tires", "furniture"])
    assert post(client, data).status_code == 303
    latest = db.session.scalars(select(Report).order_by(Report.id.desc())).first()
    assert latest.answers["what"] == ["tires", "furniture"]


# ---- bad input: a clear message, and nothing lost ------------------------------


def test_errors_are_shown_with_everything_typed_kept(client, city):
    data = form_data(
        client,
        description="",
        contact_name="Ana Souza",
        contact_email="not-an-email",
        address="Lyon Terrace by the school",
    )
    response = post(client, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<title>Error: Report a pothole" in page
    assert '<a href="#description">Describe the problem</a>' in page
    assert "Enter an email address like name@example.com" in page
    assert 'value="Ana Souza"' in page and 'value="Lyon Terrace by the school"' in page
    assert hidden(page, "submission_key") == data["submission_key"]
    assert report_count() == 0


def test_htmx_errors_swap_in_only_the_form(client, city):
    response = post(client, form_data(client, description="short"), headers=HTMX)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 422
    # the new title (htmx puts it on the page), then the form alone
    assert "<html" not in fragment
    assert re.match(r"\s*<title>[^<]*</title>\s*<form", fragment)
    assert "at least 10 characters" in fragment and 'id="error-summary"' in fragment
    assert "<title>Error: Report a pothole" in fragment


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"answer_size": None}, "Choose an answer to “How big is it?”"),
        ({"answer_size": "enormous"}, "Choose an answer from the list for “How big is it?”"),
        ({"description": "x" * 2001}, "2000 characters or fewer"),
        ({"contact_phone": "call me maybe"}, "Enter a phone number like"),
    ],
)
def test_each_bad_field_gets_its_own_message(client, city, fields, message):
    response = post(client, form_data(client, **fields))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert report_count() == 0


def test_number_and_datetime_answers_are_checked_by_type(client, city):
    data = form_data(client, "bulky_item", answer_items="Sofa", answer_item_count="lots")
    page = post(client, data).get_data(as_text=True)
    assert "“How many items?” must be a number" in page
    data = form_data(client, "animal_bite", answer_animal="dog", answer_when="yesterday")
    page = post(client, data).get_data(as_text=True)
    assert "“When did it happen?” must be a date and time" in page
    assert report_count() == 0


def test_forged_category_is_refused_with_the_list(client, city):
    data = form_data(client, category="pothole")
    data["category"] = "free-money"
    response = post(client, data)
    assert response.status_code == 422
    assert "Choose what kind of problem it is" in response.get_data(as_text=True)


def test_missing_location_says_how_to_give_one(client, city):
    response = post(client, form_data(client, latitude="", longitude="", address=""))
    assert response.status_code == 422
    assert "Tell us where the problem is" in response.get_data(as_text=True)


def test_nonsense_coordinates_are_refused(client, city):
    response = post(client, form_data(client, latitude="abc", longitude="-73.19"))
    assert response.status_code == 422
    assert "not a real place" in response.get_data(as_text=True)


def test_point_outside_the_city_is_refused_naming_who_to_contact(client, city):
    data = form_data(
        client,
        latitude=str(FAIRFIELD[0]),
        longitude=str(FAIRFIELD[1]),
        description="Pothole on the Post Road in front of the diner",
    )
    response = post(client, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "outside the City of Bridgeport" in page and "Town of Fairfield" in page
    assert "Pothole on the Post Road in front of the diner" in page
    assert report_count() == 0


def test_too_large_request_is_refused_with_413(make_app):
    app = make_app(MAX_CONTENT_LENGTH=50_000)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        client = app.test_client()
        data = form_data(client, photos=[(io.BytesIO(b"\xff" * 60_000), "huge.jpg")])
        response = post(client, data)
        assert response.status_code == 413
        assert report_count() == 0


# ---- photos and video -----------------------------------------------------------


def test_photo_is_kept_stripped_of_metadata_and_served_as_an_image(client, city, app):
    data = form_data(client, photos=[jpeg(gps=CITY_HALL)], photo_alt="The hole by the bus stop")
    assert post(client, data).status_code == 303
    [media] = db.session.scalars(select(Media)).all()
    assert media.kind == "photo" and media.content_type == "image/jpeg"
    assert media.alt_text == "The hole by the bus stop"
    response = client.get(f"/media/{media.file_name}")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    stored = Image.open(io.BytesIO(response.data))
    assert len(stored.getexif()) == 0 and b"SecretCam" not in response.data
    assert client.get(f"/media/{media.thumb_name}").status_code == 200
    report = db.session.scalars(select(Report)).one()
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert f'alt="{media.alt_text}"' in page and 'loading="lazy"' in page
    # nothing but the final files (and the photo's smaller copies) is left: the stash
    # was cleared
    media_root = Path(app.config["MEDIA_ROOT"])
    copies = [name.removeprefix("v/") for name in storage.variant_files(media)]
    assert copies
    assert sorted(p.name for p in media_root.rglob("*") if p.is_file()) == sorted(
        [media.file_name, media.thumb_name, *copies]
    )


def test_photo_without_description_gets_alt_text_from_the_category(client, city):
    post(client, form_data(client, photos=[jpeg(), jpeg(name="second.jpg")]))
    alts = [m.alt_text for m in db.session.scalars(select(Media).order_by(Media.position))]
    assert alts == [
        "Photo of the reported pothole (photo 1 of 2)",
        "Photo of the reported pothole (photo 2 of 2)",
    ]


def test_photo_location_is_offered_when_no_other_location_is_given(client, city):
    spot = (41.18615, -73.19542)
    data = form_data(client, latitude="", longitude="", address="", photos=[jpeg(gps=spot)])
    response = post(client, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "We found the location stored in your photo" in page
    assert "Where your photo pothole.jpg was taken" in page
    choice = hidden(page, "location_choice")
    token = hidden(page, "pending_media")
    assert choice.startswith("41.186150,-73.195420|") and token
    assert report_count() == 0
    again = form_data(
        client, latitude="", longitude="", address="", location_choice=choice, pending_media=token
    )
    again["submission_key"] = data["submission_key"]
    assert post(client, again).status_code == 303
    report = db.session.scalars(select(Report)).one()
    assert (report.latitude, report.longitude) == spot
    assert len(report.media) == 1


def test_pdf_renamed_jpg_is_refused_and_the_rest_is_kept(client, city):
    fake = (io.BytesIO(b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF"), "invoice.jpg")
    data = form_data(
        client,
        photos=[jpeg(name="good.jpg"), fake],
        description="Broken glass and a pothole near the school",
    )
    response = post(client, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "invoice.jpg is not a photo we can read" in page
    assert "Broken glass and a pothole near the school" in page
    assert "good.jpg is attached" in page  # the good photo is not lost
    token = hidden(page, "pending_media")
    again = form_data(client, pending_media=token)
    again["submission_key"] = data["submission_key"]
    assert post(client, again).status_code == 303
    assert len(db.session.scalars(select(Report)).one().media) == 1


def test_a_kept_photo_can_be_removed_before_sending(client, city):
    page = post(client, form_data(client, description="", photos=[jpeg()])).get_data(as_text=True)
    token = hidden(page, "pending_media")
    data = form_data(client, pending_media=token, remove_media=token)
    assert post(client, data).status_code == 303
    assert db.session.scalars(select(Report)).one().media == []


def test_more_than_five_photos_are_refused_by_name(client, city):
    photos = [jpeg(name=f"p{n}.jpg") for n in range(6)]
    page = post(client, form_data(client, photos=photos)).get_data(as_text=True)
    assert "p5.jpg was not added: you can send up to 5 photos" in page


def test_video_is_checked_by_content(client, city):
    data = form_data(client, video=(io.BytesIO(phone_video()), "clip.mp4"))
    assert post(client, data).status_code == 303
    [video] = db.session.scalars(select(Media)).all()
    assert video.kind == "video" and video.content_type == "video/mp4"
    assert client.get(f"/media/{video.file_name}").mimetype == "video/mp4"
    page = post(client, form_data(client, video=(io.BytesIO(b"<html>"), "clip.mp4")))
    assert "clip.mp4 is not a video we can play" in page.get_data(as_text=True)
    # A video's header that names no real video is refused as well, by FFmpeg.
    header_only = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 200
    page = post(client, form_data(client, video=(io.BytesIO(header_only), "clip.mp4")))
    assert "clip.mp4 is not a video we can play" in page.get_data(as_text=True)


def test_unknown_media_names_are_not_served(client, city):
    assert client.get("/media/../../etc/passwd").status_code == 404
    assert client.get("/media/pending/" + "0" * 32 + ".jpg").status_code == 404
    assert client.get("/media/nothing.jpg").status_code == 404


# ---- typed addresses --------------------------------------------------------------


@pytest.fixture
def geocoder(make_app):
    with FakeNominatim(
        {
            "lyon terrace": [
                nominatim_place(41.17920, -73.18940, house_number="45", road="Lyon Terrace")
            ],
            "main street": [
                nominatim_place(41.18200, -73.19100, house_number="900", road="Main Street"),
                nominatim_place(41.20500, -73.20200, house_number="3200", road="Main Street"),
            ],
        },
        reverse_result=nominatim_place(41.1792, -73.1894, house_number="45", road="Lyon Terrace"),
    ) as fake:
        app = make_app(GEOCODER_URL=fake.url, GEOCODER_TIMEOUT=1)
        with app.app_context():
            from bpt311.seed import load_city

            load_city()
            yield app.test_client(), fake


def test_typed_address_alone_is_enough(geocoder):
    client, _ = geocoder
    data = form_data(client, latitude="", longitude="", address="45 Lyon Terrace")
    assert post(client, data).status_code == 303
    report = db.session.scalars(select(Report)).one()
    assert (report.latitude, report.longitude) == (41.1792, -73.1894)
    assert report.address.startswith("45 Lyon Terrace")


def test_ambiguous_address_offers_a_choice_and_keeps_the_rest(geocoder):
    client, _ = geocoder
    data = form_data(client, latitude="", longitude="", address="Main Street", contact_name="Luis")
    page = post(client, data).get_data(as_text=True)
    assert "Choose which place you mean" in page
    assert "900 Main Street" in page and "3200 Main Street" in page
    assert 'value="Luis"' in page
    choice = re.search(r'value="(41\.205000,-73\.202000\|[^"]+)"', page).group(1)
    again = form_data(
        client, latitude="", longitude="", address="Main Street", location_choice=choice
    )
    assert post(client, again).status_code == 303
    assert db.session.scalars(select(Report)).one().latitude == 41.205


def test_address_not_found_says_what_to_try(geocoder):
    client, _ = geocoder
    data = form_data(client, latitude="", longitude="", address="Nowhere Lane")
    page = post(client, data).get_data(as_text=True)
    assert "We could not find “Nowhere Lane” in Bridgeport" in page


def test_geocoder_down_is_a_message_not_a_500(client, city):
    data = form_data(client, latitude="", longitude="", address="45 Lyon Terrace")
    response = post(client, data)
    assert response.status_code == 200  # a notice: sent again, it goes as typed
    page = response.get_data(as_text=True)
    assert "look up addresses right now" in page and 'value="45 Lyon Terrace"' in page
    assert report_count() == 0


def test_geocoder_down_does_not_stop_a_report_with_a_pin(client, city):
    assert post(client, form_data(client, address="")).status_code == 303
    assert db.session.scalars(select(Report)).one().address == ""


def test_pinned_point_gets_its_address_by_reverse_geocoding(geocoder):
    client, _ = geocoder
    assert post(client, form_data(client, address="")).status_code == 303
    assert db.session.scalars(select(Report)).one().address.startswith("45 Lyon Terrace")


# ---- possible duplicates ------------------------------------------------------------


def test_nearby_open_reports_are_offered_before_sending(client, city):
    original = make_report(
        "pothole",
        description="Huge pothole in front of City Hall",
        latitude=CITY_HALL[0] + 0.0005,
        longitude=CITY_HALL[1],
    )
    make_report("pothole", description="Far away", latitude=41.21, longitude=-73.20)
    make_report("graffiti", description="Other kind")
    data = form_data(client)
    response = post(client, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Has someone already reported it?" in page
    assert original.tracking_number in page and "About 60 m away" in page
    assert "Far away" not in page and "Other kind" not in page
    assert "This is the same problem – add my voice" in page
    assert report_count() == 3
    assert post(client, {**data, "not_duplicate": "1"}).status_code == 303
    assert report_count() == 4


def test_closed_or_old_reports_are_not_offered_as_duplicates(client, city):
    from datetime import timedelta

    from bpt311.models import utcnow

    make_report("pothole", status="closed")
    make_report("pothole", created_at=utcnow() - timedelta(days=45))
    assert post(client, form_data(client)).status_code == 303


def test_a_report_moderators_hid_is_never_offered_as_a_duplicate(client, city):
    """Neither by the duplicate check nor at the form's duplicates step (the kiosk's and
    staff intake's are the same step): its words and number stay hidden."""
    from bpt311.models import utcnow

    secret = make_report("pothole", description="Abusive words about a neighbour, hidden")
    secret.hidden_at, secret.hidden_reason = utcnow(), "Abusive"
    db.session.commit()
    query = {"category": "pothole", "latitude": CITY_HALL[0], "longitude": CITY_HALL[1]}
    for headers in (HTMX, {}):
        page = client.get("/reports/nearby", query_string=query, headers=headers)
        text = page.get_data(as_text=True)
        assert secret.tracking_number not in text and "Abusive words" not in text
    response = post(client, form_data(client))
    assert response.status_code == 303  # straight through: no duplicates step
    assert report_count() == 2


def test_nearby_check_through_htmx_and_without(client, city):
    original = make_report("pothole")
    query = {"category": "pothole", "latitude": CITY_HALL[0], "longitude": CITY_HALL[1]}
    partial = client.get("/reports/nearby", query_string=query, headers=HTMX)
    assert "<html" not in partial.get_data(as_text=True)
    assert original.tracking_number in partial.get_data(as_text=True)
    assert "HX-Request" in partial.headers["Vary"]
    page = client.get("/reports/nearby", query_string=query).get_data(as_text=True)
    assert "<html" in page and original.tracking_number in page
    empty = client.get("/reports/nearby", query_string={"category": "x", "latitude": "a"})
    assert empty.status_code == 200


# ---- privacy, receipt, double submission, atomicity ----------------------------------


def test_contact_details_never_reach_public_pages(client, city):
    data = form_data(
        client,
        contact_name="Maria Private",
        contact_email="maria@example.org",
        contact_phone="203 555 0100",
        anonymous="y",
    )
    location = post(client, data).headers["Location"]
    report = db.session.scalars(select(Report)).one()
    assert report.anonymous and report.contact_email == "maria@example.org"
    for path in (
        location,
        f"/reports/{report.tracking_number}",
        "/",
        "/reports/nearby?category=pothole&latitude=41.1792&longitude=-73.1894",
    ):
        page = client.get(path).get_data(as_text=True)
        for secret in ("Maria Private", "maria@example.org", "555 0100"):
            assert secret not in page, (path, secret)


def test_receipt_email_reaches_the_resident(make_app):
    with SMTPServer() as smtp:
        app = make_app(**smtp.settings)
        with app.app_context():
            from bpt311.notify import deliver_due
            from bpt311.seed import load_city

            load_city()
            client = app.test_client()
            post(client, form_data(client, contact_email="ana@example.org"))
            report = db.session.scalars(select(Report)).one()
            assert deliver_due() == 1
            [message] = smtp.mailbox.to("ana@example.org")
            assert report.tracking_number in message["Subject"]
            body = message.get_body(("plain",)).get_content()
            assert f"http://bpt311.test/reports/{report.tracking_number}" in body
            assert "within 3 days" in body


def test_sending_the_same_form_twice_makes_one_report(client, city):
    data = form_data(client)
    first = post(client, data)
    second = post(client, dict(data))
    assert first.headers["Location"] == second.headers["Location"]
    assert report_count() == 1


def test_two_clicks_at_the_same_moment_make_one_report(app, city):
    client = app.test_client()
    data = form_data(client)
    barrier = threading.Barrier(2)
    answers = []

    with client.session_transaction() as mine:
        cookie = dict(mine)

    def send():
        other = app.test_client()
        with other.session_transaction() as theirs:
            theirs.update(cookie)
        barrier.wait()
        answers.append(post(other, dict(data)))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a.status_code for a in answers] == [303, 303]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    assert report_count() == 1


def test_a_failure_while_saving_writes_nothing_and_leaves_no_files(client, city, app, monkeypatch):
    import bpt311.reports.service as service

    def broken(*args, **kwargs):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(service, "enqueue_email", broken)
    data = form_data(client, contact_email="ana@example.org", photos=[jpeg()])
    response = post(client, data)
    assert response.status_code == 500
    assert report_count() == 0
    assert db.session.scalar(select(func.count(Media.id))) == 0
    assert db.session.scalar(select(func.count(Outbox.id))) == 0
    finals = [p for p in Path(app.config["MEDIA_ROOT"]).glob("*") if p.is_file()]
    assert finals == []


def stored_files(app) -> set[str]:
    root = Path(app.config["MEDIA_ROOT"])
    return {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and path.relative_to(root).parts[0] != "pending"
    }


def media_files() -> set[str]:
    names = set()
    for media in db.session.scalars(select(Media)):
        names |= {media.file_name, media.thumb_name} - {""}
        names |= set(storage.variant_files(media))
    return names


def connection_lost_at_commit(monkeypatch, committed: bool):
    """The next COMMIT reaches the server (or not) and the connection is lost before its
    answer: the client cannot tell which."""
    from sqlalchemy.exc import OperationalError

    real = type(db.session()).commit

    def commit(session):
        monkeypatch.undo()
        if committed:
            real(session)
        else:
            session.rollback()
        lost = Exception("server closed the connection unexpectedly")
        raise OperationalError("COMMIT", {}, lost, connection_invalidated=True)

    monkeypatch.setattr(type(db.session()), "commit", commit)


def test_a_connection_lost_while_a_report_commits_keeps_its_photos(client, city, app, monkeypatch):
    from bpt311 import effects

    data = form_data(client, photos=[jpeg()])
    connection_lost_at_commit(monkeypatch, committed=True)
    response = post(client, data)
    assert response.status_code == 503
    assert report_count() == 1  # the server had committed it
    assert effects.settle_in_doubt() == 0
    owned = media_files()
    assert owned and owned <= stored_files(app), "the stored report lost its photo"


def test_photos_of_a_report_lost_with_the_connection_go_once_it_is_known(
    client, city, app, monkeypatch
):
    from bpt311 import effects

    data = form_data(client, photos=[jpeg()])
    connection_lost_at_commit(monkeypatch, committed=False)
    assert post(client, data).status_code == 503
    assert report_count() == 0
    placed = stored_files(app)
    assert placed, "kept while nobody knows whether the report was stored"
    assert effects.settle_in_doubt() == len([n for n in placed if not n.startswith("v/")]) + 1
    assert stored_files(app) == set()


def test_uploads_of_abandoned_forms_are_forgotten_after_a_day(client, city, app):
    import os
    import time

    from bpt311 import storage

    page = post(client, form_data(client, description="", photos=[jpeg()])).get_data(as_text=True)
    token = hidden(page, "pending_media")
    stashed = storage.load_stashed(token)
    assert stashed is not None
    day_ago = time.time() - 25 * 3600
    for path in (Path(app.config["MEDIA_ROOT"]) / "pending").iterdir():
        os.utime(path, (day_ago, day_ago))
    # photo, thumbnail, its description and the smaller copies for srcset
    assert storage.clean_stash() == 3 + len(stashed.variant_files)
    assert storage.load_stashed(token) is None
