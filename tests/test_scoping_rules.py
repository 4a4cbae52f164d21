"""Code rules that keep tenancy in one place (STYLE.md rules 6 and 8)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ["orgs", "projects", "approvals", "evidence", "governance"]


def source_files():
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def test_all_orgs_is_used_only_in_admin_tasks_and_scoping():
    allowed = {"admin.py", "tasks.py", "scoping.py"}
    offenders = [
        str(p.relative_to(ROOT)) for p in source_files()
        if p.name not in allowed and ".all_orgs(" in p.read_text()
    ]
    assert offenders == []


def test_views_never_fetch_tenant_objects_globally():
    # Views load tenant objects through selectors or get_for_org_or_404, never a bare
    # Model.objects.get(...) that could return another org's row.
    pattern = re.compile(r"\b(Project|Environment|Caller|Membership|Invitation|AuditEvent)"
                         r"\.objects\.get\(")
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in source_files() if p.name.startswith(("views", "api"))
        for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)
    ]
    assert offenders == []
