"""The decision log page's filter form."""

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

from approvals.decisions.engine import MESSAGES
from orgs.forms import StyledForm

OUTCOMES = [("", "Allowed or denied"), ("allow", "Allowed"), ("deny", "Denied")]


class DecisionLogFilterForm(StyledForm):
    outcome = forms.ChoiceField(required=False, choices=OUTCOMES, label="Decision")
    reason = forms.ChoiceField(required=False, label="Reason code", choices=[
        ("", "Any reason")] + [(code, code) for code in MESSAGES])
    model = forms.CharField(required=False, max_length=300,
                            help_text="Part of the model id is enough.")
    row = forms.UUIDField(required=False, label="Row id", help_text="The row's public id.")
    since = forms.DateField(required=False, label="From",
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To (inclusive)",
                            widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The end date is before the start date.")
        return data

    def filters(self) -> dict:
        """Keyword arguments for decision_record_list; an invalid field is left out and
        shows its error, the valid ones still filter. Dates are whole days."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        tz = timezone.get_current_timezone()
        since, until, outcome = data.get("since"), data.get("until"), data.get("outcome")
        return {
            "allowed": {"allow": True, "deny": False}.get(outcome),
            "row": data.get("row"),
            "model": (data.get("model") or "").strip(),
            "reason": data.get("reason", ""),
            "since": datetime.combine(since, time.min, tz) if since else None,
            "until": datetime.combine(until + timedelta(days=1), time.min, tz) if until else None,
        }
