"""Browser tests of "Fix a color" on the photo page, with a mouse at 1280 px and touch at 390 px:
tap a spot, pick a suggested colour or any colour, move and remove markers, Apply, Reset.
With SCREENSHOT_DIR set, each step leaves a screenshot there, to be looked at."""

import os

import pytest
from playwright.sync_api import expect

from gallery.models import Photo
from tests.test_browser import (  # noqa: F401
    NEEDS_CHROMIUM,
    TIMEOUT_MS,
    browser,
    page,
    sample_photo,
    sign_up,
    site,
    wait_for,
    wait_until_done,
)
from tests.conftest import run_worker

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]


@pytest.fixture
def hint_site(browser, live_server, transactional_db, redis_conn, tiny_hint_model):  # noqa: F811
    return live_server.url


def screenshot(page, name):
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=False)


def open_done_photo(page, site, tmp_path, username):
    sign_up(page, site, username)
    page.set_input_files("#id_photos", [sample_photo(tmp_path, "grandma.jpg", size=(640, 480))])
    wait_until_done(page, 1)
    page.click("text=grandma")
    page.wait_for_selector("#fix-color")
    return Photo.objects.get(owner__username=username)


def box_of(page):
    return page.locator("#hint-layer").bounding_box()


def wait_until_recoloured(page, photo, renders):
    for _ in range(40):
        run_worker()
        photo.refresh_from_db()
        if photo.render_count >= renders and not photo.is_rendering:
            return
        page.wait_for_timeout(250)
    raise AssertionError("the hint render was not done")


def test_with_a_mouse_a_person_fixes_a_colour_moves_it_and_resets(hint_site, page, tmp_path):  # noqa: F811
    photo = open_done_photo(page, hint_site, tmp_path, "ann")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click("#fix-color")
    expect(page.locator("#hint-layer")).to_be_visible()
    assert page.is_checked("#show-uncertainty")  # the guide is on while fixing
    box = box_of(page)

    # A click adds a hint there; its swatches are the model's suggestions, likeliest first.
    page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.4)
    expect(page.locator(".hint-marker")).to_have_count(1)
    expect(page.locator("#hint-picker")).to_be_visible()
    expect(page.locator(".swatch").nth(2)).to_be_visible()
    labels = page.locator(".swatch").evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    assert len(labels) >= 3
    chosen = labels[1].split(",")[0]
    page.locator(".swatch").nth(1).click()
    assert page.eval_on_selector(".hint-marker", "e => e.style.background") != ""
    screenshot(page, "fix-color-picker-1280")

    # Drag the marker somewhere else.
    marker = page.locator(".hint-marker").bounding_box()
    page.mouse.move(marker["x"] + marker["width"] / 2, marker["y"] + marker["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5, steps=8)
    page.mouse.up()
    assert page.eval_on_selector(".hint-marker", "e => parseFloat(e.style.left)") == pytest.approx(60, abs=1.5)

    # A second hint, in any colour from the picker, then removed.
    page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.8)
    expect(page.locator(".hint-marker")).to_have_count(2)
    page.click("#hint-remove")
    expect(page.locator(".hint-marker")).to_have_count(1)

    # Apply: progress while it re-colours, then the new colours and the hint as stored.
    old_src = page.get_attribute("#after-image", "src")
    screenshot(page, "fix-color-before-apply-1280")
    page.click("#hints-apply")
    expect(page.locator("#hints-state")).to_contain_text("Re-coloring with 1 color hint")
    screenshot(page, "fix-color-applying-1280")
    wait_until_recoloured(page, photo, 2)
    expect(page.locator("#hints-state")).to_contain_text("Colored with 1 color hint of yours", timeout=TIMEOUT_MS)
    assert page.get_attribute("#after-image", "src") != old_src
    (hint,) = photo.hints
    assert hint["color"] == chosen and hint["x"] == pytest.approx(0.6, abs=0.015) and photo.hints_used == 1
    # The guide shows the new colours' uncertainty, not the map of the colours it replaced.
    expect(page.locator("#uncertainty-overlay")).to_have_attribute("src", f"/photos/{photo.pk}/uncertainty.png?v=2")
    screenshot(page, "fix-color-applied-1280")

    # Reset removes them all; Apply brings the model's own colours back.
    page.click("#hints-reset")
    expect(page.locator(".hint-marker")).to_have_count(0)
    page.click("#hints-apply")
    wait_until_recoloured(page, photo, 3)
    expect(page.locator("#hints-state")).to_contain_text("own colors are back", timeout=TIMEOUT_MS)
    assert photo.hints == [] and photo.hints_used == 0

    # Close leaves the mode: the before/after slider is back.
    page.click("#fix-close")
    expect(page.locator("#hint-layer")).to_be_hidden()
    expect(page.locator("#fix-color")).to_be_visible()


def test_with_touch_at_390_px_a_person_taps_drags_and_applies(hint_site, browser, tmp_path):  # noqa: F811
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                                  device_scale_factor=2)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()  # noqa: F811
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        photo = open_done_photo(page, hint_site, tmp_path, "bea")
        page.tap("#fix-color")
        expect(page.locator("#hint-layer")).to_be_visible()
        page.wait_for_timeout(600)  # the page scrolls the photo into view
        box = box_of(page)
        assert box["width"] <= 390
        page.touchscreen.tap(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.3)
        expect(page.locator(".hint-marker")).to_have_count(1)
        expect(page.locator(".swatch").nth(2)).to_be_visible()
        # The popover stays on the screen.
        picker = page.locator("#hint-picker").bounding_box()
        assert picker["x"] >= 0 and picker["x"] + picker["width"] <= 390
        page.locator(".swatch").first.tap()
        screenshot(page, "fix-color-picker-390")
        page.tap("#hint-done")
        expect(page.locator("#hint-picker")).to_be_hidden()

        # Drag the marker with a finger.
        marker = page.locator(".hint-marker").bounding_box()
        cdp = context.new_cdp_session(page)
        x0, y0 = marker["x"] + marker["width"] / 2, marker["y"] + marker["height"] / 2
        x1, y1 = box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.7
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y0}]})
        for i in range(1, 9):
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [
                {"x": x0 + (x1 - x0) * i / 8, "y": y0 + (y1 - y0) * i / 8}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        assert page.eval_on_selector(".hint-marker", "e => parseFloat(e.style.left)") == pytest.approx(25, abs=2)
        assert page.eval_on_selector(".hint-marker", "e => parseFloat(e.style.top)") == pytest.approx(70, abs=2)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        screenshot(page, "fix-color-moved-390")
        page.wait_for_timeout(500)  # a tap right after a touch ends is read as a double tap
        page.tap("#hints-apply")
        expect(page.locator("#hints-state")).to_contain_text("Re-coloring")
        wait_until_recoloured(page, photo, 2)
        expect(page.locator("#hints-state")).to_contain_text("Colored with 1 color hint", timeout=TIMEOUT_MS)
        (hint,) = photo.hints
        assert (hint["x"], hint["y"]) == (pytest.approx(0.25, abs=0.02), pytest.approx(0.7, abs=0.02))
        screenshot(page, "fix-color-applied-390")
    finally:
        context.close()
    assert blocked == [], blocked


def test_a_model_without_hints_says_why_there_is_no_fix_a_colour(site, page, tmp_path):  # noqa: F811
    sign_up(page, site, "cy")
    page.set_input_files("#id_photos", [sample_photo(tmp_path, "uncle.png")])
    wait_until_done(page, 1)
    page.click("text=uncle")
    expect(page.locator("#fix-unavailable")).to_contain_text("needs a model trained with color hints")
    expect(page.locator("#fix-color")).to_have_count(0)


