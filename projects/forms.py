"""HTML forms for projects. Relational choices come from selectors narrowed to `org`."""

from django import forms

from orgs import selectors as org_selectors
from orgs.forms import StyledForm
from orgs.models import SLUG_RULE
from projects.models import Caller, Environment
from projects.roles import ProjectRole

NO_ROLE = "none"


def _member_field(**kwargs):
    field = forms.ModelChoiceField(queryset=None, to_field_name="public_id",
                                   empty_label="Choose a member…", **kwargs)
    field.label_from_instance = lambda m: f"{m.user.email} ({m.get_role_display()})"
    return field


class ProjectForm(StyledForm):
    name = forms.CharField(max_length=100, help_text="A name people recognise, e.g. "
                                                     "'Support assistant'.")
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the project does with AI models, and for whom.")


class ProjectCreateForm(ProjectForm):
    slug = forms.CharField(
        label="Short name", max_length=50, validators=[SLUG_RULE],
        help_text="Used in key prefixes and URLs; unique in this organization and fixed once "
        "set. Lowercase letters, digits and hyphens, e.g. 'support-assistant'.",
    )
    field_order = ["name", "slug", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The layout's inline script suggests a short name from the name.
        self.fields["name"].widget.attrs["data-slug-source"] = "id_slug"

    def clean_slug(self):
        return self.cleaned_data["slug"].strip().lower()


class EnvironmentForm(StyledForm):
    name = forms.CharField(
        max_length=50, validators=[SLUG_RULE],
        help_text="Unique within the project, e.g. 'eu-production'. Environments never share "
        "keys, quotas or approval rows.")
    tier = forms.ChoiceField(
        choices=Environment.Tier.choices, initial=Environment.Tier.DEVELOPMENT,
        help_text="Staging and production keys need a project admin.")


class CallerForm(StyledForm):
    name = forms.CharField(max_length=100,
                           help_text="Unique within the project, e.g. 'support-api'.")
    kind = forms.ChoiceField(choices=Caller.Kind.choices,
                             help_text="What makes the calls. Decides which rules apply.")
    owner = _member_field(help_text="The member answerable for this caller's traffic.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text="What the caller does and where it runs.")

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = org_selectors.membership_list(org=org)

    @classmethod
    def initial_for(cls, caller) -> dict:
        return {"name": caller.name, "kind": caller.kind, "owner": caller.owner.public_id,
                "description": caller.description}


class ProjectRoleForm(StyledForm):
    membership = _member_field(label="Member", help_text="Any member of the organization.")
    role = forms.ChoiceField(
        label="Project role", choices=[*ProjectRole.choices, (NO_ROLE, "No project role")],
        help_text="Project admin: roles, environments, callers and production keys. "
        "Developer: development keys and requests. Viewer: reads the project.")

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["membership"].queryset = org_selectors.membership_list(org=org)

    def role_or_none(self) -> str | None:
        role = self.cleaned_data["role"]
        return None if role == NO_ROLE else role
