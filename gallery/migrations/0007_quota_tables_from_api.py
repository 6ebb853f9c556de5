"""The quota's tables move from the API app to the gallery, beside the quota's logic
(gallery/quota.py). Only Django's idea of them moves: the tables keep their names
(api_plan, api_quotausage) and their rows, so no table is created here (see
api/0002_quota_tables_move_to_gallery, which forgets them on the API's side).

Their content types are relabelled too, so that permissions granted on them and the
admin's history follow them instead of staying with stale api.* types."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = ("plan", "quotausage")


def relabel(apps, old, new):
    content_types = apps.get_model("contenttypes", "ContentType").objects
    for model in MOVED:
        if not content_types.filter(app_label=new, model=model).exists():
            content_types.filter(app_label=old, model=model).update(app_label=new)


def forward(apps, schema_editor):
    relabel(apps, "api", "gallery")


def backward(apps, schema_editor):
    relabel(apps, "gallery", "api")


class Migration(migrations.Migration):

    dependencies = [
        ("gallery", "0006_photo_hints"),
        ("api", "0001_tokens_and_quotas"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Plan",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(default="Custom", max_length=50)),
                        ("daily_quota", models.PositiveIntegerField()),
                        ("user", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="plan", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={"db_table": "api_plan"},
                ),
                migrations.CreateModel(
                    name="QuotaUsage",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("day", models.DateField()),
                        ("count", models.PositiveIntegerField(default=0)),
                        ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "db_table": "api_quotausage",
                        "constraints": [models.UniqueConstraint(fields=("user", "day"), name="one_quota_row_per_day")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forward, backward),
    ]
