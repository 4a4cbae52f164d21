"""Talking to identity providers while an admin configures SSO (DNS: orgs/sso/domain_dns.py).

Every failure becomes IdPError with a sentence for the form (and the audit log), naming
the field it belongs to.
"""

from dataclasses import dataclass

import requests
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

TIMEOUT = 5  # seconds; an admin is waiting on the form


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
        response = requests.get(url, timeout=TIMEOUT)
        response.raise_for_status()
        config = response.json()
    except requests.RequestException as exc:
        raise IdPError("issuer_url", f"Could not reach the discovery document at {url} "
                                     f"({type(exc).__name__}). Check the issuer URL and that "
                                     "the IdP is up.") from None
    except ValueError:
        raise IdPError("issuer_url", f"{url} did not return a JSON discovery document.") \
            from None
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
        try:
            response = requests.get(url, timeout=TIMEOUT)
            response.raise_for_status()
            xml = response.text
        except requests.RequestException as exc:
            raise IdPError(field, f"Could not fetch the IdP metadata from {url} "
                                  f"({type(exc).__name__}).") from None
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml, entity_id=entity_id or None)
    except Exception as exc:  # lxml and the parser raise many types for bad XML
        raise IdPError(field, "The IdP metadata is not valid SAML metadata XML "
                              f"({str(exc)[:120] or type(exc).__name__}).") from None
    idp = parsed.get("idp") or {}
    sso_url = (idp.get("singleSignOnService") or {}).get("url", "")
    cert = idp.get("x509cert") or next(iter((idp.get("x509certMulti") or {}).get(
        "signing", [])), "")
    if not (idp.get("entityId") and sso_url and cert):
        raise IdPError(field, "The IdP metadata lacks an entity id, a single sign-on URL or "
                              "a signing certificate.")
    return SAMLMetadata(entity_id=idp["entityId"], sso_url=sso_url, x509cert=cert)
