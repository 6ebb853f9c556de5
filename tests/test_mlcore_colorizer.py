"""The Colorizer: any photo in, the same photo in colour out, at full resolution."""
import io

import numpy as np
import pytest
from PIL import Image
from skimage import data

from mlcore.checkpoint import ModelFileError
from mlcore.color import rgb_to_lab
from mlcore.colorizer import Colorizer
from mlcore.imageio import load_image
from mlcore.render import Prediction, lightness, render
from mlcore.testing import make_tiny_model


@pytest.fixture(scope="module")
def colorizer(tmp_path_factory):
    return Colorizer.load(make_tiny_model(tmp_path_factory.mktemp("m") / "tiny.pt"), device="cpu")


def _gray(size=(97, 61)):
    return Image.fromarray(data.camera()).resize(size)


def test_output_has_the_inputs_full_resolution_and_its_lightness(colorizer):
    gray = _gray((517, 333))
    out = colorizer.colorize(gray)
    assert out.size == (517, 333) and out.mode == "RGB"
    out_l = rgb_to_lab(np.asarray(out))[..., 0]
    assert np.abs(out_l - lightness(np.asarray(gray))).mean() < 1.0  # only gamut clipping moves L


def test_colour_input_is_colorized_from_its_lightness(colorizer):
    photo = Image.fromarray(data.astronaut())
    from_colour = colorizer.colorize(photo)
    from_gray = colorizer.colorize(photo.convert("RGB").convert("L").convert("RGB"))
    assert from_colour.size == photo.size
    # The colorizer sees only L: the colour photo and its own gray give nearly the same output.
    lab_a, lab_b = rgb_to_lab(np.asarray(from_colour)), rgb_to_lab(np.asarray(from_gray))
    assert np.abs(lab_a[..., 1:] - lab_b[..., 1:]).mean() < 3.0


def test_rgba_keeps_its_alpha_channel(colorizer):
    img = _gray().convert("RGBA")
    alpha = Image.linear_gradient("L").resize(img.size)
    img.putalpha(alpha)
    out = colorizer.colorize(img)
    assert out.mode == "RGBA"
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(alpha))


def test_exif_orientation_is_respected(colorizer, tmp_path):
    img = _gray((80, 40)).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif.tobytes())
    loaded = load_image(path)
    assert loaded.size == (40, 80)
    assert colorizer.colorize(loaded).size == (40, 80)


@pytest.mark.parametrize("mode", ["P", "CMYK", "I;16", "LA", "1"])
def test_other_modes_are_accepted(colorizer, tmp_path, mode):
    base = _gray((50, 30))
    if mode == "I;16":
        img = Image.fromarray((np.asarray(base, dtype=np.uint16) * 257))
        assert img.mode.startswith("I;16")
        path = tmp_path / "x.png"
    else:
        img = base.convert("RGB").convert(mode)
        path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    img.save(path)
    out = colorizer.colorize(load_image(path))
    assert out.size == (50, 30)
    assert out.mode == ("RGBA" if mode == "LA" else "RGB")


def test_sixteen_bit_gray_keeps_its_tones(colorizer):
    base = _gray((40, 40))
    img16 = Image.fromarray(np.asarray(base, dtype=np.uint16) * 257)
    from mlcore.imageio import normalise_mode
    assert np.abs(np.asarray(normalise_mode(img16), dtype=int) - np.asarray(base, dtype=int)).max() <= 1


def test_prediction_round_trips_and_rerenders_at_another_temperature(colorizer):
    gray = _gray()
    pred = colorizer.predict(gray)
    again = Prediction.from_bytes(pred.to_bytes())
    assert np.array_equal(np.asarray(render(again, gray, temperature=0.38)),
                          np.asarray(render(pred, gray, temperature=0.38)))
    cool, vivid = render(pred, gray, temperature=1.0), render(pred, gray, temperature=0.05)
    chroma = [np.hypot(*rgb_to_lab(np.asarray(im))[..., 1:].transpose(2, 0, 1)).mean() for im in (cool, vivid)]
    assert chroma[1] > chroma[0]  # colder temperature, more vivid colour


def test_temperature_outside_the_allowed_range_is_refused(colorizer):
    with pytest.raises(ValueError):
        colorizer.colorize(_gray(), temperature=0)


def test_l2_models_decode_without_temperature(tmp_path):
    c = Colorizer.load(make_tiny_model(tmp_path / "l2.pt", loss="l2"), device="cpu")
    gray = _gray()
    pred = c.predict(gray)
    assert pred.ab is not None and pred.indices is None
    assert render(pred, gray, temperature=0.1).size == gray.size


def test_a_missing_or_corrupt_model_file_is_reported_clearly(tmp_path):
    with pytest.raises(ModelFileError, match="cannot read"):
        Colorizer.load(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="corrupt"):
        Colorizer.load(bad)


def test_prior_correction_takes_a_share_of_log_weights_off_the_logits(tmp_path):
    import torch
    path = make_tiny_model(tmp_path / "m.pt")
    ckpt = torch.load(path, weights_only=True)
    weights = torch.linspace(0.5, 4.0, len(ckpt["centres"]))
    ckpt["bin_weights"] = weights
    torch.save(ckpt, path)
    c = Colorizer.load(path, device="cpu")
    x = torch.rand(1, 1, 64, 64) * 100
    plain = c.outputs(x)
    c.prior_correction = 0.5
    corrected = c.outputs(x)
    assert torch.allclose(plain - corrected, 0.5 * torch.log(weights)[None, :, None, None], atol=1e-5)


def test_inference_defaults_are_stored_in_the_model_file(tmp_path):
    from mlcore.checkpoint import set_inference_defaults
    path = make_tiny_model(tmp_path / "m.pt")
    set_inference_defaults(path, 96, 0.5, 0.25)
    c = Colorizer.load(path, device="cpu")
    assert (c.size, c.default_temperature, c.prior_correction) == (96, 0.5, 0.25)


def test_a_big_jpeg_about_to_be_shrunk_decodes_at_a_reduced_scale_with_the_same_result(tmp_path):
    from mlcore.imageio import load_colour_photo

    path = tmp_path / "camera.jpg"
    Image.fromarray(data.astronaut()).resize((2048, 1536), Image.Resampling.BICUBIC).save(path, quality=92)
    # 1/4 scale is the smallest no smaller than 256 on both sides; without draft, full size.
    assert load_image(path, draft=(256, 256)).size == (512, 384)
    assert load_image(path).size == (2048, 1536)
    fast = np.asarray(load_colour_photo(path, 256), np.float32)
    with Image.open(path) as img:
        full = np.asarray(img.convert("RGB").resize((256, 256), Image.Resampling.BICUBIC), np.float32)
    assert fast.shape == full.shape == (256, 256, 3)
    assert np.abs(fast - full).mean() < 1.5


def test_tiled_rendering_equals_rendering_the_photo_in_one_piece(colorizer, monkeypatch):
    import mlcore.render as render_module

    photo = _gray((517, 333)).convert("RGBA")
    prediction = colorizer.predict(photo)
    whole = np.asarray(render(prediction, photo))
    monkeypatch.setattr(render_module, "TILE_PIXELS", 1000)  # one row of 517 pixels a tile
    assert len(list(render_module._tiles(517, 333))) > 100
    assert np.array_equal(np.asarray(render(prediction, photo)), whole)


def test_upsampling_a_tile_agrees_with_torch_resizing_the_whole_prediction():
    import torch
    import torch.nn.functional as F

    from mlcore.render import upsample_ab

    ab = np.random.default_rng(0).normal(0, 30, (40, 40, 2)).astype(np.float32)
    whole = F.interpolate(torch.from_numpy(ab).permute(2, 0, 1)[None], size=(333, 517), mode="bilinear",
                          align_corners=False)[0].permute(1, 2, 0).numpy()
    assert np.allclose(upsample_ab(ab, 333, 517), whole, atol=1e-3)
    assert np.allclose(upsample_ab(ab, 333, 517, (100, 50, 300, 60)), whole[50:60, 100:300], atol=1e-3)


PEAK_SCRIPT = """
import resource, sys
from PIL import Image
from mlcore.colorizer import Colorizer
colorizer = Colorizer.load(sys.argv[1], device="cpu")
photo = Image.linear_gradient("L").resize((4000, 3000))  # 12 Mpx, 12 MB of pixels
colorizer.colorize(Image.new("L", (64, 64)))  # the network's own first-call allocations
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
colorizer.colorize(photo)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""


def test_colorizing_a_large_photo_takes_a_few_bytes_a_pixel_beyond_the_photo(tmp_path):
    # In a fresh process: its peak resident size is the measure. The result is 4 bytes a pixel
    # (Pillow pads RGB), and one tile's float intermediates about 50 MB whatever the photo's size
    # (measured: 11 bytes a pixel in all, at 12 Mpx); float Lab at full size (12 bytes a pixel and
    # three times that in intermediates) took it to 65.
    import subprocess
    import sys
    from pathlib import Path

    model = make_tiny_model(tmp_path / "tiny.pt")
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(model)], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent.parent, timeout=300)
    assert out.returncode == 0, out.stderr
    growth = int(out.stdout.split()[-1])
    assert growth < 8 * 12e6 + 100e6, f"{growth / 12e6:.1f} bytes a pixel"


def test_a_stored_prediction_is_a_deflated_npz_with_every_array_intact(colorizer):
    import zipfile

    pred = colorizer.predict(_gray())
    data = pred.to_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED}
    again = Prediction.from_bytes(data)
    for name in ("indices", "log_probs", "centres", "log_bin_weights"):
        original, stored = getattr(pred, name), getattr(again, name)
        assert stored.dtype == original.dtype and np.array_equal(stored, original)
    assert again.temperature == pred.temperature
    # Predictions stored before (np.savez_compressed) still load.
    old = io.BytesIO()
    np.savez_compressed(old, **{k: np.asarray(v) for k, v in pred.__dict__.items() if v is not None})
    assert np.array_equal(Prediction.from_bytes(old.getvalue()).log_probs, pred.log_probs)
