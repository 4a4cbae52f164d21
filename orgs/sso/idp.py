"""Talking to identity providers while an admin configures SSO (DNS: orgs/sso/domain_dns.py).

Every failure becomes IdPError with a sentence for the form (and the audit log), naming
the field it belongs to. Discovery and metadata are fetched through orgs/outbound.py
(public addresses only, every redirect hop checked, time and size capped), and no error
repeats what the IdP's URL answered: a form must not become a way to read a private page.
"""

from dataclasses import dataclass

from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from orgs import outbound

TIMEOUT = 5  # seconds for the whole fetch, redirects included; an admin is waiting
MAX_BYTES = 1 << 20  # a discovery document is a few KB
MAX_METADATA_BYTES = 5 << 20  # one IdP's SAML metadata, certificates included
REDIRECTS = 3


class IdPError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def discovery_url(issuer: str) -> str:
    if "/.well-known/" in issuer:
        return issuer
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def oidc_discovery(issuer: str) -> dict:
    """Fetch and sanity-check the issuer's discovery document."""
    url = discovery_url(issuer)
    try:
        response = outbound.fetch("GET", url, timeout=TIMEOUT, max_bytes=MAX_BYTES,
                                  max_redirects=REDIRECTS,
                                  headers={"Accept": "application/json"})
    except outbound.OutboundError as exc:
        raise IdPError("issuer_url", f"Could not reach the discovery document at {url}: "
                                     f"{exc} Check the issuer URL and that the IdP is up."
                       ) from None
    if response.status != 200:
        raise IdPError("issuer_url", f"Could not reach the discovery document at {url}: it "
                                     f"answered HTTP {response.status}.")
    try:
        config = response.json()
    except ValueError:
        config = None
    if not isinstance(config, dict):
        raise IdPError("issuer_url", f"{url} did not return a JSON discovery document.")
    missing = [k for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
               if not config.get(k)]
    if missing:
        raise IdPError("issuer_url", f"The discovery document at {url} lacks "
                                     f"{', '.join(missing)}.")
    return config


@dataclass
class SAMLMetadata:
    entity_id: str
    sso_url: str
    x509cert: str


def saml_metadata(*, url: str = "", xml: str = "", entity_id: str = "") -> SAMLMetadata:
    """Parse IdP metadata, pasted or fetched from url: entity id, SSO URL, signing cert."""
    field = "idp_metadata_xml" if xml.strip() else "idp_metadata_url"
    if not xml.strip():
        if not url:
            raise IdPError("idp_metadata_url", "Give the IdP metadata URL or paste its XML.")
        xml = _fetch_metadata(url)
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml, entity_id=entity_id or None)
    except Exception as exc:  # lxml and the parser raise many types for bad XML
        # Only the exception's type: the parser's text can quote the document it read.
        raise IdPError(field, "The IdP metadata is not valid SAML metadata XML "
                              f"({type(exc).__name__}).") from None
    idp = parsed.get("idp") or {}
    sso_url = (idp.get("singleSignOnService") or {}).get("url", "")
    cert = idp.get("x509cert") or next(iter((idp.get("x509certMulti") or {}).get(
        "signing", [])), "")
    if not (idp.get("entityId") and sso_url and cert):
        raise IdPError(field, "The IdP metadata lacks an entity id, a single sign-on URL or "
                              "a signing certificate.")
    return SAMLMetadata(entity_id=idp["entityId"], sso_url=sso_url, x509cert=cert)


def _fetch_metadata(url: str) -> str:
    try:
        response = outbound.fetch("GET", url, timeout=TIMEOUT, max_bytes=MAX_METADATA_BYTES,
                                  max_redirects=REDIRECTS)
    except outbound.OutboundError as exc:
        raise IdPError("idp_metadata_url", f"Could not fetch the IdP metadata from {url}: "
                                           f"{exc}") from None
    if response.status != 200:
        raise IdPError("idp_metadata_url", f"Could not fetch the IdP metadata from {url}: "
                                           f"it answered HTTP {response.status}.")
    return response.text
