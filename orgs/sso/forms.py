"""Forms for SSO connections, verified domains, the security policy and "Continue with SSO".

Mappings are typed one per line as `name = value`, which is easier to get right in a
browser than JSON; the API takes JSON objects.
"""

from django import forms

from orgs.forms import StyledForm
from orgs.policy import POLICY_FIELDS, SecurityPolicy
from orgs.roles import RANK, Role
from orgs.sso.models import PROVIDER_ID_RULE, SSOConnection

SSO_ROLES = [(r.value, r.label) for r in Role if RANK[r] <= RANK[Role.ADMIN]]


def parse_lines(text: str, *, field: str) -> dict:
    result = {}
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise forms.ValidationError(f"Line {number}: write name = value.")
        result[key.strip()] = value.strip()
    return result


def format_lines(mapping: dict) -> str:
    return "\n".join(f"{k} = {v}" for k, v in (mapping or {}).items())


class SSOConnectionForm(StyledForm):
    name = forms.CharField(max_length=100, help_text="Shown to people choosing how to sign "
                                                     "in, e.g. “Acme Okta”.")
    provider_id = forms.CharField(
        label="Connection id", max_length=50, validators=[PROVIDER_ID_RULE],
        help_text="Part of the redirect and ACS URLs you give the identity provider, e.g. "
        "acme-okta. It cannot be changed later.")
    enabled = forms.BooleanField(required=False, initial=True)
    default_role = forms.ChoiceField(
        choices=SSO_ROLES, initial=Role.MEMBER,
        help_text="The role given at a person's first SSO sign-in. Never owner.")
    group_attribute = forms.CharField(
        label="Group claim or attribute", required=False, max_length=200,
        help_text="The claim (OIDC) or attribute (SAML) listing the person's groups, e.g. "
        "groups. Leave empty for no group mapping.")
    group_roles = forms.CharField(
        label="Group → role mapping", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: <code>group = role</code>, roles: admin, security, finance, "
        "member, auditor. Applied at every sign-in; the highest match wins.")
    # OpenID Connect
    issuer_url = forms.URLField(
        label="Issuer URL", required=False, assume_scheme="https",
        help_text="We read &lt;issuer&gt;/.well-known/openid-configuration.")
    client_id = forms.CharField(label="Client id", required=False, max_length=255)
    client_secret = forms.CharField(
        label="Client secret", required=False, widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted and never shown again. Leave empty to keep the current "
        "one.")
    scopes = forms.CharField(required=False, max_length=255, initial="openid profile email",
                             help_text="Space-separated. Add the scope that releases groups "
                             "if your IdP needs one.")
    uid_claim = forms.CharField(label="User id claim", required=False, max_length=100,
                                help_text="Default sub.")
    # SAML 2.0
    idp_metadata_url = forms.URLField(label="IdP metadata URL", required=False,
                                      assume_scheme="https")
    idp_metadata_xml = forms.CharField(
        label="IdP metadata XML", required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Paste the XML instead of a URL if the IdP gives you a file.")
    idp_entity_id = forms.CharField(label="IdP entity id", required=False, max_length=500,
                                    help_text="Read from the metadata when empty.")
    attribute_mapping = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: <code>field = attribute name</code>; fields: uid, email, "
        "email_verified, first_name, last_name. Defaults to the same names.")

    OIDC_ONLY = ("issuer_url", "client_id", "client_secret", "scopes", "uid_claim")
    SAML_ONLY = ("idp_metadata_url", "idp_metadata_xml", "idp_entity_id", "attribute_mapping")

    def __init__(self, *args, kind, connection=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        for name in self.SAML_ONLY if kind == SSOConnection.Kind.OIDC else self.OIDC_ONLY:
            del self.fields[name]
        if connection is not None:
            del self.fields["provider_id"]

    @classmethod
    def initial_for(cls, conn: SSOConnection) -> dict:
        return {
            "name": conn.name, "enabled": conn.enabled, "default_role": conn.default_role,
            "group_attribute": conn.group_attribute,
            "group_roles": format_lines(conn.group_roles), "issuer_url": conn.issuer_url,
            "client_id": conn.client_id, "scopes": conn.scopes,
            "uid_claim": conn.claim_mapping.get("uid", ""),
            "idp_metadata_url": conn.idp_metadata_url,
            "idp_metadata_xml": conn.idp_metadata_xml, "idp_entity_id": conn.idp_entity_id,
            "attribute_mapping": format_lines(conn.attribute_mapping),
        }

    def clean_group_roles(self):
        return parse_lines(self.cleaned_data["group_roles"], field="group_roles")

    def clean_attribute_mapping(self):
        return parse_lines(self.cleaned_data["attribute_mapping"], field="attribute_mapping")

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("client_secret", None)
        if "uid_claim" in data:
            uid = data.pop("uid_claim")
            data["claim_mapping"] = {"uid": uid} if uid else {}
        return data


class DomainForm(StyledForm):
    domain = forms.CharField(max_length=253, help_text="An email domain of your people, e.g. "
                                                       "acme.com.")


class SecurityPolicyForm(forms.ModelForm):
    class Meta:
        model = SecurityPolicy
        fields = list(POLICY_FIELDS)
        labels = {"sso_required": "Require SSO", "mfa_required": "Require two-factor "
                  "authentication", "session_lifetime_minutes": "Session lifetime (minutes)",
                  "idle_timeout_minutes": "Idle timeout (minutes)",
                  "invitation_domains": "Allowed invitation domains",
                  "max_personal_token_days": "Longest personal API token (days)",
                  "max_api_key_days": "Longest team API key (days)"}
        widgets = {"invitation_domains": forms.TextInput()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            is_check = isinstance(field.widget, forms.CheckboxInput)
            field.widget.attrs.setdefault("class", "form-check-input" if is_check
                                          else "form-control")


class SSOStartForm(StyledForm):
    email = forms.EmailField(label="Work email", help_text="We send you to your "
                             "organization's identity provider.")
