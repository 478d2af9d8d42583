"""Bridgeport's seed data: departments, categories, questions, neighbourhoods, demo reports."""

from sqlalchemy import func, select

from bpt311.extensions import db
from bpt311.geo import service_area_from_file
from bpt311.models import Category, Department, Neighbourhood, Report, TimelineEvent
from bpt311.reports.queries import category_groups
from bpt311.seed import load_city, make_demo_reports


def count(model):
    return db.session.scalar(select(func.count(model.id)))


def test_city_has_departments_categories_and_neighbourhoods(city):
    assert count(Department) == 9
    assert count(Category) == 25
    assert count(Neighbourhood) == 13
    names = {c.name for c in db.session.scalars(select(Category))}
    for expected in (
        "Pothole",
        "Street light out",
        "Missed trash pickup",
        "Illegal dumping",
        "Graffiti",
        "Blighted property",
        "Noise complaint",
        "Rodents",
        "Stray animal",
        "Fallen tree or limb",
        "Something else",
    ):
        assert expected in names


def test_categories_are_grouped_the_way_residents_think(city):
    groups = dict(category_groups())
    assert list(groups)[0] == "Streets and sidewalks"
    assert [c.service_code for c in groups["Trash and recycling"]] == [
        "missed_trash",
        "missed_recycling",
        "bulky_item",
        "illegal_dumping",
    ]
    assert "Other" in groups


def test_categories_ask_questions_that_help_staff(city):
    pothole = db.session.scalars(select(Category).where(Category.service_code == "pothole")).one()
    size = pothole.questions[0]
    assert size.code == "size" and size.required and size.datatype == "singlevaluelist"
    assert [o["key"] for o in size.options] == ["small", "medium", "large"]
    stray = db.session.scalars(
        select(Category).where(Category.service_code == "stray_animal")
    ).one()
    assert "aggressive" in {q.code for q in stray.questions}
    assert pothole.department.name == "Roadway Maintenance" and pothole.sla_hours == 72


def test_loading_twice_changes_nothing(city):
    before = (count(Department), count(Category), count(Neighbourhood))
    load_city()
    assert (count(Department), count(Category), count(Neighbourhood)) == before


def test_demo_reports_lie_in_the_city_with_timelines(city, app):
    assert make_demo_reports(150) == 150
    reports = db.session.scalars(select(Report)).all()
    area = service_area_from_file(app.config["SERVICE_AREA_FILE"], 150)
    assert all(area.contains(r.latitude, r.longitude) for r in reports)
    assert all(r.neighbourhood_id is not None for r in reports)
    assert {r.status for r in reports} == {"open", "acknowledged", "closed"}
    closed = [r for r in reports if r.status == "closed"]
    assert all(
        r.closed_at and r.acknowledged_at and r.closed_at > r.acknowledged_at for r in closed
    )
    kinds = [e.kind for e in closed[0].events]
    assert kinds == ["submitted", "acknowledged", "closed"]
    assert count(TimelineEvent) >= 150


def test_seed_command_makes_demo_reports_for_load_tests(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed", "--reports", "40"])
    assert result.exit_code == 0, result.output
    assert "Loaded 9 departments, 25 categories and 13 neighbourhoods." in result.output
    assert "Made 40 demo reports." in result.output
    assert count(Report) == 40
    result = runner.invoke(args=["seed", "--reports", "-5"])
    assert result.exit_code != 0
