"""The evidence rules page's form: one checkbox column per environment tier and per data
class (the checked evidence kinds), and the tiers where data-class evidence applies."""

from django import forms

from approvals.checklist import REQUIREMENTS, TIERS, EvidenceRules
from approvals.models import DataClass
from approvals.services.evidence_rules import data_class_field, tier_field
from projects.models import Environment

KIND_CHOICES = [(req.kind, req.label) for req in REQUIREMENTS]
TIER_LABELS = dict(Environment.Tier.choices)


def _kinds_field(label):
    return forms.MultipleChoiceField(label=label, choices=KIND_CHOICES, required=False,
                                     widget=forms.CheckboxSelectMultiple)


class EvidenceRulesForm(forms.Form):
    data_class_tiers = forms.MultipleChoiceField(
        label="Data-class evidence applies in", required=False,
        choices=[(t, TIER_LABELS[t]) for t in TIERS], widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for tier in TIERS:
            self.fields[tier_field(tier)] = _kinds_field(TIER_LABELS[tier])
        for value, label in DataClass.choices:
            self.fields[data_class_field(value)] = _kinds_field(label)

    @staticmethod
    def initial_for(rules: EvidenceRules) -> dict:
        raw = rules.as_json()
        return {"data_class_tiers": raw["data_class_tiers"],
                **{tier_field(t): k for t, k in raw["tiers"].items()},
                **{data_class_field(dc): k for dc, k in raw["data_classes"].items()}}

    def service_kwargs(self) -> dict:
        """The cleaned values as evidence_rules_update's arguments."""
        data = self.cleaned_data
        return {"tiers": {t: data[tier_field(t)] for t in TIERS},
                "data_classes": {dc: data[data_class_field(dc)] for dc in DataClass.values},
                "data_class_tiers": data["data_class_tiers"]}

    def table(self, columns) -> list[dict]:
        """Rows of the page's table (one per evidence kind) for the given columns
        (tiers or data classes): which cells are checked, from the bound or initial data."""
        chosen = {col: set(self[name].value() or ()) for col, name in columns}
        return [{"kind": req.kind, "label": req.label, "why": req.why,
                 "cells": [{"name": name, "checked": req.kind in chosen[col],
                            "column": self.fields[name].label,
                            "id": f"id_{name}_{req.kind}"} for col, name in columns]}
                for req in REQUIREMENTS]

    def columns(self, names) -> list[dict]:
        return [{"name": name, "label": self.fields[name].label, "errors": self[name].errors}
                for _col, name in names]
