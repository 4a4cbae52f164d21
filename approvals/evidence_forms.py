"""Forms of a row's evidence section: attach an item, review one. Forms check shape; the
services (evidence/items.py, approvals/services/evidence.py) decide type, size, hash and
who may act."""

import json

from django import forms

from approvals.models import Action
from evidence.models import EvidenceItem
from orgs.forms import StyledForm


class EvidenceAttachForm(StyledForm):
    """Collect one item and attach it to the row: a file, a URL or structured JSON."""

    kind = forms.ChoiceField(choices=EvidenceItem.Kind.choices)
    title = forms.CharField(max_length=200, help_text="What it is, e.g. 'Smoke test of "
                            "streaming chat, synthetic data'.")
    file = forms.FileField(required=False, help_text="PDF, image, text, CSV, JSON, Markdown, "
                           "ZIP or HTML.")
    url = forms.URLField(label="URL", required=False, max_length=500, assume_scheme="https",
                         help_text="Or a link to the artifact (a ticket, a console export).")
    content = forms.CharField(label="Structured content (JSON)", required=False,
                              widget=forms.Textarea(attrs={"rows": 3}),
                              help_text='Or a JSON object, e.g. {"status": 200, '
                              '"latency_ms": 412}.')
    action = forms.ChoiceField(required=False, help_text="For a smoke test: the action it "
                               "exercised.")
    passed = forms.BooleanField(required=False, label="The smoke test passed",
                                help_text="Only a passed smoke test closes its action.")
    valid_until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                  help_text="After this day the item counts as expired.")
    supersedes = forms.ChoiceField(label="Replaces", required=False,
                                   help_text="A new revision of an attached item; the old "
                                   "one stays on record.")

    def __init__(self, *args, items=(), actions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "None")] + [(a, Action(a).label)
                                                          for a in actions]
        self._items = {str(i.public_id): i for i in items if not i.is_superseded}
        self.fields["supersedes"].choices = [("", "Nothing (a new item)")] + [
            (key, str(item)) for key, item in self._items.items()]

    def clean_content(self):
        raw = self.cleaned_data["content"].strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError(f"This is not valid JSON: {exc}.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Give a JSON object ({...}).")
        return value

    def clean_supersedes(self):
        key = self.cleaned_data["supersedes"]
        return self._items.get(key) if key else None

    def item_fields(self) -> dict:
        """The keyword arguments of evidence_item_create."""
        data = dict(self.cleaned_data)
        content = data.pop("content")
        if data.pop("passed") or data["kind"] == EvidenceItem.Kind.SMOKE_TEST:
            content = {**content, "passed": bool(self.cleaned_data["passed"])}
        return {**data, "content": content}


class EvidenceReviewForm(StyledForm):
    decision = forms.ChoiceField(choices=[(EvidenceItem.Review.ACCEPTED, "Accept"),
                                          (EvidenceItem.Review.REJECTED, "Reject")])
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                              help_text="Needed to reject: what is wrong with it.")
