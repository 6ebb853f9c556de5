"""Pairs stored before both images were padded to one file length (study.pairs.same_length)
get padded now, so that no stored pair can be told apart by its Content-Length."""

from django.core.files.base import ContentFile
from django.db import migrations


def pad_existing_pairs(apps, schema_editor):
    from study.pairs import same_length

    Pair = apps.get_model("study", "Pair")
    for pair in Pair.objects.all():
        fields = (pair.real, pair.fake)
        try:
            data = []
            for field in fields:
                with field.storage.open(field.name, "rb") as fh:
                    data.append(fh.read())
        except OSError:
            continue  # files gone: nothing to leak
        if len(data[0]) == len(data[1]):
            continue
        for field, padded in zip(fields, same_length(*data)):
            field.storage.delete(field.name)
            field.name = field.storage.save(field.name, ContentFile(padded))
        pair.save(update_fields=["real", "fake"])


class Migration(migrations.Migration):
    dependencies = [("study", "0001_pairs_and_answers")]
    operations = [migrations.RunPython(pad_existing_pairs, migrations.RunPython.noop)]
