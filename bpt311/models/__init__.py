"""All models, importable from one place so Alembic sees every table."""

from bpt311.models.base import Base, utcnow
from bpt311.models.boundary import ServiceBoundary
from bpt311.models.community import (
    FLAG_TARGETS,
    Comment,
    EmailSubscription,
    Flag,
    Follow,
    Vote,
)
from bpt311.models.map_cells import map_cell
from bpt311.models.outbound311 import (
    SEND_STATES,
    Open311Endpoint,
    OutboundRequest,
    RemoteUpdate,
)
from bpt311.models.people import ROLES, User
from bpt311.models.places import (
    QUESTION_TYPES,
    SEND_METHODS,
    Category,
    CategoryQuestion,
    Department,
    GeocodeCache,
    Neighbourhood,
)
from bpt311.models.push import PushMessage, PushSubscription
from bpt311.models.records import ApiKey, AuditLog, Outbox, ResponseTemplate, SavedFilter
from bpt311.models.reports import (
    DAILY_BANDS,
    EVENT_KINDS,
    SOURCES,
    STATUS_LABELS,
    STATUSES,
    ImportedPhoto,
    Media,
    Report,
    TimelineEvent,
    daily_figure,
    looks_like_tracking_number,
    report_id_from_tracking_number,
    tracking_number_for,
)
from bpt311.models.schema import create_schema, drop_schema
from bpt311.models.watching import (
    AREA_SHAPES,
    DELIVERIES,
    NOTICE_KINDS,
    Notice,
    WatchArea,
    WatchAreaCategory,
    WatchAreaFollow,
    WatchEvent,
)

__all__ = [
    "Open311Endpoint",
    "OutboundRequest",
    "RemoteUpdate",
    "SEND_STATES",
    "ApiKey",
    "FLAG_TARGETS",
    "Comment",
    "DAILY_BANDS",
    "daily_figure",
    "map_cell",
    "Flag",
    "Follow",
    "EmailSubscription",
    "Vote",
    "EVENT_KINDS",
    "QUESTION_TYPES",
    "SEND_METHODS",
    "ROLES",
    "SOURCES",
    "STATUSES",
    "STATUS_LABELS",
    "AuditLog",
    "Base",
    "Category",
    "CategoryQuestion",
    "Department",
    "GeocodeCache",
    "ImportedPhoto",
    "Media",
    "Neighbourhood",
    "Outbox",
    "PushMessage",
    "PushSubscription",
    "Report",
    "ResponseTemplate",
    "SavedFilter",
    "ServiceBoundary",
    "TimelineEvent",
    "User",
    "AREA_SHAPES",
    "DELIVERIES",
    "NOTICE_KINDS",
    "Notice",
    "WatchArea",
    "WatchAreaCategory",
    "WatchAreaFollow",
    "WatchEvent",
    "looks_like_tracking_number",
    "report_id_from_tracking_number",
    "tracking_number_for",
    "utcnow",
    "create_schema",
    "drop_schema",
]
