"""The real-or-fake study's JSON views: pairs shown through opaque per-session URLs, answers
counted once per person and at most DAILY_COUNTED_ANSWERS a day, scores only per round, CSRF,
throttles, and the Wilson interval of the results."""

import io
import json
import re

import pytest
from django.test import Client
from PIL import Image

from study.models import DAILY_COUNTED_ANSWERS, Answer, Pair
from study.stats import wilson_interval
from study.trials import ROUND

IMAGE_URL = re.compile(r"^/study/img/[A-Za-z0-9_-]{24}\.jpg$")


def jpeg(color, size=(32, 24)):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=90)
    return buf.getvalue()


REAL, FAKE = jpeg((200, 30, 30)), jpeg((30, 30, 200))


def make_pair(version="lite0-test-0000000000", n=0):
    return Pair.store(real_jpeg=REAL, fake_jpeg=FAKE, size=(32, 24), model_version=version,
                      source=f"photo{n}.jpg", source_sha256=f"{n:064x}")


@pytest.fixture
def pairs(db):
    return [make_pair(n=n) for n in range(3)]


def show(client):
    """(pair id, [image bytes, image bytes], index of the real one) of the pair on show."""
    data = client.get("/study/next.json").json()
    images = [client.get(url).content for url in data["images"]]
    return data["pair"], images, images.index(REAL)


def answer(client, pair, choice):
    return client.post("/study/answer", {"pair": pair, "choice": choice}, content_type="application/json")


def test_next_gives_a_pair_and_two_opaque_image_urls(client, pairs):
    r = client.get("/study/next.json")
    assert r.status_code == 200
    data = r.json()
    assert set(data) == {"pair", "images"}
    assert data["pair"] in {p.pk for p in pairs}
    assert len(data["images"]) == 2 and data["images"][0] != data["images"][1]
    for url in data["images"]:
        assert IMAGE_URL.match(url), url
        r = client.get(url)
        assert r.status_code == 200 and r["Content-Type"] == "image/jpeg"
        assert r["Cache-Control"] == "private, no-store"
    images = [client.get(url).content for url in data["images"]]
    assert sorted(images) == sorted([REAL, FAKE])


def test_both_images_of_a_pair_come_with_the_same_headers_and_size(client, pairs):
    data = client.get("/study/next.json").json()
    first, second = (client.get(url) for url in data["images"])
    ignore = {"Content-Length"}
    assert {k: v for k, v in first.items() if k not in ignore} == {k: v for k, v in second.items() if k not in ignore}
    assert Image.open(io.BytesIO(first.content)).size == Image.open(io.BytesIO(second.content)).size


def test_asking_again_gives_the_same_pair_and_urls_so_reloading_cannot_redraw(client, pairs):
    first = client.get("/study/next.json").json()
    for _ in range(3):
        assert client.get("/study/next.json").json() == first


def test_the_order_is_random_and_is_in_no_url_and_no_cookie(pairs):
    positions = set()
    for _ in range(30):
        client = Client()
        data = client.get("/study/next.json").json()
        images = [client.get(url).content for url in data["images"]]
        real_at = images.index(REAL)
        positions.add(real_at)
        # The session cookie is a key to server-side data, nothing more.
        cookie = client.cookies["sessionid"].value
        assert re.fullmatch(r"[a-z0-9]{32}", cookie)
        # Nothing in the URLs orders or names the images.
        names = [url.rsplit("/", 1)[1] for url in data["images"]]
        assert not any(word in "".join(names).lower() for word in ("real", "fake"))
    assert positions == {0, 1}  # 2 ** -29 chance of failing by bad luck


def test_an_image_url_is_useless_in_another_session(client, pairs):
    url = client.get("/study/next.json").json()["images"][0]
    assert client.get(url).status_code == 200
    assert Client().get(url).status_code == 404
    assert client.get("/study/img/" + "A" * 24 + ".jpg").status_code == 404


def test_an_image_url_dies_once_its_pair_is_answered(client, pairs):
    data = client.get("/study/next.json").json()
    assert answer(client, data["pair"], 0).status_code == 200
    for url in data["images"]:
        assert client.get(url).status_code == 404


def test_an_answer_never_says_whether_it_was_right_and_is_recorded_all_the_same(client, pairs):
    pair, _, real_at = show(client)
    assert answer(client, pair, real_at).json() == {"recorded": True}
    pair, _, real_at = show(client)
    assert answer(client, pair, 1 - real_at).json() == {"recorded": True}
    rows = Answer.objects.order_by("pk")
    assert [(a.correct, a.choice == a.real_slot) for a in rows] == [(True, True), (False, False)]


def answer_round(client, n, right=lambda i: True):
    """Answer n pairs (right or wrong as `right(i)` says); the last reply."""
    for i in range(n):
        pair, _, real_at = show(client)
        reply = answer(client, pair, real_at if right(i) else 1 - real_at)
        assert reply.status_code == 200
    return reply.json()


def test_the_score_comes_at_the_end_of_a_round_and_only_then_do_its_answers_count(client, db):
    for n in range(ROUND + 2):
        make_pair(n=n)
    before_the_end = answer_round(client, ROUND - 1, right=lambda i: i % 3 != 0)
    assert before_the_end == {"recorded": True}
    # The figure does not move with each answer: watching it would tell which were right.
    assert client.get("/study/results.json").json()["versions"][0]["answers"] == 0
    pair, _, real_at = show(client)
    assert answer(client, pair, real_at).json() == {"recorded": True, "round": {"right": 7, "answered": ROUND}}
    figure = client.get("/study/results.json").json()["versions"][0]
    assert figure["answers"] == ROUND and figure["fooled"] == 3
    # An unfinished round ends when no pair is left, with its score.
    answer_round(client, 2)
    assert client.get("/study/next.json").json() == {"pair": None, "images": [],
                                                     "round": {"right": 2, "answered": 2}}
    assert Answer.objects.filter(counted=True).count() == ROUND + 2


def test_a_pair_counts_once_per_session(client, pairs):
    pair, _, real_at = show(client)
    assert answer(client, pair, 1 - real_at).json() == {"recorded": True}
    again = answer(client, pair, real_at)
    assert again.status_code == 409
    assert "only your first answer counts" in again.json()["error"]
    assert Answer.objects.count() == 1 and not Answer.objects.get().correct
    # Answered pairs are not shown again; when none is left, no pair.
    seen = {pair}
    for _ in range(len(pairs) - 1):
        pair, _, real_at = show(client)
        assert pair not in seen
        seen.add(pair)
        assert answer(client, pair, real_at).status_code == 200
    assert client.get("/study/next.json").json() == {"pair": None, "images": [],
                                                     "round": {"right": len(pairs) - 1, "answered": len(pairs)}}
    assert Answer.objects.count() == len(pairs)


def test_a_photo_is_shown_once_per_session_whichever_model_colored_it(client, db):
    # Two models' pairs of the same two photos: four pairs, two photos.
    for version in ("model-a", "model-b"):
        for n in range(2):
            make_pair(version, n)
    shown = []
    for _ in range(2):
        pair, _, real_at = show(client)
        shown.append(Pair.objects.get(pk=pair))
        assert answer(client, pair, real_at).status_code == 200
    assert len({p.source_sha256 for p in shown}) == 2
    assert client.get("/study/next.json").json()["pair"] is None
    # Another visitor gets the same photos, each from either model, drawn at random.
    other = Client(REMOTE_ADDR="10.0.0.2")
    assert show(other)[0] in set(Pair.objects.values_list("pk", flat=True))


def test_logging_in_does_not_give_a_second_answer(client, pairs, owner):
    pair, _, real_at = show(client)
    assert answer(client, pair, real_at).status_code == 200
    client.force_login(owner)  # Django gives the session a new key
    assert answer(client, pair, real_at).status_code == 409
    assert Answer.objects.count() == 1


def test_two_requests_racing_with_one_session_count_once(client, pairs):
    from django.contrib.sessions.backends.db import SessionStore

    from study.trials import Participant

    pair, _, real_at = show(client)
    key = client.cookies["sessionid"].value
    # Both requests loaded the session while the pair was on show, as two tabs or a double
    # click would: the database, not the session, decides.
    first, second = Participant(SessionStore(key)), Participant(SessionStore(key))
    assert first.answer(pair, real_at).recorded
    late = second.answer(pair, 1 - real_at)
    assert not late.recorded and late.refusal == "repeat"
    assert Answer.objects.count() == 1 and Answer.objects.get().correct


def test_a_pair_withdrawn_while_on_show_is_not_counted(client, pairs):
    pair, _, real_at = show(client)
    Pair.objects.filter(pk=pair).delete()
    r = answer(client, pair, real_at)
    assert r.status_code == 409 and Answer.objects.count() == 0
    assert client.get("/study/next.json").json()["pair"] != pair


def test_two_people_count_separately(pairs):
    one, two = Client(REMOTE_ADDR="10.0.0.1"), Client(REMOTE_ADDR="10.0.0.2")
    for client in (one, two):
        pair, _, real_at = show(client)
        assert answer(client, pair, real_at).status_code == 200
    assert Answer.objects.count() == 2
    assert len(set(Answer.objects.values_list("participant", flat=True))) == 2


def test_a_pair_not_on_show_cannot_be_answered(client, pairs):
    assert answer(client, pairs[0].pk, 0).status_code == 409  # nothing asked yet
    pair, _, _ = show(client)
    other = next(p.pk for p in pairs if p.pk != pair)
    r = answer(client, other, 0)
    assert r.status_code == 409 and "next.json" in r.json()["error"]
    assert Answer.objects.count() == 0


@pytest.mark.parametrize("body", [
    "not json", "[1, 0]", "{}", '{"pair": "1", "choice": 0}', '{"pair": true, "choice": 0}',
    '{"pair": PAIR, "choice": 2}', '{"pair": PAIR, "choice": true}', '{"pair": PAIR, "choice": "0"}',
    '{"pair": PAIR}',
])
def test_bad_answers_get_a_clear_error_and_count_nothing(client, pairs, body):
    pair = client.get("/study/next.json").json()["pair"]
    r = client.post("/study/answer", body.replace("PAIR", str(pair)), content_type="application/json")
    assert r.status_code == 400
    assert "error" in r.json()
    assert Answer.objects.count() == 0


def test_an_answer_needs_the_csrf_token(pairs):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/study/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1).decode()
    pair, _, real_at = show(client)
    refused = client.post("/study/answer", {"pair": pair, "choice": real_at}, content_type="application/json")
    assert refused.status_code == 403
    assert Answer.objects.count() == 0
    ok = client.post("/study/answer", {"pair": pair, "choice": real_at}, content_type="application/json",
                     HTTP_X_CSRFTOKEN=token)
    assert ok.json() == {"recorded": True}


def test_only_post_answers(client, pairs):
    assert client.get("/study/answer").status_code == 405
    assert client.post("/study/next.json").status_code == 405


def test_wilson_interval_matches_a_hand_computation():
    # k=3, n=10, z=1.959964: p=0.3, z^2=3.841459, z^2/n=0.384146,
    # centre=(0.3 + 0.192073)/1.384146=0.355507, half=1.959964*sqrt(0.021 + 0.009604)/1.384146=0.247715.
    lo, hi = wilson_interval(3, 10)
    assert lo == pytest.approx(0.355507 - 0.247715, abs=2e-6)
    assert hi == pytest.approx(0.355507 + 0.247715, abs=2e-6)
    # k=0: the interval is [0, z^2/n / (1 + z^2/n)] = [0, 0.277533], not zero wide.
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.277533), abs=1e-6)
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_results_give_the_fooling_rate_and_its_wilson_interval_per_model_version(client, db):
    old, new = make_pair("old-version", 1), make_pair("new-version", 2)
    for i in range(10):
        Answer.objects.create(pair=old, participant=f"p{i}", real_slot=0, choice=0 if i >= 3 else 1, correct=i >= 3,
                              counted=True)
    Answer.objects.create(pair=old, participant="not-counted", real_slot=0, choice=1, correct=False)
    make_pair("new-version", 3)
    r = client.get("/study/results.json")
    assert r.status_code == 200
    rows = {row["model"]: row for row in r.json()["versions"]}
    assert set(rows) == {"old-version", "new-version"}
    assert rows["old-version"]["answers"] == 10 and rows["old-version"]["fooled"] == 3
    assert rows["old-version"]["fooling_rate"] == pytest.approx(0.3)
    assert rows["old-version"]["ci95"] == pytest.approx([0.107792, 0.603222], abs=2e-6)
    assert rows["new-version"] == {"model": "new-version", "answers": 0, "fooled": 0, "fooling_rate": None,
                                   "ci95": None, "deployed": False}
    assert new.answers.count() == 0


def test_results_put_the_deployed_model_first(client, db, tiny_model):
    from mlcore.modelfile import read_summary

    deployed = read_summary(tiny_model)["version"]
    make_pair("some-older-model", 1)
    pair = make_pair(deployed, 2)
    make_pair("a-newer-experiment", 3)
    Answer.objects.create(pair=pair, participant="x", real_slot=1, choice=0, correct=False, counted=True)
    result = client.get("/study/results.json").json()
    # The fields, at the top level, are the deployed model's.
    assert {k: result[k] for k in ("model", "answers", "fooled", "fooling_rate")} == \
        {"model": deployed, "answers": 1, "fooled": 1, "fooling_rate": 1.0}
    assert result["ci95"] == pytest.approx([0.206549, 1.0], abs=2e-6)  # Wilson, k = n = 1, by hand
    rows = result["versions"]
    assert rows[0]["model"] == deployed and rows[0]["deployed"] and rows[0]["fooled"] == 1
    assert [r["deployed"] for r in rows[1:]] == [False, False]


def test_results_name_the_deployed_model_before_anyone_answered(client, db, tiny_model):
    from mlcore.modelfile import read_summary

    result = client.get("/study/results.json").json()
    assert result == {"model": read_summary(tiny_model)["version"], "answers": 0, "fooled": 0,
                      "fooling_rate": None, "ci95": None, "versions": [], "counts": result["counts"]}
    assert "finished rounds" in result["counts"] and f"at most {DAILY_COUNTED_ANSWERS} a day" in result["counts"]


def test_study_requests_are_throttled_per_address_signed_in_or_not(client, pairs, settings, owner):
    settings.API_ANON_RATE = "3/minute"
    for _ in range(3):
        assert client.get("/study/next.json").status_code == 200
    r = client.get("/study/results.json")
    assert r.status_code == 429
    assert int(r["Retry-After"]) >= 1 and "Try again" in r.json()["error"]
    assert answer(client, pairs[0].pk, 0).status_code == 429
    client.force_login(owner)  # signing in buys no faster flood
    assert client.get("/study/next.json").status_code == 429
    assert Client(REMOTE_ADDR="10.0.0.9").get("/study/next.json").status_code == 200


def test_without_pairs_the_study_page_says_so(client, db):
    html = client.get("/study/").content.decode()
    assert "There are no photos to show yet" in html and 'id="trial"' not in html
    assert client.get("/study/next.json").json() == {"pair": None, "images": []}


def test_the_study_page_explains_the_timing_and_carries_no_inline_script(client, pairs):
    r = client.get("/study/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-display-ms="1000"' in html and "1000 ms" in html
    assert "Ready" in html and "csrfmiddlewaretoken" in html
    assert "32%" in html  # the paper's figure beside ours
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert " style=" not in html and "onclick" not in html


def test_fresh_sessions_from_one_address_never_get_a_pair_it_answered(db):
    make_pair(n=0)
    first = Client(REMOTE_ADDR="10.1.1.1")
    pair, _, real_at = show(first)
    assert answer(first, pair, real_at).status_code == 200
    fresh = Client(REMOTE_ADDR="10.1.1.1")  # no cookie: a new session
    assert fresh.get("/study/next.json").json()["pair"] is None
    assert Client(REMOTE_ADDR="10.2.2.2").get("/study/next.json").json()["pair"] == pair


def test_logging_out_and_in_elsewhere_never_answers_a_pair_twice(db, owner):
    for n in range(2):
        make_pair(n=n)
    home = Client(REMOTE_ADDR="10.1.1.1")
    home.force_login(owner)
    pair, _, real_at = show(home)
    assert answer(home, pair, real_at).status_code == 200
    home.post("/accounts/logout/")
    phone = Client(REMOTE_ADDR="10.3.3.3")
    phone.force_login(owner)
    other, _, real_at = show(phone)
    assert other != pair
    assert answer(phone, other, real_at).status_code == 200
    assert phone.get("/study/next.json").json()["pair"] is None
    assert Answer.objects.filter(user=owner).count() == 2


def test_a_pair_drawn_before_signing_in_to_an_account_that_answered_it_is_refused(db, owner):
    make_pair(n=0)
    elsewhere = Client(REMOTE_ADDR="10.1.1.1")
    elsewhere.force_login(owner)
    pair, _, real_at = show(elsewhere)
    assert answer(elsewhere, pair, real_at).status_code == 200
    client = Client(REMOTE_ADDR="10.4.4.4")
    assert show(client)[0] == pair  # anonymous, at another address: on show
    client.force_login(owner)
    assert answer(client, pair, real_at).status_code == 409
    assert Answer.objects.count() == 1


def test_one_address_counts_at_most_the_daily_limit_and_the_rest_is_recorded(db, settings):
    settings.API_ANON_RATE = "1000/minute"  # the request throttle is not what is tested here
    extra = 5
    for n in range(DAILY_COUNTED_ANSWERS + extra):
        make_pair(n=n)
    flood = Client(REMOTE_ADDR="10.5.5.5")
    answer_round(flood, DAILY_COUNTED_ANSWERS + extra, right=lambda i: False)
    flood.get("/study/next.json")  # ends the last, unfinished round
    assert Answer.objects.count() == DAILY_COUNTED_ANSWERS + extra
    assert Answer.objects.filter(counted=True).count() == DAILY_COUNTED_ANSWERS
    assert Client(REMOTE_ADDR="10.6.6.6").get("/study/results.json").json()["versions"][0]["answers"] == \
        DAILY_COUNTED_ANSWERS


def test_one_account_counts_at_most_the_daily_limit_from_any_number_of_addresses(db, owner, settings):
    settings.API_ANON_RATE = "1000/minute"
    for n in range(DAILY_COUNTED_ANSWERS + ROUND):
        make_pair(n=n)
    for i in range(DAILY_COUNTED_ANSWERS // ROUND + 1):
        client = Client(REMOTE_ADDR=f"10.7.7.{i}")
        client.force_login(owner)
        answer_round(client, ROUND)
    assert Answer.objects.filter(user=owner).count() == DAILY_COUNTED_ANSWERS + ROUND
    assert Answer.objects.filter(counted=True).count() == DAILY_COUNTED_ANSWERS


def test_addresses_are_kept_only_as_keyed_hashes(client, pairs):
    pair, _, real_at = show(client)
    answer(client, pair, real_at)
    stored = Answer.objects.get().address
    assert stored and "127.0.0.1" not in stored and len(stored) == 64
