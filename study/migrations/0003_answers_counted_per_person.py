"""Answers get the person behind them (account, hashed address) and whether the public figure
counts them. Answers recorded before are kept but not counted: they were collected under rules
that let one address move the figure (issue 25), so the figure starts again from those that
pass study.models.COUNTING_RULE."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('study', '0002_pad_pair_files'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='answer',
            name='address',
            field=models.CharField(blank=True, db_index=True, max_length=64),
        ),
        migrations.AddField(
            model_name='answer',
            name='counted',
            field=models.BooleanField(default=False, help_text='in the public figure (see COUNTING_RULE)'),
        ),
        migrations.AddField(
            model_name='answer',
            name='user',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
    ]
