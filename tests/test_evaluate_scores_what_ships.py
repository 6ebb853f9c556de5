"""`manage.py evaluate` scores the pixels the product writes: its AuC equals, within 0.25, an
AuC computed independently (scikit-image's Lab, a brute-force nearest bin, a threshold loop)
from the files `manage.py colorize` writes for the same photos."""
import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image
from skimage import color, data

from mlcore.quantize import ab_bin_centres

SIZE = 64  # the photos are saved at the evaluation size, so both commands see the same pixels
TOLERANCE = 0.25  # issue 24: evaluate's figures equal the shipped pixels' within 0.25 AuC


def independent_aucs(results, originals):
    """(plain, rebalanced) AuC in percent of result images against the originals, computed
    without mlcore.evaluation: every pixel's ab distance, its true colour's nearest bin, and the
    share within each threshold 0..150, plain or with every bin present counting equally."""
    lab_pred = color.rgb2lab(np.stack(results))
    lab_true = color.rgb2lab(np.stack(originals))
    distance = np.linalg.norm(lab_pred[..., 1:] - lab_true[..., 1:], axis=-1).ravel()
    ab_true = lab_true[..., 1:].reshape(-1, 2)
    centres = ab_bin_centres()
    bins = np.concatenate([np.argmin(((chunk[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
                           for chunk in np.array_split(ab_true, max(1, len(ab_true) // 65536))])
    thresholds = np.arange(151)

    def share_within(d):  # share of the distances d within each threshold
        return np.searchsorted(np.sort(d), thresholds, side="right") / len(d)

    plain = share_within(distance)
    rebalanced = np.mean([share_within(distance[bins == b]) for b in np.unique(bins)], axis=0)
    return 100 * plain.mean(), 100 * rebalanced.mean()


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        Image.fromarray(getattr(data, name)()).convert("RGB").resize((SIZE, SIZE), Image.Resampling.BICUBIC) \
            .save(root / f"{name}.png")
    return root


def test_evaluate_scores_the_pixels_that_colorize_writes(photo_dir, tiny_model_path, tmp_path):
    report = tmp_path / "evaluate.json"
    call_command("evaluate", "--data", str(photo_dir), "--model", f"tiny={tiny_model_path}", "--size", str(SIZE),
                 "--no-cost", "--no-cache", "--json", str(report), stdout=StringIO(), verbosity=0)
    tiny = next(row for row in json.loads(report.read_text())["rows"] if row["method"] == "tiny")

    inputs = sorted(photo_dir.glob("*.png"))
    call_command("colorize", *map(str, inputs), "--out-dir", str(tmp_path / "out"), "--model", tiny_model_path,
                 "--device", "cpu", stdout=StringIO(), stderr=StringIO(), verbosity=0)
    shipped = [np.asarray(Image.open(tmp_path / "out" / path.name).convert("RGB")) for path in inputs]
    originals = [np.asarray(Image.open(path)) for path in inputs]

    plain, rebalanced = independent_aucs(shipped, originals)
    assert tiny["auc_plain"] == pytest.approx(plain, abs=TOLERANCE)
    assert tiny["auc_rebal"] == pytest.approx(rebalanced, abs=TOLERANCE)


def test_the_independent_score_is_100_for_the_originals_and_lower_for_gray(photo_dir):
    originals = [np.asarray(Image.open(path)) for path in sorted(photo_dir.glob("*.png"))]
    gray = [np.repeat(np.asarray(Image.fromarray(o).convert("L"))[..., None], 3, -1) for o in originals]
    assert independent_aucs(originals, originals) == pytest.approx((100.0, 100.0))
    assert max(independent_aucs(gray, originals)) < 99
