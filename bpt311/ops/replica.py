"""Reads that may lag a moment behind (the public list, map and exports) go to a read
replica when DATABASE_REPLICA_URL is set; every write and every other read uses the
primary through ``db.session``."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bpt311.config import engine_options
from bpt311.extensions import db

ENGINE_KEY = "bpt311.replica_engine"


class ReplicaIsReadOnly(RuntimeError):
    """Something tried to write through the replica session."""


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_session)


def replica_engine(app: Flask) -> Engine | None:
    url = app.config.get("DATABASE_REPLICA_URL")
    if not url:
        return None
    engine = app.extensions.get(ENGINE_KEY)
    if engine is None:
        engine = app.extensions[ENGINE_KEY] = create_engine(url, **engine_options(url))
    return engine


def reader() -> Session:
    """The session for public listing reads: the replica's when there is one."""
    engine = replica_engine(current_app)
    if engine is None:
        return db.session
    if "replica_session" not in g:
        session = Session(bind=engine, autoflush=False)

        @event.listens_for(session, "before_flush")
        def _refuse(*_args):
            raise ReplicaIsReadOnly("the replica session only reads")

        g.replica_session = session
    return g.replica_session


def dispose(app: Flask) -> None:
    """After a fork: drop connections inherited from the parent (gunicorn preload)."""
    engine = app.extensions.get(ENGINE_KEY)
    if engine is not None:
        engine.dispose(close=False)


def _close_session(_exc=None) -> None:
    session = g.pop("replica_session", None)
    if session is not None:
        session.close()
