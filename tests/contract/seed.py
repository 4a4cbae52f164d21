"""The data the OpenAPI contract run works on: the demo organization (rows in every state,
sign-offs, evidence, keys, two catalog snapshots, usage, billing and the findings they
raise), plus one of every other object the API serves (invitation, domain, SSO
connection, deny rule, workload identity, webhook endpoint with a delivery, catalog and
usage import jobs), an owner's personal token and a team key for the decision service.

`seed()` returns the ids the schemathesis hook puts into path parameters (tests/contract/
hooks.py), by path template. Path parameters of destructive operations point at spare
objects only (a spare personal token, members other than the owner), so that no
operation can take away what the rest of the run needs (see `pools`).
"""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import override_settings

from approvals.management.commands.seed_demo import SLICES
from approvals.management.commands.seed_demo import Command as SeedDemo
from approvals.models import DenyRule, Finding, PolicyRow
from evidence.catalog import import_job_create
from evidence.models import CatalogEntry, CatalogSnapshot, ImportJob, UsageImport
from evidence.usage.services import usage_import_create
from orgs.models import Invitation, Membership, Organization, PersonalToken
from orgs.roles import Role
from orgs.services import invitation_create, personal_token_create
from orgs.sso.models import SSOConnection, VerifiedDomain
from orgs.sso.services import domain_add
from orgs.webhooks.models import WebhookDelivery, WebhookEndpoint
from orgs.webhooks.services import endpoint_create, endpoint_send_test
from projects.keys import key_create
from projects.models import ApiKey, Caller, Environment, Project, WorkloadIdentity
from projects.workload import identity_create

ORG = "acme"
ORG_API = "/api/v1/o/{org_slug}/"
USAGE_CSV = b"id,occurred_at,provider,model,action,requests,cost_usd\n" \
            b"contract-1,2026-11-02T10:00:00Z,openai,gpt-4o,chat,1,0.50\n"


class _Demo(SeedDemo):
    """seed_demo with the catalog slices the tests use (the full catalogs take a minute)."""

    def _catalogs(self, org, owner):
        from pathlib import Path

        from django.conf import settings

        from evidence.catalog import catalog_import
        data = Path(settings.BASE_DIR) / "tests" / "evidence" / "data"
        for name in SLICES:
            catalog_import(org=org, actor=owner, data=(data / name).read_bytes(),
                           format="litellm", source_ref=name)


def _extras(org, owner):
    """One of each object the demo does not make, each through its service."""
    project = org.projects.get(slug="support-assistant")
    env = project.environments.get(name="staging")
    ci = project.callers.get(name="support-eval-ci")
    invitation_create(org=org, actor=owner, email="new.hire@acme.example", role=Role.MEMBER)
    domain_add(org=org, actor=owner, domain="acme.example")
    SSOConnection.objects.create(
        org=org, kind=SSOConnection.Kind.OIDC, name="Acme IdP", provider_id="acme-oidc",
        issuer_url="https://idp.acme.example", client_id="governance")
    identity_create(org=org, actor=owner, project=project, environment=env, caller=ci,
                    name="CI runner", issuer="https://ci.acme.example",
                    audience="governance", pattern="repo:acme/support:*", match="glob")
    with override_settings(OUTBOUND_ALLOWED_NETWORKS=["127.0.0.1/32"]):
        # Port 9 on loopback is closed: the delivery fails at once and stays here.
        endpoint, _ = endpoint_create(org=org, actor=owner, url="http://127.0.0.1:9/hook",
                                      description="Contract test receiver")
    endpoint_send_test(org=org, actor=owner, endpoint=endpoint)
    import_job_create(org=org, actor=owner, format="generic", queue=False,
                      upload=SimpleUploadedFile("models.csv", b"platform,model_id\n"))
    usage_import_create(org=org, actor=owner, kind="usage", source="api",
                        upload=SimpleUploadedFile("usage.csv", USAGE_CSV))
    from approvals.services import deny_rule_create
    deny_rule_create(org=org, actor=owner, reason="No image generation with customer data.",
                     owner=owner, action="image", data_class="customer_support_text")


def seed() -> dict:
    """Create the org and return {"org_slug", "token", "team_key", "pools"}."""
    call_command("check")  # cheap, and makes sure the app registry is ready
    _Demo().handle()
    org = Organization.objects.get(slug=ORG)
    owner = Membership.objects.for_org(org).get(role=Role.OWNER)
    _extras(org, owner)
    _, token = personal_token_create(user=owner.user, name="contract test")
    personal_token_create(user=owner.user, name="spare, for DELETE")
    project = org.projects.get(slug="support-assistant")
    _, team_key = key_create(org=org, actor=owner, project=project,
                             environment=project.environments.get(name="production"),
                             caller=project.callers.get(name="support-api"),
                             name="decision service")
    return {"org_slug": ORG, "token": token, "team_key": team_key,
            "pools": pools(org, owner)}


def _ids(queryset, name="public_id"):
    return [{name: str(v)} for v in queryset.values_list("public_id", flat=True)]


def _nested(queryset, parent, child):
    return [{"public_id": str(p), child: str(c)}
            for p, c in queryset.values_list(parent, "public_id")]


def pools(org, owner) -> dict:
    """Path template -> the path parameter sets the hook picks from."""
    q = {model: model.objects.for_org(org) for model in (
        Membership, Invitation, VerifiedDomain, SSOConnection, Project, Caller, Environment,
        WorkloadIdentity, ApiKey, CatalogSnapshot, ImportJob, UsageImport, PolicyRow,
        DenyRule, Finding, WebhookEndpoint, WebhookDelivery)}
    newest = CatalogSnapshot.objects.for_org(org).order_by("-snapshot_date").first()
    others = q[Membership].exclude(pk=owner.pk)
    spare_tokens = PersonalToken.objects.filter(user=owner.user, name__startswith="spare")
    rows = _ids(q[PolicyRow])
    return {
        "/api/v1/tokens/{public_id}/": _ids(spare_tokens),
        ORG_API + "members/{public_id}/": _ids(others),
        ORG_API + "invitations/{public_id}/": _ids(q[Invitation]),
        ORG_API + "domains/{public_id}/": _ids(q[VerifiedDomain]),
        ORG_API + "domains/{public_id}/verify/": _ids(q[VerifiedDomain]),
        ORG_API + "sso/connections/{public_id}/": _ids(q[SSOConnection]),
        ORG_API + "projects/{public_id}/": _ids(q[Project]),
        ORG_API + "projects/{public_id}/environments/": _ids(q[Project]),
        ORG_API + "projects/{public_id}/callers/": _ids(q[Project]),
        ORG_API + "projects/{public_id}/roles/": _ids(q[Project]),
        ORG_API + "projects/{public_id}/workload-identities/": _ids(q[Project]),
        ORG_API + "projects/{public_id}/callers/{caller_id}/":
            _nested(q[Caller], "project__public_id", "caller_id"),
        ORG_API + "projects/{public_id}/workload-identities/{identity_id}/":
            _nested(q[WorkloadIdentity], "project__public_id", "identity_id"),
        ORG_API + "keys/{public_id}/": _ids(q[ApiKey]),
        ORG_API + "keys/{public_id}/rotate/": _ids(q[ApiKey]),
        ORG_API + "keys/{public_id}/revoke/": _ids(q[ApiKey]),
        ORG_API + "catalog/snapshots/{public_id}/": _ids(q[CatalogSnapshot]),
        ORG_API + "catalog/models/{public_id}/":
            _ids(CatalogEntry.objects.for_org(org).filter(snapshot=newest)[:20]),
        ORG_API + "catalog/imports/{public_id}/": _ids(q[ImportJob]),
        ORG_API + "usage/imports/{public_id}/": _ids(q[UsageImport]),
        ORG_API + "rows/{public_id}/": rows,
        ORG_API + "rows/{public_id}/signoffs/": rows,
        ORG_API + "rows/{public_id}/{verb}/": rows,
        ORG_API + "deny-rules/{public_id}/deactivate/": _ids(q[DenyRule]),
        ORG_API + "findings/{public_id}/{verb}/": _ids(q[Finding]),
        ORG_API + "webhooks/{public_id}/": _ids(q[WebhookEndpoint]),
        ORG_API + "webhooks/{public_id}/{verb}/": _ids(q[WebhookEndpoint]),
        ORG_API + "webhooks/{public_id}/deliveries/{delivery_id}/redeliver/":
            _nested(q[WebhookDelivery], "endpoint__public_id", "delivery_id"),
    }
