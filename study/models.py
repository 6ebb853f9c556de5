"""The real-or-fake study (the paper's 2AFC test, Zhang et al. 2016, Sec. 3.1): pairs of a real
color photo and the model's colorization of its lightness, and the answers people give."""

import secrets

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.db.models import Count, Q

from study.stats import wilson_interval


def _random_name(instance, filename):
    # Both images of a pair get names that say nothing (not "real"/"fake", not their order),
    # so that even a path that escapes somewhere (a log, a proxy header) gives no answer away.
    return f"study/{secrets.token_hex(16)}.jpg"


class Pair(models.Model):
    model_version = models.CharField(max_length=100, db_index=True)
    source = models.CharField(max_length=500, help_text="the photo it was made from, for the record")
    source_sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    real = models.FileField(upload_to=_random_name, max_length=200)
    fake = models.FileField(upload_to=_random_name, max_length=200)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # The same photo is studied once per model version: study_add can run again.
            models.UniqueConstraint(fields=["source_sha256", "model_version"], name="study_pair_once_per_model"),
        ]

    def __str__(self):
        return f"pair {self.pk} ({self.model_version}, {self.source})"

    @classmethod
    def store(cls, *, real_jpeg, fake_jpeg, size, model_version, source, source_sha256):
        pair = cls(model_version=model_version, source=source[-500:], source_sha256=source_sha256,
                   width=size[0], height=size[1])
        pair.real.save("real.jpg", ContentFile(real_jpeg), save=False)
        pair.fake.save("fake.jpg", ContentFile(fake_jpeg), save=False)
        try:
            pair.save()
        except BaseException:
            pair.delete_files()
            raise
        return pair

    def image(self, is_real):
        field = self.real if is_real else self.fake
        with field.open("rb") as fh:
            return fh.read()

    def delete_files(self):
        for field in (self.real, self.fake):
            if field.name:
                field.storage.delete(field.name)


def _delete_pair_files(sender, instance, **kwargs):
    # After the commit, so that a rolled-back delete keeps its files.
    transaction.on_commit(instance.delete_files)


models.signals.post_delete.connect(_delete_pair_files, sender=Pair)


# Answers one address, or one account, may add to the public figure per day (UTC); past it
# they are recorded but not counted. 40 is four rounds: plenty for a person, little for a flood.
DAILY_COUNTED_ANSWERS = 40

# What /study/results.json counts, in words (it says so to anyone who reads it).
COUNTING_RULE = (
    f"Answers from finished rounds only, one per person and pair (a person being a browser session, "
    f"an account and an address), at most {DAILY_COUNTED_ANSWERS} a day (UTC) per address and per account. "
    "Answers past that are recorded but not counted."
)


class Answer(models.Model):
    """One person's first answer about one pair. `participant` is a random id kept in their
    session (it survives logging in, unlike the session key), so a pair is answered once per
    session; `user` and `address` (a keyed hash of the client's address, never the address)
    tie the answers of fresh sessions and of logging out and in to the same person.

    An answer is `counted` in the public figure only when its round is over (so that the figure
    moving reveals no single answer) and COUNTING_RULE allows it."""

    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="answers")
    participant = models.CharField(max_length=32)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    address = models.CharField(max_length=64, blank=True, db_index=True)
    real_slot = models.PositiveSmallIntegerField(help_text="where the real photo was shown: 0 first, 1 second")
    choice = models.PositiveSmallIntegerField(help_text="the image picked as the real one")
    correct = models.BooleanField()
    counted = models.BooleanField(default=False, help_text="in the public figure (see COUNTING_RULE)")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["participant", "pair"], name="study_one_answer_per_pair_and_session"),
        ]

    def same_person(self):
        """Other answers by this answer's session, account or address."""
        return answers_by(self.participant, self.user_id, self.address).exclude(pk=self.pk)

    def countable(self):
        """Whether COUNTING_RULE lets this answer into the figure, given the answers counted so far."""
        counted = Answer.objects.filter(counted=True)
        if self.same_person().filter(counted=True, pair_id=self.pair_id).exists():
            return False
        today = counted.filter(created__date=self.created.date())
        limits = [Q(address=self.address)] if self.address else []
        if self.user_id:
            limits.append(Q(user_id=self.user_id))
        return all(today.filter(limit).count() < DAILY_COUNTED_ANSWERS for limit in limits)


def answers_by(participant, user_id=None, address=""):
    """Every answer by one person: their session (participant), account or (hashed) address."""
    who = Q(participant=participant)
    if address:
        who |= Q(address=address)
    if user_id:
        who |= Q(user_id=user_id)
    return Answer.objects.filter(who)


def count_round(answer_ids):
    """A round is over: count its answers that COUNTING_RULE allows. Returns (right, answered).
    Two rounds of one address closing at the same instant may together pass the daily limit by
    a few answers; that is inexact in a way that cannot move the figure much."""
    answers = list(Answer.objects.filter(pk__in=answer_ids).order_by("pk"))
    with transaction.atomic():
        for answer in answers:
            if answer.countable():
                Answer.objects.filter(pk=answer.pk).update(counted=True)
    return sum(a.correct for a in answers), len(answers)


def results(first_version=None):
    """[{"model", "answers", "fooled", "fooling_rate", "ci95"}] for every model version that has
    pairs, counting only counted answers; `first_version` (the deployed model's) first, then the
    most recent ones."""
    counted = Q(answers__counted=True)
    per_version = (Pair.objects.values("model_version")
                   .annotate(n=Count("answers", filter=counted),
                             k=Count("answers", filter=counted & Q(answers__correct=False)),
                             latest=models.Max("created"))
                   .order_by("-latest"))
    out = []
    for row in per_version:
        n, k = row["n"], row["k"]
        interval = wilson_interval(k, n)
        out.append({"model": row["model_version"], "answers": n, "fooled": k,
                    "fooling_rate": k / n if n else None,
                    "ci95": list(interval) if interval else None})
    out.sort(key=lambda r: r["model"] != first_version)  # stable: the rest keep their order
    return out
