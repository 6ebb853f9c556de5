def test_home_page_describes_the_product(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"black-and-white" in response.content


def test_the_home_page_shows_a_real_before_and_after_made_by_the_shipped_model(client):
    import json
    from pathlib import Path

    import numpy as np
    from PIL import Image

    html = client.get("/").content.decode()
    assert "img/home/before.jpg" in html and "img/home/after.jpg" in html and 'id="compare-range"' in html
    folder = Path(__file__).resolve().parent.parent / "static" / "img" / "home"
    about = json.loads((folder / "example.json").read_text())
    assert about["source"].startswith("skimage.data.") and about["model_version"]
    before, after = Image.open(folder / "before.jpg"), Image.open(folder / "after.jpg")
    assert before.size == after.size == (about["width"], about["height"])
    assert before.mode == "L"
    rgb = np.asarray(after.convert("RGB"), dtype=np.int16)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).mean() > 5  # in color, not gray


def test_make_home_example_writes_the_pair_with_the_model_it_used(tiny_model, tmp_path):
    import json

    from django.core.management import call_command
    from PIL import Image

    call_command("make_home_example", "--photo", "chelsea", "--out", str(tmp_path), verbosity=0)
    about = json.loads((tmp_path / "example.json").read_text())
    assert about["source"] == "skimage.data.chelsea()" and about["model_version"].startswith("eccv16-")
    assert Image.open(tmp_path / "before.jpg").size == Image.open(tmp_path / "after.jpg").size == (451, 300)


def test_make_home_example_dry_run_writes_nothing(tiny_model, tmp_path):
    from django.core.management import call_command

    call_command("make_home_example", "--out", str(tmp_path / "x"), "--dry-run", verbosity=0)
    assert not (tmp_path / "x").exists()
