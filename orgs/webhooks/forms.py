from django import forms

from orgs.events import CATEGORIES
from orgs.forms import StyledForm

CATEGORY_HELP = {
    "member": "members joining, leaving, role changes",
    "security": "security policy changes, failed sign-ins",
    "key": "team API keys created, rotated, revoked, leaked, expired",
    "usage": "usage imports and quota thresholds",
    "billing": "billing rows and budget alerts",
    "approval": "approval transitions, sign-offs, renewals due, expiries",
    "catalog": "catalog imports and changes",
    "finding": "findings raised: reconciliation, catalog changes, expired evidence",
    "evidence": "evidence collected, reviewed, expiring and expired; evidence packs built",
    "webhook": "endpoints disabled after failures, test events",
}


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
