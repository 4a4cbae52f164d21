"""Writes for verified email domains (issue #3, hardened by issue 12.1).

A domain counts for SSO (which org's IdP may sign in its addresses, where "Continue with
SSO" goes, whom "SSO required" binds) only once proven: a DNS TXT record carrying the
row's token, read by a real resolver query, or the operator's SSO_PREVERIFIED_DOMAINS
list. An owner's word is no longer proof. One org at most verifies a domain, and a
scheduled recheck un-verifies a domain whose record is gone. Same service rules as
orgs/sso/services.py.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from orgs.audit import record_event
from orgs.events import NotificationEvent, event_emit
from orgs.models import Membership, Organization
from orgs.scoping import require_member
from orgs.sso import domain_dns
from orgs.sso.models import VerifiedDomain


def _require(actor: Membership, scope: str):
    if not actor.has_scope(scope):
        raise PermissionDenied(f"Your role ({actor.get_role_display()}) cannot do this.")


TAKEN = ("{domain} is already verified by another organization. A domain can be verified "
         "by one organization only; if it is yours, ask that organization to remove it.")


def _domain_taken(domain: str, org) -> bool:
    return VerifiedDomain.objects.filter(domain=domain, verified_at__isnull=False).exclude(
        org=org).exists()


@transaction.atomic
def domain_add(*, org: Organization, actor: Membership, domain: str) -> VerifiedDomain:
    """Admins claim an email domain; it counts once verified. Audits domain.added."""
    require_member(org, actor)
    _require(actor, "org:write")
    domain = (domain or "").strip().lower().lstrip("@").rstrip(".")
    row = VerifiedDomain(org=org, domain=domain)
    row.full_clean(exclude=["txt_token"])
    if VerifiedDomain.objects.for_org(org).filter(domain=domain).exists():
        raise ValidationError({"domain": f"{domain} is already listed."})
    if _domain_taken(domain, org):
        raise ValidationError({"domain": TAKEN.format(domain=domain)})
    row.save()
    record_event(org=org, actor=actor, action="domain.added", obj=row,
                 changes={"domain": [None, domain]})
    return row


def _mark_verified(org, actor, row, method):
    row = VerifiedDomain.objects.for_org(org).select_for_update().get(pk=row.pk)
    if _domain_taken(row.domain, org):
        raise ValidationError({"domain": TAKEN.format(domain=row.domain)})
    before = row.method or None
    row.verified_at, row.method = timezone.now(), method
    try:
        with transaction.atomic():
            row.save(update_fields=["verified_at", "method"])
    except IntegrityError:  # another org's verification committed first
        raise ValidationError({"domain": TAKEN.format(domain=row.domain)}) from None
    record_event(org=org, actor=actor, action="domain.verified", obj=row,
                 changes={"verified_at": [None, row.verified_at], "method": [before, method]})
    return row


def _preverified(domain: str) -> bool:
    return domain in settings.SSO_PREVERIFIED_DOMAINS


def domain_verify_dns(*, org: Organization, actor: Membership,
                      domain: VerifiedDomain) -> VerifiedDomain:
    """Admins prove a domain: its TXT record must carry this row's token (per org and
    domain), read by a real DNS query (orgs/sso/domain_dns.py). A domain the operator lists
    in SSO_PREVERIFIED_DOMAINS is verified without DNS (method operator). Audits
    domain.verified, or domain.verification_failed (own transaction) when the record is
    missing or DNS does not answer; nothing else changes then."""
    require_member(org, actor)
    _require(actor, "org:write")
    if _preverified(domain.domain):
        with transaction.atomic():
            return _mark_verified(org, actor, domain, VerifiedDomain.Method.OPERATOR)
    try:
        found = domain.txt_record in domain_dns.txt_records(domain.domain)
        reason = "record_missing"
        message = (f"No TXT record {domain.txt_record} found on {domain.domain} yet. "
                   "DNS changes can take a while; check again later.")
    except domain_dns.DNSUnavailable as exc:
        found, reason = False, f"dns_unavailable: {exc}"
        message = (f"DNS did not answer for {domain.domain} ({exc}). Nothing was changed; "
                   "try again in a few minutes.")
    if not found:
        with transaction.atomic():
            record_event(org=org, actor=actor, action="domain.verification_failed",
                         obj=domain, changes={"reason": reason})
        raise ValidationError({"domain": message})
    with transaction.atomic():
        return _mark_verified(org, actor, domain, VerifiedDomain.Method.DNS)


def _recheck_outcome(row: VerifiedDomain) -> str | None:
    """Why row must lose its verification now, or None to keep it (DNSUnavailable when
    DNS does not answer: no conclusion)."""
    if _preverified(row.domain):
        return None
    if row.method == VerifiedDomain.Method.OPERATOR:
        return "removed_from_preverified_domains"
    if row.txt_record in domain_dns.txt_records(row.domain):
        return None
    return "txt_record_gone" if row.method == VerifiedDomain.Method.DNS else \
        "owner_confirmation_no_longer_accepted"


@transaction.atomic
def domain_recheck(*, org: Organization, domain_id: int) -> VerifiedDomain | None:
    """The scheduled recheck (orgs.domain_recheck task; the system is the actor) of one
    verified domain. A TXT record that is gone (or an operator listing that was removed,
    or a legacy owner confirmation without a record) un-verifies the domain: audited as
    domain.unverified and told to the org's admins (event security.domain_unverified).
    A domain whose record is there (or a legacy row whose record is now published) is
    kept, as DNS-verified. DNS not answering raises DNSUnavailable and changes nothing.
    Returns the row, or None when it is gone or no longer verified (a second run)."""
    row = VerifiedDomain.objects.for_org(org).select_for_update().filter(
        pk=domain_id, verified_at__isnull=False).first()
    if row is None:
        return None
    # The DNS query runs under the row lock (bounded by DNS_RESOLVER_TIMEOUT), so an
    # admin's "Check DNS" or a removal cannot interleave with this decision.
    reason = _recheck_outcome(row)
    row.checked_at = timezone.now()
    if reason is None:
        if row.method == VerifiedDomain.Method.OWNER:
            row.method = VerifiedDomain.Method.DNS
            record_event(org=org, actor=None, action="domain.verified", obj=row,
                         changes={"method": [VerifiedDomain.Method.OWNER, row.method]})
        row.save(update_fields=["checked_at", "method"])
        return row
    before = row.verified_at
    row.verified_at, row.method = None, ""
    row.save(update_fields=["checked_at", "method", "verified_at"])
    record_event(org=org, actor=None, action="domain.unverified", obj=row,
                 changes={"verified_at": [before, None], "reason": reason})
    event_emit(org=org, kind="security.domain_unverified", subject=row,
               severity=NotificationEvent.Severity.WARNING,
               payload={"name": row.domain, "reason": reason, "txt_record": row.txt_record})
    return row


@transaction.atomic
def domain_remove(*, org: Organization, actor: Membership, domain: VerifiedDomain):
    """Admins drop a domain; SSO stops accepting its addresses. Audits domain.removed."""
    require_member(org, actor)
    _require(actor, "org:write")
    row = VerifiedDomain.objects.for_org(org).select_for_update().get(pk=domain.pk)
    record_event(org=org, actor=actor, action="domain.removed", obj=row)
    row.delete()


def verified_domain_org(email: str) -> Organization | None:
    """The org that verified the domain of email (by DNS or the operator's list), or None.
    A legacy owner-confirmed row counts for nothing (issue 12.1)."""
    domain = (email or "").rsplit("@", 1)[-1].strip().lower()
    row = VerifiedDomain.objects.select_related("org").filter(
        domain=domain, verified_at__isnull=False, method__in=VerifiedDomain.TRUSTED).first()
    return row.org if row else None
