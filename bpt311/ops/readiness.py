"""Readiness: can this process serve right now? Each check answers ok or says why not."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable

import redis
from flask import Flask, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bpt311 import effects
from bpt311.extensions import db
from bpt311.ops import replica

log = logging.getLogger(__name__)
CHECKS_KEY = "bpt311.readiness_checks"
REDIS_KEY = "bpt311.redis"


class NotReady(Exception):
    """A check failed; the message says what, for the operator (never secrets)."""


def redis_client(app: Flask) -> redis.Redis | None:
    """One client (and connection pool) per app for REDIS_URL, with short timeouts so a
    Redis that is down costs half a second, not a hung request."""
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    client = app.extensions.get(REDIS_KEY)
    if client is None:
        client = app.extensions[REDIS_KEY] = redis.Redis.from_url(
            url, socket_connect_timeout=0.5, socket_timeout=0.5
        )
    return client


def add_check(app: Flask, name: str, check: Callable[[], None]) -> None:
    """Another part of the app adds its own check (it raises NotReady when not ready)."""
    app.extensions.setdefault(CHECKS_KEY, {})[name] = check


def _database() -> None:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        effects.rollback()
        raise NotReady(f"database did not answer: {type(exc).__name__}") from exc


def _replica() -> None:
    try:
        with replica.replica_engine(current_app).connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise NotReady(f"replica did not answer: {type(exc).__name__}") from exc


def _redis() -> None:
    try:
        redis_client(current_app).ping()
    except redis.RedisError as exc:
        raise NotReady(f"Redis did not answer: {type(exc).__name__}") from exc


def _media_folder() -> None:
    """The media folder exists and takes a new file (a full or read-only disk does not)."""
    folder = current_app.config["MEDIA_ROOT"]
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".readyz-") as probe:
            probe.write(b"ok")
            probe.flush()
    except OSError as exc:
        raise NotReady(f"media folder is not writable: {exc.strerror or exc}") from exc


def checks(app: Flask) -> dict[str, Callable[[], None]]:
    """The checks that apply to this configuration, in the order they run."""
    found: dict[str, Callable[[], None]] = {"database": _database}
    if app.config.get("DATABASE_REPLICA_URL"):
        found["replica"] = _replica
    if app.config.get("REDIS_URL"):
        found["redis"] = _redis
    found["media"] = _media_folder
    found.update(app.extensions.get(CHECKS_KEY, {}))
    return found


def run_checks() -> tuple[bool, dict[str, str]]:
    """Every check's result ("ok" or why not), and whether all passed."""
    results = {}
    for name, check in checks(current_app).items():
        try:
            check()
        except NotReady as exc:
            log.warning("Not ready: %s", exc)
            results[name] = str(exc)
        else:
            results[name] = "ok"
    return all(value == "ok" for value in results.values()), results
