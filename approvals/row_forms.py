"""Forms of one row's page: a workflow move, a sign-off, naming a one-off reviewer.
Forms validate shape; the services decide who may do what (approvals/permissions.py)."""

from django import forms

from approvals.models import SignOff
from orgs.forms import StyledForm
from orgs.selectors import membership_list


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
    member = forms.ModelChoiceField(queryset=None, to_field_name="public_id",
                                    label="Reviewer")
    role = forms.ChoiceField(choices=SignOff.Role.choices, label="Signs as")

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        # Choices come from the org's own members: another org's member is never offered.
        self.fields["member"].queryset = membership_list(org=org)
        self.fields["member"].label_from_instance = lambda m: (
            f"{m.user.email} ({m.get_role_display()})")
