"""The renewal review (#6 item 5): the seed's "What To Review Before Renewal" checklist of a
row whose renewal is due, then an outcome.

A security reviewer or platform (never the requester) opens the review, answers the five
areas (ok / not ok, a note, optional evidence of the row) and decides:

- renew: every area ok and a next renewal date. The row gets that date as a new version,
  its live signatures are voided, and it stays renewal due until security, finance and the
  app owner sign the new version (signoff_record); the third approval renews it (active),
  a rejection sends it back to the requester. Nobody extends an approval alone.
- rework: back to the requester (changes requested) with the comment.
- revoke: revoked for good, with the comment.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from approvals.decisions.versions import decisions_changed
from approvals.models import PolicyRow, RenewalReview, RowEvidence
from approvals.permissions import can_renew
from approvals.selectors import approval_settings_get, renewal_review_open
from approvals.services.rows import lock_row, renewal_date_error, require_member, void_signoffs
from approvals.services.workflow import WARNING, move
from approvals.workflow import InvalidTransition, target_for
from orgs.audit import record_event
from orgs.events import NotificationEvent, event_emit

Area = RenewalReview.Area
Outcome = RenewalReview.Outcome

# The seed's "What To Review Before Renewal": per area, the question a reviewer answers
# and when to revoke or rework instead of renewing.
CHECKLIST = {
    Area.MODEL_IDENTITY: (
        "Is the same model ID, version, provider, and endpoint still approved?",
        "The model was renamed, replaced, deprecated, or moved to a different route."),
    Area.DATA_SCOPE: (
        "Is the input data still limited to the approved class?",
        "New customer, regulated, image, audio, code, or secret-bearing data appears."),
    Area.USAGE_AND_COST: (
        "Do usage and billing rows match the expected key, team, endpoint, and budget?",
        "Spend spikes, unowned calls, or missing usage records appear."),
    Area.FEATURE_BEHAVIOUR: (
        "Do streaming, tool calls, structured output, or media routes still behave as "
        "tested?",
        "A provider or gateway behavior changes without a fresh smoke test."),
    Area.FALLBACK: (
        "Does fallback still meet data, quality, cost, and compliance constraints?",
        "The fallback model changed or started handling data it was not approved to "
        "process."),
}


def _require_reviewer(actor, org, row):
    require_member(actor, org)
    if not can_renew(actor, row):
        raise PermissionDenied("Only a security reviewer or platform reviews a renewal, "
                               "never the row's requester.")


@transaction.atomic
def renewal_review_start(*, org, actor, row: PolicyRow) -> RenewalReview:
    """A security reviewer or platform (never the requester) opens the renewal review of a
    row whose renewal is due; one open review per row. Audits and emits
    approval.renewal_review_started."""
    row = lock_row(org, row)
    _require_reviewer(actor, org, row)
    target_for(row.status, "renew")  # only a row due for renewal is reviewed
    if renewal_review_open(org=org, row=row) is not None:
        raise ValidationError({"review": "This row's renewal review is already open."})
    review = RenewalReview.objects.create(org=org, row=row, row_version=row.version,
                                          created_by=actor)
    record_event(org=org, actor=actor, action="approval.renewal_review_started", obj=row,
                 changes={"renewal_review": [None, str(review.public_id)]})
    event_emit(org=org, kind="approval.renewal_review_started", subject=row,
               payload={"review": str(review.public_id), "version": row.version})
    return review


def _lock_open(org, actor, review: RenewalReview) -> tuple[PolicyRow, RenewalReview]:
    """Lock the review's row, then the review; both must still be open for answers or a
    decision (a row due for renewal, a review nobody decided yet)."""
    row = lock_row(org, review.row)
    _require_reviewer(actor, org, row)
    review = RenewalReview.objects.for_org(org).select_for_update().get(pk=review.pk)
    target_for(row.status, "renew")
    if review.decided_at is not None or review.outcome:
        raise InvalidTransition("This renewal review is decided already.")
    return row, review


def _answer_errors(area: str, answer, evidence_ids: set[str]) -> tuple[dict, str | None]:
    """One area's answer cleaned to {"ok", "note", "evidence"}, or the problem with it."""
    if not isinstance(answer, dict):
        return {}, "Answer ok or not ok."
    ok, note = answer.get("ok"), (answer.get("note") or "").strip()
    evidence = str(answer.get("evidence") or "") or None
    if ok not in (True, False, None):
        return {}, "Answer ok or not ok."
    if ok is False and not note:
        return {}, (f"Say what is wrong with the {Area(area).label.lower()}; the outcome "
                    "and the audit log need it.")
    if evidence is not None and evidence not in evidence_ids:
        return {}, "Choose evidence attached to this row."
    return {"ok": ok, "note": note, "evidence": evidence}, None


def _clean_answers(org, row, answers) -> dict:
    """The answers keyed by area, or one ValidationError with a message per area."""
    if not isinstance(answers, dict):
        raise ValidationError({"answers": "Answer the review areas."})
    if unknown := sorted(set(answers) - set(Area.values)):
        raise ValidationError({"answers": f"Unknown review area(s): {', '.join(unknown)}."})
    evidence_ids = {str(pk) for pk in RowEvidence.objects.for_org(org).filter(row=row)
                    .values_list("item__public_id", flat=True)}
    cleaned, errors = {}, {}
    for area, answer in answers.items():
        cleaned[area], problem = _answer_errors(area, answer, evidence_ids)
        if problem:
            errors[area] = problem
    if errors:
        raise ValidationError(errors)
    return cleaned


def _date_error(org, row, proposed):
    return renewal_date_error(proposed, production=row.is_production,
                              today=timezone.localdate(),
                              max_days=approval_settings_get(org=org).max_renewal_days)


@transaction.atomic
def renewal_review_answer(*, org, actor, review: RenewalReview, answers: dict,
                          proposed_renewal_date=None, comment: str = "") -> RenewalReview:
    """The reviewer answers areas of an open review: {area: {"ok": True|False|None,
    "note": str, "evidence": "<public id of evidence attached to the row>"|None}} (None:
    not answered yet), a note required when not ok; the next renewal date they propose
    (future, production within the org's max_renewal_days) and a comment. Field-level
    errors per area; nothing is saved on any error. Audits and emits
    approval.renewal_review_answered."""
    row, review = _lock_open(org, actor, review)
    errors = {}
    try:
        cleaned = _clean_answers(org, row, answers)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if proposed_renewal_date is not None and (problem := _date_error(
            org, row, proposed_renewal_date)):
        errors["proposed_renewal_date"] = problem
    if errors:
        raise ValidationError(errors)
    before = {"answers": review.answers, "proposed_renewal_date": review.proposed_renewal_date,
              "comment": review.comment}
    review.answers = {**review.answers, **cleaned}
    review.proposed_renewal_date = proposed_renewal_date
    review.comment = (comment or "").strip()
    review.save()
    changes = {k: [v, getattr(review, k)] for k, v in before.items()
               if v != getattr(review, k)}
    record_event(org=org, actor=actor, action="approval.renewal_review_answered", obj=row,
                 changes={"renewal_review": [None, str(review.public_id)], **changes})
    event_emit(org=org, kind="approval.renewal_review_answered", subject=row,
               payload={"review": str(review.public_id)})
    return review


def _renew_errors(org, row, review) -> dict:
    errors = {}
    for area in Area:
        answer = review.answers.get(area.value) or {}
        if answer.get("ok") is not True:
            errors[area.value] = (f"{area.label} must be answered ok to renew; otherwise "
                                  "rework or revoke.")
    if review.proposed_renewal_date is None:
        errors["proposed_renewal_date"] = "Propose the next renewal date."
    elif problem := _date_error(org, row, review.proposed_renewal_date):
        errors["proposed_renewal_date"] = problem
    return errors


def _propose_renewal(*, org, actor, row, review, comment) -> PolicyRow:
    """Renew decided: the proposed date becomes a new version of the row, whose live
    signatures are voided; the row waits, renewal due, for the three sign-offs."""
    if errors := _renew_errors(org, row, review):
        raise ValidationError(errors)
    old_date, row.renewal_date = row.renewal_date, review.proposed_renewal_date
    row.version += 1
    row.updated_at = timezone.now()
    row.save()
    voided = void_signoffs(row, RenewalReview.VOID_REASON)
    review.outcome, review.decided_by, review.renews_from = Outcome.RENEW, actor, old_date
    review.comment = comment or review.comment
    review.save()
    decisions_changed(org)
    record_event(org=org, actor=actor, action="approval.renewal_proposed", obj=row, changes={
        "renewal_date": [old_date, row.renewal_date], "version": [row.version - 1,
                                                                  row.version],
        "voided_signoffs": [None, voided], "renewal_review": [None, str(review.public_id)]})
    event_emit(org=org, kind="approval.renewal_proposed", subject=row,
               payload={"status": row.status, "version": row.version,
                        "renewal_date": row.renewal_date, "review": str(review.public_id)})
    return row


@transaction.atomic
def renewal_review_decide(*, org, actor, review: RenewalReview, outcome: str,
                          comment: str = "") -> PolicyRow:
    """The reviewer decides an open review. renew: every area ok and a valid proposed
    date; the row takes the date as a new version, its signatures are voided and it waits
    for the three sign-offs (audits and emits approval.renewal_proposed). rework: the row
    goes back to the requester (approval.changes_requested); revoke: revoked for good
    (approval.revoked); both need a comment and close the review. Returns the row."""
    row, review = _lock_open(org, actor, review)
    if outcome not in Outcome.values:
        raise ValidationError({"outcome": "Renew, rework or revoke."})
    comment = (comment or "").strip()
    if outcome == Outcome.RENEW:
        return _propose_renewal(org=org, actor=actor, row=row, review=review, comment=comment)
    if not comment:
        raise ValidationError({"comment": "Say why; the requester and the audit log need it."})
    review.outcome, review.comment = outcome, comment
    review.decided_by, review.decided_at = actor, timezone.now()
    review.save()
    verb, kind = (("request_changes", "approval.changes_requested") if outcome == Outcome.REWORK
                  else ("revoke", "approval.revoked"))
    changes = {"comment": [None, comment], "renewal_review": [None, str(review.public_id)]}
    return move(org=org, actor=actor, row=row, verb=verb, kind=kind, changes=changes,
                payload={"comment": comment, "review": str(review.public_id)},
                severity=WARNING if outcome == Outcome.REVOKE
                else NotificationEvent.Severity.INFO)
