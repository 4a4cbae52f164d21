"""The scheduled recheck of verified email domains (issue 12.1).

Beat runs orgs.domains_recheck every 6 hours (settings.CELERY_BEAT_SCHEDULE); it sends one
orgs.domain_recheck per verified domain, which reads the TXT record again and un-verifies
the domain when it is gone (orgs.sso.domains.domain_recheck: audited, admins told).
"""

import logging
from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from orgs.jobs import recorded
from orgs.models import Organization
from orgs.sso.domain_dns import DNSUnavailable
from orgs.sso.domains import domain_recheck
from orgs.sso.models import VerifiedDomain
from orgs.task_helpers import RETRY

logger = logging.getLogger(__name__)

# A domain checked this recently is not checked again: the claim that makes a duplicate
# message (acks_late redelivery, two beat ticks) a no-op.
CLAIM = timedelta(minutes=10)
DNS_RETRIES = 3


@shared_task(name="orgs.domains_recheck", ignore_result=True, **RETRY)
@recorded("orgs.domains_recheck")
def domains_recheck_task() -> int:
    """Beat fan-out (every 6 hours): queue orgs.domain_recheck for every verified domain
    of every org. Changes nothing itself; returns how many it queued."""
    # Beat fan-out: the one place that walks every org's domains.
    rows = list(VerifiedDomain.objects.all_orgs().filter(verified_at__isnull=False)
                .order_by("pk").values_list("org_id", "pk"))
    for org_id, domain_id in rows:
        domain_recheck_task.delay(org_id, domain_id)
    return len(rows)


def _claim(org, domain_id) -> bool:
    now = timezone.now()
    return bool(VerifiedDomain.objects.for_org(org).filter(
        Q(checked_at__isnull=True) | Q(checked_at__lt=now - CLAIM),
        pk=domain_id, verified_at__isnull=False).update(checked_at=now))


@shared_task(name="orgs.domain_recheck", bind=True, **RETRY)
def domain_recheck_task(self, org_id: int, domain_id: int) -> str:
    """Recheck one verified domain of org_id (the system is the actor): claims it with a
    conditional update (a second run within CLAIM does nothing), then calls the
    domain_recheck service. DNS not answering changes nothing and is retried a few times,
    a minute apart. Returns "kept", "unverified", "skipped" or "dns_unavailable"."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None or not _claim(org, domain_id):
        return "skipped"
    try:
        row = domain_recheck(org=org, domain_id=domain_id)
    except DNSUnavailable as exc:
        # Release the claim so the retry (or the next round) may check again.
        VerifiedDomain.objects.for_org(org).filter(pk=domain_id).update(checked_at=None)
        if self.request.retries < DNS_RETRIES and not self.request.is_eager:
            raise self.retry(countdown=60, max_retries=DNS_RETRIES) from exc
        logger.warning("DNS did not answer for domain %s of org %s: kept as it is",
                       domain_id, org.slug)
        return "dns_unavailable"
    if row is None:
        return "skipped"
    return "kept" if row.verified_at else "unverified"
