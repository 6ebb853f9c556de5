"""`manage.py evaluate` end to end, on a few generated photos and a tiny random-weight model."""
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image
from skimage import data

ROW_KEYS = {"method": str, "auc_plain": float, "auc_rebal": float, "top1": float, "params_mb": (float, type(None)),
            "feats_mb": (float, type(None)), "runtime_ms": (float, type(None)), "psnr": (float, type(None)),
            "colorfulness": float, "hue_flips": float, "false_chroma": float}


def _photo(rng, size=(40, 32)):
    """A colourful random photo: smooth blobs of colour."""
    return Image.fromarray(rng.integers(0, 256, (3, 3, 3), dtype=np.uint8)).resize(size, Image.Resampling.BICUBIC)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(5):
        folder = root / ("deep/er" if i % 2 else "top")
        folder.mkdir(parents=True, exist_ok=True)
        _photo(rng).save(folder / f"{i}.png")
    Image.new("L", (32, 32), 90).save(root / "top" / "gray.png")
    Image.new("RGB", (32, 32), (70, 70, 70)).save(root / "top" / "gray_rgb.jpg")
    (root / "top" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    return root


def _run(*args, **kwargs):
    from io import StringIO

    out = StringIO()
    call_command("evaluate", *args, stdout=out, stderr=StringIO(), **kwargs)
    return out.getvalue()


@pytest.fixture(scope="module")
def evaluated(photos, tiny_model_path, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("evaluated")
    out = _run("--data", str(photos), "--model", f"tiny={tiny_model_path}", "--size", "64",
               "--json", str(tmp_path / "r.json"), "--plot", str(tmp_path / "r.png"),
               "--cache-dir", str(tmp_path / "cache"))
    return out, json.loads((tmp_path / "r.json").read_text()), tmp_path


def test_it_prints_the_table_and_says_what_it_skipped(evaluated):
    out, _, _ = evaluated
    assert "skipped 2 grayscale and 1 unreadable photo(s)" in out
    for method in ("ground_truth", "gray", "random", "tiny"):
        assert any(line.startswith(method) for line in out.splitlines())
    assert "AuC (%)" in out and "images/s" in out


def test_it_writes_the_json_schema(evaluated):
    _, result, _ = evaluated
    assert isinstance(result["n_images"], int) and result["n_images"] == 5
    assert [r["method"] for r in result["rows"]] == ["ground_truth", "gray", "random", "tiny"]
    for row in result["rows"]:
        for key, kind in ROW_KEYS.items():
            assert isinstance(row[key], kind), (row["method"], key, row[key])
    rows = {r["method"]: r for r in result["rows"]}
    assert rows["ground_truth"]["auc_plain"] == pytest.approx(100) and rows["ground_truth"]["auc_rebal"] == pytest.approx(100)
    assert rows["ground_truth"]["top1"] == 100 and rows["ground_truth"]["psnr"] is None
    assert all(rows[m]["params_mb"] is None for m in ("ground_truth", "gray", "random"))
    tiny = rows["tiny"]
    assert tiny["params_mb"] > 0 and tiny["feats_mb"] > 0 and tiny["runtime_ms"] > 0
    assert 0 < tiny["auc_plain"] < 100 and tiny["psnr"] > 0
    assert rows["gray"]["colorfulness"] < 1 < rows["ground_truth"]["colorfulness"]
    assert rows["gray"]["colorfulness_gap"] == pytest.approx(rows["gray"]["colorfulness"] - rows["ground_truth"]["colorfulness"])
    assert len(tiny["curve_plain"]) == 151
    for baseline in ("ground_truth", "gray"):
        assert rows[baseline]["hue_flips"] == 0 and rows[baseline]["false_chroma"] == 0
    assert 0 < rows["random"]["hue_flips"] < 100


def test_it_draws_the_plot(evaluated):
    _, _, folder = evaluated
    with Image.open(folder / "r.png") as img:
        assert img.format == "PNG" and img.size == (1200, 560)
        assert len(img.getcolors(1 << 16)) > 10  # curves, text and axes, not a blank page


def test_a_second_run_answers_from_the_cache_with_the_same_results(evaluated, photos, tiny_model_path):
    _, first, folder = evaluated
    _run("--data", str(photos), "--model", f"tiny={tiny_model_path}", "--size", "64", "--no-cost",
         "--json", str(folder / "again.json"), "--cache-dir", str(folder / "cache"), verbosity=0)
    again = json.loads((folder / "again.json").read_text())
    assert again["classified"] == 0 and again["classified_from_cache"] == 4 * 5
    for a, b in zip(first["rows"], again["rows"]):
        assert (a["auc_plain"], a["auc_rebal"], a["top1"], a["psnr"]) == (b["auc_plain"], b["auc_rebal"], b["top1"], b["psnr"])


def test_the_random_row_is_seeded(photos, tiny_model_path, tmp_path):
    def random_row(seed, name):
        _run("--data", str(photos), "--model", f"tiny={tiny_model_path}", "--size", "64", "--no-cost",
             "--seed", str(seed), "--json", str(tmp_path / name), "--cache-dir", str(tmp_path / "cache"), verbosity=0)
        return json.loads((tmp_path / name).read_text())["rows"][2]

    a, b, c = random_row(1, "a.json"), random_row(1, "b.json"), random_row(2, "c.json")
    assert a["method"] == "random" and a == b
    assert (a["auc_plain"], a["psnr"]) != (c["auc_plain"], c["psnr"])


def test_top1_against_labels(tmp_path, tiny_model_path):
    for name in ("chelsea", "coffee"):
        Image.fromarray(getattr(data, name)()).save(tmp_path / f"{name}.png")
    (tmp_path / "labels.csv").write_text("filename,class_index\nchelsea.png,285\ncoffee.png,0\n")
    out = _run("--data", str(tmp_path), "--labels", str(tmp_path / "labels.csv"), "--model", f"tiny={tiny_model_path}",
               "--no-cost", "--no-cache", "--json", str(tmp_path / "r.json"))
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["top1_mode"] == "labels" and "against labels on 2 of 2 photos" in out
    assert result["rows"][0]["top1"] == 50.0  # the cat is right, the coffee is labelled wrong on purpose


def test_without_model_it_evaluates_the_configured_default(photos, tiny_model, tmp_path):
    _run("--data", str(photos), "--size", "64", "--limit", "3", "--no-cost", "--no-cache",
         "--json", str(tmp_path / "r.json"), verbosity=0)
    result = json.loads((tmp_path / "r.json").read_text())
    assert [r["method"] for r in result["rows"]][-1] == "default"
    assert result["n_images"] <= 3


def test_without_model_or_shipped_default_it_says_how_to_name_one(photos, settings, tmp_path):
    settings.COLORIZER_MODEL_PATH = str(tmp_path / "missing.pt")
    with pytest.raises(CommandError, match="--model NAME=PATH"):
        _run("--data", str(photos), verbosity=0)


def test_it_refuses_bad_arguments(photos, tiny_model_path, tmp_path):
    with pytest.raises(CommandError, match="baseline"):
        _run("--data", str(photos), "--model", f"gray={tiny_model_path}", verbosity=0)
    with pytest.raises(CommandError, match="share a name"):
        _run("--data", str(photos), "--model", f"a={tiny_model_path}", "--model", f"a={tiny_model_path}", verbosity=0)
    with pytest.raises(CommandError, match="manifest"):
        _run("--data", str(photos), "--split", "test", "--model", f"a={tiny_model_path}", verbosity=0)
    with pytest.raises(CommandError, match="temperature"):
        _run("--data", str(photos), "--temperature", "0", "--model", f"a={tiny_model_path}", verbosity=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match="no photos"):
        _run("--data", str(tmp_path / "empty"), "--model", f"a={tiny_model_path}", verbosity=0)


def test_an_interrupted_run_keeps_the_classifier_answers_it_had_and_the_next_resumes(photos, tiny_model_path, tmp_path):
    from mlcore.colorizer import Colorizer
    from mlcore.evaluation.data import find_photos
    from mlcore.evaluation.evaluate import evaluate
    from mlcore.evaluation.top1 import TopCache

    colorizers = {"tiny": Colorizer.load(tiny_model_path)}
    usable = [p for p in find_photos(photos) if "gray" not in p.rel and "broken" not in p.rel]
    batches = []

    def stop_after_two_batches(n):
        batches.append(n)
        if len(batches) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate(usable, colorizers, size=64, batch_size=2, measure_cost=False,
                 cache=TopCache(tmp_path), progress=stop_after_two_batches)
    # Both batches that were colorized reached the classifier and its answers were kept,
    # the second one's included, which was still being classified when the run stopped.
    again = evaluate(usable, colorizers, size=64, batch_size=2, measure_cost=False, cache=TopCache(tmp_path))
    assert again.settings["classified_from_cache"] == 4 * 4
    assert again.settings["classified"] == 4 * (len(usable) - 4)
