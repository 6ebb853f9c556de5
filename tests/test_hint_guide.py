"""The hint guide (lite0guide): a trained automatic colorizer, untouched, plus a small network that
spreads a person's hints over the objects they fall on, trained alone (--freeze-base)."""
import dataclasses

import numpy as np
import pytest
import torch
from django.core.management import call_command
from PIL import Image

from mlcore.checkpoint import read_checkpoint, save_model, set_inference_defaults
from mlcore.hints import hint_map, simulate_hints
from mlcore.networks import build_model
from mlcore.quantize import ab_bin_centres
from mlcore.training.train import init_from_checkpoint
from tests.conftest import prepare_tiny_pool


def _guided_on(base_path, arch="lite0guide"):
    model = build_model(arch, 261)
    init_from_checkpoint(model, base_path)
    return model


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny trained lite0ctx (the base a guide sits on), with inference settings of its own."""
    root = tmp_path_factory.mktemp("guidedata")
    prepare_tiny_pool(root)
    out = root / "base.pt"
    call_command("train_colorizer", "--data", str(root / "pool"), "--out", str(out), "--arch", "lite0ctx",
                 "--size", "32", "--epochs", "1", "--batch-size", "4", "--device", "cpu", "--precision", "fp32",
                 "--limit", "8", "--no-progress", verbosity=0)
    set_inference_defaults(out, 32, 0.5, 0.25)
    return root, out


@pytest.mark.parametrize("arch", ["lite0guide", "lite0semguide"])
def test_without_hints_a_guided_network_is_exactly_its_base(base, arch):
    from mlcore.checkpoint import load_model
    _, path = base
    plain, _ = load_model(path)
    guided = _guided_on(path, arch).eval()
    lightness = torch.rand(2, 1, 32, 32) * 100
    with torch.no_grad():
        assert torch.equal(plain(lightness), guided(lightness))
        assert torch.equal(plain(lightness), guided(lightness, torch.zeros(2, 3, 8, 8)))


@pytest.mark.parametrize("arch", ["lite0guide", "lite0semguide"])
def test_a_hint_changes_only_its_photo_in_a_batch(base, arch):
    _, path = base
    guided = _guided_on(path, arch).eval()
    lightness = torch.rand(2, 1, 32, 32) * 100
    hints = torch.cat([hint_map([(0.5, 0.5, 60.0, 40.0)], 8, 8), torch.zeros(1, 3, 8, 8)])
    with torch.no_grad():
        plain, hinted = guided(lightness), guided(lightness, hints)
    assert not torch.allclose(plain[0], hinted[0])
    assert torch.equal(plain[1], hinted[1])


def test_the_pull_moves_the_colour_toward_the_hint(base):
    """The guide's mechanism, at its initial weights: near a hint the decoded colour moves toward it."""
    from mlcore.decode import annealed_mean
    _, path = base
    guided = _guided_on(path).eval()
    lightness = torch.full((1, 1, 32, 32), 50.0)
    centres = torch.from_numpy(ab_bin_centres())
    with torch.no_grad():
        before = annealed_mean(guided(lightness), centres, 0.38)[0, :, 4, 4]
        after = annealed_mean(guided(lightness, hint_map([(0.5, 0.5, 60.0, 40.0)], 8, 8)), centres, 0.38)[0, :, 4, 4]
    wanted = torch.tensor([60.0, 40.0])
    assert torch.dist(after, wanted) < torch.dist(before, wanted) - 10


def test_training_on_a_frozen_base_changes_only_the_guide(base):
    """--freeze-base: the base's weights and BatchNorm statistics stay bit for bit (so a photo
    without hints colours exactly as before), the guide learns, and the base's validated
    inference settings carry over into the new file."""
    root, path = base
    out = root / "guide.pt"
    call_command("train_colorizer", "--data", str(root / "pool"), "--out", str(out), "--arch", "lite0guide",
                 "--init-from", str(path), "--freeze-base", "--loss", "classification", "--size", "32",
                 "--epochs", "1", "--batch-size", "4", "--device", "cpu", "--precision", "fp32", "--no-progress",
                 verbosity=0)
    before, after = read_checkpoint(path), read_checkpoint(out)
    assert after["arch"] == "lite0guide"
    assert after["meta"]["inference"] == before["meta"]["inference"]
    # What the prior correction subtracts, and the loss the automatic colours were trained with,
    # are the base's (the pool's statistics would differ with another --limit).
    assert after["loss"] == before["loss"] == "rebalanced" and after["meta"]["config"]["loss"] == "classification"
    for key in ("centres", "bin_weights", "prior"):
        assert torch.equal(after[key], before[key]), key
    for name, tensor in before["state_dict"].items():
        assert torch.equal(after["state_dict"][name], tensor), name
    initial = _guided_on(path).state_dict()
    guide = [k for k in after["state_dict"] if k.startswith("guide.")]
    assert guide and any(not torch.equal(after["state_dict"][k].float(), initial[k].half().float()) for k in guide)


def test_a_retrained_base_can_take_another_files_guide(base, tmp_path):
    """--guide-from: the base comes from --init-from and the guide from the other file, so a
    retrained base need not train its guide from scratch; a network without a guide refuses."""
    from django.core.management.base import CommandError
    root, path = base
    donor_model = _guided_on(path)
    with torch.no_grad():
        for name, tensor in donor_model.named_parameters():
            if name.startswith("guide."):
                tensor.add_(0.5)
    donor = tmp_path / "donor.pt"
    ckpt = read_checkpoint(path)
    save_model(donor, donor_model, arch="lite0guide", width=1.0, loss="rebalanced", centres=ckpt["centres"],
               bin_weights=ckpt["bin_weights"], prior=ckpt["prior"], size=32, meta={})
    started = build_model("lite0guide", 261)
    init_from_checkpoint(started, path)
    assert init_from_checkpoint(started, donor, prefix="guide.")[0] == sum(
        1 for k in started.state_dict() if k.startswith("guide."))
    mine, theirs = started.state_dict(), donor_model.state_dict()
    base_state = read_checkpoint(path)["state_dict"]
    for name, tensor in mine.items():
        expected = theirs[name].half().float() if name.startswith("guide.") else base_state.get(name)
        if expected is not None and tensor.is_floating_point():
            assert torch.equal(tensor, expected.float()), name
    with pytest.raises(CommandError, match="guide"):
        call_command("train_colorizer", "--data", str(root / "pool"), "--out", str(tmp_path / "x.pt"), "--arch",
                     "lite0ctx", "--init-from", str(path), "--guide-from", str(donor), "--size", "32",
                     "--epochs", "1", "--device", "cpu", "--no-progress", verbosity=0)
    with pytest.raises(CommandError, match="no hint guide"):
        call_command("train_colorizer", "--data", str(root / "pool"), "--out", str(tmp_path / "x.pt"), "--arch",
                     "lite0guide", "--init-from", str(path), "--guide-from", str(path), "--freeze-base",
                     "--size", "32", "--epochs", "1", "--device", "cpu", "--no-progress", verbosity=0)


def test_freeze_base_needs_a_guided_network_and_a_base(base):
    from django.core.management.base import CommandError
    root, path = base
    with pytest.raises(CommandError, match="lite0guide"):
        call_command("train_colorizer", "--data", str(root / "pool"), "--out", str(root / "x.pt"), "--arch",
                     "lite0ctx", "--init-from", str(path), "--freeze-base", "--size", "32", "--epochs", "1",
                     "--device", "cpu", "--no-progress", verbosity=0)
    with pytest.raises(CommandError, match="--init-from"):
        call_command("train_colorizer", "--data", str(root / "pool"), "--out", str(root / "x.pt"), "--arch",
                     "lite0guide", "--freeze-base", "--size", "32", "--epochs", "1", "--device", "cpu",
                     "--no-progress", verbosity=0)


def test_a_guided_model_colours_through_the_product_path(base):
    """Colorizer: takes hints, no hints gives the base's prediction, hints change it."""
    from mlcore.colorizer import Colorizer
    root, path = base
    out = root / "guide.pt"
    if not out.exists():
        pytest.skip("made by the training test")
    guided, plain = Colorizer.load(out, device="cpu"), Colorizer.load(path, device="cpu")
    assert guided.takes_hints and not plain.takes_hints
    photo = Image.new("L", (40, 30), 100)
    assert np.array_equal(guided.predict(photo).log_probs, plain.predict(photo).log_probs)
    assert not np.array_equal(guided.predict(photo, [(0.5, 0.5, 60.0, 40.0)]).log_probs,
                              plain.predict(photo).log_probs)


def test_photos_without_simulated_hints_train_nothing(base):
    """In a batch, photos drawn zero hints get the base's scores, so the loss of those is the base's."""
    _, path = base
    guided = _guided_on(path)
    guided.freeze_base()
    guided.train()
    lightness = torch.rand(3, 1, 32, 32) * 100
    hints = simulate_hints(torch.randn(3, 2, 8, 8) * 30, np.random.default_rng(0), counts=[4, 0, 2])
    out = guided(lightness, hints)
    with torch.no_grad():
        plain = guided(lightness)
    assert torch.equal(out[1], plain[1])


@pytest.fixture(scope="module")
def guided_file(tmp_path_factory):
    from mlcore.testing import make_tiny_model
    return make_tiny_model(tmp_path_factory.mktemp("guided") / "guided.pt", arch="lite0semguide")


def _cells_of(point, grid):
    """The output-grid cells a person's point covers (mlcore.hints.hint_map's 2x2 patch)."""
    hints = hint_map([(*point, 0.0, 0.0)], grid, grid)[0, 2]
    return hints.nonzero().numpy()


def test_hinted_cells_take_their_colour_at_every_vividness(guided_file):
    """The guide's pull leaves a hinted colour short; the residual spread by its attention closes
    the gap, so the decoded colour at each hint is the hinted one, and it stays when the person
    moves the vividness (the residual is added after decoding)."""
    from mlcore.colorizer import Colorizer
    colorizer = Colorizer.load(guided_file, device="cpu")
    photo = Image.fromarray(np.random.default_rng(1).integers(0, 255, (48, 64), dtype=np.uint8))
    hints = [(0.25, 0.3, 60.0, 40.0), (0.75, 0.7, -30.0, 20.0)]
    prediction = colorizer.predict(photo, hints)
    grid = colorizer.size // 4
    assert prediction.ab_offset is not None and prediction.ab_offset.shape == (grid, grid, 2)
    ab = prediction.ab_at()
    for x, y, a, b in hints:
        for cy, cx in _cells_of((x, y), grid):
            assert np.linalg.norm(ab[cy, cx] - (a, b)) < 2.0, ab[cy, cx]  # about a just-noticeable difference
    # At another vividness the model's colours move, and the person's correction moves with them.
    alone = dataclasses.replace(prediction, ab_offset=None)
    for vividness in (0, 100):
        assert np.allclose(prediction.ab_at(vividness), alone.ab_at(vividness) + prediction.ab_offset, atol=1e-3)
    # Without the residual (the pull alone) the hinted colour is not reached at this model's weights.
    pulled = prediction.ab_at() - prediction.ab_offset.astype(np.float32)
    cy, cx = _cells_of(hints[0][:2], grid)[0]
    assert np.linalg.norm(pulled[cy, cx] - (60.0, 40.0)) > 1.0


def test_without_hints_there_is_no_residual_and_it_survives_storage(guided_file):
    from mlcore.colorizer import Colorizer
    from mlcore.render import Prediction
    colorizer = Colorizer.load(guided_file, device="cpu")
    photo = Image.new("L", (40, 30), 100)
    assert colorizer.predict(photo).ab_offset is None
    assert colorizer.predict(photo, []).ab_offset is None
    hinted = colorizer.predict(photo, [(0.5, 0.5, 60.0, 40.0)])
    stored = Prediction.from_bytes(hinted.to_bytes())
    assert np.array_equal(stored.ab_offset, hinted.ab_offset)
    assert np.allclose(stored.ab_at(70), hinted.ab_at(70), atol=1e-4)


def test_the_hint_strength_is_the_model_files_own(guided_file, tmp_path):
    """bench/tune_hints.py --write records the strength chosen on validation; the Colorizer uses it."""
    import shutil
    from mlcore.checkpoint import set_hint_strength
    from mlcore.colorizer import Colorizer
    stronger = tmp_path / "stronger.pt"
    shutil.copy(guided_file, stronger)
    set_hint_strength(stronger, 3.0)
    plain, strong = Colorizer.load(guided_file, device="cpu"), Colorizer.load(stronger, device="cpu")
    assert plain.hint_strength == 1.0 and strong.hint_strength == 3.0
    assert read_checkpoint(stronger)["meta"]["inference"]["size"] == 64  # the other settings stay
    photo = Image.new("L", (40, 30), 100)
    hints = [(0.5, 0.5, 60.0, 40.0)]
    assert not np.array_equal(plain.predict(photo, hints).log_probs, strong.predict(photo, hints).log_probs)
    assert np.array_equal(plain.predict(photo).log_probs, strong.predict(photo).log_probs)


def test_hint_residuals_never_overshoot_the_gaps():
    """Two hinted cells that barely attend to the hints, each only to the other at the ridge's own
    weight: the system is (nearly) singular. The render neither fails nor paints wild colours:
    no cell moves further than the largest gap at a hint."""
    from mlcore.colorizer import HINT_RIDGE, hint_residuals
    from mlcore.networks import HintAttention
    from mlcore.render import Prediction
    prediction = Prediction(ab=np.zeros((2, 2, 2), np.float16))
    weights = torch.tensor([[[0.0, HINT_RIDGE], [HINT_RIDGE, 0.0], [0.5, 0.0], [0.0, 0.0]]])
    attention = HintAttention(weights, torch.tensor([[0, 1]]), torch.tensor([[True, True]]),
                              torch.tensor([[[10.0, 0.0], [0.0, 10.0]]]))
    offset = hint_residuals(prediction, attention, 0).astype(np.float32).reshape(-1, 2)
    assert np.linalg.norm(offset, axis=1).max() <= 10.0 + 1e-2
    assert np.array_equal(offset[3], [0.0, 0.0])  # a cell that attends to no hint keeps its colour
