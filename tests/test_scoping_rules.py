"""Code rules that keep tenancy in one place (STYLE.md rules 6 and 8).

The unscoped-query check reads the syntax tree of every module of every app (views, API,
forms, serializers, selectors, services, tasks, commands, sub-packages alike; migrations
and the admin are the documented exceptions) and reports every query on a tenant model
(any model with an `org` foreign key, from the app registry) that no scoping helper
narrows. A query counts as narrowed when its chain calls `for_org(...)`, when it is handed
to `get_for_org_or_404` (directly or through a local variable), or when it can only return
rows joined to an already narrowed query: a `Prefetch(queryset=...)` of a scoped parent,
or a subquery correlated to the outer row with `OuterRef`. Writes (`create`, `bulk_create`)
and `none()` are not reads. Related managers of a scoped object (`org.projects`,
`row.signoffs`) are narrowed by their object and not looked at.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from orgs.scoping import SCOPING_HELPERS, tenant_models

ROOT = Path(__file__).resolve().parent.parent
APPS = ["orgs", "projects", "approvals", "evidence", "governance"]
MANAGERS = {"objects", "_default_manager", "_base_manager"}
NOT_READS = {"create", "bulk_create", "none"}
LOADERS = SCOPING_HELPERS - {"for_org"}
# all_orgs() is the escape hatch for beat fan-out: a periodic task lists the orgs with
# work, then calls a per-org task or service with each org (STYLE.md rules 6 and 18).
ALL_ORGS_MODULES = {"tasks.py"}

# Unscoped queries that are right where they are, each with its reason. Keyed by
# "module::function::Model" (not line numbers, which move); an entry that no longer
# matches anything fails test_allowlist_has_no_stale_entries, so the list stays true.
ALLOWED = {
    "orgs/decorators.py::resolve_membership::Membership":
        "the org resolver itself: finds the signed-in user's membership of the org named "
        "in the URL; no org is known before it",
    "orgs/receivers.py::_audit_user::Membership":
        "a user's own memberships, to audit a sign-in event in each of their orgs",
    "orgs/selectors.py::membership_for_user::Membership":
        "the org switcher: the signed-in user's own memberships across orgs",
    "orgs/services.py::_record_for_user_orgs::Membership":
        "a user's own memberships, to audit a personal-token change in each of their orgs",
    "orgs/services.py::personal_token_max_days::SecurityPolicy":
        "the policies of the user's own orgs (a personal token acts in all of them)",
    "orgs/services.py::invitation_by_token::Invitation":
        "the accept link: the secret token (looked up by hash) is what names the org",
    "orgs/session_policy.py::strictest_policy::SecurityPolicy":
        "the policies of the signed-in user's own orgs, to apply the strictest session rules",
    "orgs/session_policy.py::sso_required_org::Membership":
        "the signed-in user's own membership in an org that verified their email domain",
    "orgs/sso/login.py::social_apps::SSOConnection":
        "allauth's provider lookup at sign-in, before any org is known; sso_login_check "
        "then refuses a connection used for another org's domain",
    "orgs/sso/login.py::connection_of_provider::SSOConnection":
        "maps allauth's app (found by provider id at sign-in) back to its connection",
    "orgs/sso/selectors.py::enabled_connections_for_slug::SSOConnection":
        "the public direct SSO link /sso/<org>/: the org's slug names it, no member yet",
    "orgs/sso/domains.py::_domain_taken::VerifiedDomain":
        "must look at other orgs: a domain verified by one org cannot be claimed by another",
    "orgs/sso/domains.py::verified_domain_org::VerifiedDomain":
        "'Continue with SSO' routes an email to the org that verified its domain",
    "orgs/services.py::personal_token_create::Membership":
        "a personal token is the person's, not an org's: minting checks the MFA and SSO "
        "rules of every org they belong to",
    "orgs/sso/services.py::_tell_account_orgs::Membership":
        "a refused or made SSO link is audited in every org of the targeted account, "
        "the orgs a takeover through a foreign IdP would hit",
    "projects/keys.py::key_report_leaked::ApiKey":
        "anyone holding a leaked secret may report it: the lookup is by the secret's hash",
    "projects/workload.py::token_exchange::WorkloadIdentity":
        "workload token exchange: the presented token's issuer names the identities, "
        "and with them the org",
    "projects/credentials.py::_touch::ApiKey":
        "stamps last_used_at on the key the secret-hash lookup just resolved (by its pk)",
}


@dataclass(frozen=True)
class Report:
    path: str
    line: int
    function: str
    model: str
    chain: str
    problem: str

    @property
    def key(self):
        return f"{self.path}::{self.function}::{self.model}"

    def __str__(self):
        return (f"{self.path}:{self.line} in {self.function}(): "
                f"{self.model}.{self.chain} {self.problem}")


def _call_name(call: ast.Call):
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _is_call_to(node, names) -> bool:
    return isinstance(node, ast.Call) and _call_name(node) in names


class _Module:
    def __init__(self, source: str, path: str, model_names: set[str]):
        self.tree = ast.parse(source)
        self.path = path
        self.parents = {child: node for node in ast.walk(self.tree)
                        for child in ast.iter_child_nodes(node)}
        # `from projects.models import Project as P` makes `P` a tenant model too.
        self.models = {alias.asname or alias.name: alias.name
                       for node in ast.walk(self.tree) if isinstance(node, ast.ImportFrom)
                       for alias in node.names if alias.name in model_names}
        self.models.update({name: name for name in model_names})

    def function_of(self, node) -> str:
        names = []
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.append(node.name)
        return ".".join(reversed(names)) or "<module>"

    def chain(self, manager: ast.Attribute):
        """The method names called on `Model.objects` and the outermost expression."""
        methods, top = [], manager
        while isinstance(parent := self.parents.get(top), ast.Attribute) and parent.value is top:
            methods.append(parent.attr)
            call = self.parents.get(parent)
            top = call if isinstance(call, ast.Call) and call.func is parent else parent
        return methods, top

    def narrowed_by_context(self, top) -> bool:
        if any(_is_call_to(n, {"OuterRef"}) for n in ast.walk(top)):
            return True  # a subquery correlated to a row of the (scoped) outer query
        parent = self.parents.get(top)
        if isinstance(parent, ast.keyword):
            parent = self.parents.get(parent)
        if _is_call_to(parent, {"Prefetch"}):
            return True  # only rows of the scoped parents it is prefetched for
        if _is_call_to(parent, LOADERS) and parent.args and parent.args[0] is top:
            return True
        if isinstance(parent, ast.Assign) and len(parent.targets) == 1 \
                and isinstance(parent.targets[0], ast.Name):
            return self.variable_narrowed(parent, parent.targets[0].id)
        return False

    def variable_narrowed(self, assign, name: str) -> bool:
        """`qs = Model.objects...` later narrowed in the same function: passed to a
        loader, to a Prefetch, or called with `.for_org(...)`."""
        scope = assign
        while scope in self.parents and not isinstance(scope, ast.FunctionDef):
            scope = self.parents[scope]
        for node in ast.walk(scope):
            if isinstance(node, ast.Attribute) and node.attr == "for_org" \
                    and isinstance(node.value, ast.Name) and node.value.id == name:
                return True
            if isinstance(node, ast.Call) and _call_name(node) in LOADERS | {"Prefetch"}:
                args = [*node.args, *(k.value for k in node.keywords)]
                if any(isinstance(a, ast.Name) and a.id == name for a in args):
                    return True
        return False

    def reports(self):
        for node in ast.walk(self.tree):
            if not (isinstance(node, ast.Attribute) and node.attr in MANAGERS):
                continue
            ref = node.value
            name = ref.id if isinstance(ref, ast.Name) else getattr(ref, "attr", None)
            if name not in self.models:
                continue
            methods, top = self.chain(node)
            report = Report(self.path, node.lineno, self.function_of(node),
                            self.models[name], ".".join([node.attr, *methods]), "")
            if "all_orgs" in methods:
                if Path(self.path).name not in ALL_ORGS_MODULES:
                    yield _with(report, "calls all_orgs() outside beat fan-out (tasks.py)")
            elif "for_org" in methods or (methods and methods[0] in NOT_READS):
                continue
            elif not self.narrowed_by_context(top):
                yield _with(report, "is not narrowed by for_org() or get_for_org_or_404()")
        yield from self.global_loaders()

    def global_loaders(self):
        # get_object_or_404(Model, ...) fetches globally: the rule-8 mistake in one call.
        for node in ast.walk(self.tree):
            if _is_call_to(node, {"get_object_or_404", "get_list_or_404"}) and node.args:
                first = node.args[0]
                name = first.id if isinstance(first, ast.Name) else None
                if name in self.models:
                    yield Report(self.path, node.lineno, self.function_of(node),
                                 self.models[name], _call_name(node),
                                 "fetches globally: use get_for_org_or_404(Model, org, ...)")


def _with(report: Report, problem: str) -> Report:
    return Report(report.path, report.line, report.function, report.model, report.chain,
                  problem)


def unscoped_queries(source: str, path: str, model_names: set[str]) -> list[Report]:
    """Every query on one of model_names in source that no scoping helper narrows."""
    return sorted(_Module(source, path, model_names).reports(), key=lambda r: r.line)


def interface_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts and path.name != "admin.py":
                yield path


@pytest.fixture(scope="module")
def model_names():
    return {model.__name__ for model in tenant_models()}


@pytest.fixture(scope="module")
def code_reports(model_names):
    return [report for path in interface_modules()
            for report in unscoped_queries(path.read_text(), str(path.relative_to(ROOT)),
                                           model_names)]


def test_tenant_models_come_from_the_registry(model_names):
    # A floor and a few known members, so that a broken registry walk cannot pass empty.
    assert len(model_names) >= 40, sorted(model_names)
    assert {"PolicyRow", "WebhookEndpoint", "SSOConnection", "VerifiedDomain", "ApiKey",
            "WorkloadIdentity", "CatalogEntry", "SecurityPolicy"} <= model_names


def test_every_tenant_model_can_be_narrowed_with_for_org():
    # The check trusts for_org(); a tenant model whose manager lacks it could only be
    # filtered by hand, which the rule forbids.
    missing = [m._meta.label for m in tenant_models()
               if not hasattr(m._default_manager, "for_org")]
    assert missing == [], f"use objects = OrgScopedQuerySet.as_manager() on {missing}"


def test_the_check_reads_every_interface_module():
    names = {str(p.relative_to(ROOT)) for p in interface_modules()}
    assert {"orgs/views/sso.py", "orgs/webhooks/api.py", "projects/key_api.py",
            "approvals/decisions/api.py", "approvals/services/rows.py", "evidence/usage/api.py",
            "orgs/notifications/services.py", "evidence/tasks.py"} <= names
    assert not any("migrations" in n or n.endswith("admin.py") for n in names)


def test_no_unscoped_query_on_a_tenant_model(code_reports):
    offenders = [str(r) for r in code_reports if r.key not in ALLOWED]
    assert offenders == [], (
        "Queries on tenant models that nothing narrows to one org. Load through a selector "
        "with .for_org(org) or get_for_org_or_404(...); if the query must see every org, "
        "add 'module::function::Model': 'why' to ALLOWED in tests/test_scoping_rules.py:\n"
        + "\n".join(offenders))


def test_allowlist_has_no_stale_entries(code_reports):
    used = {r.key for r in code_reports}
    assert sorted(set(ALLOWED) - used) == []


PLANTED = '''
from django.shortcuts import get_object_or_404
from approvals.models import PolicyRow as Row
from orgs.scoping import get_for_org_or_404
from orgs.webhooks.models import WebhookEndpoint


def endpoint_detail(request, org_slug, public_id):
    endpoint = WebhookEndpoint.objects.get(public_id=public_id)
    return endpoint


def row_list(org):
    return Row.objects.filter(status="active").select_related("project")


def row_get(org, public_id):
    return get_object_or_404(Row, public_id=public_id)


def everything():
    return WebhookEndpoint.objects.all_orgs()


def fine(org, public_id):
    qs = Row.objects.select_related("project")
    one = get_for_org_or_404(qs, org, public_id=public_id)
    return one, WebhookEndpoint.objects.for_org(org).get(pk=1), Row.objects.create(org=org)
'''


def test_the_check_reports_a_planted_unscoped_query(model_names):
    reports = unscoped_queries(PLANTED, "orgs/webhooks/views.py", model_names)
    assert [(r.line, r.function, r.model, r.chain) for r in reports] == [
        (9, "endpoint_detail", "WebhookEndpoint", "objects.get"),
        (14, "row_list", "PolicyRow", "objects.filter.select_related"),
        (18, "row_get", "PolicyRow", "get_object_or_404"),
        (22, "everything", "WebhookEndpoint", "objects.all_orgs"),
    ]
    assert "all_orgs() outside beat fan-out" in str(reports[3])


def test_all_orgs_is_allowed_in_beat_fan_out(model_names):
    source = "from orgs.webhooks.models import WebhookEndpoint\n" \
             "def sweep():\n    return WebhookEndpoint.objects.all_orgs().values('org_id')\n"
    assert unscoped_queries(source, "orgs/tasks.py", model_names) == []
