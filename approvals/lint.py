"""The policy linter (#6): every rule of PRODUCT.md "Rules the product enforces" as a named
check over the rows an org has now, each finding with a message and a suggested fix.

The services already refuse most of these states (docs/approvals.md), so a clean org has
no findings. The linter exists for what the services never saw or saw under older rules:
rows imported from a spreadsheet or another system, rows edited before a rule existed,
and states that arise afterwards (an owner who left, a key later used by another row, a
catalog that shrank until a row covers a whole platform).

A check is a function `check(snap, row) -> Iterable[Finding]` registered with `@rule`;
`snap` is an OrgSnapshot loaded once, in a fixed number of queries whatever the row count,
so checks never query. Revoked and expired rows are not linted: they allow nothing.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from django.db.models import OuterRef, Prefetch, Q, Subquery
from django.utils import timezone

from approvals.models import (
    MAX_RENEWAL_DAYS,
    Action,
    ApprovalSettings,
    PolicyRow,
    RenewalReview,
    RenewalTrigger,
    SignOff,
)
from approvals.workflow import FINISHED, Status
from evidence.families import can_serve
from evidence.models import CatalogEntry, CatalogSnapshot

ERROR, WARNING = "error", "warning"
# Rows in force: the decision service may allow calls on them (suspended rows come back).
IN_FORCE = frozenset({Status.ACTIVE, Status.RENEWAL_DUE, Status.SUSPENDED})
# A fallback carries traffic only while its own row is approved and not suspended.
FALLBACK_OK = frozenset({Status.ACTIVE, Status.RENEWAL_DUE})
OWNER_FIELDS = ("app_owner", "engineering_owner", "finance_owner", "evidence_owner",
                "cutoff_owner")


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # ERROR or WARNING
    row: str  # the row's public id
    message: str
    fix: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Rule:
    name: str
    title: str
    check: Callable


RULES: dict[str, Rule] = {}


def rule(name: str, title: str):
    """Register a check under its rule name; the registry order is the report order."""
    def register(check):
        RULES[name] = Rule(name=name, title=title, check=check)
        return check
    return register


@dataclass
class OrgSnapshot:
    """Everything the checks read, loaded up front (see load_snapshot)."""

    org: object
    today: date
    rows: list[PolicyRow]
    # The org's approval settings' max_renewal_days (the product default without settings).
    max_renewal_days: int = MAX_RENEWAL_DAYS
    # {(catalog source, platform): {model ids}} in the newest snapshot of each source.
    platform_models: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    # {credential key: [rows naming it]}; the key is ("api_key"|"workload", pk).
    rows_by_credential: dict[tuple[str, int], list[PolicyRow]] = field(default_factory=dict)

    def finding(self, name: str, row: PolicyRow, message: str, fix: str,
                severity: str = ERROR) -> Finding:
        return Finding(rule=name, severity=severity, row=str(row.public_id), message=message,
                       fix=fix)


def _current_snapshots(org) -> dict[int, str]:
    """{snapshot pk: source} of the newest snapshot (catalog date, then import time) of
    each catalog source, as screening uses (one query)."""
    newest: dict[str, int] = {}
    for pk, source in (CatalogSnapshot.objects.for_org(org)
                       .order_by("source_name", "-snapshot_date", "-imported_at", "-pk")
                       .values_list("pk", "source_name")):
        newest.setdefault(source, pk)
    return {pk: source for source, pk in newest.items()}


def load_snapshot(*, org, today: date | None = None) -> OrgSnapshot:
    """Load the org's unfinished rows and the catalog facts the checks need. Five queries
    whatever the row count: rows with their project, environment, caller, credential,
    fallback row, requester and owners (one join, which also carries the org's
    max_renewal_days); their approved models with snapshots; their live signatures (and
    those a pending renewal voided); the catalog snapshots; the model ids of the current
    snapshots' platforms."""
    owners = [f"{name}__user" for name in OWNER_FIELDS]
    max_days = ApprovalSettings.objects.filter(org=OuterRef("org")).values("max_renewal_days")
    signed = SignOff.objects.filter(Q(voided_at__isnull=True)
                                    | Q(void_reason=RenewalReview.VOID_REASON))
    rows = list(
        PolicyRow.objects.for_org(org).exclude(status__in=FINISHED)
        .select_related("project", "environment", "caller", "api_key", "workload_identity",
                        "fallback_row", "requested_by__user", *owners)
        .annotate(org_max_renewal_days=Subquery(max_days[:1]))
        .prefetch_related(
            Prefetch("approved_models",
                     queryset=CatalogEntry.objects.select_related("snapshot")),
            Prefetch("signoffs", queryset=signed, to_attr="recent_signoffs"))
        .order_by("created_at", "pk"))
    for row in rows:
        row.live_signoffs = [s for s in row.recent_signoffs if s.voided_at is None]
    snap = OrgSnapshot(org=org, today=today or timezone.localdate(), rows=rows)
    if rows and rows[0].org_max_renewal_days is not None:
        snap.max_renewal_days = rows[0].org_max_renewal_days
    by_credential = defaultdict(list)
    for row in rows:
        if key := _credential_key(row):
            by_credential[key].append(row)
    snap.rows_by_credential = dict(by_credential)
    current = _current_snapshots(org)
    platforms = {e.platform for row in rows for e in row.approved_models.all()}
    if current and platforms:
        models = defaultdict(set)
        for snapshot_id, platform, model_id in (
                CatalogEntry.objects.for_org(org)
                .filter(snapshot_id__in=current, platform__in=platforms)
                .values_list("snapshot_id", "platform", "model_id")):
            models[(current[snapshot_id], platform)].add(model_id)
        snap.platform_models = dict(models)
    return snap


def _credential_key(row: PolicyRow):
    if row.api_key_id:
        return ("api_key", row.api_key_id)
    if row.workload_identity_id:
        return ("workload", row.workload_identity_id)
    return None


def run(snap: OrgSnapshot, rows: Iterable[PolicyRow] | None = None) -> list[Finding]:
    """Every finding of every rule on `rows` (default: all of the snapshot's rows), row by
    row in creation order, rules in registry order."""
    findings = []
    for row in snap.rows if rows is None else rows:
        for registered in RULES.values():
            findings.extend(registered.check(snap, row))
    return findings


# --- The rules -----------------------------------------------------------------------------


@rule("provider-wide-approval", "Approve models, not providers")
def check_provider_wide(snap, row):
    """Error when a row approves no explicit model (an empty list reads as 'anything'), or
    when its models cover every model (two or more) a platform offers in the newest
    snapshot of the catalog source they came from: that is a provider approval spelled
    out, and it silently grows into every model the platform adds back."""
    entries = list(row.approved_models.all())
    if not entries:
        yield snap.finding(
            "provider-wide-approval", row, "The row names no approved model, so it reads as "
            "an approval of whatever the route offers.",
            "Add the explicit catalog models this caller needs, or revoke the row.")
        return
    approved = defaultdict(set)
    for entry in entries:
        approved[(entry.snapshot.source_name, entry.platform)].add(entry.model_id)
    for (source, platform), mine in sorted(approved.items()):
        offered = snap.platform_models.get((source, platform), set())
        if len(offered) >= 2 and offered <= mine:
            yield snap.finding(
                "provider-wide-approval", row,
                f"The row approves every {platform} model in the current {source} catalog "
                f"({len(offered)} models): that is the whole provider, not chosen models.",
                f"Keep only the {platform} models this caller uses and remove the rest.")


@rule("model-without-action", "Approve actions, not just models")
def check_model_without_action(snap, row):
    """Error when the row approves models but no known action; warning for each approved
    model that can serve none of the row's actions (by the family -> actions table)."""
    actions = [a for a in row.allowed_actions or [] if a in Action.values]
    if not actions:
        yield snap.finding(
            "model-without-action", row, "The row approves models but no action (chat, "
            "embeddings, tool calls...), so nothing says what the models may be used for.",
            "List the allowed actions the caller needs, each screened against the catalog.")
        return
    for entry in sorted(row.approved_models.all(), key=lambda e: (e.platform, e.model_id)):
        if not any(can_serve(entry.family_list, action) for action in actions):
            yield snap.finding(
                "model-without-action", row,
                f"{entry.platform}/{entry.model_id} can serve none of the row's actions "
                f"({', '.join(sorted(actions))}), so it is approved for no action.",
                "Remove the model, or add an action it serves and screen the row again.",
                severity=WARNING)


def _fallback_problem(row, fb) -> str:
    if fb.pk == row.pk:
        return "The row is its own fallback."
    if fb.org_id != row.org_id:
        return "The fallback row belongs to another organization."
    if (fb.caller_id, fb.environment_id) != (row.caller_id, row.environment_id):
        return "The fallback row is for another caller or environment."
    missing = sorted((set(row.allowed_actions) - set(fb.allowed_actions))
                     | (set(row.data_classes) - set(fb.data_classes)))
    if missing:
        return f"The fallback row does not approve {', '.join(missing)}."
    return ""


@rule("fallback-without-own-row", "Fallbacks never inherit approval")
def check_fallback(snap, row):
    """Error when the fallback row is not its own approval for the same caller, environment,
    actions and data classes, or when the row is in force and its fallback is not (active
    or renewal due). Warning when a row still in the workflow names a fallback that is not
    in force yet: activation will refuse it."""
    fb = row.fallback_row
    if fb is None:
        return
    fix = ("Request and approve a row for the fallback model with this row's caller, "
           "environment, actions and data classes, and name it as the fallback; or remove "
           "the fallback.")
    if problem := _fallback_problem(row, fb):
        yield snap.finding("fallback-without-own-row", row, problem, fix)
    elif fb.status not in FALLBACK_OK:
        state = fb.get_status_display().lower()
        if row.status in IN_FORCE:
            yield snap.finding("fallback-without-own-row", row,
                               f"The fallback row is {state}: calls that fall back would run "
                               "without an approval of their own.", fix)
        else:
            yield snap.finding("fallback-without-own-row", row,
                               f"The fallback row is {state}; this row cannot go live until "
                               "its fallback is active.", fix, severity=WARNING)


def _binding_problems(row, credential) -> list[str]:
    return [name for name in ("project", "environment", "caller")
            if getattr(credential, f"{name}_id") != getattr(row, f"{name}_id")]


@rule("key-shared", "One key, one project, one environment, one caller")
def check_key_shared(snap, row):
    """Error when the row's API key or workload identity is bound to another project,
    environment or caller than the row, or when another row for a different environment
    or caller names the same credential."""
    credential = row.credential
    if credential is None:
        return
    others = [o for o in snap.rows_by_credential.get(_credential_key(row), [])
              if (o.environment_id, o.caller_id) != (row.environment_id, row.caller_id)]
    wrong = _binding_problems(row, credential)
    if not wrong and not others:
        return
    parts = []
    if wrong:
        parts.append(f"'{credential.name}' is bound to another {' and '.join(wrong)} than "
                     "this row.")
    if others:
        parts.append(f"'{credential.name}' is also named by {len(others)} row(s) for another "
                     f"environment or caller ({', '.join(str(o.public_id)[:8] for o in others)}).")
    yield snap.finding("key-shared", row, " ".join(parts),
                       "Issue a key (or workload identity) for this row's own project, "
                       "environment and caller, and name it on this row only.")


def _production(row) -> bool:
    return row.environment.tier == "production"


@rule("production-renewal-missing", "Production rows have a renewal date")
def check_renewal_missing(snap, row):
    """Error when a production row has no renewal date."""
    if _production(row) and row.renewal_date is None:
        yield snap.finding(
            "production-renewal-missing", row, "This production row has no renewal date, so "
            "its approval never comes up for review.",
            f"Set a renewal date within {snap.max_renewal_days} days "
            f"(by {snap.today + timedelta(days=snap.max_renewal_days)}).")


@rule("production-renewal-too-far", "Production rows renew within the org maximum")
def check_renewal_too_far(snap, row):
    """Error when a production row's renewal date is more than the org's max_renewal_days
    (approval settings; MAX_RENEWAL_DAYS, 90, by default) from today."""
    latest = snap.today + timedelta(days=snap.max_renewal_days)
    if _production(row) and row.renewal_date is not None and row.renewal_date > latest:
        yield snap.finding(
            "production-renewal-too-far", row,
            f"The renewal date {row.renewal_date} is more than {snap.max_renewal_days} days "
            "away.",
            f"Move the renewal date to {latest} or earlier.")


@rule("production-without-trigger", "Production rows have a renewal trigger")
def check_without_trigger(snap, row):
    """Error when a production row lists no (known) renewal trigger."""
    if _production(row) and not set(row.renewal_triggers or []) & set(RenewalTrigger.values):
        yield snap.finding(
            "production-without-trigger", row, "This production row has no renewal trigger, "
            "so a model, terms, catalog or spend change would not reopen it.",
            "Add at least one renewal trigger, e.g. model change, catalog change or spend "
            "spike.")


@rule("environments-share-row-or-quota", "Environments never share keys, quotas or rows")
def check_environments_share(snap, row):
    """Error when the row's environment is not one of its project's, when its fallback row
    belongs to another environment (this environment's traffic would run on another's
    approval), or when its credential is bound to another environment (its calls and
    spend count against that environment's key and quota)."""
    problems = []
    if row.environment.project_id != row.project_id:
        problems.append(f"The environment '{row.environment.name}' belongs to another "
                        "project.")
    fb = row.fallback_row
    if fb is not None and fb.environment_id != row.environment_id:
        problems.append("The fallback row is in another environment, so fallback calls run "
                        "on that environment's approval.")
    credential = row.credential
    if credential is not None and credential.environment_id != row.environment_id:
        problems.append(f"'{credential.name}' belongs to another environment, so this row's "
                        "calls and spend count against that environment's quota.")
    if problems:
        yield snap.finding("environments-share-row-or-quota", row, " ".join(problems),
                           f"Give the {row.environment.name} environment its own row, key "
                           "and budget; name only those on this row.")


def _by_requester(row, signoff) -> bool:
    requester = row.requested_by
    if requester is None:  # the requester left; their signatures cannot be told apart
        return False
    if signoff.signer_id is not None:
        return signoff.signer_id == requester.pk
    return signoff.signer_label == requester.user.email  # the signer left since


@rule("requester-sole-approver", "The requester is never the only approver")
def check_requester_sole_approver(snap, row):
    """Error when a row in force has no live approval from anyone but its requester (it
    was approved by the requester alone, or by nobody). While a proposed renewal waits for
    its signatures, the row is still in force on the approvals the proposal voided."""
    if row.status not in IN_FORCE:
        return
    signed = row.live_signoffs
    if row.status != Status.ACTIVE and not any(s.decision == SignOff.Decision.APPROVE
                                               for s in signed):
        signed = row.recent_signoffs
    approvals = [s for s in signed if s.decision == SignOff.Decision.APPROVE]
    if any(not _by_requester(row, s) for s in approvals):
        return
    who = "its requester alone" if approvals else "nobody"
    yield snap.finding(
        "requester-sole-approver", row,
        f"The row is {row.get_status_display().lower()} but was approved by {who}.",
        "Suspend the row and have security, finance and the app owner (three different "
        "people, never the requester for security or finance) sign it again.")


@rule("owner-left-org", "Every row has current owners")
def check_owner_left(snap, row):
    """Error for each owner role (app, engineering, finance, evidence, cutoff) that is
    empty (the member left the org: the link is SET_NULL), names a deactivated account, or
    names a member of another org."""
    for name in OWNER_FIELDS:
        owner = getattr(row, name)
        label = name.replace("_", " ")
        if owner is None:
            problem = f"The {label} has left the organization; the row has none."
        elif owner.org_id != row.org_id or not owner.user.is_active:
            problem = f"The {label} ({owner.user.email}) is no longer an active member."
        else:
            continue
        yield snap.finding("owner-left-org", row, problem,
                           f"Name a current member as {label}, or revoke the row.")


# --- Selectors -----------------------------------------------------------------------------


def lint_org(*, org, today: date | None = None) -> list[Finding]:
    """Every finding on org's unfinished rows. Read-only; anyone who may read the matrix
    (approvals:read) may see it. Five queries whatever the row count (load_snapshot)."""
    return run(load_snapshot(org=org, today=today))


def lint_row(*, org, row: PolicyRow, today: date | None = None) -> list[Finding]:
    """The findings on one row of org (none for a finished or foreign row). Loads the
    whole org snapshot: rules such as key-shared compare the row with the others."""
    snap = load_snapshot(org=org, today=today)
    return run(snap, [r for r in snap.rows if r.pk == row.pk and row.org_id == org.pk])
