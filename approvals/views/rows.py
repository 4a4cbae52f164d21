"""One row's page, its workflow moves, sign-offs and reviewers, and the sign-off inbox.

Everyone in the org reads a row (approvals:read). What a person may do is decided by the
services (approvals/services/), which raise PermissionDenied (403 page), InvalidTransition
(409: the row is not in a state that allows the move) or ValidationError (400 with the
errors on the row page). The page mirrors the same predicates (approvals/permissions.py)
and the transition table (approvals/workflow.NEXT) as booleans, so it only offers the
moves this person may make now. htmx posts get HX-Location on success and the action
area back (422, which htmx swaps) on a refusal of their input.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from approvals import selectors, services
from approvals.checklist import row_evidence_context
from approvals.lint import lint_row
from approvals.models import Action, DataClass, RenewalTrigger, SignOff
from approvals.packs.selectors import row_pack_context
from approvals.permissions import (
    can_edit,
    can_grant_role,
    can_revoke,
    can_run_pipeline,
    can_send_back,
    can_sign,
    can_suspend,
    grantable_roles,
    grants_of,
)
from approvals.row_forms import MoveForm, ReviewerGrantForm, SignForm
from approvals.smoke_tests import row_smoke_context
from approvals.views.findings import row_findings_context
from approvals.workflow import EDITABLE, NEXT, InvalidTransition, Status
from orgs.decorators import org_view
from orgs.forms import add_service_error
from orgs.views import done, wants_partial
from projects.selectors import key_lineage_latest

# The workflow verbs a button on the row page posts (sign-offs have their own URL).
MOVES = ("submit", "screen", "start_testing", "start_evidence", "send_to_review",
         "request_changes", "reject", "mark_renewal_due", "suspend", "resume", "revoke",
         "expire")

# verb -> (button label, the text the service needs: "comment", "reason" or None, and the
# predicate that says who may make the move). The services check the same predicates.
MOVE_SPECS = {
    "submit": ("Submit for review", None, can_edit),
    "screen": ("Screen", None, can_run_pipeline),
    "start_testing": ("Start testing", None, can_run_pipeline),
    "start_evidence": ("Start evidence", None, can_run_pipeline),
    "send_to_review": ("Send to review", None, can_run_pipeline),
    "request_changes": ("Request changes", "comment", can_send_back),
    "reject": ("Reject", "comment", can_send_back),
    "mark_renewal_due": ("Mark renewal due", None, can_run_pipeline),
    "suspend": ("Suspend", "reason", can_suspend),
    "resume": ("Resume", None, can_suspend),
    "revoke": ("Revoke", "reason", can_revoke),
    "expire": ("Expire", None, can_run_pipeline),
}
# Moves that stop or end an approval: the page shows them as danger buttons.
DANGER = frozenset({"reject", "suspend", "revoke", "expire"})


def _row_url(request, row):
    return reverse("approvals:row_detail", args=[request.org.slug, row.public_id])


def _labels(values, choices) -> list[str]:
    # Stored values are validated by the services, but imported rows may hold old ones.
    known = dict(choices)
    return [known.get(v, v) for v in values]


def _offered(verb, row, today, signable) -> bool:
    """Whether the page offers `verb` on row at all (besides who may make it)."""
    if verb == "mark_renewal_due":
        return row.renewal_date is not None
    if verb == "expire":
        return row.renewal_date is not None and row.renewal_date < today
    if verb == "reject" and row.status == Status.IN_REVIEW:
        return not signable  # reviewers in review reject by signing
    return True


def _moves(actor, row, signable, *, error_verb=None, form=None) -> list[dict]:
    """The moves this person may make on row now, in the order of the table."""
    today = timezone.localdate()
    moves = []
    for verb in NEXT.get(row.status, {}).values():
        if verb not in MOVE_SPECS or not _offered(verb, row, today, signable):
            continue
        label, field, allowed = MOVE_SPECS[verb]
        if allowed(actor, row):
            mine = form if verb == error_verb else None  # a refused post of this move
            moves.append({"verb": verb, "label": label, "field": field,
                          "danger": verb in DANGER, "form": mine,
                          "text": mine.data.get(field, "") if mine and field else "",
                          "field_errors": mine.errors.get(field, []) if mine and field else [],
                          "url": reverse(f"approvals:row_{verb}",
                                         args=[actor.org.slug, row.public_id])})
    return moves


def _signoff_context(actor, row) -> dict:
    """Live and voided signatures, the roles still missing, and the roles actor may sign."""
    signoffs = list(row.signoffs.all())
    live = [s for s in signoffs if s.voided_at is None]
    approved = {s.role for s in live if s.decision == SignOff.Decision.APPROVE
                and s.row_version == row.version}
    taken = {s.role for s in live}
    signable = []
    if row.status == Status.IN_REVIEW:
        grants = grants_of(actor, [row])
        signable = [SignOff.Role(r) for r in SignOff.Role.values if r not in taken
                    and can_sign(actor, row, r, live_signoffs=live, grants=grants)]
    return {"live_signoffs": live, "voided_signoffs": [s for s in signoffs if s.voided_at],
            "missing_roles": [SignOff.Role(r) for r in SignOff.Role.values
                              if r not in approved],
            "sign_roles": signable}


def _form_errors(move_form, field, sign_form) -> list[str]:
    """The refused form's errors for the alert above the buttons; a move's comment or reason
    error shows under its own text box instead."""
    errors = []
    for form, inline in ((move_form, field), (sign_form, None)):
        if form is not None:
            errors += [e for name, msgs in form.errors.items() if name != inline for e in msgs]
    return errors


def _grant_forms(request, row, refused=None) -> list[ReviewerGrantForm]:
    """One "name a reviewer" form per role this person may delegate (a refused one keeps
    its errors); each lists only the members who may be given that role."""
    return [refused if refused is not None and refused.sign_role == role
            else ReviewerGrantForm(org=request.org, row=row, role=role)
            for role in grantable_roles(request.membership, row)]


def _page_context(request, row, *, error_verb=None, move_form=None, sign_form=None,
                  grant_form=None, page_error="") -> dict:
    actor, org = request.membership, request.org
    context = _signoff_context(actor, row)
    grant_forms = _grant_forms(request, row, grant_form)
    context.update(
        row=row, page_error=page_error,
        form_errors=_form_errors(move_form, MOVE_SPECS[error_verb][1] if error_verb
                                 else None, sign_form),
        moves=_moves(actor, row, context["sign_roles"], error_verb=error_verb,
                     form=move_form),
        can_edit=row.status in EDITABLE and can_edit(actor, row),
        renewal_due=row.status == Status.RENEWAL_DUE, can_grant=bool(grant_forms),
        grant_forms=grant_forms,
        actions=_labels(row.allowed_actions, Action.choices),
        data_classes=_labels(row.data_classes, DataClass.choices),
        triggers=_labels(row.renewal_triggers, RenewalTrigger.choices),
        spend=selectors.row_spend(org=org, row=row),
        lint_findings=lint_row(org=org, row=row),
        timeline=selectors.row_timeline(org=org, row=row),
        # The key the row covers now, when its bound key was rotated (one query then).
        key_successor=key_lineage_latest(org=org, key=row.api_key))
    context.update(row_evidence_context(row=row, actor=actor))
    context.update(row_smoke_context(row=row, actor=actor))
    context.update(row_pack_context(actor=actor, row=row))
    context.update(row_findings_context(org=org, row=row))  # _row_findings.html
    return context


def _refused(request, row, *, status, **context):
    """The row page again with what went wrong: the whole page for a plain post, the action
    area (422, which htmx swaps in place) for htmx."""
    context = _page_context(request, row, **context)
    if wants_partial(request):
        return render(request, "approvals/row_detail.html#actions", context, status=422)
    return render(request, "approvals/row_detail.html", context, status=status)


@org_view(scope="approvals:read")
def row_detail(request, public_id):
    """Everyone in the org reads a row: its fields, sign-offs, findings and timeline."""
    row = selectors.row_page_get(org=request.org, public_id=public_id)
    return render(request, "approvals/row_detail.html", _page_context(request, row))


@require_POST
@org_view(scope="approvals:read")
def row_move(request, public_id, verb):
    """One workflow move (the verb comes from the URL); the service decides who may."""
    row = selectors.row_page_get(org=request.org, public_id=public_id)
    label, field, _allowed = MOVE_SPECS[verb]
    form = MoveForm(request.POST)
    if form.is_valid():
        text = {field: form.cleaned_data[field]} if field else {}
        try:
            row = getattr(services, f"row_{verb}")(org=request.org, actor=request.membership,
                                                   row=row, **text)
        except InvalidTransition as exc:
            return _refused(request, row, status=409, page_error=str(exc))
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, _row_url(request, row),
                        f"{label}: done. The row is now {row.get_status_display().lower()}.")
    return _refused(request, row, status=400, error_verb=verb, move_form=form)


@require_POST
@org_view(scope="approvals:read")
def row_sign(request, public_id):
    """Sign one role of a row in review: approve, or reject with a comment."""
    row = selectors.row_page_get(org=request.org, public_id=public_id)
    form = SignForm(request.POST)
    if form.is_valid():
        try:
            row = services.signoff_record(org=request.org, actor=request.membership, row=row,
                                          **form.cleaned_data)
        except InvalidTransition as exc:
            return _refused(request, row, status=409, page_error=str(exc))
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            role = SignOff.Role(form.cleaned_data["role"]).label.lower()
            return done(request, _row_url(request, row), f"Signed as {role}. The row is now "
                        f"{row.get_status_display().lower()}.")
    return _refused(request, row, status=400, sign_form=form)


@require_POST
@org_view(scope="approvals:read")
def row_reviewer_grant(request, public_id):
    """Name a one-off reviewer for one role of this row: a holder of that authority only."""
    row = selectors.row_page_get(org=request.org, public_id=public_id)
    role = request.POST.get("role", "")
    if role in SignOff.Role.values and not can_grant_role(request.membership, row, role):
        raise PermissionDenied("Only a holder of this authority names its reviewer.")
    if role not in SignOff.Role.values:
        return _refused(request, row, status=400,
                        page_error="Choose security, finance or app owner.")
    form = ReviewerGrantForm(request.POST, org=request.org, row=row, role=role)
    if form.is_valid():
        member = form.cleaned_data["member"]
        try:
            services.row_reviewer_grant(org=request.org, actor=request.membership, row=row,
                                        membership=member, role=role)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, _row_url(request, row), f"{member.user.email} may now sign "
                        f"as {SignOff.Role(role).label.lower()} on this row.")
    return _refused(request, row, status=400, grant_form=form)


@org_view(scope="approvals:read")
def inbox(request):
    """What waits for this person's signature, oldest first. `?part=link` (htmx) answers
    only the "Inbox (n)" link, which the dashboard loads."""
    items = selectors.signoff_inbox(org=request.org, actor=request.membership)
    if request.GET.get("part") == "link":
        return render(request, "approvals/inbox.html#inbox_link", {"items": items})
    entries = [{"item": item, "roles": [SignOff.Role(r).label for r in item.roles]}
               for item in items]
    return render(request, "approvals/inbox.html", {"entries": entries, "items": items})
