"""The weekly digest (issue #8): one email per member with what is due (sign-offs in
their inbox, rows renewing within 30 days), open (unresolved findings they own, or all of
them for security and admins; evidence and keys expiring) and over budget (rows past 80 %
of their monthly budget), each with a link to act. The lists are the dashboard's
(approvals/attention.py), so the email and the "waiting for you" panel never disagree.

Exactly once per (member, ISO week): the DigestEmail row is unique and records what the
email says; the send is a separate retried task that claims the row through sent_at. A
member with nothing to read gets no row and no email. A member who turned the "digest"
email off in their notification preferences gets none either.
"""

from dataclasses import asdict, dataclass
from datetime import date

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from approvals.attention import LIMIT, RENEWAL_WINDOW, attention_for
from approvals.models import DigestEmail, Finding
from approvals.workflow import Status
from orgs.models import Membership
from orgs.notifications.models import NotificationPreference
from orgs.notifications.recipients import default_preference

CATEGORY = "digest"  # the notification preference that turns the email off


@dataclass
class DigestResult:
    """What one org's weekly run did."""
    members: int = 0
    recorded: int = 0
    nothing_to_say: int = 0
    opted_out: int = 0
    requeued: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _url(name, *args) -> str:
    return settings.BASE_URL + reverse(name, args=args)


def _row(org, row, label, text, url=None) -> dict:
    return {"label": label, "title": f"{row.caller.name} in {row.environment.name}",
            "text": text, "url": url or _url("approvals:row_detail", org.slug, row.public_id)}


def _findings(org, member) -> list[Finding]:
    """Unresolved findings: the member's own, or every one for security and admins."""
    qs = (Finding.objects.for_org(org).exclude(state=Finding.State.RESOLVED)
          .order_by("-raised_at"))
    if not (member.has_scope("approvals:sign_security") or member.has_scope("org:write")):
        qs = qs.filter(owner=member)
    return list(qs[:LIMIT])


def _due(org, a) -> list[dict]:
    items = [_row(org, i.row, "Sign-off", "waits for your signature as "
                  + ", ".join(r.replace("_", " ") for r in i.roles)) for i in a.inbox]
    for row in a.renewing:
        review = (_url("approvals:renewal_review", org.slug, row.public_id)
                  if row.status == Status.RENEWAL_DUE else None)
        items.append(_row(org, row, "Renewal", f"renews by {row.renewal_date:%Y-%m-%d} "
                          f"({row.get_status_display().lower()})", review))
    return items


def _open(org, a, findings) -> list[dict]:
    items = [{"label": "Finding", "title": f.title, "text": f.get_kind_display(),
              "url": settings.BASE_URL + f.link if f.link.startswith("/") else
              _url("orgs:dashboard", org.slug)} for f in findings]
    items += [_row(org, link.row, "Evidence", f"{link.item.get_kind_display()} "
                   f"“{link.item.title}” expires on {link.item.valid_until:%Y-%m-%d}")
              for link in a.evidence]
    items += [{"label": "Key", "title": key.name,
               "text": f"{key.project.name} / {key.environment.name} expires on "
                       f"{key.expires_at:%Y-%m-%d}: rotate it",
               "url": _url("projects:key_detail", org.slug, key.public_id)} for key in a.keys]
    return items


def digest_content(*, org, member, now=None) -> dict | None:
    """What member's digest says this week, None when there is nothing to say. Reads the
    dashboard's lists (attention_for, eight queries) and the findings (one query)."""
    now = now or timezone.now()
    a = attention_for(org=org, actor=member, now=now)
    sections = [
        ("due", f"Due (sign-offs, renewals within {RENEWAL_WINDOW} days)", _due(org, a)),
        ("open", "Open (findings, expiring evidence and keys)",
         _open(org, a, _findings(org, member))),
        ("over_budget", "Over budget (past 80 % of the monthly budget)",
         [_row(org, c.row, "Budget", f"spent {c.amount:.2f} of {c.row.monthly_budget:.2f} "
               f"USD this month ({c.percent} %)") for c in a.budgets]),
    ]
    sections = [{"key": k, "heading": h, "items": items} for k, h, items in sections if items]
    if not sections:
        return None
    return {"week": iso_week(timezone.localdate(now)), "sections": sections,
            "counts": {s["key"]: len(s["items"]) for s in sections},
            "dashboard": _url("orgs:dashboard", org.slug),
            "preferences": _url("notifications:preferences", org.slug)}


def _opted_out(org, members) -> set[int]:
    prefs = dict(NotificationPreference.objects.for_org(org).filter(
        category=CATEGORY, user_id__in=[m.user_id for m in members])
        .values_list("user_id", "email"))
    default = default_preference(CATEGORY, "info")[1]
    return {m.pk for m in members if not prefs.get(m.user_id, default)}


def weekly_digest(*, org, now=None, send=None) -> DigestResult:
    """Record this ISO week's digest for each member of org with something to read and
    the digest email on (the approvals.weekly_digest_for_org task; actor: the system),
    and hand each new one, and any of this week still unsent (a lost message), to
    send(org_id, digest_id) after commit. Safe to run twice and concurrently: the row is
    unique per (member, week). Not audited: it changes nothing but the outbox."""
    now = now or timezone.now()
    week = iso_week(timezone.localdate(now))
    result = DigestResult()
    unsent = list(DigestEmail.objects.for_org(org).filter(week=week, sent_at__isnull=True)
                  .values_list("pk", flat=True))
    done = set(DigestEmail.objects.for_org(org).filter(week=week)
               .values_list("member_id", flat=True))
    members = list(Membership.objects.for_org(org).filter(user__is_active=True)
                   .exclude(pk__in=done).select_related("user").order_by("pk"))
    opted_out = _opted_out(org, members)
    for member in members:
        result.members += 1
        if member.pk in opted_out:
            result.opted_out += 1
            continue
        content = digest_content(org=org, member=member, now=now)
        if content is None:
            result.nothing_to_say += 1
            continue
        digest = _record(org=org, member=member, week=week, content=content, send=send)
        result.recorded += digest is not None
    for pk in unsent:
        result.requeued += 1
        if send is not None:
            send(org.pk, pk)
    return result


def _record(*, org, member, week, content, send):
    try:
        with transaction.atomic():
            digest = DigestEmail.objects.create(org=org, member=member, week=week,
                                                content=content)
            if send is not None:
                transaction.on_commit(lambda: send(org.pk, digest.pk))
    except IntegrityError:  # a concurrent run recorded it first
        return None
    return digest


def digest_send(*, org, digest_id: int) -> bool:
    """Send one recorded digest, once: claimed with a conditional update first; a send that
    raises releases the claim so the task's retry sends it. False when already sent."""
    claimed = DigestEmail.objects.for_org(org).filter(
        pk=digest_id, sent_at__isnull=True).update(sent_at=timezone.now())
    if not claimed:
        return False
    digest = DigestEmail.objects.for_org(org).select_related("member__user", "org").get(
        pk=digest_id)
    content = digest.content
    context = {"org": digest.org, "member": digest.member, "digest": content}
    counts = content.get("counts", {})
    subject = (f"[{digest.org.name}] Your week {digest.week}: {counts.get('due', 0)} due, "
               f"{counts.get('open', 0)} open, {counts.get('over_budget', 0)} over budget")
    try:
        send_mail(subject=subject,
                  message=render_to_string("approvals/email/digest.txt", context),
                  html_message=render_to_string("approvals/email/digest.html", context),
                  from_email=None, recipient_list=[digest.member.user.email])
    except Exception:
        DigestEmail.objects.for_org(org).filter(pk=digest_id).update(sent_at=None)
        raise
    return True


__all__ = ["digest_content", "digest_send", "iso_week", "weekly_digest"]
