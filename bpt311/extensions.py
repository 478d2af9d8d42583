"""The extension objects, created unbound; create_app() binds them to an app."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

from bpt311.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
htmx = Htmx()
# Limits are declared per view; storage comes from RATELIMIT_STORAGE_URI (memory by default).
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def person_or_address() -> str:
    """Rate-limit key for things signed-in people do: per account, so a whole building
    behind one address (or the city-hall kiosks) is not limited as one person."""

    if current_user and current_user.is_authenticated:
        return f"user:{current_user.id}"
    return get_remote_address()
