"""People who use bpt311: residents with accounts, city staff and admins."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext
from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bpt311.models.base import Base, utcnow
from bpt311.models.places import Department
from bpt311.tokens import session_hold

ROLES = ("resident", "staff", "admin")


class User(UserMixin, Base):
    __tablename__ = "user_account"  # "user" is reserved in PostgreSQL

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    display_name: Mapped[str] = mapped_column(String(80), default="")
    show_name: Mapped[bool] = mapped_column(Boolean, default=False)
    role: Mapped[str] = mapped_column(String(20), default="resident")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    email_verified_at: Mapped[datetime | None]
    banned_at: Mapped[datetime | None]  # may not post: votes, comments, flags, reports
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The language they chose ("en", "es", "pt"; "" = not chosen): pages and emails use it.
    locale: Mapped[str] = mapped_column(String(8), default="", server_default="")
    # Raised by signing out, "sign out everywhere", a password change or reset: every session
    # and remember-me cookie made before then stops working, wherever a copy of it is.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    department: Mapped[Department | None] = relationship()

    @property
    def is_active(self) -> bool:  # Flask-Login refuses sign-in to deactivated accounts
        return self.active

    def get_id(self) -> str:
        """The session's hold on this account (Flask-Login's alternative id): it lapses when
        the password or the session version changes, so every copy of an older cookie ends."""
        return f"{self.id}.{session_hold(self)}"

    @property
    def is_staff(self) -> bool:
        return self.role in ("staff", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def public_name(self) -> str:
        """What the public sees of this person: their name only if they chose to show it."""
        if self.show_name and self.display_name:
            return self.display_name
        return gettext("A resident")

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"
