"""The city's categories as GeoReport services, and their questions as attributes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bpt311.extensions import db
from bpt311.models import Category, CategoryQuestion

# What a client must send for each kind of question, in words for its developer.
DATATYPE_HELP = {
    "string": "Text on one line, up to 200 characters.",
    "number": "A number, like 3.",
    "datetime": "A date and time with its offset, like 2026-11-25T14:30:00-05:00.",
    "text": "Text, line breaks allowed, up to 2000 characters.",
    "singlevaluelist": "The key of one of the values.",
    "multivaluelist": "The keys of one or more of the values, each sent as attribute[{code}][].",
}


def _active_categories():
    return (
        select(Category)
        .where(Category.active)
        .options(selectinload(Category.questions))
        .order_by(Category.position, Category.name)
    )


def service_list() -> list[dict]:
    """Every active category, in the order residents see them (two queries)."""
    return [
        {
            "service_code": category.service_code,
            "service_name": category.name,
            "description": category.description,
            "metadata": bool(category.questions),
            "type": "realtime",
            "keywords": ", ".join(category.keyword_list),
            "group": category.group,
        }
        for category in db.session.scalars(_active_categories())
    ]


def attribute(question: CategoryQuestion, order: int) -> dict:
    help_text = DATATYPE_HELP.get(question.datatype, "").format(code=question.code)
    return {
        "variable": True,
        "code": question.code,
        "datatype": question.datatype,
        "required": bool(question.required),
        "datatype_description": " ".join(part for part in (question.hint, help_text) if part),
        "order": order,
        "description": question.label,
        "values": [
            {"key": option.get("key", ""), "name": option.get("name", "")}
            for option in (question.options or [])
        ]
        if question.is_list
        else [],
    }


def service_definition(service_code: str) -> dict | None:
    """A category's questions as GeoReport attributes; None for an unknown or retired code."""
    category = db.session.scalars(
        _active_categories().where(Category.service_code == service_code)
    ).one_or_none()
    if category is None:
        return None
    return {
        "service_code": category.service_code,
        "attributes": [
            attribute(question, order) for order, question in enumerate(category.questions, 1)
        ],
    }
