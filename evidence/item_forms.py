"""The filter form of the org-wide evidence list."""

from django import forms

from evidence.models import EvidenceItem
from orgs.forms import StyledForm

STATE_CHOICES = [("", "Any state"), ("pending", "Pending review"), ("accepted", "Accepted"),
                 ("rejected", "Rejected"), ("expired", "Expired")]


class EvidenceFilterForm(StyledForm):
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"),
                                                      *EvidenceItem.Kind.choices])
    state = forms.ChoiceField(required=False, choices=STATE_CHOICES)

    def filters(self) -> dict:
        """The selector's keyword arguments; an invalid choice filters nothing."""
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}
