"""`evaluate --hints`: the hint curve, through the product's path, with the same points for every model."""
import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from mlcore.evaluation.hint_curve import hint_maps


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (3, 3, 3), dtype=np.uint8)).resize(
            (40, 32), Image.Resampling.BICUBIC).save(root / f"{i}.png")
    return root


def evaluate(*args):
    call_command("evaluate", *args, "--size", "64", "--no-cost", stdout=StringIO(), stderr=StringIO())


def test_the_hint_curve_is_in_the_json_for_a_model_that_takes_hints(photos, tiny_hint_model_path, tiny_model_path,
                                                                     tmp_path):
    out = tmp_path / "r.json"
    evaluate("--data", str(photos), "--model", f"hint={tiny_hint_model_path}", "--model", f"plain={tiny_model_path}",
             "--hints", "0,1,5,100", "--json", str(out), "--cache-dir", str(tmp_path / "cache"))
    result = json.loads(out.read_text())
    curve = result["hint_curve"]
    assert result["hint_curve_model"] == "hint"
    assert [p["hints"] for p in curve] == [0, 1, 5, 100]
    for point in curve:
        assert set(point) == {"hints", "psnr", "auc_plain", "auc_rebal"}
        assert 5 < point["psnr"] < 60 and 0 <= point["auc_plain"] <= 100 and 0 <= point["auc_rebal"] <= 100
    rows = {r["method"]: r for r in result["rows"]}
    assert rows["hint"]["hint_curve"] == curve and "hint_curve" not in rows["plain"]
    # No hints is the model's own row: the same pixels through the same path.
    assert curve[0]["psnr"] == pytest.approx(rows["hint"]["psnr"], abs=1e-6)
    assert curve[0]["auc_plain"] == pytest.approx(rows["hint"]["auc_plain"], abs=1e-6)
    assert curve[-1]["psnr"] != curve[0]["psnr"]  # a hundred hints reach the network


def test_every_model_gets_the_same_points_whatever_the_batch():
    ab = np.random.default_rng(1).normal(0, 30, (3, 64, 64, 2)).astype(np.float32)
    together = hint_maps(ab, 16, [7, 8, 9], 10, seed=0)
    alone = hint_maps(ab[1:2], 16, [8], 10, seed=0)
    assert np.array_equal(together[1:2].numpy(), alone.numpy())
    assert int(together[0, 2].sum()) > 0 and not np.array_equal(together[0].numpy(), together[1].numpy())
    assert not np.array_equal(hint_maps(ab, 16, [7, 8, 9], 10, seed=1).numpy(), together.numpy())


def test_hints_need_a_model_that_takes_them_and_sensible_counts(photos, tiny_model_path, tmp_path):
    with pytest.raises(CommandError, match="none of the models takes colour hints"):
        evaluate("--data", str(photos), "--model", f"plain={tiny_model_path}", "--hints", "0,1")
    for bad in ("1,x", "-1,2", "2,2"):
        with pytest.raises(CommandError, match="--hints"):
            evaluate("--data", str(photos), "--model", f"plain={tiny_model_path}", "--hints", bad)
