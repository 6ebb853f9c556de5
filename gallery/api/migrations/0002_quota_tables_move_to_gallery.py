"""The quota's tables now belong to the gallery (gallery/0007_quota_tables_from_api): the
API app forgets them without dropping them, since they are the same tables."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("api", "0001_tokens_and_quotas"),
        ("gallery", "0007_quota_tables_from_api"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Plan"),
                migrations.DeleteModel(name="QuotaUsage"),
            ],
            database_operations=[],
        ),
    ]
