"""Accounts: registering, signing in, passwords, email addresses, claiming and deleting.

Each function takes plain values (and the acting user), does its work in one
transaction, queues any email in that same transaction, and raises a small
:class:`AccountError` that a view shows beside the right field. Nothing here
tells a stranger whether an email address has an account.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from bpt311 import effects, i18n, names, public_cache, storage, tokens
from bpt311.accounts import throttle
from bpt311.accounts.passwords import COMMON_MESSAGE, is_common
from bpt311.extensions import db
from bpt311.models import ROLES, Department, Report, User, utcnow
from bpt311.notify import enqueue_email, site_link
from bpt311.privacy.erasure import erase_person
from bpt311.standing import require_may_write

PASSWORD_MIN = 10
PASSWORD_MAX = 256
hasher = PasswordHasher()
_dummy_hash: str | None = None


class AccountError(Exception):
    """Something the person can fix; the message is written for them."""


class BadCredentials(AccountError):
    def __init__(self):
        super().__init__(_("Email or password is not right"))


class AccountClosed(AccountError):
    def __init__(self):
        contact = current_app.config["CITY_CONTACT"]
        super().__init__(
            _("This account has been closed. Contact %(contact)s if that is wrong", contact=contact)
        )


class WrongPassword(AccountError):
    def __init__(self):
        super().__init__(_("Your password is not right"))


class SameEmail(AccountError):
    def __init__(self):
        super().__init__(_("That is already your email address"))


class NotVerified(AccountError):
    def __init__(self):
        super().__init__(
            _("Confirm your email address first: we can only match reports to it then")
        )


class LinkProblem(AccountError):
    """An emailed link that is altered, expired, already used or cancelled."""


class InvalidAccount(AccountError):
    """An account that cannot be made as asked (command line)."""


# ---- passwords ----------------------------------------------------------------


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def hash_password(password: str) -> str:
    return hasher.hash(password)


def password_matches(user: User, password: str) -> bool:
    try:
        return hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):  # a mismatch, or no password set at all
        return False


def _spend_hashing_time(password: str) -> None:
    """Check a password against a throwaway hash, so unknown emails answer as slowly."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hasher.hash("not anyone's password")
    try:
        hasher.verify(_dummy_hash, password)
    except VerificationError:
        pass


def user_by_email(email: str) -> User | None:
    return db.session.scalars(
        select(User).where(func.lower(User.email) == normalise_email(email))
    ).first()


# ---- links in emails ----------------------------------------------------------


def _token_payload(purpose: str, token: str) -> dict:
    try:
        return tokens.read_token(purpose, token)
    except tokens.TokenExpired as exc:
        raise LinkProblem(_("This link has expired")) from exc
    except tokens.TokenInvalid as exc:
        raise LinkProblem(_("This link is not right: it may have been cut short")) from exc


def _queue_verification(user: User, then: dict | None = None) -> None:
    """Email the confirmation link. ``then`` (what the person was doing when they made the
    account: a follow or vote to finish, where to go back) rides in the signed link, so it
    is kept even when the link is opened in another browser."""
    payload = {"uid": user.id, "email": normalise_email(user.email)}
    if then:
        payload["then"] = then
    token = tokens.make_token(tokens.VERIFY_EMAIL, payload)
    enqueue_email(
        user.email,
        "account_verify",
        _l("Confirm your email address for Bridgeport 311"),
        locale=user.locale,
        user=user,
        link=site_link("accounts.verify_email", token=token),
    )


def _queue_address_in_use(email: str) -> None:
    owner = user_by_email(email)  # told in their own language, if they chose one
    enqueue_email(
        email,
        "account_exists",
        _l("Someone tried to register with your email address"),
        locale=owner.locale if owner is not None else None,
        sign_in_link=site_link("accounts.sign_in"),
        reset_link=site_link("accounts.reset_request"),
    )


# ---- registering and signing in -------------------------------------------------


def register(
    email: str, display_name: str, show_name: bool, password: str, then: dict | None = None
) -> None:
    """Make an account and email a link to confirm the address (carrying ``then``, what to
    finish once it is confirmed).

    An address that already has an account gets a notice instead, and the caller
    sees no difference, so the form cannot be used to find out who has an account.
    """
    email = normalise_email(email)
    password_hash = hash_password(password)  # both ways, so both take as long
    if user_by_email(email) is None:
        user = User(
            email=email,
            display_name=display_name.strip(),
            show_name=show_name,
            password_hash=password_hash,
            role="resident",
            locale=i18n.current_language(),  # pages and emails stay in the language they used
        )
        db.session.add(user)
        try:
            db.session.flush()
        except IntegrityError:  # registered a moment ago by a second request
            effects.rollback()
        else:
            _queue_verification(user, then)
            effects.commit()
            return
    _queue_address_in_use(email)
    effects.commit()


def verify_email(token: str) -> tuple[User, dict]:
    """Confirm the address a link was sent to; gives the account and what the person was
    doing when they registered (``{}`` when nothing)."""
    payload = _token_payload(tokens.VERIFY_EMAIL, token)
    user = db.session.get(User, payload.get("uid") or 0)
    if user is None or normalise_email(user.email) != payload.get("email"):
        raise LinkProblem(_("This link is for an email address your account no longer uses"))
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        effects.commit()
    then = payload.get("then")
    return user, then if isinstance(then, dict) else {}


def resend_verification(user: User) -> None:
    if user.email_verified_at is None:
        _queue_verification(user)
        effects.commit()


def authenticate(email: str, password: str, address: str) -> User:
    """The account with this email and password; upgrades an old-fashioned hash on the way.

    Raises :class:`throttle.TooManyGuesses` when ``address`` or the account has guessed too
    often (see :mod:`bpt311.accounts.throttle` for who is refused and why)."""
    user = user_by_email(email)
    attempt = throttle.SignInAttempt(
        normalise_email(email)[:254], user.session_version if user is not None else 0, address
    )
    attempt.check()
    if user is None:
        _spend_hashing_time(password)
    if user is None or not password_matches(user, password):
        attempt.failed()
        raise BadCredentials()
    if not user.active:
        raise AccountClosed()
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        effects.commit()
    return user


# ---- passwords -------------------------------------------------------------------


def request_password_reset(email: str) -> None:
    """Email a reset link if the address has an open account; say nothing either way."""
    user = user_by_email(email)
    if user is None or not user.active:
        return
    token = tokens.password_reset_token(user)
    enqueue_email(
        user.email,
        "account_reset",
        _l("Reset your Bridgeport 311 password"),
        locale=user.locale,
        user=user,
        link=site_link("accounts.reset_password", token=token),
    )
    effects.commit()


def user_for_reset(token: str) -> User:
    """The account a reset link is for, while the password it was made for is unchanged."""
    payload = _token_payload(tokens.RESET_PASSWORD, token)
    user = db.session.get(User, payload.get("uid") or 0)
    if (
        user is None
        or not user.active
        or tokens.fingerprint(user.password_hash) != payload.get("pw")
    ):
        raise LinkProblem(_("This link has already been used"))
    return user


def end_sessions(user: User) -> None:
    """Every session and remember-me cookie of ``user`` made so far stops working, however
    many copies of it there are; the caller signs the current browser in again if it should."""
    user.session_version = (user.session_version or 0) + 1


def sign_out(user: User) -> None:
    """Signing out ends the session itself, not only this browser's cookie: a copy saved
    before (a shared computer, a stolen cookie) is no use after. The person's other
    devices are signed out too: sessions are not stored one by one."""
    end_sessions(user)
    effects.commit()


def reset_password(token: str, new_password: str, address: str) -> User:
    user = user_for_reset(token)
    user.password_hash = hash_password(new_password)
    end_sessions(user)  # also starts the account's sign-in throttle afresh
    if user.email_verified_at is None:  # the link reached them: the address is theirs
        user.email_verified_at = utcnow()
    effects.commit()
    throttle.forgive_address(address)
    return user


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not password_matches(user, current_password):
        raise WrongPassword()
    user.password_hash = hash_password(new_password)
    end_sessions(user)
    effects.commit()


# ---- profile and email -------------------------------------------------------------


def update_profile(user: User, display_name: str, show_name: bool) -> None:
    name = display_name.strip()
    if show_name and (name != user.display_name or not user.show_name):
        require_may_write(user)  # a new public name is a post; hiding the name never is
    user.display_name = name
    user.show_name = show_name
    effects.commit()


def remember_language(user: User, code: str) -> None:
    """Keep a signed-in person's language choice for their emails and next visit."""
    if user.locale != code:
        user.locale = code
        effects.commit()


def request_email_change(user: User, new_email: str, password: str) -> None:
    """Email a confirmation link to the new address and a notice to the current one.

    If the new address already has an account, its owner gets a notice instead of
    the link, and the person asking sees the same answer.
    """
    if not password_matches(user, password):
        raise WrongPassword()
    new_email = normalise_email(new_email)
    if new_email == normalise_email(user.email):
        raise SameEmail()
    if user_by_email(new_email) is None:
        token = tokens.make_token(
            tokens.CHANGE_EMAIL,
            {
                "uid": user.id,
                "new": new_email,
                "old": tokens.fingerprint(user.email),
                # A password change cancels the request, as the notice below promises.
                "pw": tokens.fingerprint(user.password_hash),
            },
        )
        enqueue_email(
            new_email,
            "account_email_confirm",
            _l("Confirm your new email address for Bridgeport 311"),
            locale=user.locale,
            user=user,
            link=site_link("accounts.confirm_email", token=token),
        )
    else:
        _queue_address_in_use(new_email)
    enqueue_email(
        user.email,
        "account_email_change_notice",
        _l("Your Bridgeport 311 email address is being changed"),
        locale=user.locale,
        user=user,
        new_email=new_email,
        password_link=site_link("accounts.change_password"),
        reset_link=site_link("accounts.reset_request"),
    )
    effects.commit()


def confirm_email_change(token: str) -> User:
    payload = _token_payload(tokens.CHANGE_EMAIL, token)
    user = db.session.get(User, payload.get("uid") or 0)
    if (
        user is None
        or tokens.fingerprint(user.email) != payload.get("old")
        or tokens.fingerprint(user.password_hash) != payload.get("pw")
    ):
        raise LinkProblem(_("This link has already been used or was cancelled"))
    new_email = normalise_email(payload.get("new", ""))
    if user_by_email(new_email) is not None:
        raise LinkProblem(_("That email address is now used by another account"))
    user.email = new_email
    user.email_verified_at = utcnow()
    try:
        effects.commit()
    except IntegrityError as exc:
        effects.rollback()
        raise LinkProblem(_("That email address is now used by another account")) from exc
    return user


# ---- guest reports ---------------------------------------------------------------


def request_claim(user: User) -> None:
    """Email a link that adds reports sent without signing in from this address."""
    if user.email_verified_at is None:
        raise NotVerified()
    token = tokens.make_token(
        tokens.CLAIM_REPORTS, {"uid": user.id, "email": tokens.fingerprint(user.email)}
    )
    enqueue_email(
        user.email,
        "account_claim",
        _l("Add your earlier reports to your Bridgeport 311 account"),
        locale=user.locale,
        user=user,
        link=site_link("accounts.claim_confirm", token=token),
    )
    effects.commit()


def claim_reports(user: User, token: str) -> int:
    """Link every unowned report sent from this account's email address; returns how many."""
    payload = _token_payload(tokens.CLAIM_REPORTS, token)
    if payload.get("uid") != user.id or tokens.fingerprint(user.email) != payload.get("email"):
        raise LinkProblem(_("This link was made for another account or email address"))
    if user.email_verified_at is None:
        raise NotVerified()
    result = db.session.execute(
        update(Report)
        .where(
            func.lower(Report.contact_email) == normalise_email(user.email),
            Report.reporter_id.is_(None),
        )
        .values(reporter_id=user.id)
        .execution_options(synchronize_session=False)
    )
    effects.commit()
    return result.rowcount


# ---- closing an account --------------------------------------------------------------


def delete_account(user: User, password: str) -> None:
    """Remove the account and the person's data everywhere, in one transaction. Reports
    stay public but no longer lead back to the person (see bpt311.privacy.erasure)."""
    if not password_matches(user, password):
        raise WrongPassword()

    files = erase_person(user)
    effects.after_commit(public_cache.changed)  # their name leaves every public page at once
    effects.commit()
    storage.delete(*files)  # only once the rows naming them are gone for good


# ---- the command line ------------------------------------------------------------------


def create_account(
    email: str,
    role: str,
    password: str,
    department_name: str | None = None,
    display_name: str = "",
) -> User:
    """A verified account made by an administrator (staff, admins, or a resident)."""
    if role not in ROLES:
        raise InvalidAccount(f"Unknown role {role!r}: use one of {', '.join(ROLES)}")
    if names.has_control_characters(display_name):
        raise InvalidAccount(str(names.MESSAGE))
    try:
        email = normalise_email(validate_email(email, check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise InvalidAccount(f"{email!r} is not an email address: {exc}") from exc
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidAccount(f"The password must be at least {PASSWORD_MIN} characters")
    if is_common(password):
        raise InvalidAccount(f"{COMMON_MESSAGE}.")
    department = None
    if department_name:
        department = db.session.scalars(
            select(Department).where(func.lower(Department.name) == department_name.strip().lower())
        ).first()
        if department is None:
            known = db.session.scalars(select(Department.name).order_by(Department.name)).all()
            raise InvalidAccount(
                f"There is no department called {department_name!r}. "
                f"Departments: {'; '.join(known) or 'none yet (run flask seed)'}"
            )
    if role == "staff" and department is None:
        raise InvalidAccount("A staff account needs a department: add --department")
    if role == "resident" and department is not None:
        raise InvalidAccount("A resident account does not belong to a department")
    if user_by_email(email) is not None:
        raise InvalidAccount(f"There is already an account for {email}")
    user = User(
        email=email,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role=role,
        department=department,
        email_verified_at=utcnow(),
    )
    db.session.add(user)
    effects.commit()
    return user
