"""Bridgeport's departments, categories and neighbourhoods, and plausible demo reports."""

from __future__ import annotations

import json
import random
from datetime import timedelta

from flask import current_app
from shapely.geometry import Point, shape
from sqlalchemy import func, insert, select

from bpt311 import effects
from bpt311.config import DATA_DIR
from bpt311.extensions import db
from bpt311.geo import read_areas, slugify
from bpt311.models import (
    Category,
    CategoryQuestion,
    Department,
    Neighbourhood,
    Report,
    TimelineEvent,
    utcnow,
)
from bpt311.reports import daily, map_summary
from bpt311.site import city_zone


def load_city() -> dict[str, int]:
    """Create or update the departments, categories, questions and neighbourhoods. Idempotent."""
    with open(DATA_DIR / "city_services.json", encoding="utf-8") as fh:
        catalogue = json.load(fh)
    with open(DATA_DIR / "city_services.translations.json", encoding="utf-8") as fh:
        translated_catalogue = json.load(fh)  # Spanish and Portuguese
    translations = translated_catalogue["categories"]  # by service code
    departments = {d.name: d for d in db.session.scalars(select(Department))}
    for item in catalogue["departments"]:
        department = departments.get(item["name"]) or Department(name=item["name"])
        department.email, department.phone = item["email"], item["phone"]
        department.translations = translated_catalogue["departments"].get(item["name"], {})
        departments[item["name"]] = department
        db.session.add(department)

    categories = {c.service_code: c for c in db.session.scalars(select(Category))}
    for position, item in enumerate(catalogue["categories"]):
        category = categories.get(item["service_code"]) or Category(
            service_code=item["service_code"]
        )
        category.name, category.group = item["name"], item["group"]
        category.form_title = item.get("form_title", "")
        category.description, category.keywords = item["description"], item["keywords"]
        category.department = departments[item["department"]]
        category.sla_hours, category.position, category.active = item["sla_hours"], position, True
        translated = translations.get(item["service_code"], {})
        category.translations = {
            lang: translated[lang] for lang in ("es", "pt") if lang in translated
        }
        existing = {q.code: q for q in category.questions}
        for order, spec in enumerate(item["questions"]):
            question = existing.get(spec["code"]) or CategoryQuestion(code=spec["code"])
            question.label, question.hint = spec["label"], spec["hint"]
            question.datatype, question.required = spec["datatype"], spec["required"]
            question.options, question.position = spec["options"], order
            question.translations = translated.get("questions", {}).get(spec["code"], {})
            if question not in category.questions:
                category.questions.append(question)
        db.session.add(category)

    neighbourhoods = {n.name: n for n in db.session.scalars(select(Neighbourhood))}
    for area in read_areas(current_app.config["NEIGHBOURHOODS_FILE"]):
        min_lon, min_lat, max_lon, max_lat = shape(area.geometry).bounds
        row = neighbourhoods.get(area.name) or Neighbourhood(name=area.name)
        row.slug, row.geometry_json = slugify(area.name), json.dumps(area.geometry)
        row.min_lat, row.min_lon, row.max_lat, row.max_lon = min_lat, min_lon, max_lat, max_lon
        db.session.add(row)
    effects.commit()
    return {
        "departments": len(catalogue["departments"]),
        "categories": len(catalogue["categories"]),
        "neighbourhoods": len(neighbourhoods)
        or db.session.scalar(select(func.count(Neighbourhood.id))),
    }


# Real streets of each neighbourhood, so demo addresses read like Bridgeport.
STREETS = {
    "Black Rock": ["Fairfield Ave", "Brewster St", "Grovers Ave", "Ellsworth St", "Gilman St"],
    "Brooklawn-St. Vincent": ["Park Ave", "Brooklawn Ave", "Capitol Ave", "Vincellette St"],
    "Downtown": ["Main St", "State St", "Broad St", "Lyon Terrace", "Fairfield Ave", "John St"],
    "East End": ["Stratford Ave", "Central Ave", "Seaview Ave", "Connecticut Ave"],
    "East Side": ["East Main St", "Barnum Ave", "Pembroke St", "Noble Ave", "Jane St"],
    "Enterprise": ["Seaview Ave", "Kossuth St", "Hallett St", "Crescent Ave"],
    "Hollow": ["Washington Ave", "Pequonnock St", "Hallett St", "Harral Ave", "Lindley St"],
    "Mill Hill": ["Boston Ave", "Success Ave", "Trumbull Ave", "Ogden St"],
    "North End": ["Main St", "Madison Ave", "Capitol Ave", "Old Town Rd", "Kaechele Pl"],
    "Reservoir-Whiskey Hill": ["Reservoir Ave", "Chopsey Hill Rd", "Quarry St", "Beechwood Ave"],
    "South End": ["Park Ave", "Atlantic St", "Myrtle Ave", "Iranistan Ave", "University Ave"],
    "Upper East Side": ["Boston Ave", "Huntington Rd", "Eckart St", "Stillman St"],
    "West End-West Side": ["State St", "Howard Ave", "Wordin Ave", "Fairfield Ave", "Lee Ave"],
}

DESCRIPTIONS = {
    "pothole": [
        "Deep pothole in the right lane, cars swerving around it.",
        "Large pothole near the crosswalk, getting bigger after the rain.",
        "Several potholes in a row, one is really deep and hit my tyre.",
    ],
    "streetlight": [
        "Street light out in front of the house for a week, the block is very dark.",
        "Light flickers on and off all night.",
        "Street light stays on during the day.",
    ],
    "sign": [
        "Stop sign knocked over at the corner.",
        "Street name sign missing.",
        "Speed limit sign is bent and faces the wrong way.",
    ],
    "traffic_signal": [
        "Signal stuck on red for the side street.",
        "Walk signal button does not work.",
        "Traffic light flashing yellow all day.",
    ],
    "sidewalk": [
        "Raised sidewalk slab, people trip here.",
        "Sidewalk broken up by tree roots.",
        "Curb ramp is crumbling, hard to get a wheelchair across.",
    ],
    "street_sweeping": [
        "Sand and leaves piled in the gutter, drain is blocked.",
        "Broken glass all along the curb.",
    ],
    "snow_ice": [
        "Street has not been plowed since the storm.",
        "Crosswalk at the bus stop is buried in snow.",
        "Sheet of ice across the sidewalk at the corner.",
    ],
    "missed_trash": [
        "Trash was not picked up on our street this week.",
        "Whole block was skipped on Tuesday.",
    ],
    "missed_recycling": [
        "Recycling bins still full, truck did not come.",
        "Blue bin skipped two weeks in a row.",
    ],
    "bulky_item": ["Old couch and a mattress need pickup.", "Broken fridge to be collected."],
    "illegal_dumping": [
        "Someone dumped a pile of tires by the fence.",
        "Mattresses and bags of trash dumped on the corner lot.",
        "Construction debris dumped on the sidewalk overnight.",
    ],
    "graffiti": [
        "Graffiti sprayed on the wall of the underpass.",
        "Tags on the utility box on the corner.",
        "New graffiti on the side of the school building.",
    ],
    "blight": [
        "Vacant house with broken windows and an open door.",
        "Boarded house, yard full of trash and rats.",
        "Porch roof is collapsing on the empty house.",
    ],
    "overgrown_lot": [
        "Vacant lot with weeds taller than me.",
        "Yard overgrown, brush growing over the sidewalk.",
    ],
    "abandoned_vehicle": [
        "Grey sedan with flat tyres has not moved in months.",
        "Van with no plates parked for weeks.",
    ],
    "noise": [
        "Loud music every night until 3 AM.",
        "Construction starting at 5 AM.",
        "Car alarm going off for hours.",
    ],
    "rodents": [
        "Rats running around the trash cans every evening.",
        "Rat burrows in the vacant lot next door.",
    ],
    "health_hazard": [
        "Sewage smell and water coming up from the drain.",
        "Needles on the ground near the playground.",
        "Standing water in the lot full of mosquitoes.",
    ],
    "restaurant": [
        "Saw mice in the kitchen through the window.",
        "Got sick after eating here, food was not cooked.",
    ],
    "stray_animal": [
        "Loose dog running in the street, no collar.",
        "Group of stray cats living under the porch.",
    ],
    "dead_animal": ["Dead raccoon in the road.", "Dead cat on the sidewalk."],
    "animal_bite": ["Neighbour's dog bit my son on the leg.", "Bitten by a stray dog."],
    "fallen_tree": [
        "Large limb down across the road after the storm.",
        "Tree fell onto the sidewalk and is touching the wires.",
    ],
    "park_maintenance": [
        "Swing seat broken at the playground.",
        "Bins overflowing at the picnic area.",
        "Basketball hoop rim is broken.",
    ],
    "other": [
        "Fire hydrant leaking water onto the street.",
        "Catch basin grate is loose and rattles.",
    ],
}

ACK_NOTES = [
    "Thanks for the report. A crew has been scheduled.",
    "Received and passed to the crew for this area.",
    "We are looking into this.",
]
CLOSE_NOTES = [
    "Fixed by our crew today.",
    "Work completed. Thank you for reporting.",
    "Inspected and resolved.",
    "Completed.",
]


def _random_point(rng: random.Random, geometry: dict) -> tuple[float, float]:
    polygon = shape(geometry)
    min_lon, min_lat, max_lon, max_lat = polygon.bounds
    while True:
        lon, lat = rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat)
        if polygon.contains(Point(lon, lat)):
            return lat, lon


def make_demo_reports(count: int, seed: int = 311, batch_size: int = 5000) -> int:
    """Insert ``count`` plausible reports with timelines, in bulk. Returns how many were made."""
    rng = random.Random(seed)
    categories = db.session.scalars(select(Category).where(Category.active)).all()
    neighbourhoods = db.session.scalars(select(Neighbourhood)).all()
    if not categories or not neighbourhoods:
        raise RuntimeError("Load the city first (flask --app app seed).")
    departments = {d.id: d.name for d in db.session.scalars(select(Department))}
    weights = [
        4 if c.service_code in ("pothole", "illegal_dumping", "streetlight") else 1
        for c in categories
    ]
    areas = [(n, shape(n.geometry).area) for n in neighbourhoods]
    now = utcnow()
    made = 0
    while made < count:
        size = min(batch_size, count - made)
        reports, timelines = [], []
        for _ in range(size):
            category = rng.choices(categories, weights)[0]
            hood = rng.choices([a[0] for a in areas], [a[1] for a in areas])[0]
            lat, lon = _random_point(rng, hood.geometry)
            # Most reports are recent: an exponential spread over about a year.
            created = now - timedelta(hours=min(rng.expovariate(1 / 900), 24 * 365))
            ack = created + timedelta(hours=rng.uniform(1, 72))
            close = ack + timedelta(hours=rng.uniform(2, category.sla_hours * 2))
            status = "open"
            if ack < now and rng.random() < 0.85:
                status = "acknowledged"
                if close < now and rng.random() < 0.8:
                    status = "closed"
            street = rng.choice(STREETS.get(hood.name, ["Main St"]))
            anonymous = rng.random() < 0.3
            reports.append(
                {
                    "category_id": category.id,
                    "department_id": category.department_id,
                    "description": rng.choice(DESCRIPTIONS.get(category.service_code, ["-"])),
                    "latitude": round(lat, 6),
                    "longitude": round(lon, 6),
                    "address": f"{rng.randint(1, 120) * 10} {street}, Bridgeport, CT",
                    "neighbourhood_id": hood.id,
                    "status": status,
                    "created_at": created,
                    "updated_at": {"open": created, "acknowledged": ack}.get(status, close),
                    "acknowledged_at": ack if status != "open" else None,
                    "closed_at": close if status == "closed" else None,
                    "due_at": created + timedelta(hours=category.sla_hours),
                    "contact_name": ""
                    if anonymous
                    else rng.choice(
                        ["Maria", "James", "Ana", "Luis", "Keisha", "Tom", "Joana", ""]
                    ),
                    "contact_email": "",
                    "contact_phone": "",
                    "anonymous": anonymous,
                    "source": rng.choices(["web", "kiosk", "api", "staff"], [70, 5, 10, 15])[0],
                    "answers": {},
                }
            )
            timelines.append((category, status, created, ack, close))
        ids = db.session.scalars(
            insert(Report).returning(Report.id, sort_by_parameter_order=True), reports
        ).all()
        events = []
        for report_id, (category, status, created, ack, close) in zip(ids, timelines, strict=True):
            department = departments[category.department_id]
            events.append(
                {
                    "report_id": report_id,
                    "kind": "submitted",
                    "created_at": created,
                    "actor_label": "",
                    "public_note": "",
                }
            )
            if status != "open":
                events.append(
                    {
                        "report_id": report_id,
                        "kind": "acknowledged",
                        "created_at": ack,
                        "actor_label": department,
                        "public_note": rng.choice(ACK_NOTES),
                    }
                )
            if status == "closed":
                events.append(
                    {
                        "report_id": report_id,
                        "kind": "closed",
                        "created_at": close,
                        "actor_label": department,
                        "public_note": rng.choice(CLOSE_NOTES),
                    }
                )
        db.session.execute(insert(TimelineEvent), events)
        effects.commit()
        made += size
    # The figures' daily summary and the map's, made again once (cheaper than recounting
    # each batch's days and cells).
    daily.rebuild(db.session.connection(), city_zone())
    map_summary.rebuild(db.session.connection())
    effects.commit()
    return made
