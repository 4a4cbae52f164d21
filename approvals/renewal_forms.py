"""Forms of the renewal review and the approval settings pages. Forms validate shape; the
services (approvals/services/renewal.py, settings.py) decide what is allowed."""

from django import forms

from approvals.models import ApprovalSettings, CatalogTrigger, RenewalReview
from approvals.services.renewal import CHECKLIST
from orgs.forms import StyledForm, add_service_error
from orgs.webhooks.forms import CheckboxList

Area = RenewalReview.Area
ANSWER_CHOICES = [("", "Not answered yet"), ("ok", "OK"), ("not_ok", "Not OK")]
_OK = {"": None, "ok": True, "not_ok": False}


class RenewalAnswerForm(StyledForm):
    """One block per review area (ok / not ok, note, optional evidence of the row), the
    proposed next renewal date and a comment. Fields are named <area>_ok, <area>_note and
    <area>_evidence; areas() groups them for the template."""

    proposed_renewal_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The next renewal date if the row is renewed.")
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, evidence=(), review=None, **kwargs):
        if review is not None and not args and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(review)
        super().__init__(*args, **kwargs)
        items = [("", "— none —")] + [(str(i.public_id), f"{i.get_kind_display()}: {i.title}")
                                      for i in evidence]
        for area in Area:
            self.fields[f"{area}_ok"] = forms.ChoiceField(
                label=area.label, choices=ANSWER_CHOICES, required=False,
                widget=forms.RadioSelect(attrs={"class": "form-check-input"}))
            self.fields[f"{area}_note"] = forms.CharField(
                label="Note", required=False, widget=forms.Textarea(
                    attrs={"rows": 2, "class": "form-control"}))
            self.fields[f"{area}_evidence"] = forms.ChoiceField(
                label="Evidence", choices=items, required=False,
                widget=forms.Select(attrs={"class": "form-select"}))
        self.order_fields([f"{a}_{p}" for a in Area for p in ("ok", "note", "evidence")])

    @staticmethod
    def initial_for(review) -> dict:
        initial = {"proposed_renewal_date": review.proposed_renewal_date,
                   "comment": review.comment}
        for area, answer in review.answers.items():
            ok = {True: "ok", False: "not_ok"}.get(answer.get("ok"), "")
            initial.update({f"{area}_ok": ok, f"{area}_note": answer.get("note", ""),
                            f"{area}_evidence": answer.get("evidence") or ""})
        return initial

    def areas(self):
        """[(area, question, revoke_if, ok field, note field, evidence field)]"""
        return [(area, *CHECKLIST[area], self[f"{area}_ok"], self[f"{area}_note"],
                 self[f"{area}_evidence"]) for area in Area]

    def answers(self) -> dict:
        data = self.cleaned_data
        return {area: {"ok": _OK[data[f"{area}_ok"]], "note": data[f"{area}_note"],
                       "evidence": data[f"{area}_evidence"] or None} for area in Area}

    def add_service_error(self, exc) -> None:
        """A service error on an area lands under that area's note."""
        if hasattr(exc, "error_dict"):
            for key, errors in exc.error_dict.items():
                field = f"{key}_note" if key in Area.values else key
                self.add_error(field if field in self.fields else None, errors)
        else:
            self.add_error(None, exc)


class RenewalDecideForm(StyledForm):
    outcome = forms.ChoiceField(choices=RenewalReview.Outcome.choices,
                                widget=forms.RadioSelect(attrs={"class": "form-check-input"}))
    comment = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required for rework and revoke: the requester and the audit log read it.")


def _int_list(value: str) -> list[int]:
    parts = [p.strip() for p in (value or "").replace(";", ",").split(",") if p.strip()]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise forms.ValidationError("Give whole numbers of days separated by commas, e.g. "
                                    "30, 14, 7, 1.") from None


class ApprovalSettingsForm(StyledForm):
    max_renewal_days = forms.IntegerField(
        label="Maximum days between renewals", help_text="The longest a production row may "
        "go between renewals. Row requests and renewals beyond it are refused.")
    reminder_days = forms.CharField(
        label="Reminder days", help_text="Days before a row's renewal date on which its "
        "owners are reminded, e.g. 30, 14, 7, 1.")
    expiry_grace_days = forms.IntegerField(
        label="Expiry grace days", help_text="Days after the renewal date before an unrenewed "
        "row expires for good. The gateway already denies it after its renewal date.")
    decision_log = forms.ChoiceField(choices=ApprovalSettings.DecisionLog.choices,
                                     label="Decision log")
    decision_log_sample_percent = forms.IntegerField(
        label="Sample percent", help_text="With a sampled log: the share of decisions "
        "kept.")
    catalog_price_tolerance_percent = forms.IntegerField(
        label="Catalog price tolerance (%)", min_value=0, max_value=1000,
        help_text="When a new catalog snapshot moves the input or output price of an "
        "approved model by more than this, its rows get a finding. 0: any change.")
    catalog_renewal_changes = forms.MultipleChoiceField(
        label="Catalog changes that reopen a row", required=False,
        choices=CatalogTrigger.choices,
        widget=CheckboxList(attrs={"class": "app-checklist"}),
        help_text="Every change under an approved model raises a finding; these also move "
        "its active rows to renewal due. A row whose own renewal triggers include "
        "'catalog change' (every kind) or 'model version change or retirement' (removed, "
        "deprecation) moves on those too.")
    billing_tolerance_percent = forms.DecimalField(
        label="Billing tolerance (%)", min_value=0, max_value=100, decimal_places=2,
        required=False,
        help_text="Reconciliation raises a finding when gateway usage differs from billing "
        "lines by more than this, per project, provider and billing period.")

    @staticmethod
    def initial_for(settings) -> dict:
        initial = {name: getattr(settings, name) for name in (
            "max_renewal_days", "expiry_grace_days", "decision_log",
            "decision_log_sample_percent", "catalog_price_tolerance_percent",
            "catalog_renewal_changes", "billing_tolerance_percent")}
        initial["reminder_days"] = ", ".join(str(d) for d in settings.reminder_days)
        return initial

    def clean_billing_tolerance_percent(self):
        # Left empty (or not sent by an older client): keep the current tolerance.
        value = self.cleaned_data["billing_tolerance_percent"]
        return self.initial.get("billing_tolerance_percent") if value is None else value

    def clean_reminder_days(self):
        return _int_list(self.cleaned_data["reminder_days"])


__all__ = ["ApprovalSettingsForm", "RenewalAnswerForm", "RenewalDecideForm",
           "add_service_error"]
