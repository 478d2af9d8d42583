"""Request ids and log lines: every line logged while answering a request carries its id,
as JSON in production (one object a line, for the log collector) or as text on a laptop."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime

import pythonjsonlogger.json
from flask import Flask, g, has_request_context
from pythonjsonlogger.core import RESERVED_ATTRS

REQUEST_ID_HEADER = "X-Request-ID"
# An id sent by the proxy is kept when it is short and plain (it ends up in logs and headers).
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s"

_factory_installed = False


def request_id_from(header: str | None) -> str:
    """The proxy's id when it is sane, or a new random one."""
    if header and SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def current_request_id() -> str:
    if has_request_context():
        return g.get("request_id", "")
    return ""


class JsonFormatter(pythonjsonlogger.json.JsonFormatter):
    """One JSON object per line: time, level, logger, message, request id (when there is
    one), exception, and any ``extra=`` fields. The app's lines and gunicorn's (its own
    messages and the access log, see gunicorn.conf.py) all go through this one."""

    def __init__(self):
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "exc_info": "exception",
            },
            reserved_attrs=[*RESERVED_ATTRS, "request_tag"],
            json_ensure_ascii=False,
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        super().add_fields(log_data, record, message_dict)
        # A dict logged as the message (gunicorn's access lines) wins over the record's
        # own attributes: its request_id is the one the app echoed, not the empty stamp.
        log_data.update({self.rename_fields.get(k, k): v for k, v in message_dict.items()})

    def process_log_record(self, log_data: dict) -> dict:
        if not log_data.get("request_id"):
            log_data.pop("request_id", None)  # a line outside a request has no id
        return log_data


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", "")
        record.request_tag = f" [{request_id}]" if request_id else ""
        return super().format(record)


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def _install_record_factory() -> None:
    """Stamp every record with the request id, whichever logger or library made it."""
    global _factory_installed
    if _factory_installed:
        return
    make_record = logging.getLogRecordFactory()

    def with_request_id(*args, **kwargs):
        record = make_record(*args, **kwargs)
        record.request_id = current_request_id()
        return record

    logging.setLogRecordFactory(with_request_id)
    _factory_installed = True


def configure(app: Flask) -> None:
    """Request ids on every record; the app's own stderr handler writes LOG_FORMAT.

    Only plain StreamHandlers on the root logger are re-formatted (the one create_app
    adds): handlers a test runner or a process manager installed are left alone.
    """
    _install_record_factory()
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:
            handler.setFormatter(formatter_for(app.config.get("LOG_FORMAT", "text")))
