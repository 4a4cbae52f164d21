"""HTML forms for orgs. Forms validate shape; services decide what is allowed.

Forms with relational choices take `org` and get their querysets from selectors, so a
choice from another organization is never offered and never accepted.
"""

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

from orgs import selectors
from orgs.models import RESERVED_SLUGS, SLUG_RULE
from orgs.roles import ROLE_HELP, Role, grantable_roles
from orgs.services import INVITATION_DAYS, TOKEN_MAX_DAYS


class StyledForm(forms.Form):
    """Widgets get Bootstrap classes; pages lay fields out with templates/orgs/_form.html."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs.setdefault("class", css)


def add_service_error(form: forms.Form, exc) -> None:
    """Put a service's ValidationError on the form: per field where the form has that
    field, at the top of the form otherwise (e.g. {"token": ...} or {"membership": ...})."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _role_help(roles) -> str:
    items = "".join(f"<li><b>{Role(r).label}</b>: {ROLE_HELP[r]}</li>" for r in roles)
    return f'<ul class="app-role-help">{items}</ul>'  # static text from orgs.roles


class OrgCreateForm(StyledForm):
    name = forms.CharField(
        max_length=100, help_text="Your company or business unit, as people know it.")
    slug = forms.CharField(
        label="Address", max_length=50, validators=[SLUG_RULE],
        help_text="Used in every URL: /o/&lt;address&gt;/. Lowercase letters, digits and "
        "hyphens. It cannot be changed later.",
    )
    renewal_contact_email = forms.EmailField(
        required=False, help_text="Receives contract and plan renewal notices.")
    finance_contact_email = forms.EmailField(
        required=False, help_text="Receives invoices and spend alerts.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The layout's inline script suggests an address from the name.
        self.fields["name"].widget.attrs["data-slug-source"] = "id_slug"

    def clean_slug(self):
        slug = self.cleaned_data["slug"].strip().lower()
        if slug in RESERVED_SLUGS:
            raise forms.ValidationError(f"'{slug}' is reserved. Choose another.")
        return slug


class OrgSettingsForm(StyledForm):
    name = forms.CharField(max_length=100, help_text="Shown in the navigation and in emails.")
    billing_owner = forms.ModelChoiceField(
        queryset=None, required=False, to_field_name="public_id", empty_label="— nobody —",
        help_text="The member accountable for the bill. Must be a member of this organization.",
    )
    renewal_contact_email = forms.EmailField(
        required=False, help_text="Receives contract and plan renewal notices.")
    finance_contact_email = forms.EmailField(
        required=False, help_text="Receives invoices and spend alerts.")

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["billing_owner"].queryset = selectors.membership_list(org=org)
        self.fields["billing_owner"].label_from_instance = lambda m: m.user.email

    @classmethod
    def initial_for(cls, org) -> dict:
        return {
            "name": org.name,
            "billing_owner": org.billing_owner.public_id if org.billing_owner else None,
            "renewal_contact_email": org.renewal_contact_email,
            "finance_contact_email": org.finance_contact_email,
        }


class InvitationForm(StyledForm):
    email = forms.EmailField(help_text="The address the invitation link is mailed to. "
                                       "The person must sign in with this address to accept.")
    role = forms.ChoiceField(
        error_messages={"invalid_choice": "You cannot invite someone to a role above your own."}
    )
    days = forms.IntegerField(
        label="Valid for (days)", min_value=1, max_value=30, initial=INVITATION_DAYS,
        help_text="The link stops working after this many days (1 to 30).",
    )

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        roles = grantable_roles(actor.role)
        self.fields["role"].choices = [(r.value, r.label) for r in roles]
        self.fields["role"].initial = Role.MEMBER
        self.fields["role"].help_text = _role_help(roles)


class MemberRoleForm(forms.Form):
    # All roles are accepted here; the service decides (rank, last owner) and says why.
    role = forms.ChoiceField(choices=Role.choices)


class PersonalTokenForm(StyledForm):
    name = forms.CharField(max_length=100,
                           help_text="What the token is for, e.g. 'CI export' or 'Laptop CLI'.")
    days = forms.IntegerField(
        label="Expires after (days)", min_value=1, max_value=TOKEN_MAX_DAYS, initial=90,
        help_text=f"1 to {TOKEN_MAX_DAYS} days. Shorter is safer; make a new one when it expires.",
    )


class AuditFilterForm(StyledForm):
    actor = forms.CharField(required=False, label="Actor email",
                            help_text="Part of the email address is enough.")
    action = forms.ChoiceField(required=False)
    object_type = forms.CharField(required=False, help_text="e.g. membership, project, caller.")
    object_id = forms.CharField(required=False, label="Object id",
                                help_text="The object's public id, exactly.")
    since = forms.DateField(required=False, label="From",
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To (inclusive)",
                            widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        actions = selectors.audit_action_choices(org=org)
        self.fields["action"].choices = [("", "Any action")] + [(a, a) for a in actions]

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The end date is before the start date.")
        return data

    def filters(self) -> dict:
        """Keyword arguments for selectors.audit_event_list; dates are whole days, UTC."""
        self.is_valid()  # an invalid field is left out; the valid ones still filter
        data = getattr(self, "cleaned_data", {})
        tz = timezone.get_current_timezone()
        since, until = data.get("since"), data.get("until")
        return {
            "actor": data.get("actor", "").strip(),
            "action": data.get("action", ""),
            "object_type": data.get("object_type", "").strip(),
            "object_id": data.get("object_id", "").strip(),
            "since": datetime.combine(since, time.min, tz) if since else None,
            "until": datetime.combine(until + timedelta(days=1), time.min, tz) if until else None,
        }
