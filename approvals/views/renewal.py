"""The renewal review page of one row: the seed's checklist, the row's evidence and its
usage against budget. Every member reads it (approvals:read); security reviewers and
platform, never the row's requester (permissions.can_renew), start, answer and decide the
review: each step posts to its own URL (renewal/start/, renewal/answer/, renewal/decide/)
and answers with the review panel. Renewing hands the new version to the three sign-offs
on the row page."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from approvals import selectors, services
from approvals.permissions import can_renew
from approvals.renewal_forms import RenewalAnswerForm, RenewalDecideForm, add_service_error
from approvals.services.renewal import CHECKLIST
from approvals.workflow import InvalidTransition, Status
from orgs.decorators import org_view
from orgs.views import done, wants_partial

TEMPLATE = "approvals/renewal_review.html"


def _checklist(review, evidence_by_id):
    """[(area label, question, revoke if, answer, evidence item)] for reading the answers."""
    answers = review.answers if review else {}
    return [(area.label, question, revoke_if, answers.get(area.value, {}),
             evidence_by_id.get(answers.get(area.value, {}).get("evidence") or ""))
            for area, (question, revoke_if) in CHECKLIST.items()]


def _page(request, row, *, status=200, error="", **forms):
    """Render the page (or, for htmx, its review panel) with whatever forms are given."""
    org = request.org
    review = selectors.renewal_review_open(org=org, row=row)
    evidence = selectors.row_evidence_items(org=org, row=row)
    by_id = {str(item.public_id): item for item in evidence}
    answer_form = forms.get("answer_form") or (
        RenewalAnswerForm(evidence=evidence, review=review) if review else None)
    context = {
        "row": row, "review": review, "evidence": evidence,
        "checklist": _checklist(review, by_id),
        "usage": selectors.row_usage(org=org, row=row), "error": error,
        "past_reviews": [r for r in selectors.renewal_review_list(org=org, row=row)
                         if r.decided_at is not None],
        "live_signoffs": [s for s in row.signoffs.all() if s.voided_at is None],
        "can_review": can_renew(request.membership, row) and row.status == Status.RENEWAL_DUE,
        "answer_form": answer_form,
        "decide_form": forms.get("decide_form") or RenewalDecideForm(),
    }
    name = f"{TEMPLATE}#review" if wants_partial(request) else TEMPLATE
    return render(request, name, context, status=status)


def _here(request, row):
    return reverse("approvals:renewal_review", args=[request.org.slug, row.public_id])


def _open_review(request, row):
    review = selectors.renewal_review_open(org=request.org, row=row)
    if review is None:
        raise InvalidTransition("This row has no open renewal review; start one first.")
    return review


def _start(request, row):
    """Start the renewal review of a row in renewal due."""
    services.renewal_review_start(org=request.org, actor=request.membership, row=row)
    return done(request, _here(request, row), "Renewal review started.")


def _answer(request, row):
    """Save the answers to the five areas, the proposed date and a comment."""
    review = _open_review(request, row)
    evidence = selectors.row_evidence_items(org=request.org, row=row)
    form = RenewalAnswerForm(request.POST, evidence=evidence)
    if form.is_valid():
        try:
            services.renewal_review_answer(
                org=request.org, actor=request.membership, review=review,
                answers=form.answers(), comment=form.cleaned_data["comment"],
                proposed_renewal_date=form.cleaned_data["proposed_renewal_date"])
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            return done(request, _here(request, row), "Answers saved.")
    return _page(request, row, status=400, answer_form=form)


def _decide(request, row):
    """Decide the review: renew, rework or revoke."""
    review = _open_review(request, row)
    form = RenewalDecideForm(request.POST)
    if form.is_valid():
        try:
            services.renewal_review_decide(org=request.org, actor=request.membership,
                                           review=review, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return done(request, _here(request, row), _DONE[form.cleaned_data["outcome"]])
    return _page(request, row, status=400, decide_form=form)


_DONE = {"renew": "Renewal proposed: the new version now waits for the three sign-offs.",
         "rework": "Sent back to the requester for rework.", "revoke": "Row revoked."}


@org_view(scope="approvals:read")
def renewal_review(request, public_id):
    """The checklist, evidence and usage of one row, and the review's forms."""
    row = selectors.row_get(org=request.org, public_id=public_id)
    return _page(request, row)


def _step(step):
    """One POST view per step: the row, who may act, and the refusals as the panel."""
    @require_POST
    @org_view(scope="approvals:read")
    def view(request, public_id):
        row = selectors.row_get(org=request.org, public_id=public_id)
        if not can_renew(request.membership, row):
            raise PermissionDenied("Only a security reviewer or platform reviews a renewal, "
                                   "never the row's requester.")
        try:
            return step(request, row)
        except InvalidTransition as exc:
            return _page(request, row, status=409, error=str(exc))
        except ValidationError as exc:  # starting twice: the review is open already
            return _page(request, row, status=400, error=" ".join(exc.messages))
    view.__name__ = view.__qualname__ = f"renewal_{step.__name__.strip('_')}"
    view.__doc__ = step.__doc__
    return view


renewal_start = _step(_start)
renewal_answer = _step(_answer)
renewal_decide = _step(_decide)
