"""Reads for SSO: connections and domains of one org, and the URLs an IdP needs."""

from django.db.models import QuerySet
from django.urls import reverse

from orgs.scoping import get_for_org_or_404
from orgs.sso.models import SSOConnection, VerifiedDomain


def connection_list(*, org) -> QuerySet[SSOConnection]:
    return SSOConnection.objects.for_org(org).order_by("name")


def connection_get(*, org, public_id) -> SSOConnection:
    return get_for_org_or_404(SSOConnection, org, public_id=public_id)


def domain_list(*, org) -> QuerySet[VerifiedDomain]:
    return VerifiedDomain.objects.for_org(org).order_by("domain")


def domain_get(*, org, public_id) -> VerifiedDomain:
    return get_for_org_or_404(VerifiedDomain, org, public_id=public_id)


def enabled_connections_for_slug(slug: str) -> list[SSOConnection]:
    """The enabled connections of the org with this slug (public: the direct SSO link)."""
    return list(SSOConnection.objects.filter(org__slug=slug, enabled=True)
                .select_related("org").order_by("name"))


def connection_urls(request, conn: SSOConnection) -> dict:
    """What the admin copies into the IdP: absolute URLs on this site."""
    base = request.build_absolute_uri("/")[:-1]  # the host is checked by ALLOWED_HOSTS
    urls = {"login": base + reverse("orgs:sso_org", args=[conn.org.slug])}
    if conn.kind == SSOConnection.Kind.OIDC:
        urls["redirect"] = base + reverse("openid_connect_callback",
                                          kwargs={"provider_id": conn.provider_id})
    else:
        for name in ("acs", "metadata", "sls"):
            urls[name] = base + reverse(f"saml_{name}",
                                        kwargs={"organization_slug": conn.provider_id})
        urls["entity_id"] = urls["metadata"]
    return urls
