"""One finding per org and window for token exchanges refused before their signature
verified (issue 12, section 2).

The exchange itself writes nothing in an org for such a token (anybody can send one that
merely names a trusted issuer); projects/exchange_watch.py counts them per org in the
shared cache. A beat task (approvals.unverified_exchange_scan, every 5 minutes) calls
unverified_exchange_findings_raise(), which turns each org's count into one
`forged_exchange` finding per window: the dedupe key carries the window's start, so a
second scan in the same window, or two workers at once, raise nothing new. The finding
holds the count seen at raise time and the org's own configured issuers, never text of
the refused tokens. It lives here, not in projects/, because findings are approvals'
(projects/ and orgs/ must not import approvals/).
"""

from datetime import UTC, datetime

from approvals.findings import finding_raise
from approvals.models import Finding
from orgs.models import Organization
from projects import exchange_watch
from projects.models import WorkloadIdentity


def _issuers(org_id) -> list[str]:
    return sorted(set(WorkloadIdentity.objects.for_org(org_id)
                      .values_list("issuer", flat=True)))


def unverified_exchange_findings_raise(*, org_ids) -> int:
    """Called by the beat task with the ids of orgs that have workload identities. For
    each org with unverified refusals in the current or the previous window (a window
    that just ended is still reported), raise its finding once. Each finding_raise audits
    approval.finding_raised and emits finding.raised (security reviewers). Returns how
    many findings were new."""
    seconds = exchange_watch.window_seconds()
    current = exchange_watch.window_index()
    created = 0
    for index in (current - 1, current):
        counts = exchange_watch.unverified_counts(org_ids, index=index)
        for org_id in org_ids:
            if counts.get(org_id):
                created += _raise(org_id, index, seconds, counts[org_id])
    return created


def _raise(org_id, index: int, seconds: int, count: int) -> int:
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return 0
    start = datetime.fromtimestamp(index * seconds, tz=UTC)
    _, created = finding_raise(
        org=org, kind=Finding.Kind.FORGED_EXCHANGE,
        dedupe_key=f"unverified_exchange:{start:%Y-%m-%dT%H:%M}",
        title=f"{count} workload token exchange{'s' if count != 1 else ''} with a signature "
              f"that did not verify since {start:%Y-%m-%d %H:%M} UTC",
        detail={"count_at_raise": count, "window_start": start.isoformat(),
                "window_seconds": seconds, "issuers": _issuers(org_id)},
        severity=Finding.Severity.WARNING)
    return int(created)
