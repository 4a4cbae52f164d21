"""Forms of one row's page: a workflow move, a sign-off, naming a one-off reviewer.
Forms validate shape; the services decide who may do what (approvals/permissions.py)."""

from django import forms

from approvals.models import SignOff
from approvals.selectors import reviewer_candidates
from orgs.forms import StyledForm


class MoveForm(StyledForm):
    """The text a move may need: a comment (request changes, reject) or a reason (suspend,
    revoke). Both optional here: the service says when one is missing."""

    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                              max_length=2000)
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             max_length=2000)


class SignForm(StyledForm):
    role = forms.ChoiceField(choices=SignOff.Role.choices, widget=forms.HiddenInput)
    decision = forms.ChoiceField(choices=SignOff.Decision.choices)
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                              max_length=2000, help_text="Required when you reject.")


class ReviewerGrantForm(StyledForm):
    """Name a one-off reviewer for one role of one row. The member list holds only the
    people who may be given that role (selectors.reviewer_candidates: never an auditor,
    never the requester for security or finance); the service checks the same."""

    member = forms.ModelChoiceField(
        queryset=None, to_field_name="public_id", label="Reviewer",
        error_messages={"invalid_choice": "Choose one of the people listed: auditors, and "
                        "the requester for security or finance, cannot be named."})
    role = forms.ChoiceField(choices=SignOff.Role.choices, widget=forms.HiddenInput)

    def __init__(self, *args, org, row, role, **kwargs):
        # One form per role on the page: distinct ids keep each label on its own select.
        super().__init__(*args, initial={"role": role}, auto_id=f"id_grant_{role}_%s",
                         **kwargs)
        self.sign_role = SignOff.Role(role)
        # Choices come from the org's own members: another org's member is never offered.
        self.fields["member"].queryset = reviewer_candidates(org=org, row=row, role=role)
        self.fields["member"].label = f"{self.sign_role.label} reviewer"
        self.fields["member"].label_from_instance = lambda m: (
            f"{m.user.email} ({m.get_role_display()})")

    def clean_role(self):
        # The role is fixed by the form the page rendered; a changed hidden field is refused.
        if self.cleaned_data["role"] != self.sign_role:
            raise forms.ValidationError("This form names a reviewer for another role.")
        return self.sign_role
