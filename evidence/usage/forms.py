"""Forms of the usage pages: the record filters (GET) and the upload form."""

from django import forms

from evidence.models import UsageImport, UsageSource
from evidence.usage import services
from orgs.forms import StyledForm
from projects.selectors import project_list


class UsageFilterForm(StyledForm):
    """Filters of the recent usage lines; every field is optional."""

    project = forms.ModelChoiceField(queryset=None, required=False, to_field_name="public_id",
                                     empty_label="Any project")
    model = forms.CharField(required=False, max_length=100, help_text="Part of a model id.")
    source = forms.ChoiceField(required=False, choices=[("", "Any source"),
                                                        *UsageSource.choices])

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = project_list(org=org)


SOURCE_HELP = ("OpenAI: Usage API completions buckets (JSON, or CSV of them) or Costs API "
               "buckets. Anthropic: Admin API messages usage report or cost report (JSON). "
               "LiteLLM: spend logs (JSON or CSV). Generic: the shape in "
               "docs/usage-formats.md (JSON or CSV).")


class UsageUploadForm(StyledForm):
    kind = forms.ChoiceField(choices=UsageImport.Kind.choices, initial="usage",
                             help_text="Usage lines (requests, tokens, cost) or billing "
                             "lines (what an invoice or cost report charged).")
    source = forms.ChoiceField(choices=[(UsageSource.OPENAI, "OpenAI"),
                                        (UsageSource.ANTHROPIC, "Anthropic"),
                                        (UsageSource.LITELLM, "LiteLLM spend logs"),
                                        (UsageSource.API, "Generic shape")],
                               help_text=SOURCE_HELP)
    file = forms.FileField()  # its hint names services.MAX_UPLOAD_BYTES (__init__)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read at render time from the limit the service enforces, so they never differ.
        self.fields["file"].help_text = (
            f"JSON or CSV, up to {services.MAX_UPLOAD_BYTES // 2**20} MB. Every line is "
            "checked first: one bad line and nothing is imported. Lines imported before are "
            "skipped.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > services.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {services.MAX_UPLOAD_BYTES // 2**20} MB; split it.")
        return upload
