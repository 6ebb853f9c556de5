"""manage.py colorize: the site's pixels, both formats, names that never collide, bad input
reported without stopping the others."""
import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from PIL import Image

from gallery.models import Photo
from tests.conftest import run_worker
from tests.test_jobs import new_photo


def gray_file(path, size=(90, 70)):
    Image.linear_gradient("L").resize(size).save(path)
    return path


def pixels(path_or_file):
    with Image.open(path_or_file) as img:
        return np.asarray(img.convert("RGB"))


def test_the_command_line_gives_the_sites_pixels_for_the_same_photo(
    owner, redis_conn, tiny_model, tmp_path, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        photo = new_photo(owner, "Grandpa.png", size=(90, 70))
    run_worker()
    photo.refresh_from_db()
    assert photo.status == Photo.DONE, photo.error
    original = tmp_path / "Grandpa.png"
    original.write_bytes(default_storage.open(photo.original.name).read())
    # No settings on either side: both decode at the model file's own.
    call_command("colorize", str(original), "--out-dir", str(tmp_path / "out"), verbosity=0)
    site = pixels(io.BytesIO(default_storage.open(photo.result.name).read()))
    assert np.array_equal(pixels(tmp_path / "out" / "Grandpa.png"), site)


def test_jpeg_output_and_names_that_never_collide(tiny_model_path, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = gray_file(tmp_path / "a" / "photo.png")
    second = gray_file(tmp_path / "b" / "photo.tif", size=(40, 30))
    out = tmp_path / "out"
    call_command("colorize", str(first), str(second), "--out-dir", str(out), "--model", tiny_model_path,
                 "--format", "jpeg", "--quality", "80", verbosity=0)
    assert sorted(p.name for p in out.iterdir()) == ["photo-2.jpg", "photo.jpg"]
    with Image.open(out / "photo.jpg") as a, Image.open(out / "photo-2.jpg") as b:
        assert (a.format, a.size, b.size) == ("JPEG", (90, 70), (40, 30))


def test_vividness_changes_the_colours_and_is_checked(tiny_model_path, tmp_path):
    src = gray_file(tmp_path / "in.png")
    for v in ("10", "90"):
        call_command("colorize", str(src), "--out-dir", str(tmp_path / v), "--model", tiny_model_path,
                     "--vividness", v, verbosity=0)
    assert not np.array_equal(pixels(tmp_path / "10" / "in.png"), pixels(tmp_path / "90" / "in.png"))
    for option, value in [("--vividness", "101"), ("--temperature", "0"), ("--quality", "0"), ("--batch", "0")]:
        with pytest.raises(CommandError):
            call_command("colorize", str(src), "--out-dir", str(tmp_path / "x"), "--model", tiny_model_path,
                         option, value, verbosity=0)


def test_a_batch_gives_the_same_files_as_one_at_a_time(tiny_model_path, tmp_path):
    inputs = [str(gray_file(tmp_path / f"p{i}.png", size=(60 + i, 50))) for i in range(3)]
    call_command("colorize", *inputs, "--out-dir", str(tmp_path / "one"), "--model", tiny_model_path, verbosity=0)
    call_command("colorize", *inputs, "--out-dir", str(tmp_path / "three"), "--model", tiny_model_path,
                 "--batch", "3", verbosity=0)
    for i in range(3):
        one, three = pixels(tmp_path / "one" / f"p{i}.png"), pixels(tmp_path / "three" / f"p{i}.png")
        assert np.abs(one.astype(int) - three.astype(int)).max() <= 1  # float rounding of a batched pass


def test_it_lists_each_file_at_verbosity_2(tiny_model_path, tmp_path):
    src = gray_file(tmp_path / "in.png")
    out = io.StringIO()
    call_command("colorize", str(src), "--out-dir", str(tmp_path / "o"), "--model", tiny_model_path,
                 verbosity=2, stdout=out)
    assert out.getvalue().strip() == f"{src} -> {tmp_path / 'o' / 'in.png'}"
    assert not [p for p in (tmp_path / "o").iterdir() if p.name.endswith(".part")]


def test_on_a_cpu_the_network_runs_on_the_cores_the_writers_leave_and_gets_them_back(tiny_model_path, tmp_path):
    import os

    import torch

    from mlcore.colorizer import Colorizer
    from mlcore.files import WRITERS, colorize_files

    Image.new("L", (40, 30), 100).save(tmp_path / "a.png")
    colorizer = Colorizer.load(tiny_model_path, device="cpu")
    seen, predict_many = [], colorizer.predict_many
    colorizer.predict_many = lambda images: seen.append(torch.get_num_threads()) or predict_many(images)
    before = torch.get_num_threads()
    torch.set_num_threads(max(2, before))
    try:
        results = list(colorize_files(colorizer, [str(tmp_path / "a.png")], tmp_path))
        assert [error for _, _, error in results] == [None]
        assert seen == [max(1, min(max(2, before), (os.cpu_count() or 1) - WRITERS))]
        assert torch.get_num_threads() == max(2, before)  # given back when the files are written
    finally:
        torch.set_num_threads(before)


def test_command_line_results_say_how_they_were_made_and_keep_the_camera(tiny_model_path, tmp_path):
    from mlcore.provenance import DIGITAL_SOURCE_TYPE, XMP_KEY
    from tests.test_provenance import MAKE, ORIENTATION, SOFTWARE, camera_jpeg

    src = tmp_path / "Lake 1952.jpg"
    src.write_bytes(camera_jpeg().read())  # a Leica's EXIF, stored sideways
    for fmt in ("png", "jpeg"):
        call_command("colorize", str(src), "--out-dir", str(tmp_path / fmt), "--model", tiny_model_path,
                     "--format", fmt, "--vividness", "70", verbosity=0)
    with Image.open(tmp_path / "png" / "Lake 1952.png") as png:
        assert png.size == (60, 80)  # upright, as people see it
        assert png.info["Software"] == "colorsite" and png.info["colorsite:vividness"] == "70"
        assert png.info["colorsite:source"] == "Lake 1952.jpg" and png.info["colorsite:model_version"]
        assert DIGITAL_SOURCE_TYPE in png.info[XMP_KEY]
        assert (png.getexif()[MAKE], png.getexif()[ORIENTATION]) == ("Leica", 1)
    with Image.open(tmp_path / "jpeg" / "Lake 1952.jpg") as jpeg:
        exif = jpeg.getexif()
        assert (exif[SOFTWARE], exif[MAKE], exif[ORIENTATION]) == ("colorsite", "Leica", 1)
        assert "Colorized by colorsite" in exif[0x010E] and "vividness 70" in exif[0x010E]
        assert DIGITAL_SOURCE_TYPE in jpeg.info["xmp"].decode()


# -- --hints: the API's JSON, the API's rule --------------------------------------------


def hints_file(path, hints):
    import json

    path.write_text(json.dumps({"hints": hints}))
    return str(path)


def test_hints_from_a_file_reach_the_network_and_the_provenance(tiny_hint_model_path, tmp_path, monkeypatch):
    from mlcore.colorizer import Colorizer

    seen = []
    predict_many = Colorizer.predict_many

    def spy(self, imgs, hints=None):
        seen.append(hints)
        return predict_many(self, imgs, hints)

    monkeypatch.setattr(Colorizer, "predict_many", spy)
    src = gray_file(tmp_path / "in.png")
    hints = hints_file(tmp_path / "hints.json", [{"x": 0.42, "y": 0.31, "color": "#B03A2E"},
                                                 {"x": 0.9, "y": 0.9, "color": "#00ff00"}])
    call_command("colorize", str(src), "--out-dir", str(tmp_path / "hinted"), "--model", tiny_hint_model_path,
                 "--hints", hints, verbosity=0)
    call_command("colorize", str(src), "--out-dir", str(tmp_path / "plain"), "--model", tiny_hint_model_path,
                 verbosity=0)
    (points,), none = seen
    assert [p[:2] for p in points] == [(0.42, 0.31), (0.9, 0.9)] and none is None
    assert not np.array_equal(pixels(tmp_path / "hinted" / "in.png"), pixels(tmp_path / "plain" / "in.png"))
    with Image.open(tmp_path / "hinted" / "in.png") as result:
        assert result.info["colorsite:hints"] == "2" and "guided by 2 colour hints" in result.info["Description"]
    with Image.open(tmp_path / "plain" / "in.png") as result:
        assert result.info["colorsite:hints"] == "0" and "guided" not in result.info["Description"]


@pytest.mark.parametrize("content, message", [
    ('{"hints": [{"x": 2, "y": 0.5, "color": "#000000"}]}', "hint 0: x: Must be from 0 to 1"),
    ('{"hints": [{"x": 0.5, "y": 0.5, "color": "red"}]}', "#rrggbb"),
    ('{"hints": "all red"}', "A list of hints"),
    ('[{"x": 0.5, "y": 0.5, "color": "#000000"}]', 'expected {"hints"'),
    ("not json", "not JSON"),
])
def test_bad_hint_files_are_refused_with_the_apis_messages(tiny_hint_model_path, tmp_path, content, message):
    src = gray_file(tmp_path / "in.png")
    (tmp_path / "hints.json").write_text(content)
    with pytest.raises(CommandError, match=message.replace("{", r"\{").replace("[", r"\[")):
        call_command("colorize", str(src), "--out-dir", str(tmp_path / "out"), "--model", tiny_hint_model_path,
                     "--hints", str(tmp_path / "hints.json"), verbosity=0)
    assert not (tmp_path / "out").exists()


def test_hints_need_one_photo_and_a_model_that_takes_them(tiny_model_path, tiny_hint_model_path, tmp_path):
    src = gray_file(tmp_path / "in.png")
    hints = hints_file(tmp_path / "hints.json", [{"x": 0.5, "y": 0.5, "color": "#336699"}])
    with pytest.raises(CommandError, match="cannot take colour hints"):
        call_command("colorize", str(src), "--out-dir", str(tmp_path / "out"), "--model", tiny_model_path,
                     "--hints", hints, verbosity=0)
    with pytest.raises(CommandError, match="one input"):
        call_command("colorize", str(src), str(src), "--out-dir", str(tmp_path / "out"),
                     "--model", tiny_hint_model_path, "--hints", hints, verbosity=0)
