from django import forms

from orgs.events import CATEGORIES, OFFERED
from orgs.forms import StyledForm

# What each category promises, from the one offer (orgs/events.OFFERED).
CATEGORY_HELP = {category: ", ".join(kinds.values()) for category, kinds in OFFERED.items()}


class CheckboxList(forms.CheckboxSelectMultiple):
    """Bootstrap's class on each checkbox only; Django would put widget attrs on the
    wrapping div as well."""

    def create_option(self, *args, **kwargs):
        option = super().create_option(*args, **kwargs)
        option["attrs"]["class"] = "form-check-input"
        return option


class EndpointForm(StyledForm):
    url = forms.URLField(
        label="Endpoint URL", max_length=500, assume_scheme="https",
        help_text="We POST JSON here, signed per the Standard Webhooks specification.")
    description = forms.CharField(max_length=200, required=False,
                                  help_text="What receives these events, e.g. 'SIEM ingest'.")
    event_types = forms.MultipleChoiceField(
        required=False, label="Events",
        choices=[(c, f"{c} — {CATEGORY_HELP[c]}") for c in (*CATEGORIES, "webhook")],
        widget=CheckboxList(attrs={"class": "app-checklist"}),
        help_text="Leave all unticked to receive every event.")
