"""Settings read from the environment, with defaults that run on a laptop."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = str(PROJECT_ROOT / "migrations")  # Alembic's scripts (flask db …)
DATA_DIR = Path(__file__).resolve().parent / "data"
DEV_SECRET_KEY = "dev-only-secret-key-change-me"
# Where the development server listens; bpt311.site.site_url() reads the request instead.
DEFAULT_SITE_URL = "http://127.0.0.1:5000"


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a whole number, not {value!r}") from exc


def _float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a number of seconds, not {value!r}") from exc


def from_environment(instance_path: str) -> dict:
    """Every setting the app reads, taken from the environment once at start-up."""
    env = os.environ.get("BPT311_ENV", "development").strip().lower() or "development"
    default_db = "sqlite:///" + str(Path(instance_path) / "bpt311.sqlite")
    settings = {
        "ENV_NAME": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY", ""),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL", "").strip() or default_db,
        "HOST": os.environ.get("HOST", "127.0.0.1"),
        "PORT": _int("PORT", 5000),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "").strip(),
        "MAIL_PORT": _int("MAIL_PORT", 25),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": _flag("MAIL_USE_TLS", False),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Bridgeport 311 <no-reply@bpt311.localhost>"),
        "GEOCODER_URL": os.environ.get("GEOCODER_URL", "https://nominatim.openstreetmap.org"),
        "GEOCODER_TIMEOUT": _float("GEOCODER_TIMEOUT", 4.0),
        "MAP_TILE_URL": os.environ.get(
            "MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
        ),
        "MEDIA_ROOT": os.environ.get("MEDIA_ROOT", "").strip()
        or str(Path(instance_path) / "media"),
        # Media in the MEDIA_ROOT folder ("local") or an S3-compatible object store ("s3").
        "MEDIA_STORAGE": os.environ.get("MEDIA_STORAGE", "").strip().lower() or "local",
        "S3_BUCKET": os.environ.get("S3_BUCKET", "").strip(),
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL", "").strip(),
        "S3_ACCESS_KEY_ID": os.environ.get("S3_ACCESS_KEY_ID", "").strip(),
        "S3_SECRET_ACCESS_KEY": os.environ.get("S3_SECRET_ACCESS_KEY", "").strip(),
        "S3_REGION": os.environ.get("S3_REGION", "").strip(),
        # Set: media are served from URLs under it. Unset: by presigned URLs that live
        # S3_URL_SECONDS.
        "S3_PUBLIC_URL": os.environ.get("S3_PUBLIC_URL", "").strip().rstrip("/"),
        "S3_URL_SECONDS": _int("S3_URL_SECONDS", 600),
        "SITE_URL": os.environ.get("SITE_URL", "").strip().rstrip("/") or DEFAULT_SITE_URL,
        "DEMO_REPORTS": _flag("BPT311_DEMO", True),
        "MAX_CONTENT_LENGTH": _int("MAX_UPLOAD_MB", 150) * 1024 * 1024,
        "PHOTO_MAX_MB": _int("PHOTO_MAX_MB", 20),
        "VIDEO_MAX_MB": _int("VIDEO_MAX_MB", 50),
        # Photos of imported reports, fetched by the sweep (bpt311/imports/photos.py).
        "IMPORT_PHOTO_MAX_MB": _int("IMPORT_PHOTO_MAX_MB", 10),
        "IMPORT_PHOTO_ATTEMPTS": _int("IMPORT_PHOTO_ATTEMPTS", 4),
        "IMPORT_PHOTO_BACKOFF_SECONDS": _int("IMPORT_PHOTO_BACKOFF_SECONDS", 600),
        # Tests only (never read from the environment): fetch from loopback/private hosts.
        "IMPORT_FETCH_ALLOW_PRIVATE": False,
        # Longer clips are refused: a report needs seconds of video, not a film.
        "MAX_VIDEO_SECONDS": _int("MAX_VIDEO_SECONDS", 120),
        "OUTBOX_MAX_ATTEMPTS": _int("OUTBOX_MAX_ATTEMPTS", 8),
        "OUTBOX_BACKOFF_SECONDS": _int("OUTBOX_BACKOFF_SECONDS", 30),
        # Reports sent on to a city work-order system (flask open311): attempts before one
        # is given up (admins see it), the first retry's delay (doubling), and timeouts.
        "OPEN311_SEND_MAX_ATTEMPTS": _int("OPEN311_SEND_MAX_ATTEMPTS", 8),
        "OPEN311_SEND_BACKOFF_SECONDS": _int("OPEN311_SEND_BACKOFF_SECONDS", 60),
        "OPEN311_CONNECT_TIMEOUT": _int("OPEN311_CONNECT_TIMEOUT", 5),
        "OPEN311_READ_TIMEOUT": _int("OPEN311_READ_TIMEOUT", 20),
        # How often the sweep (flask notify run, the dev server's loop) brings each
        # endpoint's answers back, in seconds; 0: only `flask open311 sync`.
        "OPEN311_SYNC_SECONDS": _int("OPEN311_SYNC_SECONDS", 300),
        "SESSION_COOKIE_SECURE": env == "production",
        "REMEMBER_COOKIE_SECURE": env == "production",
        "REDIS_URL": os.environ.get("REDIS_URL", "").strip(),
        # Counters shared by every process when Redis is there; RATELIMIT_STORAGE_URI wins if set.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "").strip()
        or os.environ.get("REDIS_URL", "").strip()
        or "memory://",
        "RATELIMIT_ENABLED": _flag("RATELIMIT_ENABLED", True),
        "PROXY_COUNT": _int("PROXY_COUNT", 0),
        "EMBED_ANCESTORS": os.environ.get("EMBED_ANCESTORS", "").strip(),
        # Personal data kept only as long as needed (flask privacy purge; /privacy says so).
        "RETENTION_CONTACT_DAYS": _int("RETENTION_CONTACT_DAYS", 365),
        "RETENTION_OUTBOX_DAYS": _int("RETENTION_OUTBOX_DAYS", 90),
        "RETENTION_NOTICE_DAYS": _int("RETENTION_NOTICE_DAYS", 365),
        # Anonymous public pages kept in a shared cache (Redis with REDIS_URL, else memory)
        # and marked for proxies to keep this long (bpt311/public_cache.py).
        "PUBLIC_CACHE": _flag("PUBLIC_CACHE", True),
        "PUBLIC_CACHE_SECONDS": _int("PUBLIC_CACHE_SECONDS", 30),
        # The filter form's kinds and neighbourhoods, read once per process this often
        # (a change made in the process shows at once: bpt311/reports/browse.py).
        "FILTER_CHOICES_SECONDS": _int("FILTER_CHOICES_SECONDS", 30),
        # Tests only (never read from the environment): keys of their own in a shared Redis.
        "PUBLIC_CACHE_PREFIX": "bpt311:public:",
        # Requests one Open311 API key may file, however many addresses it comes from.
        "OPEN311_KEY_RATE_LIMIT": os.environ.get(
            "OPEN311_KEY_RATE_LIMIT", "120/minute;2000/hour"
        ).strip(),
        "DATABASE_REPLICA_URL": os.environ.get("DATABASE_REPLICA_URL", "").strip(),
        "METRICS_ALLOWED_IPS": os.environ.get("METRICS_ALLOWED_IPS", "").strip() or "127.0.0.1,::1",
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "").strip().lower()
        or ("json" if env == "production" else "text"),
        # Web Push: unset keys hide push (`flask --app app pwa vapid-keys` makes a pair).
        "VAPID_PUBLIC_KEY": os.environ.get("VAPID_PUBLIC_KEY", "").strip(),
        "VAPID_PRIVATE_KEY": os.environ.get("VAPID_PRIVATE_KEY", "").strip(),
        "VAPID_SUBJECT": os.environ.get("VAPID_SUBJECT", "").strip()
        or "mailto:311@bridgeportct.gov",
        # Only these push services are ever sent to (a subscription is a URL we POST to).
        "PUSH_SERVICE_HOSTS": os.environ.get("PUSH_SERVICE_HOSTS", "").strip()
        or (
            "fcm.googleapis.com,updates.push.services.mozilla.com,push.apple.com,notify.windows.com"
        ),
        "KIOSK": _flag("KIOSK", False),
        "KIOSK_IDLE_SECONDS": _int("KIOSK_IDLE_SECONDS", 120),
        "KIOSK_COUNTDOWN_SECONDS": _int("KIOSK_COUNTDOWN_SECONDS", 30),
        "SMS_GATEWAY_URL": os.environ.get("SMS_GATEWAY_URL", "").strip(),
    }
    settings["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(settings["SQLALCHEMY_DATABASE_URI"])
    return settings


def engine_options(url: str) -> dict:
    """Connection pool settings; the sizes apply to PostgreSQL (SQLite needs no pool tuning).

    Each gunicorn worker has its own pool, so the database sees up to
    hosts x workers x (pool size + overflow) connections: see docs/deployment.md.
    """
    options: dict = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        options.update(
            pool_size=_int("DATABASE_POOL_SIZE", 5),
            max_overflow=_int("DATABASE_MAX_OVERFLOW", 10),
            pool_recycle=_int("DATABASE_POOL_RECYCLE", 1800),
            pool_timeout=_int("DATABASE_POOL_TIMEOUT", 10),
        )
    if url.startswith("postgresql+psycopg"):
        # Every statement planned for its own values: psycopg prepares a statement after
        # five runs, and PostgreSQL may then keep a generic plan that cannot see how small
        # a map's box is (the street-level pins: 40 ms at p50, 140 at p95 at 100,000).
        options["connect_args"] = {"prepare_threshold": None}
    return options


DEFAULTS = {
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "RATELIMIT_HEADERS_ENABLED": True,
    # Redis down: count in this process's memory instead, and never fail a request over it.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    "RATELIMIT_SWALLOW_ERRORS": True,
    "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    "WTF_CSRF_TIME_LIMIT": None,  # tied to the session; a kiosk left open all day keeps working
    "SERVICE_AREA_FILE": str(DATA_DIR / "bridgeport-boundary.geojson"),
    "NEIGHBOURHOODS_FILE": str(DATA_DIR / "bridgeport-neighbourhoods.geojson"),
    "SERVICE_AREA_BUFFER_METRES": 150,
    "CITY_NAME": "Bridgeport",
    "CITY_TIMEZONE": "America/New_York",
    "CITY_CONTACT": "the Bridgeport 311 call centre on (203) 576-1311",
    "OUTBOX_LEASE_SECONDS": 120,
    "OUTBOX_THREAD": False,
}


MIN_SECRET_KEY_BYTES = 32
MAKE_A_KEY = 'python -c "import secrets; print(secrets.token_hex(32))"'


def check_secret_key(config: dict) -> None:
    """Refuse to run production on a guessable key; warn loudly anywhere else.

    Anyone who knows the key can forge a session (and so sign in as anyone) and CSRF
    tokens: production needs at least 32 random bytes, and never the published
    development key.
    """
    key = (config.get("SECRET_KEY") or "").strip()
    if config.get("ENV_NAME") == "production":
        if not key:
            raise RuntimeError(
                "SECRET_KEY is not set. Production refuses to start without one: set "
                f"SECRET_KEY to at least {MIN_SECRET_KEY_BYTES} random bytes, made with: "
                f"{MAKE_A_KEY}"
            )
        if key == DEV_SECRET_KEY:
            raise RuntimeError(
                "SECRET_KEY is the published development key, which anyone can use to forge "
                f"sessions. Production refuses it: make a new key with: {MAKE_A_KEY}"
            )
        if len(key.encode()) < MIN_SECRET_KEY_BYTES:
            raise RuntimeError(
                f"SECRET_KEY is too short ({len(key.encode())} bytes): production needs at "
                f"least {MIN_SECRET_KEY_BYTES} random bytes. Make one with: {MAKE_A_KEY}"
            )
        return
    if config.get("SECRET_KEY"):
        return
    log.warning(
        "\n%s\nSECRET_KEY is not set: using an insecure development key.\n"
        "Sessions and CSRF tokens can be forged. Never run like this in production.\n%s",
        "!" * 72,
        "!" * 72,
    )
    config["SECRET_KEY"] = DEV_SECRET_KEY
