"""Browser tests of the product as a first-time visitor sees it, at a
desktop width (1280 px) and a phone's (390 px): the home page's real
before/after, the header on one line, error pages, the API keys page,
copy buttons, gallery covers, and photos shown at their own shape and never
blown up past twice their size. With SCREENSHOT_DIR set, each step leaves a
screenshot at both widths there, to be looked at."""

import os
import re

import pytest
from PIL import Image

from gallery.models import Photo
from tests.test_browser import (  # noqa: F401
    NEEDS_CHROMIUM,
    TIMEOUT_MS,
    browser,
    sign_up,
    site,
    wait_for,
    wait_until_done,
)

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]

WIDTHS = (1280, 390)
# Taller than this at 390 px and the header has wrapped onto a second line.
ONE_LINE_HEADER_PX = 64


@pytest.fixture
def page(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    yield page
    context.close()


# The innermost elements that stick out past the right edge, for the failure message.
WIDE = """w => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 1
    && ![...e.children].some(c => c.getBoundingClientRect().right > w + 1)).map(e => e.outerHTML.slice(0, 80))"""


def at_both_widths(page, name, check=None):
    """Look at the page at each width: run `check(width)`, and leave a screenshot."""
    folder = os.environ.get("SCREENSHOT_DIR")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_load_state("networkidle")
        # Nothing sticks out sideways, and the header stays one line.
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, width, page.evaluate(WIDE, width))
        assert page.evaluate("document.querySelector('.topbar').offsetHeight") <= ONE_LINE_HEADER_PX, (name, width)
        if check:
            check(width)
        if folder:
            page.screenshot(path=os.path.join(folder, f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def images_loaded(page, selector):
    """True once every image matching `selector` has loaded (lazy ones take a moment)."""
    return wait_for(page, "s => { const els = [...document.querySelectorAll(s)];"
                    " return els.length > 0 && els.every(e => e.complete && e.naturalWidth > 0); }", selector)


def test_the_home_page_shows_a_real_before_and_after(site, page):  # noqa: F811
    page.goto(site + "/")
    assert images_loaded(page, "#compare img")
    page.focus("#compare-range")
    page.keyboard.press("End")
    assert page.eval_on_selector("#compare", "e => e.style.getPropertyValue('--pos')") == "100%"
    at_both_widths(page, "home")


def test_a_missing_page_is_the_sites_own_not_a_debug_page(site, page):  # noqa: F811
    response = page.goto(site + "/no/such/page/")
    assert response.status == 404
    assert "URLconf" not in page.content()
    at_both_widths(page, "not-found", lambda w: page.wait_for_selector("text=Go to the home page"))


def test_api_keys_page_makes_one_key_per_click_with_a_copy_button(site, page):  # noqa: F811
    sign_up(page, site, "kim")
    page.goto(site + "/accounts/api-keys/")
    page.fill("#id_name", "laptop")
    page.click("text=Make a key")
    key = page.input_value("#new-key")
    page.click("#copy-key")
    page.wait_for_selector("#copy-key:has-text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == key
    at_both_widths(page, "api-keys-new")
    page.reload()
    assert page.locator("#new-key").count() == 0
    assert page.locator("table.keys tbody tr").count() == 1


def test_photos_keep_their_shape_small_ones_are_not_blown_up_and_galleries_have_covers(site, page, tmp_path):  # noqa: F811
    sign_up(page, site, "lee")
    # A small portrait scan: 90 x 160 pixels.
    path = tmp_path / "portrait.png"
    Image.linear_gradient("L").resize((90, 160)).save(path)
    page.set_input_files("#id_photos", str(path))
    wait_until_done(page, 1)
    photo = Photo.objects.get()
    page.goto(f"{site}/photos/{photo.pk}/")
    page.wait_for_selector("#compare")
    assert images_loaded(page, "#compare img:not(.uncertainty-overlay)")

    def shape(width):
        box = page.locator("#compare").bounding_box()
        assert box["width"] <= 2 * 90 + 1  # at most twice its own width
        assert abs(box["height"] / box["width"] - 160 / 90) < 0.02  # its own shape: no bars
        duration = page.inner_text(".facts").split("Colorized in")[1].strip().splitlines()[0]
        assert re.fullmatch(r"[1-9][0-9]* ms|[0-9]+\.[0-9] s", duration), duration  # never "0.0 s"

    at_both_widths(page, "photo-small-portrait", shape)

    # The uncertainty overlay: fetched when turned on, over the photo, off again.
    assert page.get_attribute("#uncertainty-overlay", "src") is None
    page.check("#show-uncertainty")
    wait_for(page, "() => document.getElementById('uncertainty-overlay').complete"
                   " && document.getElementById('uncertainty-overlay').naturalWidth === 90")
    assert page.locator("#uncertainty-overlay").is_visible()
    at_both_widths(page, "photo-uncertainty")
    page.uncheck("#show-uncertainty")
    assert not page.locator("#uncertainty-overlay").is_visible()

    page.click("#share-on")
    page.click("#copy-share")
    page.wait_for_selector("#copy-share:has-text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == page.input_value("#share-url")
    at_both_widths(page, "photo-shared")
    # What the link shows anyone: the photo, not its private file name.
    page.goto(page.input_value("#share-url"))
    assert page.inner_text("h1") == "A colorized photo" and page.title().startswith("A colorized photo")
    at_both_widths(page, "shared-page")

    page.goto(site + "/galleries/")
    assert images_loaded(page, ".gallery-list img.cover")
    at_both_widths(page, "galleries")


def test_a_big_portrait_fits_the_screen_without_bars(site, page, tmp_path):  # noqa: F811
    sign_up(page, site, "max")
    path = tmp_path / "tall.jpg"
    Image.linear_gradient("L").resize((600, 900)).save(path)
    page.set_input_files("#id_photos", str(path))
    wait_until_done(page, 1)
    page.goto(f"{site}/photos/{Photo.objects.get().pk}/")

    def fits(width):
        box = page.locator("#compare").bounding_box()
        assert box["height"] <= 0.78 * 900 + 1
        assert abs(box["height"] / box["width"] - 900 / 600) < 0.02

    at_both_widths(page, "photo-portrait", fits)


def test_a_gallery_downloads_whole_or_in_part_and_photos_are_deleted_together(site, page, tmp_path):  # noqa: F811
    import zipfile

    sign_up(page, site, "ned")
    files = []
    for name in ("one.png", "two.png", "three.png"):
        Image.linear_gradient("L").resize((60, 45)).save(tmp_path / name)
        files.append(str(tmp_path / name))
    page.set_input_files("#id_photos", files)
    wait_until_done(page, 3)
    # Cards added by the upload script get selection boxes, and the bar appears, without a reload.
    assert page.locator("input.select-photo").count() == 3 and page.is_visible("#download-all")
    with page.expect_download() as info:
        page.click("#download-all")
    assert sorted(zipfile.ZipFile(info.value.path()).namelist()) == ["one-color.png", "three-color.png", "two-color.png"]

    assert page.is_disabled("#delete-selected")
    boxes = page.locator("input.select-photo")
    boxes.nth(0).check()
    boxes.nth(1).check()
    assert page.inner_text("#bulk-count") == "2 selected"
    at_both_widths(page, "gallery-selected")
    with page.expect_download() as info:
        page.click("#download-selected")
    assert len(zipfile.ZipFile(info.value.path()).namelist()) == 2
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-selected")
    page.wait_for_selector("text=Deleted 2 photos.")
    assert Photo.objects.count() == 1

    page.goto(site + "/accounts/")
    with page.expect_download() as info:
        page.click("#export-account")
    assert "account.json" in zipfile.ZipFile(info.value.path()).namelist()
    at_both_widths(page, "account")


def test_a_color_photo_is_flagged_and_every_result_says_how_it_was_made(site, page, tmp_path):  # noqa: F811
    import skimage.data

    sign_up(page, site, "oda")
    path = tmp_path / "cat.jpg"
    Image.fromarray(skimage.data.chelsea()).resize((150, 100)).save(path, quality=90)
    page.set_input_files("#id_photos", str(path))
    wait_until_done(page, 1)
    page.goto(f"{site}/photos/{Photo.objects.get().pk}/")
    assert "already in color" in page.inner_text("[data-warning=already_in_colour]")
    assert "Colorized by colorsite" in page.inner_text("#provenance")
    at_both_widths(page, "photo-color-input")
