"""ApiKey.lineage: the first key's public id, shared by every successor on rotation, so
approval rows bound to a key keep covering it after it is rotated (issue 13.3)."""

from django.db import migrations, models


def fill_lineage(apps, schema_editor):
    # A predecessor is always created (and numbered) before its successor, so one pass in
    # pk order sees every predecessor's lineage before it needs it.
    ApiKey = apps.get_model("projects", "ApiKey")
    lineage = {}
    for pk, public_id, rotated_from in ApiKey.objects.order_by("pk").values_list(
            "pk", "public_id", "rotated_from_id"):
        lineage[pk] = lineage.get(rotated_from, public_id) if rotated_from else public_id
        ApiKey.objects.filter(pk=pk).update(lineage=lineage[pk])


class Migration(migrations.Migration):

    dependencies = [("projects", "0002_keys_workload_identity")]

    operations = [
        migrations.AddField(model_name="apikey", name="lineage",
                            field=models.UUIDField(editable=False, null=True)),
        migrations.RunPython(fill_lineage, migrations.RunPython.noop),
        migrations.AlterField(model_name="apikey", name="lineage",
                              field=models.UUIDField(editable=False)),
        migrations.AddIndex(model_name="apikey",
                            index=models.Index(fields=["org", "lineage"],
                                               name="projects_apikey_org_lineage")),
    ]
