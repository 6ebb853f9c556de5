"""mlcore.evaluation: the measures of the paper's Table 1, checked on cases computed by hand."""
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from mlcore.color import rgb_to_lab
from mlcore.evaluation.classifier import Classifier
from mlcore.evaluation.cost import model_cost
from mlcore.evaluation.data import Photo, find_photos, random_donors
from mlcore.evaluation.metrics import (NUM_THRESHOLDS, AccuracyHistogram, BlotchCounts, GroundTruthBins, colorfulness,
                                       false_chroma, hue_flips, psnr)
from mlcore.evaluation.top1 import TopCache, photo_key
from mlcore.quantize import ab_bin_centres, nearest_bins

EGYPTIAN_CAT, ESPRESSO = 285, 967  # ImageNet-1k class indices


def _auc(ab_pred, ab_true):
    hist = AccuracyHistogram(len(ab_bin_centres()))
    hist.add(ab_pred, ab_true, GroundTruthBins()(ab_true))
    return hist.auc(False), hist.auc(True)


def _integer_ab(shape, seed=0):
    """In-gamut ab values rounded to integers, so that offsets are exact in float32."""
    rgb = np.random.default_rng(seed).integers(0, 256, shape + (3,), dtype=np.uint8)
    return np.round(rgb_to_lab(rgb)[..., 1:])


def test_evaluate_imports_no_django_in_a_fresh_interpreter():
    code = "import sys, mlcore.evaluation.evaluate, mlcore.evaluation.report; print(any(m.split('.')[0] == 'django' for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_identical_ab_gives_100_plain_and_rebalanced():
    ab = _integer_ab((64, 64))
    assert _auc(ab, ab) == pytest.approx((100.0, 100.0))


@pytest.mark.parametrize("offset", [(20.0, 0.0), (0.0, -20.0), (12.0, 16.0)])
def test_a_constant_offset_of_20_is_within_the_thresholds_from_20_to_150(offset):
    ab = _integer_ab((64, 64))
    plain, rebal = _auc(ab + np.array(offset), ab)
    # Thresholds t = 0..150; a pixel at distance 20 counts for t >= 20: 131 of 151 thresholds.
    expected = (150 - 20 + 1) / 151 * 100
    assert plain == pytest.approx(expected)
    assert rebal == pytest.approx(expected)  # every bin has the same accuracy curve


def test_distances_beyond_150_never_count_and_the_threshold_is_inclusive():
    hist = AccuracyHistogram(1)
    bins = np.zeros(3, dtype=np.int64)
    hist.add(np.array([[0.0, 0.0], [0.0, 150.0], [0.0, 151.0]]), np.zeros((3, 2)), bins)
    curve = hist.curve()
    assert curve[0] == pytest.approx(1 / 3) and curve[149] == pytest.approx(1 / 3)
    assert curve[150] == pytest.approx(2 / 3)
    assert len(curve) == NUM_THRESHOLDS


def test_rebalancing_counts_every_colour_class_equally():
    # 90 pixels of one bin predicted exactly, 10 of another bin predicted 200 away.
    hist = AccuracyHistogram(2)
    bins = np.r_[np.zeros(90, np.int64), np.ones(10, np.int64)]
    ab_true = np.zeros((100, 2))
    ab_pred = ab_true.copy()
    ab_pred[90:, 0] = 200.0
    hist.add(ab_pred, ab_true, bins)
    assert hist.auc(False) == pytest.approx(90.0)
    assert hist.auc(True) == pytest.approx(50.0)


def test_the_rebalanced_curve_weighs_each_pixel_inversely_to_its_class_frequency():
    rng = np.random.default_rng(1)
    gt_bins = rng.choice([3, 7, 7, 7, 7, 11, 11, 200], size=5000)
    # Each pixel's weight: 1 / (pixels of its class x classes present), so every class weighs as much.
    counts = np.bincount(gt_bins)
    w = 1.0 / (counts[gt_bins] * np.count_nonzero(counts))
    d = rng.uniform(0, 170, size=5000)
    ab_true = np.zeros((5000, 2))
    ab_pred = np.stack([d, np.zeros_like(d)], -1)
    hist = AccuracyHistogram(256)
    hist.add(ab_pred, ab_true, gt_bins)
    direct = [(w * (np.ceil(d) <= t)).sum() for t in range(NUM_THRESHOLDS)]
    assert np.allclose(hist.curve(True), direct)
    assert np.allclose(hist.curve(False), [(np.ceil(d) <= t).mean() for t in range(NUM_THRESHOLDS)])


def test_ground_truth_bins_are_the_nearest_centres_in_and_out_of_gamut():
    rgb = np.random.default_rng(2).integers(0, 256, (20000, 3), dtype=np.uint8)
    ab = np.concatenate([rgb_to_lab(rgb)[:, 1:], [[300.0, -300.0], [-95.0, 95.0], [5.0, 5.0]]])
    ours = GroundTruthBins()(ab)
    theirs = nearest_bins(ab)[0][:, 0]
    centres = ab_bin_centres()
    d_ours = ((ab - centres[ours]) ** 2).sum(1)
    d_theirs = ((ab - centres[theirs]) ** 2).sum(1)
    assert np.allclose(d_ours, d_theirs, atol=1e-3)  # equal, up to ties half-way between two centres


def test_random_donors_are_seeded_and_never_the_photo_itself():
    a, b = random_donors(500, seed=4), random_donors(500, seed=4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, random_donors(500, seed=5))
    assert (a != np.arange(500)).all() and a.min() >= 0 and a.max() < 500
    assert len(set(a.tolist())) > 250  # drawn with replacement, not a fixed shift


def _ab_at(chroma, degrees):
    angle = np.radians(np.asarray(degrees, np.float32))
    return np.stack([chroma * np.cos(angle), chroma * np.sin(angle)], -1).astype(np.float32)


def test_hue_flips_count_chromatic_pixels_whose_hue_is_more_than_90_degrees_off():
    truth = _ab_at(30, [0, 0, 0, 0, 0, 0])
    # 89 and 91 degrees off, opposite, the same hue, too pale in the result, too pale in the truth
    pred = _ab_at(np.array([30, 30, 30, 30, 8, 30]), [89, 91, 180, 0, 180, 180])
    truth[5] = _ab_at(9, 0)
    assert hue_flips(pred, truth) == (2, 4)


def test_false_chroma_counts_neutral_pixels_the_colorization_paints():
    truth = _ab_at(np.array([0, 4.9, 4.9, 3, 6]), 45)
    pred = _ab_at(np.array([25, 21, 19, 0, 40]), 200)  # painted, painted, not enough, gray, truth not neutral
    assert false_chroma(pred, truth) == (2, 4)


def test_gray_and_the_truth_itself_score_zero_blotches():
    truth = _integer_ab((32, 32))
    for pred in (np.zeros_like(truth), truth):
        counts = BlotchCounts()
        counts.add(pred, truth)
        assert counts.percentages() == {"hue_flips": 0.0, "false_chroma": 0.0}


def test_blotch_percentages_pool_the_pixels_of_every_image():
    counts = BlotchCounts()
    counts.add(_ab_at(30, [180, 0]), _ab_at(30, [0, 0]))  # one flip in two
    counts.add(_ab_at(30, [0, 0]), _ab_at(30, [0, 0]))    # none in two
    counts.add(_ab_at(30, [0]), _ab_at(0, [0]))           # one neutral pixel, painted
    assert counts.percentages() == {"hue_flips": 25.0, "false_chroma": 100.0}


def test_colorfulness_of_hand_made_images():
    gray = np.full((8, 8, 3), 90, dtype=np.uint8)
    assert colorfulness(gray) == pytest.approx(0.0)
    # Half red, half green: rg = +-255 (sigma 255, mean 0), yb = 127.5 everywhere (mean 127.5).
    img = np.zeros((8, 8, 3), dtype=np.uint8)
    img[:, :4, 0] = 255
    img[:, 4:, 1] = 255
    assert colorfulness(img) == pytest.approx(255 + 0.3 * 127.5)


def test_psnr_of_hand_made_images():
    a = np.full((4, 4, 3), 100, dtype=np.uint8)
    assert psnr(a, a + 1) == pytest.approx(10 * np.log10(255 ** 2))  # mse 1
    assert psnr(a, a) == np.inf


def test_model_cost_counts_parameters_and_each_activation_once():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(inplace=True),
                                torch.nn.Conv2d(2, 3, 1), torch.nn.ReLU())
    params_mb, feats_mb, runtime_ms = model_cost(model, size=256, repeats=3)
    assert params_mb == pytest.approx((2 * 9 + 2 + 3 * 2 + 3) * 4 / 1e6)
    # conv1 output (the in-place ReLU writes into it), conv2 output, the second ReLU's output.
    assert feats_mb == pytest.approx((2 + 3 + 3) * 256 * 256 * 4 / 1e6)
    assert runtime_ms > 0


@pytest.fixture(scope="module")
def classifier():
    return Classifier("cpu")


@pytest.mark.parametrize("photo, expected", [("chelsea", EGYPTIAN_CAT), ("coffee", ESPRESSO)])
def test_the_classifier_names_known_photos_at_full_size_and_as_evaluated(classifier, photo, expected):
    rgb = getattr(data, photo)()
    small = np.asarray(Image.fromarray(rgb).resize((256, 256), Image.Resampling.BICUBIC))
    assert classifier.top1([rgb, small]).tolist() == [expected, expected]


def test_on_a_cpu_onnx_runtime_runs_the_classifier_and_agrees_with_pytorch(classifier):
    assert classifier.backend == "onnxruntime"
    reference = Classifier("cpu", backend="torch")
    chelsea = data.chelsea()
    gray = np.repeat(np.asarray(Image.fromarray(data.coffee()).convert("L"))[..., None], 3, axis=2)
    images = [chelsea, gray, np.zeros((40, 90, 3), np.uint8)]
    fast, slow = classifier.logits(images), reference.logits(images)
    assert fast.shape == slow.shape == (3, 1000)
    assert torch.allclose(fast, slow, atol=1e-3)
    assert fast.argmax(1).tolist() == slow.argmax(1).tolist()


def test_the_exported_classifier_graph_is_kept_and_reused(tmp_path, monkeypatch):
    first = Classifier("cpu", cache_dir=tmp_path)
    kept = list(tmp_path.glob("*.onnx"))
    assert len(kept) == 1 and kept[0].stat().st_size > 10_000_000  # the weights travel in the graph

    def no_second_export(*args, **kwargs):
        raise AssertionError("the kept graph should have been used")

    monkeypatch.setattr(torch.onnx, "export", no_second_export)
    second = Classifier("cpu", cache_dir=tmp_path)
    rgb = data.chelsea()
    assert second.top1([rgb]).tolist() == first.top1([rgb]).tolist() == [EGYPTIAN_CAT]


def test_a_damaged_kept_classifier_graph_is_exported_again(tmp_path):
    Classifier("cpu", cache_dir=tmp_path)
    (kept,) = tmp_path.glob("*.onnx")
    kept.write_bytes(b"not a graph")
    assert Classifier("cpu", cache_dir=tmp_path).top1([data.chelsea()]).tolist() == [EGYPTIAN_CAT]
    assert kept.stat().st_size > 10_000_000


def test_the_classifier_input_is_a_central_crop_normalised_as_the_lite_models_expect():
    rgb = np.zeros((256, 256, 3), dtype=np.uint8)
    rgb[16:240, 16:240] = 255  # the central 87.5% is white, the border black
    x = Classifier.preprocess(rgb)
    assert x.shape == (3, 260, 260)
    white = (255 - 127) / 128
    # Only the bicubic filter's reach at the very edge sees the black border.
    assert torch.allclose(x[:, 2:-2, 2:-2], torch.tensor(white), atol=0.01)
    assert x.mean() == pytest.approx(white, abs=0.01)


def test_find_photos_reads_a_split_and_samples_reproducibly(tmp_path):
    for i in range(10):
        (tmp_path / "test" / "a").mkdir(parents=True, exist_ok=True)
        (tmp_path / "train" / "a").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(tmp_path / "test" / "a" / f"{i}.png")
        Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(tmp_path / "train" / "a" / f"{i}.png")
    rows = [f"{s}/a/{i}.png,src,a,{s}" for s in ("test", "train") for i in range(10)]
    (tmp_path / "manifest.csv").write_text("path,source,class,split\n" + "\n".join(rows) + "\n")
    assert len(find_photos(tmp_path)) == 20
    test = find_photos(tmp_path, "test")
    assert [p.rel for p in test] == sorted(f"test/a/{i}.png" for i in range(10))
    sample = find_photos(tmp_path, "test", limit=4, seed=1)
    assert sample == find_photos(tmp_path, "test", limit=4, seed=1) and len(sample) == 4
    assert sample != find_photos(tmp_path, "test", limit=4, seed=2)


def test_find_photos_keeps_only_the_sources_asked_for(tmp_path):
    (tmp_path / "test").mkdir()
    rows = []
    for source in ("coco", "sports"):
        for i in range(3):
            Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(tmp_path / "test" / f"{source}{i}.png")
            rows.append(f"test/{source}{i}.png,{source},.,test")
    (tmp_path / "manifest.csv").write_text("path,source,class,split\n" + "\n".join(rows) + "\n")
    assert [p.rel for p in find_photos(tmp_path, "test", sources=["coco"])] == [f"test/coco{i}.png" for i in range(3)]
    assert len(find_photos(tmp_path, "test", sources=["coco", "sports"])) == 6
    with pytest.raises(ValueError, match="no source named nowhere"):
        find_photos(tmp_path, "test", sources=["nowhere"])


def test_the_cache_keeps_answers_per_photo_version(tmp_path):
    photo_path = tmp_path / "p.png"
    Image.new("RGB", (8, 8), "red").save(photo_path)
    key = photo_key(Photo(str(photo_path), "p.png"))
    cache = TopCache(tmp_path / "cache")
    cache.put("gray-s256", key, 7)
    cache.flush()
    assert TopCache(tmp_path / "cache").get("gray-s256", key) == 7
    Image.new("RGB", (9, 9), "blue").save(photo_path)  # another photo under the same name
    assert TopCache(tmp_path / "cache").get("gray-s256", photo_key(Photo(str(photo_path), "p.png"))) is None
