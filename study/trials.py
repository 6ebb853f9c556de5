"""One participant's way through the study, kept in their (server-side) session.

A participant is shown one pair at a time. Which of its two images is real, and the opaque
tokens the images are served under, stay in the session until the pair is answered; the
client only ever sees the pair's id and two random URLs. The answer that counts is the first:
the database refuses a second one for the same participant and pair.
"""

import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from study.models import Answer, Pair

SESSION_KEY = "study"
TOKEN_BYTES = 18
CHOICES = (0, 1)


@dataclass
class Outcome:
    """What became of an answer: counted (with whether it was right), or refused and why."""

    counted: bool
    correct: bool | None = None
    refusal: str = ""  # "repeat": already answered here; "not-shown": not the pair on show


class Participant:
    def __init__(self, session):
        self.session = session
        self.state = dict(session.get(SESSION_KEY) or {})

    @property
    def id(self):
        # Made on first need (not for an image request, say), so a stray request by a
        # visitor who never took part stores no session.
        if "id" not in self.state:
            self.state["id"] = secrets.token_hex(16)
            self._save()
        return self.state["id"]

    def _save(self):
        self.session[SESSION_KEY] = self.state  # marks the session modified

    def answered(self):
        return Answer.objects.filter(participant=self.id).count()

    def current(self):
        """The pair on show: {"pair": id, "tokens": [t0, t1]}, drawing a new one at random from
        those of photos this participant has not seen when none is on show; None when none is left.
        Asking again returns the same pair with the same tokens, so reloading cannot re-draw."""
        pending = self.state.get("pending")
        if pending and Pair.objects.filter(pk=pending["pair"]).exists():
            return {"pair": pending["pair"], "tokens": pending["tokens"]}
        # Each photo once per participant, whichever model colored it: having seen a photo's
        # real colors once, one would recognise them in the next model's pair of it.
        seen = Pair.objects.filter(answers__participant=self.id).values("source_sha256")
        candidates = list(Pair.objects.exclude(source_sha256__in=seen).values_list("pk", flat=True))
        if not candidates:
            if pending:
                self.state.pop("pending")
                self._save()
            return None
        pending = {
            "pair": secrets.choice(candidates),
            "real": secrets.randbelow(2),
            "tokens": [secrets.token_urlsafe(TOKEN_BYTES) for _ in CHOICES],
        }
        self.state["pending"] = pending
        self._save()
        return {"pair": pending["pair"], "tokens": pending["tokens"]}

    def image(self, token):
        """JPEG bytes of the image shown under this token, or None: a token is only valid in the
        session it was given to, and only until its pair is answered."""
        pending = self.state.get("pending")
        if not pending or token not in pending["tokens"]:
            return None
        slot = pending["tokens"].index(token)
        pair = Pair.objects.filter(pk=pending["pair"]).first()
        return pair.image(is_real=slot == pending["real"]) if pair else None

    def answer(self, pair_id, choice):
        """Record which image (0 or 1) the participant took for the real photo."""
        if choice not in CHOICES:
            raise ValueError("choice must be 0 or 1")
        pending = self.state.get("pending")
        if not pending or pending["pair"] != pair_id:
            if Answer.objects.filter(participant=self.id, pair_id=pair_id).exists():
                return Outcome(counted=False, refusal="repeat")
            return Outcome(counted=False, refusal="not-shown")
        if not Pair.objects.filter(pk=pair_id).exists():  # withdrawn while on show
            self.state.pop("pending", None)
            self._save()
            return Outcome(counted=False, refusal="not-shown")
        correct = choice == pending["real"]
        try:
            with transaction.atomic():
                Answer.objects.create(pair_id=pair_id, participant=self.id, real_slot=pending["real"],
                                      choice=choice, correct=correct)
        except IntegrityError:
            # Another request of the same session (a second tab, a double click) got there first.
            return Outcome(counted=False, refusal="repeat")
        finally:
            self.state.pop("pending", None)
            self._save()
        return Outcome(counted=True, correct=correct)
