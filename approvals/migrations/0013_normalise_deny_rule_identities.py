"""Deny rules store model and platform normalised (evidence/model_ids.py, issue 13.4):
existing rules are rewritten the same way, a qualified id in the model field split at a
platform of the org's catalog. The decision engine reads old spellings correctly too; this
keeps the stored rules, their list and the audit trail in one spelling."""

from django.db import migrations


def normalise_rules(apps, schema_editor):
    from evidence.model_ids import SEPARATOR, normalise, split

    DenyRule = apps.get_model("approvals", "DenyRule")
    CatalogEntry = apps.get_model("evidence", "CatalogEntry")
    platforms: dict = {}
    for rule in DenyRule.objects.all().iterator():
        platform, model_id = normalise(rule.platform), normalise(rule.model_id)
        if model_id and not platform and SEPARATOR in model_id:
            if rule.org_id not in platforms:
                platforms[rule.org_id] = {normalise(p) for p in CatalogEntry.objects.filter(
                    org_id=rule.org_id).values_list("platform", flat=True).distinct()}
            platform, model_id = split(model_id, platforms[rule.org_id])
        if (platform, model_id) != (rule.platform, rule.model_id):
            DenyRule.objects.filter(pk=rule.pk).update(platform=platform, model_id=model_id)


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0012_finding_kind_forged_exchange"),
        ("evidence", "0006_gateway_config"),
    ]

    operations = [migrations.RunPython(normalise_rules, migrations.RunPython.noop)]
