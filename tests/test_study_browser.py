"""The real-or-fake study in Chromium: ten pairs the way a visitor does them (Ready, one
second of looking, a click or an arrow key), the score after the round, and the live result;
and the model page, at 1280 and 390 px wide (screenshots into SCREENSHOT_DIR when set)."""

import io
import json
import os
import re

import pytest
from PIL import Image

from playwright.sync_api import expect

from mlcore.modelfile import DEFAULT_HINT_RESULTS_PATH, DEFAULT_RESULTS_PATH, read_summary
from study import views
from study.models import Answer, Pair
from tests.test_browser import NEEDS_CHROMIUM, TIMEOUT_MS, browser  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]

PAIRS = 12
# Records when #trial changes state, in the page's own clock.
STATE_LOG = """
window.stateLog = [];
new MutationObserver(() => {
  const trial = document.getElementById('trial');
  window.stateLog.push([trial.dataset.state, performance.now()]);
}).observe(document.getElementById('trial'), {attributes: true, attributeFilter: ['data-state']});
"""


def jpeg(colour, size):
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture
def study_site(browser, live_server, transactional_db, tiny_model):  # noqa: F811
    version = read_summary(tiny_model)["version"]
    for n in range(PAIRS):
        Pair.store(real_jpeg=jpeg((180, 40 + 10 * n, 40), (240, 180)), fake_jpeg=jpeg((40, 40 + 10 * n, 180), (240, 180)),
                   size=(240, 180), model_version=version, source=f"test/{n}.jpg", source_sha256=f"{n:064x}")
    return live_server.url


# The policy the site is moving to: its own scripts, styles and images only, nothing inline.
# The study's pages are served under it here; a violation is a console error, and fails.
STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'"


def with_strict_csp(route):
    response = route.fetch()
    route.fulfill(response=response, headers={**response.headers, "content-security-policy": STRICT_CSP})


def new_page(browser, width):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.route(lambda url: url.endswith(("/study/", "/model/")), with_strict_csp)
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


def shot(page, name, full_page=True):
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=full_page)


def wait_state(page, state):
    page.wait_for_selector(f"#trial[data-state={state}]")


def test_a_visitor_goes_through_ten_pairs_and_sees_the_score(study_site, browser):  # noqa: F811
    page, errors = new_page(browser, 1280)
    page.goto(f"{study_site}/study/")
    page.evaluate(STATE_LOG)
    wait_state(page, "ready")
    shot(page, "study-ready-1280")
    for i in range(10):
        wait_state(page, "ready")
        frames = page.locator(".frame")
        assert frames.nth(0).is_disabled() and frames.nth(1).is_disabled()
        page.click("#ready")
        wait_state(page, "showing")
        sizes = page.eval_on_selector_all(".frame img", "imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])")
        assert sizes == [[240, 180], [240, 180]]
        if i == 0:
            shot(page, "study-showing-1280", full_page=False)
        wait_state(page, "choosing")
        assert page.locator(".frame img").count() == 0  # the photos are gone once the second is up
        if i == 0:
            shot(page, "study-choosing-1280")
        if i % 2:
            page.keyboard.press("ArrowRight")
        else:
            page.click(".frame[data-choice='0']")
        expect(page.locator("#trial-progress")).to_have_text(re.compile(rf"^{i + 1} pairs? answered"))

    wait_state(page, "score")
    assert Answer.objects.count() == 10
    right = Answer.objects.filter(correct=True).count()
    assert f"You picked the real photo in {right} of these 10 pairs" in page.inner_text("#trial-status")
    assert page.inner_text("#ready") == "Next 10 pairs"
    # The live result has followed: ten answers for the model this site runs.
    expect(page.locator("#study-live [data-field=detail]")).to_contain_text("of 10 answers")
    assert f"{10 - right} of 10 answers" in page.inner_text("#study-live")
    shot(page, "study-score-1280")

    # Each pair was on screen for the display time, and no longer: from the state that puts
    # the photos up to the one that takes them down, measured in the page.
    log = page.evaluate("window.stateLog")
    shown = [(b[1] - a[1]) for a, b in zip(log, log[1:]) if a[0] == "showing" and b[0] == "choosing"]
    assert len(shown) == 10
    assert all(views.DISPLAY_MS <= ms < views.DISPLAY_MS + 400 for ms in shown), shown
    # One answer per pair, each pair once, left and right both used.
    assert Answer.objects.values("pair").distinct().count() == 10
    assert set(Answer.objects.values_list("choice", flat=True)) == {0, 1}

    # The next round starts with a pair not seen yet; after the last one, a thank-you.
    page.click("#ready")
    for _ in range(PAIRS - 10):
        wait_state(page, "ready")
        page.click("#ready")
        wait_state(page, "choosing")
        page.keyboard.press("ArrowLeft")
        page.wait_for_selector("#trial[data-state=loading], #trial[data-state=ready], #trial[data-state=done]")
    wait_state(page, "done")
    assert "every pair we have" in page.inner_text("#trial-status")
    assert Answer.objects.count() == PAIRS
    assert errors == []
    page.context.close()


def test_the_study_and_the_model_page_at_phone_width(study_site, browser, monkeypatch):  # noqa: F811
    monkeypatch.setattr(views, "DISPLAY_MS", 4000)  # long enough to photograph the photos on show
    page, errors = new_page(browser, 390)
    page.goto(f"{study_site}/study/")
    wait_state(page, "ready")
    shot(page, "study-ready-390")
    page.click("#ready")
    wait_state(page, "showing")
    shot(page, "study-showing-390", full_page=False)
    box = page.locator(".frames").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390  # both photos side by side, on screen
    wait_state(page, "choosing")
    page.click(".frame[data-choice='1']")
    expect(page.locator("#trial-progress")).to_have_text("1 pair answered")
    assert Answer.objects.count() == 1

    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{study_site}/model/")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
        # Two charts (plain and rebalanced), one line per row of the stored evaluation; and the
        # hint curve (this model's and the paper's) when one is stored.
        hint_lines = 2 if DEFAULT_HINT_RESULTS_PATH.exists() else 0
        assert page.locator("svg polyline").count() == (
            2 * len(json.loads(DEFAULT_RESULTS_PATH.read_text())["rows"]) + hint_lines)
        if hint_lines:
            expect(page.locator("#hint-curve")).to_be_visible()
        assert page.evaluate("document.querySelector('img.examples').naturalWidth") > 0
        shot(page, f"model-{width}")
    assert errors == []
    page.context.close()
