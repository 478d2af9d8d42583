"""GeoReport v2's two wire formats: JSON, and the schemaless XML it is mapped from.

The spec's JSON is the XML through the "Spark convention": a list becomes repeated
child elements named by :data:`ITEM_NAMES`, an empty element is ``null``, booleans
are ``true``/``false``. Both writers here take the same plain Python values, so a
field can never be spelled one way in JSON and another in XML.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from flask import Response

from bpt311.paging import batched
from bpt311.site import city_zone

FORMATS = ("json", "xml")
MIMETYPES = {"json": "application/json", "xml": "text/xml"}
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'

# The element each member of a list is wrapped in, by the list's own element name.
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}

# Characters XML 1.0 cannot carry at all, even escaped; text sent to us may hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
STREAM_BATCH = 100  # items per chunk written: fewer, larger writes


def w3c_datetime(moment: datetime | None, zone: ZoneInfo | None = None) -> str | None:
    """A moment on the city's clock with its offset: ``2026-11-25T09:05:00-05:00``."""
    if moment is None:
        return None
    return moment.astimezone(zone or city_zone()).isoformat(timespec="seconds")


def json_value(value: Any) -> Any:
    """Empty text is ``null`` in GeoReport JSON, as an empty XML element would map."""
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_value(item) for item in value]
    return None if value == "" else value


def dumps(value: Any) -> str:
    return json.dumps(json_value(value), ensure_ascii=False, separators=(",", ":"))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if _NOT_XML.search(text):
        text = _NOT_XML.sub("", text)
    # Most values (ids, dates, numbers) need no escaping: checking is cheaper than escaping.
    return escape(text) if ("&" in text or "<" in text or ">" in text) else text


def xml_element(name: str, value: Any) -> str:
    """One element and everything inside it, as text."""
    if isinstance(value, dict):
        inner = "".join(xml_element(key, item) for key, item in value.items())
    elif isinstance(value, list):
        child = ITEM_NAMES.get(name, "item")
        inner = "".join(xml_element(child, item) for item in value)
    else:
        inner = _text(value)
    return f"<{name}>{inner}</{name}>" if inner else f"<{name}/>"


def document(fmt: str, root: str, value: Any, status: int = 200) -> Response:
    """A whole answer: ``value`` as JSON, or as XML under the element ``root``."""
    body = dumps(value) if fmt == "json" else XML_DECLARATION + xml_element(root, value) + "\n"
    return Response(body, status=status, content_type=f"{MIMETYPES[fmt]}; charset=utf-8")


def streamed_list(fmt: str, root: str, items: Iterable[dict]) -> Iterator[str]:
    """A list written in chunks of items, so a thousand rows never sit in memory as one string.

    The items must already say ``None`` for every empty value (as :func:`json_value` would
    make them): this is the hot path of ``GET requests``, and skips that walk.
    """
    if fmt == "json":
        encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        yield "["
        for n, batch in enumerate(batched(items, STREAM_BATCH)):
            yield ("," if n else "") + encode(batch)[1:-1]
        yield "]"
        return
    child = ITEM_NAMES[root]
    yield XML_DECLARATION + f"<{root}>"
    for batch in batched(items, STREAM_BATCH):
        yield "".join([xml_element(child, item) for item in batch])
    yield f"</{root}>\n"


def errors(fmt: str, status: int, *descriptions: str, headers: dict | None = None) -> Response:
    """GeoReport's error answer, one entry per problem, the HTTP status matching ``code``."""
    entries = [{"code": status, "description": text} for text in descriptions]
    response = document(fmt, "errors", entries, status)
    response.headers.update(headers or {})
    return response


def format_of(path: str) -> str:
    """The format a path asks for by its extension; JSON when it names neither."""
    return "xml" if path.lower().rstrip("/").endswith(".xml") else "json"
