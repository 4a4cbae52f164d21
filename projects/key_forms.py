"""HTML forms for keys and workload identities. Choices come from selectors narrowed to the
org (and to one project once it is chosen), so another org's objects are never offered."""

from django import forms
from django.core.validators import MaxValueValidator

from orgs.forms import StyledForm
from orgs.services import security_policy_get
from projects import selectors
from projects.keys import OVERLAPS
from projects.models import WorkloadIdentity
from projects.selectors import KEY_STATUSES


def _choice(queryset, label, **kwargs):
    field = forms.ModelChoiceField(queryset=queryset, to_field_name="public_id", **kwargs)
    field.label_from_instance = label
    return field


def _in_project(obj):
    return f"{obj.project.name} / {obj.name}"


class KeyFilterForm(forms.Form):
    """The key list's filters (GET). Invalid values are simply not applied."""

    project = _choice(None, str, required=False, empty_label="All projects")
    environment = _choice(None, _in_project, required=False, empty_label="All environments")
    caller = _choice(None, _in_project, required=False, empty_label="All callers")
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *[
        (s, "Expiring within 14 days" if s == "expiring" else s.capitalize())
        for s in KEY_STATUSES]])

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = selectors.project_list(org=org)
        self.fields["environment"].queryset = selectors.environment_list_for_org(org=org)
        self.fields["caller"].queryset = selectors.caller_list_for_org(org=org)
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select form-select-sm"

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


class KeyCreateForm(StyledForm):
    project = _choice(None, str, empty_label="Choose a project…",
                      help_text="Keys never cross projects.")
    environment = _choice(None, _in_project, empty_label="Choose an environment…",
                          help_text="Developers may create development keys; staging and "
                          "production keys need a project admin.")
    caller = _choice(None, _in_project, empty_label="Choose a caller…",
                     help_text="The one service, job or integration that will use the key.")
    name = forms.CharField(max_length=100, required=False,
                           help_text="Defaults to the caller and environment, e.g. "
                           "'support-api production'.")
    expires_in_days = forms.IntegerField(label="Expires in (days)", min_value=1)

    def __init__(self, *args, org, project=None, **kwargs):
        super().__init__(*args, **kwargs)
        maximum = security_policy_get(org=org).max_api_key_days
        self.fields["expires_in_days"].validators.append(MaxValueValidator(maximum))
        self.fields["expires_in_days"].initial = maximum
        self.fields["expires_in_days"].help_text = (
            f"At most {maximum} days (the organization's security policy).")
        self.fields["expires_in_days"].widget.attrs["max"] = maximum
        self.fields["project"].queryset = selectors.project_list(org=org)
        environments = selectors.environment_list_for_org(org=org)
        callers = selectors.caller_list_for_org(org=org)
        if project is not None:  # narrowed once a project is chosen (htmx reloads the form)
            environments, callers = (environments.filter(project=project),
                                     callers.filter(project=project))
        self.fields["environment"].queryset = environments
        self.fields["caller"].queryset = callers


class KeyRotateForm(StyledForm):
    overlap_seconds = forms.TypedChoiceField(
        label="Overlap", coerce=int, choices=list(OVERLAPS.items()), initial=86400,
        help_text="How long the old secret keeps working, so you can deploy the new one.")


class KeyRevokeForm(StyledForm):
    reason = forms.CharField(max_length=500, widget=forms.TextInput,
                             help_text="Kept in the audit log, e.g. 'service retired'.")


class KeyLeakForm(StyledForm):
    secret = forms.CharField(
        label="Leaked secret", max_length=200,
        # Never echoed back into the page, even when the form has an error.
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="Paste the gvk_… secret you found. The key is revoked at once and security "
                  "is notified.")


class WorkloadIdentityForm(StyledForm):
    name = forms.CharField(max_length=100, help_text="e.g. 'GitHub Actions deploy'.")
    environment = _choice(None, lambda e: e.name, empty_label="Choose an environment…")
    caller = _choice(None, lambda c: c.name, empty_label="Choose a caller…")
    issuer = forms.URLField(max_length=300, assume_scheme="https",
                            help_text="The token's iss, e.g. "
                            "https://token.actions.githubusercontent.com")
    jwks_url = forms.URLField(label="JWKS URL", max_length=300, required=False,
                              assume_scheme="https",
                              help_text="Leave empty to use the issuer's OIDC discovery.")
    audience = forms.CharField(max_length=300, help_text="The aud the token must carry.")
    claim = forms.CharField(max_length=64, initial="sub", help_text="Usually sub.")
    match = forms.ChoiceField(choices=WorkloadIdentity.Match.choices)
    pattern = forms.CharField(max_length=300, help_text="e.g. "
                              "repo:acme/app:ref:refs/heads/main, or repo:acme/app:* with glob.")
    token_lifetime_seconds = forms.IntegerField(label="Credential lifetime (seconds)",
                                                min_value=60, max_value=3600, initial=900)

    def __init__(self, *args, org, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["environment"].queryset = selectors.environment_list(org=org,
                                                                         project=project)
        self.fields["caller"].queryset = selectors.caller_list(org=org, project=project)
