"""The gallery and photo pages work through /api/v1/ with the browser's session, at a desktop
width (1280 px) and a phone's (390 px): upload with progress and the quota note kept up to
date, live status without a reload, and the vividness slider's re-render. Every request the
pages' scripts make is the API's. With SCREENSHOT_DIR set, each step leaves a screenshot."""

import os

import pytest
from playwright.sync_api import expect

from gallery.models import Photo
from tests.test_browser import (  # noqa: F401
    NEEDS_CHROMIUM,
    TIMEOUT_MS,
    browser,
    sample_photo,
    sign_up,
    site,
    wait_until_done,
    wait_until_rendered,
)

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]


@pytest.fixture
def scripted_requests():
    return []


@pytest.fixture
def page_at(browser, request, scripted_requests):  # noqa: F811
    width = request.param
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    # What the scripts ask (fetch and XMLHttpRequest), not the pages and images the browser loads.
    page.on("request", lambda r: scripted_requests.append((r.method, r.url))
            if r.resource_type in ("fetch", "xhr") else None)
    yield page, width
    context.close()
    assert blocked == [], blocked


def screenshot(page, name, width):
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        page.wait_for_load_state("networkidle")
        page.screenshot(path=os.path.join(folder, f"{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("page_at", [1280, 390], indirect=True)
def test_upload_live_status_and_vividness_go_through_the_api(site, page_at, scripted_requests, tmp_path,  # noqa: F811
                                                             settings):
    page, width = page_at
    settings.COLORIZE_DAILY_QUOTA = 10
    sign_up(page, site, f"wren{width}")
    assert page.inner_text("#quota-remaining") == "10"

    # Upload two photos: each shows its progress, then its card, queued; the quota note follows.
    page.set_input_files("#id_photos", [sample_photo(tmp_path, "harbour.jpg", size=(160, 120)),
                                        sample_photo(tmp_path, "mill.png", size=(120, 160))])
    expect(page.locator(".photo-card[data-status=queued]")).to_have_count(2)
    expect(page.locator("#quota-remaining")).to_have_text("8")
    assert page.locator("#upload-errors li").count() == 0
    screenshot(page, "api-gallery-queued", width)

    # A worker colours them; the cards turn to done with no reload.
    wait_until_done(page, 2)
    assert page.inner_text("#photo-grid").count("Done") == 2
    assert page.locator(".photo-card.uploading").count() == 0
    screenshot(page, "api-gallery-done", width)

    # The photo page: move the vividness slider; the re-render is asked of the API and shown.
    page.click("text=harbour")
    page.wait_for_selector("#vividness")
    photo = Photo.objects.get(original_filename="harbour.jpg")
    old_src = page.get_attribute("#after-image", "src")
    page.focus("#vividness")
    page.keyboard.press("End")
    page.wait_for_selector("#render-state:has-text('Re-coloring')")
    wait_until_rendered(page, photo)
    page.wait_for_selector("#render-state:has-text('Vividness 100 saved')")
    assert page.get_attribute("#after-image", "src") != old_src
    assert f"/api/v1/photos/{photo.pk}/preview/" in page.get_attribute("#after-image", "src")
    screenshot(page, "api-photo-vividness", width)

    # Every request the scripts made was the API's: uploads, status polls, the re-render.
    assert scripted_requests and all("/api/v1/" in url for _, url in scripted_requests), scripted_requests
    posts = [url for method, url in scripted_requests if method == "POST"]
    assert sum(url.endswith("/api/v1/photos/") for url in posts) == 2
    assert any(url.endswith(f"/api/v1/photos/{photo.pk}/rerender/") for url in posts)
    assert any("/api/v1/photos/?gallery=" in url for method, url in scripted_requests if method == "GET")


@pytest.mark.parametrize("page_at", [390], indirect=True)
def test_a_refused_upload_shows_the_apis_reason_and_the_quota_note_says_none_left(site, page_at, tmp_path,  # noqa: F811
                                                                                  settings):
    page, width = page_at
    settings.COLORIZE_DAILY_QUOTA = 1
    sign_up(page, site, "yara")
    page.set_input_files("#id_photos", [sample_photo(tmp_path, "one.png"), sample_photo(tmp_path, "two.png")])
    page.wait_for_selector("#upload-errors li")
    assert "used today's 1 colorizations" in page.inner_text("#upload-errors")
    expect(page.locator(".photo-card[data-status=queued]")).to_have_count(1)
    expect(page.locator("#quota-remaining")).to_have_text("0")
    screenshot(page, "api-gallery-quota-used", width)
