"""The public model page and the real-or-fake study: thin views over study.card, study.trials
and study.models.results."""

import json
from functools import wraps

from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from gallery.throttles import PerAddressThrottle
from mlcore.modelfile import EXAMPLES_PATH
from study import card
from study.models import COUNTING_RULE, DAILY_COUNTED_ANSWERS, Pair, results
from study.stats import PAPER_FOOLING_RATE
from study.trials import CHOICES, ROUND, Participant

# How long each pair is on screen (the paper: one second), read by the page's script.
DISPLAY_MS = 1000


class StudyThrottle(PerAddressThrottle):
    """Every request of the study, signed in or not, per client address, at the API's anonymous
    rate (API_ANON_RATE): signing in must not buy a faster flood."""

    scope, setting = "study", "API_ANON_RATE"


def throttled(view):
    """The image URLs are not counted: each is issued by next.json, which is."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        wait = StudyThrottle().check(request)
        if wait:
            response = JsonResponse({"error": f"Too many requests from your address. Try again in {wait} seconds."},
                                    status=429)
            response["Retry-After"] = str(wait)
            return response
        return view(request, *args, **kwargs)

    return wrapper


def participant(request):
    return Participant(request.session, request.user, StudyThrottle().get_ident(request))


def score(outcome_score):
    right, answered = outcome_score
    return {"right": right, "answered": answered}


# The live result's bar runs from 0 to 100%, chance (50%) in the middle: with few answers a
# rate or an interval can pass 50%. In SVG user units (_live.html; study.js draws the same
# from /study/results.json).
BAR_LEFT, BAR_WIDTH, BAR_MAX = 10, 300, 1.0


def bar_x(rate):
    return round(BAR_LEFT + BAR_WIDTH * min(max(rate, 0.0), BAR_MAX) / BAR_MAX, 1)


def live_summary():
    """The deployed model's study result, with what _live.html shows of it."""
    facts = card.model_facts()
    version = facts["version"] if facts else None
    mine = next((r for r in results(version) if r["model"] == version), None)
    live = mine or {"model": version, "answers": 0, "fooled": 0, "fooling_rate": None, "ci95": None}
    shown = {"paper_percent": round(PAPER_FOOLING_RATE * 100), "paper_x": bar_x(PAPER_FOOLING_RATE),
             "chance_x": bar_x(0.5),
             "rate_text": "–", "detail": "No answers yet for this model: be the first.",
             "rate_x": BAR_LEFT, "rate_hidden": True, "ci_x": BAR_LEFT, "ci_w": 0}
    if live["answers"]:
        lo, hi = live["ci95"]
        shown.update(rate_text=f"{live['fooling_rate']:.0%}",
                     detail=f"{live['fooled']} of {live['answers']} answers; 95% interval {lo:.0%} to {hi:.0%}",
                     rate_x=bar_x(live["fooling_rate"]), rate_hidden=False, ci_x=bar_x(lo), ci_w=round(bar_x(hi) - bar_x(lo), 1))
    return {**live, **shown}


@require_GET
def model_page(request):
    facts = card.model_facts()
    evaluation = card.evaluation()
    measured = evaluation["model_row"].get("model") if evaluation and evaluation["model_row"] else None
    return render(request, "study/model.html", {
        "facts": facts, "evaluation": evaluation, "live": live_summary(),
        "measured_version": measured,
        "other_model": bool(facts and measured and measured != facts["version"]),
        "has_examples": EXAMPLES_PATH.is_file(),
    })


@require_GET
def model_examples(request):
    try:
        response = FileResponse(open(EXAMPLES_PATH, "rb"), content_type="image/jpeg")
    except OSError:
        raise Http404("no example grid")
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_GET
def study_page(request):
    return render(request, "study/study.html", {
        "live": live_summary(), "has_pairs": Pair.objects.exists(), "display_ms": DISPLAY_MS, "round": ROUND,
        "daily_counted": DAILY_COUNTED_ANSWERS,
    })


@require_GET
@throttled
def next_pair(request):
    person = participant(request)
    shown = person.current()
    if shown is None:
        # No pair left: an unfinished round ends here, with its score.
        ended = person.end_round()
        return JsonResponse({"pair": None, "images": [], **({"round": score(ended)} if ended else {})})
    return JsonResponse({"pair": shown["pair"],
                         "images": [reverse("study-image", args=[token]) for token in shown["tokens"]]})


@require_GET
def image(request, token):
    data = Participant(request.session).image(token)  # the session's pending pair: no one else's
    if data is None:
        raise Http404("no such image")
    response = HttpResponse(data, content_type="image/jpeg")
    # Nothing that could tell the two images apart but their pixels: no caching (a token is
    # for one showing), no validators, no file name.
    response["Cache-Control"] = "private, no-store"
    return response


def bad_request(message, status=400):
    return JsonResponse({"error": message}, status=status)


@require_POST
@throttled
def answer(request):
    """JSON {"pair": id, "choice": 0|1} -> {"recorded": true}, with {"round": {"right", "answered"}}
    when the answer ends a round. Never whether this one answer was right. CSRF-protected like
    every POST."""
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[" x 50,000
        return bad_request('Send JSON: {"pair": <id>, "choice": 0 or 1}.')
    if not isinstance(data, dict):
        return bad_request('Send a JSON object: {"pair": <id>, "choice": 0 or 1}.')
    pair, choice = data.get("pair"), data.get("choice")
    # bool is an int in Python: true/false are not pair ids or choices.
    if type(pair) is not int:
        return bad_request('"pair" must be the id that /study/next.json gave.')
    if type(choice) is not int or choice not in CHOICES:
        return bad_request('"choice" must be 0 (the first image) or 1 (the second).')
    outcome = participant(request).answer(pair, choice)
    if outcome.refusal == "repeat":
        return bad_request("You have already answered this pair; only your first answer counts.", status=409)
    if outcome.refusal == "not-shown":
        return bad_request("This pair is not the one on show to you: ask /study/next.json for it.", status=409)
    return JsonResponse({"recorded": True, **({"round": score(outcome.score)} if outcome.score else {})})


@require_GET
@throttled
def results_json(request):
    """The issue's contract at the top level, for the deployed model: {"model", "answers",
    "fooled", "fooling_rate", "ci95"}; every model version with pairs under "versions"; what
    is counted, in words, under "counts"."""
    facts = card.model_facts()
    version = facts["version"] if facts else None
    rows = results(version)
    for row in rows:
        row["deployed"] = row["model"] == version
    deployed = next((r for r in rows if r["deployed"]), None) or {
        "model": version, "answers": 0, "fooled": 0, "fooling_rate": None, "ci95": None}
    return JsonResponse({**{k: v for k, v in deployed.items() if k != "deployed"}, "versions": rows,
                         "counts": COUNTING_RULE})
