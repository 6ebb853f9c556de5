"""One participant's way through the study, kept in their (server-side) session.

A participant is shown one pair at a time. Which of its two images is real, and the opaque
tokens the images are served under, stay in the session until the pair is answered; the
client only ever sees the pair's id and two random URLs. The answer kept is the first: the
database refuses a second one for the same participant and pair, and a pair already answered
by the same account or address is never shown again.

Whether an answer was right is told only at the end of a round of ROUND answers, as that
round's score, and only then do its answers join the public figure (study.models.count_round):
neither the answer's reply nor the figure moving tells which image of a pair was real.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from study.models import Answer, Pair, answers_by, count_round

SESSION_KEY = "study"
TOKEN_BYTES = 18
CHOICES = (0, 1)
# Pairs per round: the participant's score, and the round's answers in the figure, after each.
ROUND = 10


def address_key(address):
    """A keyed hash of a client address: enough to tie answers from one address together,
    useless for finding the address again."""
    if not address:
        return ""
    return hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.sha256).hexdigest()[:64]


@dataclass
class Outcome:
    """What became of an answer: recorded (and, when it ended a round, that round's score as
    (right, answered)), or refused and why."""

    recorded: bool
    score: tuple | None = None
    refusal: str = ""  # "repeat": already answered by this person; "not-shown": not the pair on show


class Participant:
    """One person taking the study: their session, and the account and address (hashed) behind
    it, so that fresh sessions and logging out and in find the pairs they answered."""

    def __init__(self, session, user=None, address=""):
        self.session = session
        self.state = dict(session.get(SESSION_KEY) or {})
        self.user = user if user is not None and user.is_authenticated else None
        self.address = address_key(address)

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

    def answers(self):
        """Every answer by this person: this session, this account or this address."""
        return answers_by(self.id, self.user and self.user.pk, self.address)

    def current(self):
        """The pair on show: {"pair": id, "tokens": [t0, t1]}, drawing a new one at random from
        those of photos this participant has not seen when none is on show; None when none is left.
        Asking again returns the same pair with the same tokens, so reloading cannot re-draw."""
        pending = self.state.get("pending")
        if pending and Pair.objects.filter(pk=pending["pair"]).exists():
            return {"pair": pending["pair"], "tokens": pending["tokens"]}
        # Each photo once per participant, whichever model colored it: having seen a photo's
        # real colors once, one would recognise them in the next model's pair of it.
        seen = Pair.objects.filter(answers__in=self.answers()).values("source_sha256")
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
            if self.answers().filter(pair_id=pair_id).exists():
                return Outcome(recorded=False, refusal="repeat")
            return Outcome(recorded=False, refusal="not-shown")
        if not Pair.objects.filter(pk=pair_id).exists():  # withdrawn while on show
            self._drop_pending()
            return Outcome(recorded=False, refusal="not-shown")
        if self.answers().filter(pair_id=pair_id).exists():  # drawn before logging in, say
            self._drop_pending()
            return Outcome(recorded=False, refusal="repeat")
        try:
            with transaction.atomic():
                answer = Answer.objects.create(
                    pair_id=pair_id, participant=self.id, user=self.user, address=self.address,
                    real_slot=pending["real"], choice=choice, correct=choice == pending["real"])
        except IntegrityError:
            # Another request of the same session (a second tab, a double click) got there first.
            self._drop_pending()
            return Outcome(recorded=False, refusal="repeat")
        self.state.pop("pending", None)
        self.state["round"] = [*self.state.get("round", []), answer.pk]
        self._save()
        score = self.end_round() if len(self.state["round"]) >= ROUND else None
        return Outcome(recorded=True, score=score)

    def end_round(self):
        """Count the round's answers and return its score (right, answered); None when no
        round was under way. Called after ROUND answers, and when no pair is left."""
        ids = self.state.pop("round", [])
        self._save()
        return count_round(ids) if ids else None

    def _drop_pending(self):
        self.state.pop("pending", None)
        self._save()
