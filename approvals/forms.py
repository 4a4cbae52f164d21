"""The request form: one policy row, filed or edited by its app owner, in the seed's words.

Choices come from selectors narrowed to the org (and to the chosen project, caller and
environment), so another org's objects are never offered. The form checks shapes only;
approvals.services.rows.validate_row decides what a row may say, and its field errors
land on the matching fields (add_service_error).
"""

import json
import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from approvals import selectors
from approvals.models import Action, DataClass, PolicyRow, RenewalTrigger
from approvals.services import row_create, row_submit, row_update
from approvals.services.rows import FIELDS, OWNER_FIELDS, validate_row
from evidence.models import CatalogEntry
from orgs.forms import StyledForm, add_service_error
from projects import selectors as project_selectors
from projects.models import WorkloadIdentity

# The page's sections, in the order a requester thinks (the seed's policy fields).
SECTIONS = (
    ("who", "Who calls", ("project", "environment", "caller", "api_key",
                          "workload_identity")),
    ("models", "Models and actions", ("approved_models", "allowed_actions", "fallback_row")),
    ("data", "Data", ("data_classes", "business_reason")),
    ("budget", "Budget", ("monthly_budget", "daily_cap", "rate_limit_per_minute",
                          "alert_thresholds", "cutoff_behaviour")),
    ("owners", "Owners", ("app_owner", "engineering_owner", "finance_owner",
                          "evidence_owner", "cutoff_owner")),
    ("renewal", "Renewal", ("renewal_date", "renewal_triggers")),
)
# Changing one of these narrows the choices of others, so a change re-renders those
# (and never the select the requester may be using next): the project re-renders the
# whole "who calls" section, environment and caller the credential choices.
NARROWS = {"project": "who", "environment": "credentials", "caller": "credentials"}


def resolve_models(*, org, ids) -> list:
    """Catalog entries of org's current catalog for these public ids, in catalog order.
    Unknown ids and entries of an older snapshot are field errors (one query each)."""
    ids = list(dict.fromkeys(str(i).strip() for i in ids if str(i).strip()))
    try:
        entries = list(selectors.catalog_current_entries(org=org).filter(public_id__in=ids))
    except ValidationError:  # not UUIDs
        raise ValidationError("Choose models from the catalog search.") from None
    missing = set(ids) - {str(e.public_id) for e in entries}
    if missing and CatalogEntry.objects.for_org(org).filter(
            public_id__in=missing).exists():
        raise ValidationError("A chosen model is not in the current catalog (the newest "
                              "snapshot of its source); search again and pick its current "
                              "entry.")
    if missing:
        raise ValidationError("Unknown model: choose models from the catalog search.")
    return entries


class ModelPickerField(forms.Field):
    """Catalog entry public ids, posted by the picker's checkboxes; the form resolves them
    against the current catalog."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        return [value] if isinstance(value, str) else list(value)


class ThresholdsField(forms.CharField):
    """"50, 80, 100" as [50, 80, 100]; the service checks that they rise within 1-100."""

    def to_python(self, value):
        text = super().to_python(value)
        try:
            return [int(part) for part in text.replace(" ", "").split(",") if part]
        except ValueError:
            raise ValidationError("Give whole percentages separated by commas, e.g. "
                                  "50, 80, 100.") from None

    def prepare_value(self, value):
        return ", ".join(str(v) for v in value) if isinstance(value, list) else value


def _choice(show, **kwargs):
    field = forms.ModelChoiceField(queryset=PolicyRow.objects.none(),
                                   to_field_name="public_id", **kwargs)
    field.label_from_instance = show
    return field


def _checkboxes(choices, **kwargs):
    widget = forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})
    return forms.MultipleChoiceField(choices=choices, widget=widget, **kwargs)


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _member(m):
    return f"{m.user.email} ({m.get_role_display()})"


def _row_label(row):
    return f"{row.caller.name} in {row.environment.name} v{row.version} ({row.status})"


OWNER_HELP = {
    "app_owner": "Proposes the row and signs it as the app owner.",
    "engineering_owner": "Answers for the route, its smoke tests and rollback.",
    "finance_owner": "The budget owner: watches usage and billing against this row.",
    "evidence_owner": "Keeps the evidence pack current: catalog row, route test, usage "
                      "row, billing row, audit log.",
    "cutoff_owner": "Decides what happens when the budget runs out.",
}


class RowRequestForm(StyledForm):
    """Every field row_create/row_update accept, plus approved_models (entry ids)."""

    project = _choice(str, empty_label="Choose a project…", help_text=(
        "<b>Caller</b>: rows are per project, environment and caller. Record the owner, "
        "team, service account, key name and workload identity mapping."))
    environment = _choice(lambda e: e.name if e.name == e.tier else f"{e.name} ({e.tier})",
                          empty_label="Choose an "
                          "environment…", help_text="Development, staging and production "
                          "never share a key, quota or approval row.")
    caller = _choice(lambda c: c.name, empty_label="Choose a caller…", help_text=(
        "Human user, app service, agent, batch job, vendor integration, or CI workload."))
    api_key = _choice(lambda k: f"{k.name} ({k.prefix}…)", required=False,
                      label="API key", empty_label="No key yet", help_text=(
                          "A dedicated key of this caller and environment, never a shared "
                          "one. Name a key or a workload identity, not both."))
    workload_identity = _choice(lambda w: w.name, required=False, empty_label="None",
                                help_text="Or the workload identity mapped to this caller.")
    approved_models = ModelPickerField(label="Approved models", required=False, help_text=(
        "<b>Model scope</b>: approved model IDs from the current catalog, never \"all of a "
        "provider\". Search and tick each model."))
    allowed_actions = _checkboxes(Action.choices, label="Allowed actions", help_text=(
        "<b>Allowed action</b>: chat, responses, embeddings, images, video, tool calls, "
        "batch or tuning. Each carries its own risk; every model must be able to serve "
        "every action you tick."))
    fallback_row = _choice(_row_label, required=False, label="Fallback row",
                           empty_label="No fallback", help_text=(
                               "A fallback needs its own approval for the same caller and "
                               "environment: it never inherits this row's."))
    data_classes = _checkboxes([c for c in DataClass.choices if c[0] != DataClass.PROHIBITED],
                               label="Data classes", help_text=(
                                   "<b>Data boundary</b>: what data may enter the route. "
                                   "Prohibited data is never approved."))
    business_reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text=(
        "The reason that must survive renewal, e.g. \"Support reply summarizer, production "
        "API\"."))
    monthly_budget = forms.DecimalField(label="Monthly budget (USD)", help_text=(
        "<b>Spend and quota</b>: the budget per calendar month."))
    daily_cap = forms.DecimalField(label="Daily cap (USD)", required=False)
    rate_limit_per_minute = forms.IntegerField(label="Rate limit (requests per minute)",
                                               required=False)
    alert_thresholds = ThresholdsField(initial="50, 80, 100", help_text=(
        "Percent of the monthly budget at which the owners are alerted."))
    cutoff_behaviour = forms.ChoiceField(choices=PolicyRow.Cutoff.choices,
                                         label="At 100 % of the budget")
    app_owner = _choice(_member, help_text=OWNER_HELP["app_owner"])
    engineering_owner = _choice(_member, help_text=OWNER_HELP["engineering_owner"])
    finance_owner = _choice(_member, help_text=OWNER_HELP["finance_owner"])
    evidence_owner = _choice(_member, help_text=OWNER_HELP["evidence_owner"])
    cutoff_owner = _choice(_member, help_text=OWNER_HELP["cutoff_owner"])
    # The limit in the hint is filled in from the org's settings (_narrow), the same value
    # the validator (services/rows._check_renewal) applies.
    renewal_date = forms.DateField(required=False, widget=forms.DateInput(
        attrs={"type": "date"}))
    renewal_triggers = _checkboxes(RenewalTrigger.choices, required=False, help_text=(
        "<b>Renewal trigger</b>: model version change, provider policy change, new "
        "modality, incident, or spend spike. Production rows need at least one."))

    def __init__(self, *args, org, row=None, **kwargs):
        self.org, self.row = org, row
        if row is not None and not args:
            kwargs.setdefault("initial", initial_of(row))
        super().__init__(*args, **kwargs)
        self._narrow()
        validate_url = reverse("approvals:request_validate", args=[org.slug])
        for name, field in self.fields.items():
            # Validate as you go: each field posts the form on change and gets its own
            # fragment back (views/requests.py request_validate).
            field.widget.attrs.update({
                "hx-post": validate_url, "hx-trigger": "change",
                "hx-target": f"#field-{NARROWS.get(name, name)}",
                "hx-swap": "outerHTML", "hx-vals": json.dumps({"_field": name})})

    def _value(self, name):
        """The chosen public id of a scope field: posted, else the initial value."""
        return (self.data.get(name) if self.is_bound else None) or self.initial.get(name)

    def _narrow(self):
        org, f = self.org, self.fields
        f["project"].queryset = project_selectors.project_list(org=org)
        project = f["project"].queryset.filter(public_id=self._value("project")).first() \
            if _is_uuid(self._value("project")) else None
        environments = project_selectors.environment_list_for_org(org=org)
        callers = project_selectors.caller_list_for_org(org=org)
        keys = project_selectors.key_list(org=org).filter(revoked_at__isnull=True)
        identities = WorkloadIdentity.objects.for_org(org)
        if project is not None:
            environments, callers = environments.filter(project=project), \
                callers.filter(project=project)
            keys, identities = keys.filter(project=project), identities.filter(project=project)
        for name in ("environment", "caller"):
            if _is_uuid(value := self._value(name)):
                keys = keys.filter(**{f"{name}__public_id": value})
                identities = identities.filter(**{f"{name}__public_id": value})
        f["environment"].queryset, f["caller"].queryset = environments, callers
        f["api_key"].queryset, f["workload_identity"].queryset = keys, identities
        # Owners take part in the workflow (sign, attach, run tests): never an auditor.
        max_days = selectors.approval_settings_get(org=org).max_renewal_days
        f["renewal_date"].help_text = f"Production rows renew within {max_days} days."
        members = selectors.participant_list(org=org)
        for name in OWNER_FIELDS:
            f[name].queryset = members
        rows = selectors.row_list(org=org)
        f["fallback_row"].queryset = rows.exclude(pk=self.row.pk) if self.row else rows

    def sections(self) -> list[tuple[str, str, list]]:
        """(key, title, bound fields) of each section of the page."""
        return [(key, title, [self[name] for name in names])
                for key, title, names in SECTIONS]

    def clean_approved_models(self):
        return resolve_models(org=self.org, ids=self.cleaned_data["approved_models"])

    def chosen_models(self) -> list:
        """The models to show as chosen: the valid posted ones, else the row's."""
        if self.is_bound:
            return self.cleaned_data.get("approved_models", []) \
                if hasattr(self, "cleaned_data") else []
        return list(self.row.approved_models.all()) if self.row else []

    def save(self, *, actor, submit: bool = False):
        """Create (or update) the row through the services, then submit it if asked, in
        one transaction. Returns the row, or None with the service's errors on the form."""
        data = {k: v for k, v in self.cleaned_data.items() if k in FIELDS}
        models = self.cleaned_data["approved_models"]
        try:
            with transaction.atomic():
                if self.row is None:
                    row = row_create(org=self.org, actor=actor, approved_models=models, **data)
                else:
                    row = row_update(org=self.org, actor=actor, row=self.row,
                                     approved_models=models, **data)
                if submit:
                    row = row_submit(org=self.org, actor=actor, row=row)
        except ValidationError as exc:
            add_service_error(self, exc)
            return None
        return row

    def check(self, *, only: str) -> None:
        """Validate without saving: the form's own checks, then the service's rules on an
        unsaved row (validate_row). Keeps the errors of field `only`: the requester is
        still filling in the rest, which must not be marked invalid yet."""
        self.is_valid()
        models = self.cleaned_data.get("approved_models", [])
        fields = {k: v for k, v in self.cleaned_data.items() if k in FIELDS}
        row = PolicyRow(org=self.org, pk=self.row.pk if self.row else None, **fields)
        try:
            validate_row(org=self.org, row=row, models=models)
        except ValidationError as exc:
            for name, errors in exc.error_dict.items():
                if name in self.fields and name not in self.errors:
                    self.add_error(name, errors)
        for name in [n for n in self.errors if n != only]:
            del self.errors[name]


def initial_of(row) -> dict:
    """A row's content as the form's initial values (public ids for related objects)."""
    initial = {}
    for name in FIELDS:
        value = getattr(row, name)
        initial[name] = value.public_id if hasattr(value, "public_id") else value
    initial["approved_models"] = [str(e.public_id) for e in row.approved_models.all()]
    return initial
