"""The demo organization's approval matrix (manage.py seed_demo): one row in every state of
the workflow, each brought there through the same services a person would use, so the
audit log, the sign-offs, the evidence and the notifications are real.

A few rows also carry lint findings on purpose, so that a first look at the lint page
shows what the linter is for: a production row whose renewal date is now beyond the org's
shortened maximum, a draft whose fallback row is not approved yet, and a row whose
engineering owner's account was deactivated.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from approvals.checklist import evidence_rules_get, required_controls
from approvals.decisions.spend import spend_add
from approvals.models import PolicyRow, SignOff
from approvals.services import (
    row_create,
    row_expire,
    row_mark_renewal_due,
    row_request_changes,
    row_revoke,
    row_screen,
    row_send_to_review,
    row_start_evidence,
    row_start_testing,
    row_submit,
    row_suspend,
    signoff_record,
)
from approvals.services.evidence import row_evidence_collect
from approvals.services.settings import approval_settings_update
from approvals.workflow import Status
from evidence.items import evidence_item_review
from evidence.models import CatalogEntry, CatalogSnapshot
from evidence.usage.services import usage_batch_push
from orgs.roles import Role

S = Status
# How far along the workflow each state lies, for _advance.
PIPELINE = (S.DRAFT, S.SUBMITTED, S.SCREENING, S.TESTING, S.EVIDENCE, S.IN_REVIEW, S.ACTIVE)


@dataclass
class Cast:
    """Who does what in the demo: the member files requests and signs as app owner; the
    admin is platform (screens, tests, collects evidence); security and finance sign."""

    org: object
    member: object
    admin: object
    security: object
    finance: object
    owner: object

    @classmethod
    def of(cls, org, members: dict):
        return cls(org=org, member=members[Role.MEMBER], admin=members[Role.ADMIN],
                   security=members[Role.SECURITY], finance=members[Role.FINANCE],
                   owner=members[Role.OWNER])


def _model(org, platform: str, model_id: str) -> CatalogEntry:
    newest = CatalogSnapshot.objects.for_org(org).order_by("-snapshot_date",
                                                          "-imported_at").first()
    return CatalogEntry.objects.for_org(org).get(snapshot=newest, platform=platform,
                                                 model_id=model_id, region="")


def _collect(cast: Cast, row: PolicyRow, *, smoke_tests: bool):
    """Collect the row's required evidence (smoke tests, or everything else), as platform,
    and have security accept each item."""
    for line in required_controls(tier=row.environment.tier, actions=row.allowed_actions,
                                  data_classes=row.data_classes,
                                  rules=evidence_rules_get(org=cast.org)):
        if (line.kind == "smoke_test") != smoke_tests or line.kind == "catalog_row":
            continue  # the catalog row is collected by the screen step itself
        content = ({"passed": True, "status": 200, "latency_ms": 412, "route": "demo"}
                   if line.action else {"note": f"{line.label} reviewed for the demo."})
        title = f"{line.label} ({line.action})" if line.action else line.label
        link = row_evidence_collect(org=cast.org, actor=cast.admin, row=row, kind=line.kind,
                                    title=title,
                                    content=content, action=line.action,
                                    valid_until=timezone.localdate() + timedelta(days=120))
        evidence_item_review(org=cast.org, actor=cast.security, item=link.item,
                             decision="accepted", comment="Checked for the demo.")


def _sign(cast: Cast, row: PolicyRow, role: str, decision=SignOff.Decision.APPROVE,
          comment=""):
    signer = {SignOff.Role.SECURITY: cast.security, SignOff.Role.FINANCE: cast.finance,
              SignOff.Role.APP_OWNER: cast.member}[role]
    return signoff_record(org=cast.org, actor=signer, row=row, role=role, decision=decision,
                          comment=comment)


def _advance(cast: Cast, row: PolicyRow, target: str) -> PolicyRow:
    """Move a draft along the workflow to `target` (at most active), step by step."""
    org, steps = cast.org, PIPELINE[1:PIPELINE.index(target) + 1]
    for step in steps:
        if step == S.SUBMITTED:
            row = row_submit(org=org, actor=cast.member, row=row)
        elif step == S.SCREENING:
            row = row_screen(org=org, actor=cast.admin, row=row)
        elif step == S.TESTING:
            row = row_start_testing(org=org, actor=cast.admin, row=row)
            _collect(cast, row, smoke_tests=True)
        elif step == S.EVIDENCE:
            row = row_start_evidence(org=org, actor=cast.admin, row=row)
            _collect(cast, row, smoke_tests=False)
        elif step == S.IN_REVIEW:
            row = row_send_to_review(org=org, actor=cast.admin, row=row)
        elif step == S.ACTIVE:
            for role in (SignOff.Role.SECURITY, SignOff.Role.FINANCE, SignOff.Role.APP_OWNER):
                row = _sign(cast, row, role, comment="Demo approval.")
    return row


def _request(cast: Cast, *, project, environment: str, caller: str, models, actions,
             data_classes, reason, budget, cap=None, renewal_days=60, fallback=None,
             engineering_owner=None, key=None) -> PolicyRow:
    return row_create(
        org=cast.org, actor=cast.member, approved_models=models, project=project,
        environment=project.environments.get(name=environment),
        caller=project.callers.get(name=caller), api_key=key, allowed_actions=actions,
        data_classes=data_classes, business_reason=reason, monthly_budget=Decimal(budget),
        daily_cap=Decimal(cap) if cap else None, rate_limit_per_minute=120,
        app_owner=cast.member, engineering_owner=engineering_owner or cast.admin,
        finance_owner=cast.finance, evidence_owner=cast.admin, cutoff_owner=cast.finance,
        fallback_row=fallback,
        renewal_date=timezone.localdate() + timedelta(days=renewal_days),
        renewal_triggers=["model_change", "catalog_change", "spend_spike"])


def seed_rows(*, org, members: dict, former_engineer) -> dict[str, PolicyRow]:
    """Create the demo matrix; returns the rows by the state they were brought to."""
    cast = Cast.of(org, members)
    support = org.projects.get(slug="support-assistant")
    marketing = org.projects.get(slug="marketing-studio")
    gpt4o, gpt41 = _model(org, "openai", "gpt-4o"), _model(org, "openai", "gpt-4.1")
    embed = _model(org, "openai", "text-embedding-3-small")
    gemini = _model(org, "gemini", "gemini-2.5-pro")
    prod_key = support.callers.get(name="support-api").api_keys.get(
        environment__name="production")
    rows = {}

    def chat(project, env, caller, **kw):
        base = dict(models=[gpt4o], actions=["chat", "chat_stream"],
                    data_classes=["customer_support_text"], budget="1200", cap="60",
                    reason="Support reply summarizer: drafts replies to tickets for agents.")
        return _request(cast, project=project, environment=env, caller=caller,
                        **{**base, **kw})

    # The production pair: a fallback row of its own, then the primary that names it.
    fallback = _advance(cast, chat(support, "production", "support-api", models=[gpt41],
                                   key=prod_key, budget="400", renewal_days=80,
                                   reason="Fallback for the support summarizer when gpt-4o "
                                          "is degraded; approved on its own."), S.ACTIVE)
    rows["active"] = _advance(cast, chat(support, "production", "support-api", key=prod_key,
                                         fallback=fallback, renewal_days=85), S.ACTIVE)
    spend_add(org=org, row=rows["active"], amount=Decimal("744.20"))  # 62 % of the monthly budget
    rows["fallback"] = fallback

    ci = dict(models=[gemini], actions=["chat"], data_classes=["internal"], budget="150",
              reason="Nightly evaluation of support replies against a golden set.")
    renewing = _advance(cast, _request(cast, project=support, environment="staging",
                                       caller="support-eval-ci", renewal_days=10, **ci),
                        S.ACTIVE)
    rows["renewal_due"] = row_mark_renewal_due(org=org, actor=cast.admin, row=renewing)
    # Active, renewal in 6 days: the renewal scan's 7-day reminder goes out on its first run.
    rows["active_due_soon"] = _advance(cast, _request(
        cast, project=marketing, environment="staging", caller="campaign-batch",
        models=[gpt41], actions=["batch"], data_classes=["internal"], budget="300",
        renewal_days=6, reason="Nightly batch summaries of campaign results."), S.ACTIVE)

    suspended = _advance(cast, chat(marketing, "production", "campaign-batch",
                                    models=[gpt41], data_classes=["internal"],
                                    reason="Weekly campaign digest for the marketing leads."),
                         S.ACTIVE)
    rows["suspended"] = row_suspend(org=org, actor=cast.security, row=suspended,
                                    reason="Incident INC-4211: prompts were logged in full; "
                                           "suspended until logging is fixed.")

    review = _advance(cast, chat(marketing, "staging", "design-studio",
                                 data_classes=["internal"], budget="250",
                                 reason="Campaign copy drafts for designers."), S.IN_REVIEW)
    rows["in_review"] = _sign(cast, review, SignOff.Role.SECURITY, comment="Data scope is "
                              "internal copy only; fine.")

    rows["evidence"] = _advance(cast, chat(support, "production", "support-eval-ci",
                                           models=[gpt41], data_classes=["internal"],
                                           reason="Release gate: replay 200 tickets through "
                                                  "the production route before launches."),
                                S.TESTING)
    rows["evidence"] = row_start_evidence(org=org, actor=cast.admin, row=rows["evidence"])
    rows["testing"] = _advance(cast, _request(
        cast, project=support, environment="development", caller="support-api",
        models=[embed], actions=["embeddings"], data_classes=["public"], budget="50",
        reason="Embeddings of the public help centre for retrieval."), S.TESTING)
    rows["screening"] = _advance(cast, _request(
        cast, project=marketing, environment="development", caller="design-studio",
        models=[gpt4o], actions=["chat"], data_classes=["public"], budget="40",
        reason="Prototype of alt-text suggestions for campaign images."), S.SCREENING)
    rows["submitted"] = _advance(cast, _request(
        cast, project=support, environment="development", caller="support-eval-ci",
        models=[gemini], actions=["chat"], data_classes=["internal"], budget="30",
        reason="Try gemini-2.5-pro as a grader for the evaluation set."), S.SUBMITTED)
    # A draft whose fallback is still in review: the linter warns about it.
    rows["draft"] = chat(marketing, "staging", "design-studio", data_classes=["internal"],
                         budget="200", fallback=rows["in_review"], models=[gpt41],
                         reason="Headline variants for A/B tests, falling back to the "
                                "copy-draft row.")

    changes = _advance(cast, chat(marketing, "production", "design-studio",
                                  data_classes=["internal"], budget="5000",
                                  reason="Campaign copy at scale."), S.SCREENING)
    rows["changes_requested"] = row_request_changes(
        org=org, actor=cast.admin, row=changes,
        comment="5,000 USD a month is ten times the copy volume we see; split the budget "
                "per campaign and say which data the prompts take.")
    rejected = _advance(cast, chat(support, "staging", "support-api",
                                   data_classes=["customer_pii"], budget="300",
                                   reason="Staging replay with real customer tickets."),
                        S.IN_REVIEW)
    rows["rejected"] = _sign(cast, rejected, SignOff.Role.SECURITY, SignOff.Decision.REJECT,
                             comment="Staging must not take customer PII: use the "
                                     "synthetic ticket set.")

    revoked = _advance(cast, _request(cast, project=marketing, environment="development",
                                      caller="campaign-batch", **{**ci, "renewal_days": 30}),
                       S.ACTIVE)
    rows["revoked"] = row_revoke(org=org, actor=cast.security, row=revoked,
                                 reason="The evaluation moved to the support project.")
    expired = _advance(cast, _request(cast, project=support, environment="staging",
                                      caller="support-api", renewal_days=1,
                                      engineering_owner=former_engineer, **ci), S.ACTIVE)
    # The renewal sweep, two days on: nobody renewed it, so it expired.
    rows["expired"] = row_expire(org=org, actor=None, row=expired,
                                 today=timezone.localdate() + timedelta(days=2))
    rows["owner_left"] = _advance(cast, _request(
        cast, project=marketing, environment="development", caller="design-studio",
        models=[embed], actions=["embeddings"], data_classes=["public"], budget="20",
        engineering_owner=former_engineer,
        reason="Search over the brand guidelines."), S.ACTIVE)

    # Security asked for a tighter renewal cadence after the suspension: rows approved
    # under the old 90-day maximum now show up on the lint page until they are renewed.
    approval_settings_update(org=org, actor=cast.owner, max_renewal_days=60)
    return rows


def seed_usage(*, org, members: dict) -> tuple:
    """This month's usage and billing as finance would push them over the API, so the
    findings page, the charts and the spend counters have something to show. The lines
    are chosen to raise one finding of each usage rule when they are reconciled (after
    the seed commits: the usage_imported receiver queues approvals.reconcile_usage_import):
    calls of the approved route, a model the row does not approve, the production key
    used from staging, a key nobody knows, a project with no row in force; and a billing
    line well above what the gateway reported."""
    support = org.projects.get(slug="support-assistant")
    prod_key = support.callers.get(name="support-api").api_keys.get(
        environment__name="production")
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    finance = members[Role.FINANCE]

    def line(n, hours_ago, **fields):
        return {"id": f"demo-{n}", "occurred_at": (now - timedelta(hours=hours_ago)).isoformat(),
                "provider": "openai", "action": "chat", "requests": 1, **fields}

    key = {"api_key": prod_key.prefix}
    usage = usage_batch_push(org=org, actor=finance, kind="usage", lines=[
        line(1, 30, model="gpt-4o", cost_usd="18.40", input_tokens=2_100_000,
             output_tokens=400_000, **key),
        line(2, 6, model="gpt-4o", cost_usd="9.75", input_tokens=1_000_000,
             output_tokens=250_000, **key),
        line(3, 5, model="gemini-2.5-pro", provider="gemini", cost_usd="2.10", **key),
        line(4, 4, model="gpt-4o", cost_usd="0.80", environment="staging", **key),
        line(5, 3, model="gpt-4o", cost_usd="1.20", api_key="gvk_live_unknown1"),
        line(6, 2, model="gpt-4.1", cost_usd="3.30", project="marketing-studio",
             environment="development", caller="campaign-batch"),
    ])
    first = timezone.localdate().replace(day=1)
    billing = usage_batch_push(org=org, actor=finance, kind="billing", lines=[
        {"id": "demo-invoice-1", "period_start": first.isoformat(),
         "period_end": timezone.localdate().isoformat(), "provider": "openai",
         "project": "support-assistant", "description": "OpenAI API usage (month to date)",
         "amount_usd": "64.00"},
    ])
    return usage, billing
