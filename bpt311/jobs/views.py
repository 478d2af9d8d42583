"""The job queue's pages: the dead letters for admins (/staff/admin/jobs), and the small
partial a report page polls while its photos' copies are being made."""

from __future__ import annotations

import logging

import redis
from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from bpt311.access import admin_required
from bpt311.forms import ConfirmForm
from bpt311.jobs import deadletter, queue

log = logging.getLogger(__name__)
bp = Blueprint("jobs", __name__)


@bp.get("/staff/admin/jobs")
@admin_required
def admin_jobs():
    states, dead, problem = [], [], ""
    if queue.enabled():
        try:
            states = deadletter.queue_states()
            dead = deadletter.dead_jobs()
        except (redis.RedisError, OSError) as exc:
            log.warning("Admin jobs page: Redis did not answer: %s", exc)
            problem = _(
                "The job queue (Redis) is not answering just now. Emails and photos "
                "are still taken, and the sweeps will finish them."
            )
    return render_template(
        "staff/admin/jobs.html",
        configured=queue.enabled(),
        states=states,
        dead=dead,
        dead_emails=deadletter.dead_emails(),
        problem=problem,
        confirm=ConfirmForm(),
    )


def _act(action, done: str):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    job_id = (request.form.get("job_id") or "").strip()[:200]
    if not queue.enabled():
        abort(404)
    try:
        action(current_user, job_id)
    except deadletter.NoSuchJob:
        flash(_("That job is no longer in the dead letters."), "info")
    except (redis.RedisError, OSError):
        flash(_("The job queue (Redis) is not answering just now. Try again later."), "error")
    else:
        flash(done, "success")
    return redirect(url_for(".admin_jobs"), 303)


@bp.post("/staff/admin/jobs/retry")
@admin_required
def admin_job_retry():
    return _act(deadletter.retry, _("The job is back on its queue."))


@bp.post("/staff/admin/jobs/discard")
@admin_required
def admin_job_discard():
    return _act(deadletter.discard, _("The job was discarded."))


def _act_on_email(action, done: str):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    outbox_id = request.form.get("outbox_id", type=int)
    try:
        if outbox_id is None:
            raise deadletter.NoSuchEmail(outbox_id)
        action(current_user, outbox_id)
    except deadletter.NoSuchEmail:
        flash(_("That email is no longer among those that could not be sent."), "info")
    else:
        flash(done, "success")
    return redirect(url_for(".admin_jobs") + "#dead-emails", 303)


@bp.post("/staff/admin/jobs/emails/retry")
@admin_required
def admin_email_retry():
    return _act_on_email(deadletter.retry_email, _("The email will be sent again."))


@bp.post("/staff/admin/jobs/emails/discard")
@admin_required
def admin_email_discard():
    return _act_on_email(deadletter.discard_email, _("The email was discarded."))
