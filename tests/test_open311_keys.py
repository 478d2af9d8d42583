"""``flask api-keys``: making, listing and revoking the keys outside systems file reports with."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import select

from bpt311.extensions import db
from bpt311.models import ApiKey
from tests.factories import make_user

KEY_LINE = re.compile(r"^[A-Za-z0-9_-]{43}$", re.MULTILINE)


def run(app, *args):
    return app.test_cli_runner().invoke(args=["api-keys", *args])


def made_key(result) -> str:
    [secret] = KEY_LINE.findall(result.output)
    return secret


def test_create_prints_the_key_once_and_keeps_only_its_hash(app):
    result = run(app, "create", "SeeClickFix")
    assert result.exit_code == 0, result.output
    secret = made_key(result)
    key = db.session.scalars(select(ApiKey)).one()
    assert key.name == "SeeClickFix" and key.prefix == secret[:8]
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert key.created_at is not None and key.last_used_at is None and key.revoked_at is None
    assert secret not in run(app, "list").output
    assert made_key(run(app, "create", "SeeClickFix")) != secret  # a new one every time


def test_create_can_record_the_admin_who_made_it(app):
    admin = make_user("admin@example.org", role="admin")
    assert run(app, "create", "City website", "--by", "Admin@Example.org").exit_code == 0
    assert db.session.scalars(select(ApiKey)).one().created_by_id == admin.id
    result = run(app, "create", "Nobody's", "--by", "nobody@example.org")
    assert result.exit_code != 0 and "No account has the email" in result.output


def test_create_needs_a_name(app):
    result = run(app, "create", "   ")
    assert result.exit_code != 0 and "Give the key a name" in result.output


def test_list_shows_each_key_with_its_use(app, client):
    from bpt311.seed import load_city

    load_city()
    secret = made_key(run(app, "create", "Mobile app"))
    made_key(run(app, "create", "Kiosk vendor"))
    client.post(f"/open311/v2/requests.json?api_key={secret}", data={"service_code": "x"})
    output = run(app, "list").output
    lines = output.splitlines()
    assert lines[0].split() == ["prefix", "created", "last", "used", "revoked", "name"]
    used = next(line for line in lines if line.endswith("Mobile app"))
    unused = next(line for line in lines if line.endswith("Kiosk vendor"))
    assert used.startswith(secret[:8]) and "never" not in used
    assert "never" in unused


def test_list_with_no_keys_says_how_to_make_one(app):
    assert "api-keys create NAME" in run(app, "list").output


def test_revoke_by_prefix_stops_the_key_at_once(app, client):
    from bpt311.seed import load_city

    load_city()
    secret = made_key(run(app, "create", "Old partner"))
    result = run(app, "revoke", secret[:8])
    assert result.exit_code == 0 and "Revoked" in result.output
    key = db.session.scalars(select(ApiKey)).one()
    db.session.refresh(key)
    assert key.revoked_at is not None
    response = client.post(
        "/open311/v2/requests.json",
        data={"api_key": secret, "service_code": "pothole", "lat": "41.18", "long": "-73.19"},
    )
    assert response.status_code == 403
    again = run(app, "revoke", secret)  # the whole key works too, and twice is harmless
    assert again.exit_code == 0


def test_revoke_an_unknown_or_ambiguous_prefix_fails_with_a_message(app):
    result = run(app, "revoke", "nope1234")
    assert result.exit_code != 0 and "No key starts with 'nope1234'" in result.output
    for name in ("First", "Second"):
        db.session.add(ApiKey(name=name, key_hash=name * 8, prefix="same_pre"))
    db.session.commit()
    ambiguous = run(app, "revoke", "same")
    assert ambiguous.exit_code != 0 and "Several keys start with 'same'" in ambiguous.output
