"""Open311 API keys for outside systems: created (the secret shown once) and revoked."""

from __future__ import annotations

from bpt311 import effects
from bpt311.api import keys
from bpt311.audit import record
from bpt311.models import ApiKey, User, utcnow
from bpt311.problems import Refused


def create_api_key(actor: User, name: str) -> keys.NewKey:
    """A key for an outside system; its secret is returned once and only its hash is kept.
    The key and its audit row are one transaction."""
    try:
        made = keys.add_key(name, actor)
    except keys.KeyProblem as problem:
        raise Refused({"name": str(problem)}) from problem
    record(
        actor,
        "api_key.create",
        target_type="api_key",
        target_id=made.record.id,
        name=made.record.name,
        prefix=made.record.prefix,
    )
    effects.commit()
    return made


def revoke_api_key(actor: User, key: ApiKey) -> None:
    if key.revoked_at is not None:
        return
    key.revoked_at = utcnow()
    record(
        actor,
        "api_key.revoke",
        target_type="api_key",
        target_id=key.id,
        name=key.name,
        prefix=key.prefix,
    )
    effects.commit()
