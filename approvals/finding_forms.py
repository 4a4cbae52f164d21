"""Forms of the findings pages: the list's filters, and the resolve and reassign actions.
Choices come from the org's own projects and members; the services decide who may act."""

from django import forms

from approvals.models import Finding
from approvals.selectors import participant_list
from orgs.forms import StyledForm
from projects.models import Project

STATES = [("unresolved", "Open or acknowledged"), *Finding.State.choices, ("all", "All")]


class FindingFilterForm(StyledForm):
    state = forms.ChoiceField(choices=STATES, required=False)
    kind = forms.ChoiceField(choices=[("", "Any kind"), *Finding.Kind.choices], required=False)
    project = forms.ModelChoiceField(queryset=None, to_field_name="public_id", required=False,
                                     empty_label="Any project")
    row = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = Project.objects.for_org(org).order_by("name")


class FindingResolveForm(StyledForm):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                           label="Resolution note", help_text="What was done about it, or why "
                           "it needs nothing. Kept in the audit log.")


class FindingAssignForm(StyledForm):
    owner = forms.ModelChoiceField(queryset=None, to_field_name="public_id", label="New owner")

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = participant_list(org=org)
        self.fields["owner"].label_from_instance = lambda m: (
            f"{m.user.email} ({m.get_role_display()})")
