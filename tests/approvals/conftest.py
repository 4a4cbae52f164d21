"""Approval fixtures: a small catalog, the people of a sign-off, and rows built through
the services (then moved to any state for the transition tests)."""

import uuid
from datetime import date, timedelta

import pytest
from django.utils import timezone

from approvals.models import PolicyRow, SignOff
from approvals.services import row_create
from evidence.models import CatalogEntry, CatalogSnapshot
from orgs.audit import AuditEvent
from orgs.events import NotificationEvent
from orgs.roles import Role
from tests.factories import MembershipFactory


def make_snapshot(org, *, source="litellm", day=date(2026, 11, 1), sha="a"):
    return CatalogSnapshot.objects.create(
        org=org, source_name=source, format="litellm", source_ref=f"{source}.json",
        sha256=sha * 64, snapshot_date=day)


def make_entry(snapshot, model_id="gpt-test", *, families=("chat_completions",),
               availability="available", platform="openai"):
    return CatalogEntry.objects.create(
        org=snapshot.org, snapshot=snapshot, key=f"{platform}/{model_id}", platform=platform,
        vendor=platform, model_id=model_id, family=families[0],
        families="|" + "|".join(families) + "|", availability=availability)


@pytest.fixture
def snapshot(org_a):
    return make_snapshot(org_a)


@pytest.fixture
def chat_model(snapshot):
    return make_entry(snapshot, "gpt-chat")


@pytest.fixture
def people(personas, org_a):
    """The cast of a sign-off: requester (member), security, finance, the row's app owner
    (another member), and an admin who runs the pipeline."""
    return {
        "requester": personas[Role.MEMBER],
        "security": personas[Role.SECURITY],
        "finance": personas[Role.FINANCE],
        "app_owner": MembershipFactory(org=org_a, role=Role.MEMBER,
                                       user__email="app-owner@acme.test"),
        "admin": personas[Role.ADMIN],
        "auditor": personas[Role.AUDITOR],
        "owner": personas[Role.OWNER],
    }


@pytest.fixture
def production(project_a):
    return project_a.environments.get(tier="production")


def row_fields(*, project, environment, caller, people, **overrides):
    fields = dict(
        project=project, environment=environment, caller=caller,
        allowed_actions=["chat", "chat_stream"], data_classes=["internal"],
        business_reason="Support reply summarizer", monthly_budget="500.00",
        daily_cap="40.00", rate_limit_per_minute=60, app_owner=people["app_owner"],
        engineering_owner=people["owner"], finance_owner=people["finance"],
        evidence_owner=people["owner"], cutoff_owner=people["owner"],
        renewal_date=timezone.localdate() + timedelta(days=60),
        renewal_triggers=["model_change", "spend_spike"],
    )
    fields.update(overrides)
    return fields


# Rows put straight into these states get the required evidence attached first, so the
# moves out of them (and activation) pass the evidence gate.
NEEDS_EVIDENCE = (PolicyRow.Status.TESTING, PolicyRow.Status.EVIDENCE,
                  PolicyRow.Status.IN_REVIEW)


def attach_required_evidence(row, people, *, review=None, actions=None, valid_until=None):
    """Collect and attach every item the row's checklist requires (smoke tests passed for
    each allowed action, or for `actions`), as the row's evidence owner; `review`
    ("accepted"/"rejected") has security review each. Returns the items."""
    from approvals.checklist import evidence_rules_get, required_controls
    from approvals.services.evidence import row_evidence_collect
    from evidence.items import evidence_item_review

    lines = required_controls(tier=row.environment.tier,
                              actions=row.allowed_actions if actions is None else actions,
                              data_classes=row.data_classes,
                              rules=evidence_rules_get(org=row.org))
    items = []
    for line in lines:
        content = {"passed": True} if line.action else {"note": line.label}
        link = row_evidence_collect(org=row.org, actor=people["owner"], row=row,
                                    kind=line.kind, title=line.label, content=content,
                                    action=line.action, valid_until=valid_until)
        if review:
            evidence_item_review(org=row.org, actor=people["security"], item=link.item,
                                 decision=review, comment="Checked" if review else "")
        items.append(link.item)
    return items


@pytest.fixture
def make_row(org_a, project_a, production, caller_a, people, chat_model):
    """make_row(status=..., **field overrides): a row created by row_create (a draft), then
    put straight into `status` for tests of the move out of it. Rows put into testing,
    evidence or review carry their required evidence unless evidence=False."""
    def make(status=PolicyRow.Status.DRAFT, *, models=None, suspended_from="", evidence=None,
             **overrides):
        fields = row_fields(people=people, **{"project": project_a, "environment": production,
                                              "caller": caller_a, **overrides})
        row = row_create(org=org_a, actor=people["requester"],
                         approved_models=models or [chat_model], **fields)
        if evidence if evidence is not None else status in NEEDS_EVIDENCE:
            attach_required_evidence(row, people)
        if status != PolicyRow.Status.DRAFT:
            PolicyRow.objects.filter(pk=row.pk).update(status=status,
                                                        suspended_from=suspended_from)
            row.refresh_from_db()
        return row
    return make


@pytest.fixture
def row(make_row):
    return make_row()


def sign(org, row, people, role, decision=SignOff.Decision.APPROVE, comment=""):
    from approvals.services import signoff_record

    signer = people["app_owner" if role == SignOff.Role.APP_OWNER else role]
    return signoff_record(org=org, actor=signer, row=row, role=role, decision=decision,
                          comment=comment)


class Counts:
    """Audit and notification events written since construction."""

    def __init__(self, org):
        self.org = org
        self.audit = AuditEvent.objects.for_org(org).count()
        self.events = NotificationEvent.objects.for_org(org).count()

    def new_audit(self):
        return list(AuditEvent.objects.for_org(self.org).order_by("seq")[self.audit:])

    def new_events(self):
        return list(NotificationEvent.objects.for_org(self.org).order_by("created_at", "pk")
                    [self.events:])


def all_ok(note="Unchanged since the last review."):
    """Renewal answers: every area of the checklist answered ok."""
    from approvals.models import RenewalReview

    return {area: {"ok": True, "note": note, "evidence": None}
            for area in RenewalReview.Area.values}


def propose_renewal(org, row, people, *, days=80, reviewer="security"):
    """Take a row due for renewal through its review to "renew" decided: it then waits for
    the three sign-offs of its new version. Returns the review."""
    from approvals.services import (
        renewal_review_answer,
        renewal_review_decide,
        renewal_review_start,
    )

    actor = people[reviewer]
    review = renewal_review_start(org=org, actor=actor, row=row)
    review = renewal_review_answer(
        org=org, actor=actor, review=review, answers=all_ok(),
        proposed_renewal_date=timezone.localdate() + timedelta(days=days))
    renewal_review_decide(org=org, actor=actor, review=review, outcome="renew")
    review.refresh_from_db()
    return review


def clone_rows(row, n, *, oldest=None, **overrides):
    """n copies of row (with its approved models) in two bulk inserts, for the query-count
    tests that need hundreds of rows (row_create per row would take minutes). Fields in
    overrides replace the row's (e.g. status); status_changed_at rises from `oldest` (a
    day ago by default), so the first copy has waited longest."""
    oldest = oldest or timezone.now() - timedelta(days=1)
    fields = {f.attname: getattr(row, f.attname) for f in PolicyRow._meta.concrete_fields
              if f.name not in ("id", "public_id")}
    clones = PolicyRow.objects.bulk_create([
        PolicyRow(**{**fields, "status_changed_at": oldest + timedelta(seconds=i),
                     **overrides}, public_id=uuid.uuid4()) for i in range(n)])
    through = PolicyRow.approved_models.through
    models = list(row.approved_models.all())
    through.objects.bulk_create([through(policyrow_id=c.pk, catalogentry_id=e.pk)
                                 for c in clones for e in models])
    return clones
