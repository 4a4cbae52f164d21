"""Forms of the matrix pages: the matrix filters (GET) and the deny rule forms. Choices
come from selectors narrowed to the org, so another org's objects are never offered or
accepted. Forms validate shape; the services decide what is allowed."""

from django import forms

from approvals.models import Action, DataClass
from approvals.selectors import MATRIX_SORTS
from approvals.workflow import Status
from orgs import selectors as org_selectors
from orgs.forms import StyledForm
from projects import selectors as project_selectors


def _choice(queryset, label, **kwargs):
    field = forms.ModelChoiceField(queryset=queryset, to_field_name="public_id", **kwargs)
    field.label_from_instance = label
    return field


def _in_project(obj):
    return f"{obj.project.name} / {obj.name}"


def _email(membership):
    return membership.user.email


SORT_CHOICES = [(key, key) for key in MATRIX_SORTS] + [(f"-{k}", k) for k in MATRIX_SORTS]


class MatrixFilterForm(forms.Form):
    """The matrix's filters and sort (GET), shared by the page and both exports."""

    project = _choice(None, str, required=False, empty_label="All projects")
    environment = forms.CharField(required=False, max_length=50,
                                  help_text="A name or a tier, e.g. production.")
    caller = _choice(None, _in_project, required=False, empty_label="All callers")
    model = forms.CharField(required=False, max_length=300,
                            help_text="Part of a platform or model id, or platform/model.")
    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *Action.choices])
    data_class = forms.ChoiceField(required=False,
                                   choices=[("", "Any data class"), *DataClass.choices])
    status = forms.MultipleChoiceField(required=False, choices=Status.choices)
    owner = _choice(None, _email, required=False, empty_label="Any owner")
    renewal_within = forms.IntegerField(required=False, min_value=0, max_value=3650,
                                        label="Renewal within (days)")
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES,
                             widget=forms.HiddenInput)

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = project_selectors.project_list(org=org)
        self.fields["caller"].queryset = project_selectors.caller_list_for_org(org=org)
        self.fields["owner"].queryset = org_selectors.membership_list(org=org)
        self.fields["status"].widget.attrs["size"] = 4
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", f"{css} {css}-sm")

    def filters(self) -> dict:
        """Keyword filters for selectors.matrix_list: the fields that parsed (an invalid
        one is shown with its error and left out)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {k: v for k, v in data.items() if v not in (None, "", [])}


class DenyRuleForm(StyledForm):
    platform = forms.CharField(required=False, max_length=64,
                               help_text="Narrows a model to one platform, e.g. azure; alone, "
                                         "denies every model of that platform. Empty: the "
                                         "model on every platform. Case does not matter.")
    model_id = forms.CharField(label="Model id", required=False, max_length=300,
                               help_text="The catalog model id, e.g. gpt-4o-mini, or a "
                                         "qualified one, e.g. azure/gpt-4o. Case does not "
                                         "matter. A rule that names nothing in the current "
                                         "catalog is added with a warning.")
    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *Action.choices])
    data_class = forms.ChoiceField(required=False,
                                   choices=[("", "Any data class"), *DataClass.choices])
    project = _choice(None, str, required=False, empty_label="Every project")
    environment = _choice(None, _in_project, required=False, empty_label="Every environment")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
                             help_text="Why this is denied; shown with every denied call.")
    owner = _choice(None, _email, empty_label="Choose a member…",
                    help_text="Who answers for this rule and decides when to lift it.")

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = project_selectors.project_list(org=org)
        self.fields["environment"].queryset = project_selectors.environment_list_for_org(
            org=org)
        self.fields["owner"].queryset = org_selectors.membership_list(org=org)


class DenyRuleDeactivateForm(StyledForm):
    reason = forms.CharField(max_length=500, widget=forms.TextInput,
                             help_text="Kept in the audit log, e.g. 'vendor fixed the terms'.")
