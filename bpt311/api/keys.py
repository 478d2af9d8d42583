"""API keys for outside systems that file reports: made once, kept only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from bpt311 import effects
from bpt311.extensions import db
from bpt311.models import ApiKey, User, utcnow

PREFIX_LENGTH = 8


class KeyProblem(Exception):
    """Base for the key service's refusals; str() is the message for the admin."""


class UnknownKey(KeyProblem):
    pass


class AmbiguousPrefix(KeyProblem):
    pass


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``secret`` is shown once and never stored."""

    record: ApiKey
    secret: str


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    """A fresh key. Never one that starts with "-", which a command line reads as an option
    (``api-keys revoke -Xy…`` would fail)."""
    while True:
        secret = secrets.token_urlsafe(32)
        if not secret.startswith("-"):
            return secret


def add_key(name: str, created_by: User | None = None) -> NewKey:
    """Add a key for ``name`` to the session without committing, so a caller can commit it
    with its audit row; only its hash and prefix are kept."""
    name = " ".join((name or "").split())[:120]
    if not name:
        raise KeyProblem("Give the key a name: who or what will use it")
    secret = new_secret()
    record = ApiKey(
        name=name,
        key_hash=key_hash(secret),
        prefix=secret[:PREFIX_LENGTH],
        created_by_id=created_by.id if created_by else None,
        created_at=utcnow(),
    )
    db.session.add(record)
    db.session.flush()
    return NewKey(record, secret)


def create_key(name: str, created_by: User | None = None) -> NewKey:
    """Make and commit a key for ``name`` (who will use it)."""
    made = add_key(name, created_by)
    effects.commit()
    return made


def all_keys() -> list[ApiKey]:
    return list(db.session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def revoke_key(prefix: str) -> ApiKey:
    """Revoke the one key that starts with ``prefix`` (its listed prefix, part of it, or the
    whole key); revoking twice keeps the first time."""
    prefix = (prefix or "").strip()
    if not prefix:
        raise UnknownKey("Give the prefix of the key to revoke (see `api-keys list`)")
    query = select(ApiKey).where(ApiKey.prefix.startswith(prefix[:PREFIX_LENGTH], autoescape=True))
    if len(prefix) > PREFIX_LENGTH:
        query = query.where(ApiKey.key_hash == key_hash(prefix))
    matches = list(db.session.scalars(query))
    if not matches:
        raise UnknownKey(f"No key starts with {prefix!r}")
    if len(matches) > 1:
        listed = ", ".join(f"{key.prefix} ({key.name})" for key in matches)
        raise AmbiguousPrefix(f"Several keys start with {prefix!r}: {listed}; give more of it")
    key = matches[0]
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        effects.commit()
    return key


def key_in_use(secret: str | None) -> ApiKey | None:
    """The live key ``secret`` is, marked as used now; None for no, unknown or revoked keys."""
    secret = (secret or "").strip()
    if not secret:
        return None
    key = db.session.scalars(
        select(ApiKey).where(ApiKey.key_hash == key_hash(secret), ApiKey.revoked_at.is_(None))
    ).one_or_none()
    if key is None:
        return None
    # Its own small transaction, so a report that is then refused still counts as a use.
    db.session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=utcnow()))
    effects.commit()
    return key
