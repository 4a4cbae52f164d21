"""Issue #13 §7: every event kind the product offers is emitted by its service.

The offer has one source, orgs/events.OFFERED, from which the webhook form's topics are
written. For each offered kind, its real service is triggered here and an event of that
kind must come out. (The webhook form offered "members joining, leaving, role changes"
while no member event was ever emitted.)"""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from approvals import services as approvals
from approvals.findings import finding_raise
from approvals.models import PolicyRow, SignOff
from approvals.packs.build import pack_build, pack_request
from approvals.reconcile import reconcile_import
from approvals.services.evidence import row_evidence_collect
from evidence.catalog import catalog_import
from evidence.items import evidence_item_review
from orgs import services as orgs
from orgs.events import CATEGORIES, OFFERED, NotificationEvent
from orgs.roles import Role
from orgs.sso.models import SSOConnection
from orgs.sso.services import sso_membership_sync
from orgs.webhooks import services as webhooks
from orgs.webhooks.forms import EndpointForm
from projects import keys
from tests.approvals.conftest import (  # noqa: F401 (fixtures)
    attach_required_evidence,
    chat_model,
    make_row,
    people,
    production,
    sign,
    snapshot,
)
from tests.approvals.usage import make_import, make_record
from tests.evidence.conftest import SLICE_NEW
from tests.evidence.usage_helpers import example, run_import
from tests.factories import UserFactory
from tests.projects.conftest import make_key

S = PolicyRow.Status
ALL_KINDS = [kind for kinds in OFFERED.values() for kind in kinds]


class World:
    """The org, its people and a row factory, for the producers below."""

    def __init__(self, org, cast, row_factory, env, caller):
        self.org, self.people, self.make_row = org, cast, row_factory
        self.env, self.caller = env, caller

    def key(self):
        return make_key(self.org, self.people["owner"], self.env, self.caller)


def _join_by_invitation(w):
    invitation, token = orgs.invitation_create(org=w.org, actor=w.people["admin"],
                                               email="new@acme.test", role=Role.MEMBER)
    orgs.invitation_accept(token=token, user=UserFactory(email="new@acme.test"))


def _join_by_sso(w):
    # The connection row only (how it was configured is the SSO tests' business).
    connection = SSOConnection.objects.create(org=w.org, kind="oidc", name="Acme IdP",
                                              provider_id="acme-oidc", default_role="member")
    sso_membership_sync(connection=connection, user=UserFactory(email="jit@acme.test"),
                        groups=[])


def _leave(w):
    member = w.people["app_owner"]
    orgs.membership_remove(org=w.org, actor=member, membership=member)


def _remove(w):
    orgs.membership_remove(org=w.org, actor=w.people["admin"],
                           membership=w.people["app_owner"])


def _role_change(w):
    orgs.membership_change_role(org=w.org, actor=w.people["admin"],
                                membership=w.people["app_owner"], role=Role.FINANCE)


def _leak(w):
    _key, secret = w.key()
    keys.key_report_leaked(actor=w.people["requester"], secret=secret)


def _expire_key(w):
    key, _ = w.key()
    type(key).objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(1))
    keys.key_expire_due(org=w.org)


def _threshold(w):
    row = w.make_row(S.ACTIVE)
    key, _ = w.key()
    job = make_import(w.org)
    make_record(job, api_key=key, project=key.project, caller=key.caller,
                environment=key.environment, cost=str(row.monthly_budget))
    reconcile_import(org=w.org, job=job)


def _collect(w, row=None, days=30):
    return row_evidence_collect(
        org=w.org, actor=w.people["owner"], row=row or w.make_row(S.EVIDENCE, evidence=False),
        kind="usage_row", title="Usage export", content={"note": "usage"},
        valid_until=timezone.localdate() + timedelta(days=days))


def _evidence_expiry(w, days_ahead):
    from approvals.evidence_expiry import evidence_expiry_scan

    row = w.make_row(evidence=False)
    attach_required_evidence(row, w.people)
    _collect(w, row, days=10)
    PolicyRow.objects.filter(pk=row.pk).update(status=S.ACTIVE)
    with time_machine.travel(timezone.now() + timedelta(days=days_ahead), tick=False):
        evidence_expiry_scan(org=w.org)


def _pack(w):
    row = w.make_row(S.ACTIVE)
    pack = pack_request(org=w.org, actor=w.people["owner"], row=row)
    pack_build(org=w.org, pack_id=pack.pk)


def _endpoint(w):
    # A loopback address (allowed by the test): nothing resolves names on this machine,
    # and the delivery itself is not this test's business (tests/test_webhooks.py).
    endpoint, _ = webhooks.endpoint_create(org=w.org, actor=w.people["admin"],
                                           url="http://127.0.0.1:9/in")
    return endpoint


def _expire_row(w):
    row = w.make_row(S.RENEWAL_DUE)
    approvals.row_expire(org=w.org, row=row, today=row.renewal_date + timedelta(days=400))


PRODUCERS = {
    "member.joined": _join_by_invitation,
    "member.left": _leave,
    "member.removed": _remove,
    "member.role_changed": _role_change,
    "security.policy_changed": lambda w: orgs.security_policy_update(
        org=w.org, actor=w.people["owner"], mfa_required=True),
    "key.created": lambda w: w.key(),
    "key.rotated": lambda w: keys.key_rotate(org=w.org, actor=w.people["owner"],
                                             key=w.key()[0], overlap_seconds=0),
    "key.revoked": lambda w: keys.key_revoke(org=w.org, actor=w.people["owner"],
                                             key=w.key()[0], reason="Done with it"),
    "key.leaked": _leak,
    "key.expired": _expire_key,
    "usage.imported": lambda w: run_import(w.org, w.people["owner"],
                                           example("generic-usage.csv")),
    "usage.threshold_crossed": _threshold,
    "billing.imported": lambda w: run_import(w.org, w.people["owner"],
                                             example("generic-billing.csv"), kind="billing"),
    "approval.submitted": lambda w: approvals.row_submit(
        org=w.org, actor=w.people["requester"], row=w.make_row()),
    "approval.signed": lambda w: sign(w.org, w.make_row(S.IN_REVIEW), w.people,
                                      SignOff.Role.SECURITY),
    "approval.renewal_due": lambda w: approvals.row_mark_renewal_due(
        org=w.org, actor=w.people["admin"], row=w.make_row(S.ACTIVE)),
    "approval.expired": _expire_row,
    "catalog.imported": lambda w: catalog_import(
        org=w.org, actor=w.people["admin"], data=SLICE_NEW.read_bytes(), format="litellm",
        source_ref=SLICE_NEW.name),
    "finding.raised": lambda w: finding_raise(org=w.org, kind="unowned_calls",
                                              dedupe_key="t", title="Calls nobody owns"),
    "evidence.collected": _collect,
    "evidence.accepted": lambda w: evidence_item_review(
        org=w.org, actor=w.people["security"], item=_collect(w).item, decision="accepted"),
    "evidence.expiring": lambda w: _evidence_expiry(w, 9),
    "evidence.expired": lambda w: _evidence_expiry(w, 11),
    "evidence.pack_built": _pack,
    "webhook.disabled": lambda w: webhooks.endpoint_set_enabled(
        org=w.org, actor=w.people["admin"], endpoint=_endpoint(w), enabled=False,
        reason="Paused"),
    "webhook.test": lambda w: webhooks.endpoint_send_test(
        org=w.org, actor=w.people["admin"], endpoint=_endpoint(w)),
}


def test_the_offer_is_one_source_and_every_offered_kind_has_a_producer():
    assert set(OFFERED) == {*CATEGORIES, "webhook"}
    assert set(PRODUCERS) == set(ALL_KINDS)
    offered = dict(EndpointForm().fields["event_types"].choices)
    assert offered["member"] == "member — members joining, leaving, removed, role changes"


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_offered_kind_is_emitted_by_its_service(org_a, people, make_row,  # noqa: F811
                                                      production, caller_a, kind,  # noqa: F811
                                                      loopback_allowed):
    world = World(org_a, people, make_row, production, caller_a)
    PRODUCERS[kind](world)
    assert NotificationEvent.objects.for_org(org_a).filter(kind=kind).exists(), \
        sorted(set(NotificationEvent.objects.for_org(org_a).values_list("kind", flat=True)))


@pytest.mark.django_db
def test_a_just_in_time_sso_join_is_a_member_joined_event(org_a, people):  # noqa: F811
    _join_by_sso(World(org_a, people, None, None, None))
    event = NotificationEvent.objects.for_org(org_a).get(kind="member.joined")
    assert event.payload["email"] == "jit@acme.test"
    assert event.payload["via"].startswith("sso:")
