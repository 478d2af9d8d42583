"""A list's rows read as plain rows (bpt311/reports/rows.py, #25 item 3) show exactly what
the ORM reports showed: photo, category name in the reader's language, place in words,
votes and comments; and a photo the moderators hid is never a list's thumbnail."""

from datetime import timedelta

import pytest
from flask import render_template, render_template_string
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bpt311 import effects
from bpt311.extensions import db
from bpt311.i18n import force_locale
from bpt311.models import Comment, Media, Neighbourhood, Report, utcnow
from bpt311.reports import browse, list_pages
from bpt311.reports.rows import list_rows
from tests.factories import category, make_report

# templates/reports/_row.html as it was when it read ORM reports (with selectinloads), the
# first photo chosen by the model's own rule for who may see one.
ORM_ROW = """{% import "macros/media.html" as media %}
{% set photo = (report.media | selectattr('kind', 'equalto', 'photo') | selectattr('publicly_visible') | first) if report.media else none %}
<li class="report-row{{ ' report-row--photo' if photo }}">
  {% if photo and photo.thumb_name %}{{ media.picture(photo, '96px', class='report-row__thumb', box=(96, 72)) }}{% endif %}
  <div class="report-row__body">
    <a class="report-row__link" href="{{ url_for('community.report', tracking_number=report.tracking_number) }}">
      <span class="report-row__title">{{ report.category | translated("name") }}</span>
      <span class="status status--{{ report.status }}">{{ report.status_label }}</span>
    </a>
    <p class="report-row__text">{{ report.description | truncate(120) }}</p>
    <p class="report-row__meta">{{ report.place_label }}{% if report.address and report.neighbourhood %} ({{ report.neighbourhood.name }}){% endif %} · <time datetime="{{ report.created_at | iso }}">{{ report.created_at | age }}</time> · {{ report.tracking_number }}{% if report.vote_count %} · {{ ngettext("%(num)s vote", "%(num)s votes", report.vote_count, num=report.vote_count | number) }}{% endif %}{% if report.comment_count %} · {{ ngettext("%(num)s comment", "%(num)s comments", report.comment_count, num=report.comment_count | number) }}{% endif %}</p>
  </div>
</li>
"""  # noqa: E501 (the template as it was, line for line)


def photo(report, name, position=0, **fields):
    media = Media(
        report_id=report.id,
        kind="photo",
        file_name=f"{name}.jpg",
        thumb_name=f"{name}-thumb.jpg",
        content_type="image/jpeg",
        size_bytes=1,
        width=1200,
        height=900,
        alt_text=f"Photo {name}",
        position=position,
        variant_key=name,
        variants=[["image/webp", 240, 180], ["image/avif", 240, 180], ["image/jpeg", 240, 180]],
        **fields,
    )
    db.session.add(media)
    return media


@pytest.fixture
def listed(city):
    """Reports with every detail a row shows, and the photos moderators and writers hid."""
    now = utcnow()
    downtown = db.session.scalars(
        select(Neighbourhood).where(Neighbourhood.name == "Downtown")
    ).one()
    pothole = category("pothole")
    pothole.translations = {"es": {"name": "Bache en la calle"}}
    with_photo = make_report(
        description="Deep pothole by the train station " * 6,  # truncated at 120
        address="525 Water St, Bridgeport",
        created_at=now - timedelta(hours=3),
        vote_count=1,
        comment_count=2,
        neighbourhood_id=downtown.id,
    )
    hidden_first = make_report(
        "streetlight", address="", created_at=now - timedelta(hours=2), vote_count=1234
    )
    comment_photo_only = make_report(
        "graffiti",
        address="",
        latitude=None,
        longitude=None,
        neighbourhood_id=downtown.id,
        created_at=now - timedelta(hours=1),
        status="acknowledged",
    )
    no_photo = make_report("illegal_dumping", address="", neighbourhood_id=downtown.id)
    photo(with_photo, "second", position=1)
    photo(with_photo, "first", position=0)
    photo(hidden_first, "hidden", position=0, hidden_at=now, hidden_reason="A face")
    photo(hidden_first, "shown", position=1)
    removed = Comment(report_id=comment_photo_only.id, body="Look", hidden_at=now)
    db.session.add(removed)
    db.session.flush()
    photo(comment_photo_only, "on-hidden-comment", comment_id=removed.id)
    effects.commit()
    return [no_photo, comment_photo_only, hidden_first, with_photo]  # newest first


@pytest.mark.parametrize("language", ["en", "es"])
def test_plain_rows_render_exactly_what_the_orm_reports_rendered(app, listed, language):
    query = select(Report).order_by(Report.created_at.desc(), Report.id.desc())
    with app.test_request_context("/reports"), force_locale(language):
        reports = db.session.scalars(
            query.options(
                selectinload(Report.category),
                selectinload(Report.neighbourhood),
                selectinload(Report.media),
            )
        ).all()
        expected = [render_template_string(ORM_ROW, report=report) for report in reports]
        rows = list_rows(query)
        plain = [render_template("reports/_row.html", report=row) for row in rows]
    assert [row.id for row in rows] == [report.id for report in listed]
    # _row.html starts with a comment and the media import's line; the rows are the same
    assert [html.strip() for html in plain] == [html.strip() for html in expected]
    joined = "".join(plain)
    assert ("Bache en la calle" in joined) == (language == "es")
    assert "first-thumb.jpg" in joined and "second-thumb.jpg" not in joined
    assert "shown-thumb.jpg" in joined and "hidden-thumb.jpg" not in joined
    assert "on-hidden-comment" not in joined


def test_the_public_list_shows_each_detail_in_spanish(client, listed):
    client.set_cookie("lang", "es")
    html = client.get("/reports?lang=es").get_data(as_text=True)
    with_photo, hidden_first, comment_photo_only, no_photo = reversed(listed)
    assert "Bache en la calle" in html
    assert 'src="/media/first-thumb.jpg"' in html
    assert "/media/v/first-240x180.webp 240w" in html
    assert "hidden-thumb.jpg" not in html and "shown-thumb.jpg" in html
    assert "on-hidden-comment" not in html
    assert "525 Water St, Bridgeport (Downtown)" in html
    assert "1.234 votos" in html or "1,234 votos" in html
    assert "2 comentarios" in html
    for report in listed:
        assert report.tracking_number in html


def test_a_page_of_plain_rows_takes_one_query_whatever_its_length(app, listed, count_queries):
    """With the list's lower bound kept (read once a while: the first page reads it), a
    page is one statement: its rows, their photos and the count."""
    app.config["FILTER_CHOICES_SECONDS"] = 30
    expected = [report.tracking_number for report in listed]
    with app.test_request_context("/reports"), count_queries() as first:
        list_pages.page_of_reports(browse.Filters())
    assert first.count == 2, first.statements  # the summary's lower bound, then the page
    with app.test_request_context("/reports"), count_queries() as few:
        page = list_pages.page_of_reports(browse.Filters())
    assert [row.tracking_number for row in page.items] == expected
    assert page.items[-1].photo.thumb_size == (480, 360)
    assert few.count == 1, few.statements  # the rows, their photos and the count together
    for n in range(30):
        make_report(description=f"More {n}")
    with app.test_request_context("/reports"), count_queries() as many:
        page = list_pages.page_of_reports(browse.Filters())
    assert len(page.items) == browse.PAGE_SIZE
    assert many.count == 1, many.statements


@pytest.mark.parametrize("sort", ["newest", "votes", "updated", "nearest"])
def test_the_one_statement_page_keeps_every_order_and_each_rows_photo(app, listed, sort):
    """The page's rows, photos and count come in one statement whose outer query orders
    again by the page's own keys: every sort gives the order the filtered SELECT gives,
    each row keeps its own first public photo, and the count is the list's."""
    for votes, report in enumerate(listed):
        report.vote_count = (votes * 7) % 4
    effects.commit()
    filters = browse.Filters(sort=sort)
    if sort == "nearest":  # only the reports with a point, nearest first
        filters.latitude, filters.longitude, filters.radius = 41.1792, -73.1894, 50000
    with app.test_request_context("/reports"):
        page = list_pages.page_of_reports(filters)
        expected = db.session.scalars(browse.filtered(filters)).all()
    assert [row.id for row in page.items] == [report.id for report in expected]
    assert page.total == len(expected)
    with app.test_request_context("/reports"):  # the two readers of rows agree, field by field
        assert page.items == list_rows(browse.filtered(filters).limit(browse.PAGE_SIZE))
    thumbs = {row.id: row.photo.thumb_name if row.photo else None for row in page.items}
    with_photo, hidden_first, comment_photo_only, no_photo = reversed(listed)
    assert thumbs.get(with_photo.id, "first-thumb.jpg") == "first-thumb.jpg"
    assert thumbs.get(hidden_first.id, "shown-thumb.jpg") == "shown-thumb.jpg"
    assert thumbs.get(comment_photo_only.id) is None and thumbs.get(no_photo.id) is None
    assert len(page.items) >= 2


def test_a_page_past_the_last_still_counts_the_list(app, listed, count_queries):
    app.config["FILTER_CHOICES_SECONDS"] = 30
    filters = browse.Filters()
    filters.page = 3
    with app.test_request_context("/reports"):
        list_pages.page_of_reports(browse.Filters())  # the lower bound, kept
    with app.test_request_context("/reports"), count_queries() as counted:
        page = list_pages.page_of_reports(filters)
    assert page.items == [] and page.total == len(listed)
    assert counted.count == 2, counted.statements  # the empty page, then the count alone
