"""The OpenAPI 3.0 description of the JSON half of our GeoReport v2 API.

Written by hand from the same field lists the API answers with, and checked against
the running app by a schemathesis test (tests/test_open311_schemathesis.py). XML
answers are the same documents (see the developer page), so only JSON is described.
"""

from __future__ import annotations

from bpt311.api.service_requests import DEFAULT_DAYS, MAX_RESULTS
from bpt311.models import QUESTION_TYPES
from bpt311.site import site_url


def _text(description: str = "", nullable: bool = True, **extra) -> dict:
    schema = {"type": "string", **extra}
    if nullable:
        schema["nullable"] = True
    if description:
        schema["description"] = description
    return schema


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_of(name: str) -> dict:
    return {"type": "array", "items": _ref(name)}


def _answer(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": _answer("A parameter could not be understood", _list_of("Error")),
    "404": _answer("Not found", _list_of("Error")),
}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {
            "code": {"type": "integer", "description": "The HTTP status, repeated"},
            "description": _text("What went wrong, for people", nullable=False),
        },
    },
    "Service": {
        "type": "object",
        "required": ["service_code", "service_name", "metadata", "type"],
        "properties": {
            "service_code": _text(nullable=False),
            "service_name": _text(nullable=False),
            "description": _text(),
            "metadata": {
                "type": "boolean",
                "description": "true when the service definition has attributes to answer",
            },
            "type": {"type": "string", "enum": ["realtime"]},
            "keywords": _text("Comma-separated synonyms"),
            "group": _text(),
        },
    },
    "AttributeValue": {
        "type": "object",
        "required": ["key", "name"],
        "properties": {"key": _text(nullable=False), "name": _text()},
    },
    "Attribute": {
        "type": "object",
        "required": ["variable", "code", "datatype", "required", "order", "values"],
        "properties": {
            "variable": {"type": "boolean"},
            "code": _text("Send the answer as attribute[code]", nullable=False),
            "datatype": {"type": "string", "enum": list(QUESTION_TYPES)},
            "required": {"type": "boolean"},
            "datatype_description": _text(),
            "order": {"type": "integer", "minimum": 1},
            "description": _text("The question, as residents see it"),
            "values": _list_of("AttributeValue"),
        },
    },
    "ServiceDefinition": {
        "type": "object",
        "required": ["service_code", "attributes"],
        "properties": {
            "service_code": _text(nullable=False),
            "attributes": _list_of("Attribute"),
        },
    },
    "ServiceRequest": {
        "type": "object",
        "required": [
            "service_request_id",
            "status",
            "service_name",
            "service_code",
            "requested_datetime",
            "updated_datetime",
            "lat",
            "long",
        ],
        "properties": {
            "service_request_id": _text("A tracking number, like BPT-000123", nullable=False),
            "status": {"type": "string", "enum": ["open", "closed"]},
            "status_notes": _text("The city's latest public note"),
            "service_name": _text(nullable=False),
            "service_code": _text(nullable=False),
            "description": _text(),
            "agency_responsible": _text("The department responsible"),
            "service_notice": _text("The expected response time, in words"),
            "requested_datetime": _text(nullable=False, format="date-time"),
            "updated_datetime": _text(nullable=False, format="date-time"),
            "expected_datetime": _text(format="date-time"),
            "address": _text(),
            "address_id": _text("Always empty: the city has no address register here"),
            "zipcode": _text("Always empty"),
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "long": {"type": "number", "minimum": -180, "maximum": 180},
            "media_url": _text(
                "The first photo, or the address of one sent with the request", format="uri"
            ),
        },
    },
    "RequestUpdate": {
        "type": "object",
        "required": [
            "update_id",
            "service_request_id",
            "status",
            "updated_datetime",
            "description",
        ],
        "properties": {
            "update_id": _text(nullable=False),
            "service_request_id": _text("A tracking number, like BPT-000123", nullable=False),
            "status": {"type": "string", "enum": ["open", "closed"]},
            "updated_datetime": _text(nullable=False, format="date-time"),
            "description": _text("The city's public note, or the step's name", nullable=False),
            "media_url": _text(format="uri"),
        },
    },
    "CreatedRequest": {
        "type": "object",
        "required": ["service_request_id", "service_notice", "account_id"],
        "properties": {
            "service_request_id": _text(nullable=False),
            "service_notice": _text(),
            "account_id": _text("Always null: the API has no accounts"),
        },
    },
    "Token": {
        "type": "object",
        "required": ["service_request_id", "token"],
        "properties": {"service_request_id": _text(nullable=False), "token": _text(nullable=False)},
    },
    "Discovery": {
        "type": "object",
        "required": ["changeset", "contact", "key_service", "endpoints"],
        "properties": {
            "changeset": _text(nullable=False),
            "contact": _text(nullable=False),
            "key_service": _text(nullable=False),
            "endpoints": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["specification", "url", "changeset", "type", "formats"],
                    "properties": {
                        "specification": _text(nullable=False),
                        "url": _text(nullable=False),
                        "changeset": _text(nullable=False),
                        "type": {"type": "string", "enum": ["production", "test"]},
                        "formats": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
}

JURISDICTION = {
    "name": "jurisdiction_id",
    "in": "query",
    "required": False,
    "description": "Accepted and ignored: this endpoint serves one city",
    "schema": {"type": "string"},
}


def _path_code(name: str, description: str, example: str = "") -> dict:
    parameter = {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }
    if example:
        parameter["example"] = example
    return parameter


def _query(name: str, description: str, example: str, **schema) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "allowEmptyValue": True,  # GeoReport: an empty parameter counts as not sent
        "description": description,
        "schema": {"type": "string", **schema},
        "example": example,
    }


TRACKING_NUMBER = r"[Bb][Pp][Tt][- ]?[0-9]{1,12}"
REQUEST_FILTERS = [
    _query(
        "service_request_id",
        "One tracking number or several, comma-separated; overrides every other filter",
        "BPT-000001,BPT-000002",
        pattern=rf"^ *({TRACKING_NUMBER} *(, *{TRACKING_NUMBER} *)*)?$",
    ),
    _query("service_code", "One service code or several, comma-separated", "pothole,graffiti"),
    _query(
        "start_date",
        f"Earliest requested_datetime (W3C, with Z or an offset, or a date alone for that "
        f"day in Bridgeport); defaults to {DEFAULT_DAYS} days before end_date, or before now",
        "2026-11-01T00:00:00-04:00",
        format="date-time",
    ),
    _query(
        "end_date",
        f"Latest requested_datetime (as start_date); at most {DEFAULT_DAYS} days after it",
        "2026-11-25T00:00:00Z",
        format="date-time",
    ),
    _query(
        "status",
        "open, closed, or open,closed",
        "open",
        pattern="^ *((open|closed) *(, *(open|closed) *)*)?$",
    ),
    JURISDICTION,
]
PAGING = [
    _query(
        "page",
        "Which page, from 1 (pages of 100 unless page_size)",
        "2",
        pattern=r"^([1-9][0-9]{0,5}|1000000)?$",
    ),
    _query(
        "page_size",
        f"Results per page, 1 to {MAX_RESULTS}; the Link header names the next page",
        "100",
        pattern=r"^([1-9][0-9]{0,2}|1000)?$",
    ),
]
REQUEST_FILTERS += PAGING

POST_FIELDS = {
    "api_key": _text("Your key, if not sent in the query string", nullable=False),
    "service_code": _text(nullable=False, example="pothole"),
    "lat": {"type": "number", "description": "WGS84 latitude; send with long", "example": 41.1792},
    "long": {
        "type": "number",
        "description": "WGS84 longitude; send with lat",
        "example": -73.1894,
    },
    "address_string": _text(
        "An address in Bridgeport, looked up when lat and long are not sent", nullable=False
    ),
    "address_id": _text("Not supported", nullable=False),
    "description": _text(
        "What is wrong, 10 to 2000 characters",
        nullable=False,
        minLength=10,
        maxLength=2000,
        example="A deep pothole in the right lane by the bus stop.",
    ),
    "email": _text("Private: for the receipt and updates", nullable=False),
    "first_name": _text("Private", nullable=False),
    "last_name": _text("Private", nullable=False),
    "phone": _text("Private", nullable=False),
    "device_id": _text("Accepted and ignored", nullable=False),
    "account_id": _text("Accepted and ignored", nullable=False),
    "media_url": _text(
        "The http(s) address of a photo: linked from the report and given back as media_url, "
        "never fetched",
        nullable=False,
    ),
    "jurisdiction_id": _text("Accepted and ignored", nullable=False),
}


def _service_definition(operation_id: str, summary: str) -> dict:
    """The service-definition operation; the spec's plural and singular paths share it."""
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "parameters": [
                _path_code("service_code", "From the service list", "pothole"),
                JURISDICTION,
            ],
            "responses": {
                "200": _answer("The service definition", _ref("ServiceDefinition")),
                "404": ERRORS["404"],
            },
        }
    }


def openapi_document() -> dict:
    document = _document(site_url())
    # Any address can arrive malformed (a NUL in its query string is refused before the
    # API sees it), so every operation may answer 400 in the error shape.
    for path in document["paths"].values():
        for operation in path.values():
            operation["responses"].setdefault("400", ERRORS["400"])
    return document


def _document(site: str) -> dict:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Bridgeport 311 Open311 GeoReport v2 API",
            "version": "2",
            "description": (
                "Open311 GeoReport v2 for the City of Bridgeport, CT "
                "(http://wiki.open311.org/GeoReport_v2). Every path also answers in XML "
                f"with .xml in place of .json. Guide: {site}/developers"
            ),
        },
        "servers": [{"url": site}],
        "paths": {
            "/open311/discovery.json": {
                "get": {
                    "operationId": "discovery",
                    "summary": "Where the endpoint is and what it speaks",
                    "responses": {"200": _answer("The discovery document", _ref("Discovery"))},
                }
            },
            "/open311/v2/services.json": {
                "get": {
                    "operationId": "listServices",
                    "summary": "Every kind of problem that can be reported",
                    "parameters": [JURISDICTION],
                    "responses": {"200": _answer("The services", _list_of("Service"))},
                }
            },
            "/open311/v2/services/{service_code}.json": _service_definition(
                "serviceDefinition", "The questions a service asks"
            ),
            "/open311/v2/service/{service_code}.json": _service_definition(
                "serviceDefinitionSingular", "The same as services/{service_code}.json"
            ),
            "/open311/v2/requests.json": {
                "get": {
                    "operationId": "listRequests",
                    "summary": (
                        f"Public service requests, newest first, at most {MAX_RESULTS}; the last "
                        f"{DEFAULT_DAYS} days unless dates are given"
                    ),
                    "parameters": REQUEST_FILTERS,
                    "responses": {
                        "200": _answer("The requests", _list_of("ServiceRequest")),
                        "400": ERRORS["400"],
                    },
                },
                "post": {
                    "operationId": "createRequest",
                    "summary": "File a report (needs an API key)",
                    "security": [{"api_key": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/x-www-form-urlencoded": {
                                "schema": {
                                    "type": "object",
                                    "required": ["service_code", "description"],
                                    "properties": POST_FIELDS,
                                    "example": {
                                        "service_code": "pothole",
                                        "lat": 41.1792,
                                        "long": -73.1894,
                                        "description": "A deep pothole by the bus stop.",
                                        "attribute[size]": "medium",
                                    },
                                    "additionalProperties": {
                                        "description": (
                                            "attribute[code]=value for each attribute; "
                                            "attribute[code][]=value repeated for a multivaluelist"
                                        ),
                                        "type": "string",
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _answer("The request was made", _list_of("CreatedRequest")),
                        "400": ERRORS["400"],
                        "403": _answer("No api_key, or not a valid one", _list_of("Error")),
                        "404": _answer("Unknown service_code", _list_of("Error")),
                    },
                },
            },
            "/open311/v2/servicerequestupdates.json": {
                "get": {
                    "operationId": "listRequestUpdates",
                    "summary": (
                        "Every public step of every public request, newest first: for systems "
                        "that keep a copy in sync (FixMyStreet's extension)"
                    ),
                    "parameters": [
                        p for p in REQUEST_FILTERS if p["name"] in ("start_date", "end_date")
                    ]
                    + PAGING,
                    "responses": {
                        "200": _answer("The updates", _list_of("RequestUpdate")),
                        "400": ERRORS["400"],
                    },
                }
            },
            "/open311/v2/requests/{service_request_id}.json": {
                "get": {
                    "operationId": "getRequest",
                    "summary": "One service request, as a one-element list",
                    "parameters": [
                        _path_code(
                            "service_request_id", "A tracking number, like BPT-000123", "BPT-000001"
                        ),
                        JURISDICTION,
                    ],
                    "responses": {
                        "200": _answer("The request", _list_of("ServiceRequest")),
                        "404": ERRORS["404"],
                    },
                }
            },
            "/open311/v2/tokens/{token}.json": {
                "get": {
                    "operationId": "requestIdFromToken",
                    "summary": "Requests are made at once: a token is its tracking number",
                    "parameters": [
                        _path_code("token", "A tracking number", "BPT-000001"),
                        JURISDICTION,
                    ],
                    "responses": {
                        "200": _answer("The request's id", _list_of("Token")),
                        "404": ERRORS["404"],
                    },
                }
            },
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "api_key": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "api_key",
                    "description": "Or send api_key in the form body",
                }
            },
        },
    }
