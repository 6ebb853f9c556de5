"""The public model page: the card, Table 1 and curves from the stored evaluation JSON, the
example grid, and the live study result, all read from the files at request time."""

import copy
import json
import os
import re

import pytest

from mlcore.modelfile import DEFAULT_RESULTS_PATH, read_summary
from mlcore.paths import DEFAULT_MODEL_PATH
from study import card
from study.models import Answer, Pair
from tests.test_study_views import make_pair

SHIPPED = json.loads(DEFAULT_RESULTS_PATH.read_text())


@pytest.fixture
def results_file(tmp_path, monkeypatch):
    """A copy of the shipped evaluation JSON that a test may rewrite."""
    path = tmp_path / "default_test.json"
    path.write_text(json.dumps(SHIPPED))
    monkeypatch.setattr(card, "DEFAULT_RESULTS_PATH", path)
    monkeypatch.setattr(card, "DEFAULT_HINT_RESULTS_PATH", tmp_path / "default_hints.json")  # none yet
    return path


def html_of(client):
    r = client.get("/model/")
    assert r.status_code == 200
    return r.content.decode()


def test_anyone_can_read_the_model_page_with_its_card_and_table_1(client, db):
    html = html_of(client)
    model_row = next(r for r in SHIPPED["rows"] if "model" in r)
    shipped = read_summary(DEFAULT_MODEL_PATH)
    assert shipped["version"] in html
    for row in SHIPPED["rows"]:
        assert f"{row['auc_plain']:.1f}" in html and f"{row['auc_rebal']:.1f}" in html
        assert f"{row['colorfulness']:.1f}" in html
    assert f"{model_row['top1']:.1f}" in html and f"{model_row['psnr']:.2f}" in html
    for label in ("Real photos (ground truth)", "Gray: no color at all", "Random: colors of another photo"):
        assert label in html
    assert f"{SHIPPED['n_images']:,}" in html
    inference = shipped["meta"]["inference"]
    assert f"{inference['size']}×{inference['size']}" in html
    assert "Known weaknesses" in html


def test_the_file_size_is_given_in_the_same_megabytes_as_the_model_card(client, db):
    size_mb = os.path.getsize(DEFAULT_MODEL_PATH) / 1e6
    assert f"the file is {size_mb:.1f}&nbsp;MB" in html_of(client)  # kept on one line on a phone
    assert f"**{size_mb:.1f} MB**" in (DEFAULT_MODEL_PATH.parent / "MODEL_CARD.md").read_text()


def test_a_fine_tuned_model_is_not_said_to_be_trained_on_its_last_steps_photos_alone(client, db):
    shipped = read_summary(DEFAULT_MODEL_PATH)["meta"]
    html = html_of(client)
    count = f"{shipped['train_images']:,}"
    if shipped["config"].get("init_from"):  # the shipped default: one semantic epoch on 4,000 photos
        assert f"its last training step used {count} color photos" in html
        assert f"trained on {count} color photos" not in html
    else:
        assert f"trained on {count} color photos" in html


def test_the_curves_are_inline_svg_drawn_from_the_json(client, db):
    html = html_of(client)
    lines = re.findall(r'<polyline points="([^"]+)"', html.split('id="hint-curve"')[0])
    assert len(lines) == 2 * len(SHIPPED["rows"])  # plain and rebalanced, one line per row
    for points in lines:
        assert len(points.split()) == len(SHIPPED["rows"][0]["curve_plain"])
    # The ground truth is right at every threshold: its line runs along the top of the plot.
    ys = {float(p.split(",")[1]) for p in lines[0].split()}
    assert ys == {float(card.PLOT_TOP)}


def test_the_page_follows_a_replaced_results_file(client, db, results_file):
    changed = copy.deepcopy(SHIPPED)
    model_row = next(r for r in changed["rows"] if r["method"] not in card.BASELINE_LABELS)
    shipped = f"{model_row['auc_plain']:.1f}"
    before = html_of(client).count(shipped)
    assert before and "97.3" not in html_of(client)
    model_row["auc_plain"] = 97.31
    results_file.write_text(json.dumps(changed))
    stat = results_file.stat()
    os.utime(results_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    html = html_of(client)
    assert "97.3" in html and html.count(shipped) < before


def test_without_a_stored_evaluation_the_page_says_so(client, db, results_file):
    results_file.unlink()
    html = html_of(client)
    assert "No measurement of this model is stored yet" in html


def test_the_page_says_when_the_site_runs_another_model_than_the_one_measured(client, db, tiny_model):
    html = html_of(client)
    assert read_summary(tiny_model)["version"] in html
    assert "which has no stored measurement" in html


def test_the_example_grid_is_served_through_a_view(client, db):
    html = html_of(client)
    assert 'src="/model/examples.jpg"' in html
    r = client.get("/model/examples.jpg")
    assert r.status_code == 200 and r["Content-Type"] == "image/jpeg"
    assert b"".join(r.streaming_content)[:2] == b"\xff\xd8"


def test_the_live_study_result_of_the_deployed_model_is_shown_beside_the_papers(client, db, tiny_model):
    deployed = read_summary(tiny_model)["version"]
    html = html_of(client)
    assert "No answers yet for this model" in html and "32%" in html
    pair = make_pair(deployed, 1)
    other = make_pair("another-model", 2)
    for i in range(10):
        Answer.objects.create(pair=pair, participant=f"p{i}", real_slot=0, choice=1 if i < 3 else 0, correct=i >= 3,
                              counted=True)
    Answer.objects.create(pair=other, participant="q", real_slot=0, choice=1, correct=False, counted=True)
    html = html_of(client)
    assert "3 of 10 answers; 95% interval 11% to 60%" in html
    assert re.search(r'data-field="rate">30%<', html)
    assert Pair.objects.count() == 2


def test_the_model_page_has_no_inline_script_or_style(client, db):
    html = html_of(client)
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert " style=" not in html and "onclick" not in html


def test_the_footer_and_the_home_page_link_to_the_model_page_and_the_study(client, db):
    home = client.get("/").content.decode()
    assert 'href="/model/"' in home and 'href="/study/"' in home
    footer = html_of(client).split('class="footer"')[1]
    assert 'href="/model/"' in footer


@pytest.mark.parametrize("content", ["not json", "[]", '{"rows": [{"no method": 1}]}', '{"rows": "x"}'])
def test_a_damaged_results_file_gives_the_page_without_table_1(client, db, results_file, content):
    results_file.write_text(content)
    html = html_of(client)
    assert "No measurement of this model is stored yet" in html


def test_an_evaluation_of_several_models_names_the_others(client, db, results_file):
    data = copy.deepcopy(SHIPPED)
    extra = copy.deepcopy(next(r for r in data["rows"] if "model" in r))
    extra.update(method="experiment", model="lite0-l2-0123456789")
    data["rows"].append(extra)
    results_file.write_text(json.dumps(data))
    html = html_of(client)
    assert html.count(">This model<") == 1 and ">experiment<" in html


def test_only_the_shipped_model_is_highlighted_and_drawn_in_its_colour(client, db, results_file):
    data = copy.deepcopy(SHIPPED)
    shipped_row = next(r for r in data["rows"] if "model" in r)
    other = copy.deepcopy(shipped_row)
    other.update(method="previous", model="lite0-rebalanced-0123456789")
    data["rows"] = [r for r in data["rows"] if "model" not in r] + [shipped_row, other]
    results_file.write_text(json.dumps(data))
    html = html_of(client)
    assert html.count('class="ours"') == 1 and ">The previous model<" in html
    # Two panels: each draws the shipped model's line once in its colour, the other model's in another.
    lines = re.findall(r'<polyline [^>]*stroke="(#[0-9a-f]+)"', html)
    assert lines.count(card.MODEL_COLOUR) == 2 and lines.count(card.OTHER_MODEL_COLOUR) == 2


def test_the_shipped_architecture_is_described_in_plain_words(client, db):
    html = html_of(client)
    assert "a summary of what the whole photo shows" in html and "<dd>lite0ctx," not in html


def test_a_lite1_encoder_is_described_in_plain_words_too(client, db, monkeypatch):
    from mlcore.modelfile import describe_architecture

    shipped = card.model_facts
    monkeypatch.setattr(card, "model_facts",
                        lambda: {**shipped(), "arch": "lite1ctx", "network": describe_architecture("lite1ctx")})
    html = html_of(client)
    assert "an EfficientNet-Lite1 image encoder" in html and "<dd>lite1ctx," not in html


def test_every_architecture_has_plain_words():
    from mlcore.modelfile import ARCHITECTURE_DESCRIPTIONS
    from mlcore.networks import ARCHITECTURES

    assert set(ARCHITECTURE_DESCRIPTIONS) == set(ARCHITECTURES)


def test_the_charts_last_axis_label_fits_inside_the_chart():
    from study import card

    label_width = len("150") * 13 * 0.6  # 13-unit digits are about 0.6 em wide
    assert card.CHART_W - card.PLOT_RIGHT >= label_width / 2 + 2


def test_at_phone_width_table_1_says_it_scrolls_and_can_be_scrolled_by_keyboard(client, db):
    html = client.get("/model/").content.decode()
    if 'class="results"' not in html:
        pytest.skip("no stored evaluation of the shipped model")
    assert 'id="table-scroll-hint"' in html and "slide the table sideways" in html
    assert 'class="table-scroll" role="region"' in html and 'tabindex="0"' in html


def test_a_stored_hint_curve_is_shown_beside_the_papers(client, db, results_file):
    assert 'id="hint-curve"' not in html_of(client)  # none stored: nothing shown
    changed = copy.deepcopy(SHIPPED)
    model_row = next(r for r in changed["rows"] if r["method"] not in card.BASELINE_LABELS)
    model_row["hint_curve"] = [{"hints": n, "psnr": 23.0 + i * 1.37, "auc_plain": 90.0, "auc_rebal": 60.0}
                               for i, n in enumerate((0, 1, 2, 5, 10))]
    results_file.write_text(json.dumps(changed))
    stat = results_file.stat()
    os.utime(results_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    html = html_of(client)
    assert 'id="hint-curve"' in html and "Zhang et al. 2017" in html
    assert "24.37" in html and "28.48" in html  # ours, at 1 and 5 hints
    assert "24.43" in html and "31.13" in html  # the paper's, at 0 and 100
    assert html.count("<polyline") == 2 * len(card.evaluation()["charts"][0]["series"]) + 2


def test_a_hint_curve_measured_apart_is_shown_with_its_number_of_photos(client, db, results_file):
    """`evaluate --hints` on a sample of the test split, stored beside the whole split's table."""
    hints_file = results_file.parent / "default_hints.json"
    curve = [{"hints": n, "psnr": 24.0 + i, "auc_plain": 90.0, "auc_rebal": 60.0} for i, n in enumerate((0, 1, 10))]
    hints_file.write_text(json.dumps({"n_images": 777, "rows": [], "hint_curve": curve}))
    html = html_of(client)
    assert 'id="hint-curve"' in html and "777 test photos" in html
    assert "25.00" in html and "26.00" in html
