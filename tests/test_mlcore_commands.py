"""prepare_dataset, train_colorizer and colorize end to end on a tiny generated dataset."""
import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from django.core.management import CommandError, call_command
from PIL import Image

from mlcore.checkpoint import read_checkpoint

REPO = Path(__file__).resolve().parent.parent
TINY = ["--arch", "eccv16", "--width", "0.0625", "--size", "32", "--batch-size", "8", "--precision", "fp32",
        "--device", "cpu", "--no-progress"]


def _photo(rng, size):
    """A colourful random photo: smooth blobs of colour."""
    small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    rng = np.random.default_rng(0)
    for source, classes in (("beach", ["sand", "sea/deep"]), ("city", ["cars"])):
        for cls in classes:
            folder = root / source / cls
            folder.mkdir(parents=True)
            for i in range(12):
                _photo(rng, (48, 40)).save(folder / f"{i}.jpg")
    Image.new("L", (40, 40), 128).save(root / "beach" / "sand" / "gray.png")
    (root / "city" / "cars" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


@pytest.fixture(scope="module")
def prepared(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared")
    call_command("prepare_dataset", str(sources / "beach"), str(sources / "city"), "--out", str(out),
                 "--fraction", "1", "--size", "32", "--seed", "3", "--workers", "1", verbosity=0)
    return out


def _manifest(folder):
    with open(folder / "manifest.csv") as fh:
        return list(csv.DictReader(fh))


def test_prepare_dataset_splits_resizes_and_counts_what_it_drops(sources, tmp_path, capsys):
    out = tmp_path / "p"
    call_command("prepare_dataset", str(sources / "beach"), str(sources / "city"), "--out", str(out),
                 "--fraction", "1", "--size", "32", "--seed", "3", "--workers", "1")
    report = capsys.readouterr().out
    rows = _manifest(out)
    assert len(rows) == 36  # 37 readable, one of them gray; the broken file is dropped too
    beach = next(line for line in report.splitlines() if line.startswith("beach"))
    city = next(line for line in report.splitlines() if line.startswith("city"))
    assert beach.split()[1:5] == ["25", "25", "0", "1"]   # found, drawn, unreadable, gray
    assert city.split()[1:5] == ["13", "13", "1", "0"]
    splits = {s: sum(r["split"] == s for r in rows if r["source"] == "beach") for s in ("train", "val", "test")}
    assert splits == {"train": 17, "val": 2, "test": 5}
    assert {r["class"] for r in rows} == {"sand", "sea/deep", "cars"}
    for r in rows[:5]:
        with Image.open(out / r["path"]) as img:
            assert img.size == (32, 32) and img.mode == "RGB"


def test_prepare_dataset_is_deterministic_for_a_seed(sources, prepared, tmp_path):
    again = tmp_path / "again"
    call_command("prepare_dataset", str(sources / "beach"), str(sources / "city"), "--out", str(again),
                 "--fraction", "1", "--size", "32", "--seed", "3", "--workers", "1", verbosity=0)
    assert _manifest(again) == _manifest(prepared)
    for r in _manifest(again)[:5]:
        assert (again / r["path"]).read_bytes() == (prepared / r["path"]).read_bytes()
    other = tmp_path / "other"
    call_command("prepare_dataset", str(sources / "beach"), "--out", str(other), "--fraction", "0.5",
                 "--size", "32", "--seed", "4", "--workers", "1", verbosity=0)
    assert len(_manifest(other)) == 12  # half of 25 drawn (12), the gray one may or may not be among them
    assert _manifest(other) != _manifest(prepared)


def test_prepare_dataset_rejects_a_missing_source(tmp_path):
    with pytest.raises(CommandError, match="not found"):
        call_command("prepare_dataset", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), verbosity=0)


def test_train_colorizer_writes_a_usable_model_checkpoint_and_log(prepared, tmp_path):
    out = tmp_path / "m.pt"
    call_command("train_colorizer", "--data", str(prepared), "--out", str(out), "--loss", "rebalanced",
                 "--epochs", "2", *TINY, verbosity=0)
    ckpt = read_checkpoint(out)
    assert ckpt["loss"] == "rebalanced" and len(ckpt["centres"]) == 261
    lines = [json.loads(x) for x in Path(f"{out}.log.jsonl").read_text().splitlines()]
    assert lines[0]["event"] == "start" and [x["epoch"] for x in lines[1:]] == [1, 2]
    assert all(np.isfinite(x["val_loss"]) for x in lines[1:])
    colored = tmp_path / "colored"
    src = tmp_path / "in.png"
    Image.new("L", (45, 30), 90).save(src)
    call_command("colorize", str(src), "--out-dir", str(colored), "--model", str(out), "--temperature", "0.5", verbosity=0)
    with Image.open(colored / "in.png") as img:
        assert img.size == (45, 30)


def test_rebalancing_weights_are_stored_with_the_model(prepared, tmp_path):
    out = tmp_path / "m.pt"
    call_command("train_colorizer", "--data", str(prepared), "--out", str(out), "--epochs", "1", *TINY, verbosity=0)
    ckpt = read_checkpoint(out)
    from mlcore.training.rebalance import smooth_distribution
    smoothed = smooth_distribution(ckpt["prior"].double().numpy(), ckpt["centres"].numpy())
    assert np.isclose((smoothed * ckpt["bin_weights"].double().numpy()).sum(), 1.0, atol=1e-3)


def test_resume_continues_exactly(prepared, tmp_path):
    straight, split = tmp_path / "straight.pt", tmp_path / "split.pt"
    args = ["--data", str(prepared), "--loss", "classification", "--epochs", "2", *TINY]
    call_command("train_colorizer", "--out", str(straight), *args, verbosity=0)
    call_command("train_colorizer", "--out", str(split), *args, "--max-minutes", "0", verbosity=0)  # stops after epoch 1
    assert torch.load(f"{split}.state.pt", weights_only=False)["epoch"] == 1
    call_command("train_colorizer", "--out", str(split), *args, "--resume", verbosity=0)
    a = torch.load(f"{straight}.state.pt", weights_only=False)
    b = torch.load(f"{split}.state.pt", weights_only=False)
    assert b["epoch"] == 2
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key


def test_l2_fine_tuned_from_a_classification_model(prepared, tmp_path):
    cls = tmp_path / "cls.pt"
    call_command("train_colorizer", "--data", str(prepared), "--out", str(cls), "--loss", "classification",
                 "--epochs", "1", *TINY, verbosity=0)
    ft = tmp_path / "ft.pt"
    call_command("train_colorizer", "--data", str(prepared), "--out", str(ft), "--loss", "l2",
                 "--init-from", str(cls), "--epochs", "1", *TINY, verbosity=0)
    assert read_checkpoint(ft)["loss"] == "l2"


def test_unknown_loss_is_refused(prepared, tmp_path):
    with pytest.raises(CommandError):
        call_command("train_colorizer", "--data", str(prepared), "--out", str(tmp_path / "x.pt"), "--loss", "l1")


def test_colorize_reports_unreadable_inputs(tmp_path, tiny_model_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    good = tmp_path / "good.png"
    Image.new("L", (20, 10), 50).save(good)
    with pytest.raises(CommandError, match="1 of 2"):
        call_command("colorize", str(bad), str(good), "--out-dir", str(tmp_path / "o"), "--model", tiny_model_path,
                     verbosity=0)
    assert (tmp_path / "o" / "good.png").exists()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_distributed_training_on_the_cpu(prepared, tmp_path):
    out = tmp_path / "ddp.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DJANGO_SETTINGS_MODULE": "tests.settings"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), "manage.py", "train_colorizer", "--data", str(prepared),
           "--out", str(out), "--epochs", "1", *TINY]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    start = json.loads(Path(f"{out}.log.jsonl").read_text().splitlines()[0])
    assert start["world_size"] == 2
    assert read_checkpoint(out)["loss"] == "rebalanced"


def test_lite0_trains_on_cached_features_then_fine_tunes_its_encoder(prepared, tmp_path):
    out = tmp_path / "lite.pt"
    call_command("train_colorizer", "--data", str(prepared), "--out", str(out), "--arch", "lite0", "--size", "32",
                 "--epochs", "2", "--finetune-epochs", "1", "--batch-size", "8", "--device", "cpu", "--no-progress",
                 verbosity=0)
    lines = [json.loads(x) for x in Path(f"{out}.log.jsonl").read_text().splitlines()[1:]]
    assert [x["finetune_encoder"] for x in lines] == [False, True]
    ckpt = read_checkpoint(out)
    # The encoder is stored only when the saved model is the fine-tuned one; either way it loads.
    assert ckpt["encoder_included"] == lines[1]["saved_best"]
    from mlcore.colorizer import Colorizer
    assert Colorizer.load(out, device="cpu").colorize(Image.new("L", (40, 30), 100)).size == (40, 30)


def test_a_model_started_from_a_fine_tuned_encoder_keeps_that_encoder(prepared, tmp_path):
    # Frozen epochs after fine-tuning (a semantic epoch, say) must neither read the feature cache,
    # which holds the ImageNet encoder's features, nor drop the encoder from the file.
    tuned, more = tmp_path / "tuned.pt", tmp_path / "more.pt"
    common = ["--data", str(prepared), "--arch", "lite0", "--size", "32", "--epochs", "1", "--batch-size", "8",
              "--device", "cpu", "--no-progress"]
    call_command("train_colorizer", *common, "--out", str(tuned), "--finetune-epochs", "1", verbosity=0)
    call_command("train_colorizer", *common, "--out", str(more), "--init-from", str(tuned), verbosity=0)
    first, second = read_checkpoint(tuned), read_checkpoint(more)
    assert first["encoder_included"] and second["encoder_included"]
    encoder = {k: v for k, v in first["state_dict"].items() if k.startswith("encoder.")}
    assert encoder and all(torch.equal(v, second["state_dict"][k]) for k, v in encoder.items())


def test_lite0ctx_trains_with_mirrored_features_and_colorizes(prepared, tmp_path):
    out = tmp_path / "ctx.pt"
    call_command("train_colorizer", "--data", str(prepared), "--out", str(out), "--arch", "lite0ctx", "--size", "32",
                 "--epochs", "1", "--flip", "--batch-size", "8", "--device", "cpu", "--no-progress", verbosity=0)
    cache = next((prepared / "cache").glob("train_s32_*"))
    assert (cache / "lite0_features_mirrored" / "done").exists()
    # Five cached tensors: four feature maps and the pooled head vector the context branch reads.
    assert len(list((cache / "lite0_features").glob("f*.npy"))) == 5
    ckpt = read_checkpoint(out)
    assert ckpt["arch"] == "lite0ctx" and not ckpt["encoder_included"]
    assert any(k.startswith("decoder.context.") for k in ckpt["state_dict"])
    from mlcore.colorizer import Colorizer
    assert Colorizer.load(out, device="cpu").colorize(Image.new("L", (40, 30), 100)).size == (40, 30)


def test_lite1ctx_caches_its_own_encoders_features_and_colorizes(prepared, tmp_path):
    # Lite0's cached features must never feed a decoder that runs behind Lite1.
    out = tmp_path / "lite1.pt"
    call_command("train_colorizer", "--data", str(prepared), "--out", str(out), "--arch", "lite1ctx", "--size", "32",
                 "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--no-progress", verbosity=0)
    cache = next((prepared / "cache").glob("train_s32_*"))
    assert len(list((cache / "lite1_features").glob("f*.npy"))) == 5
    ckpt = read_checkpoint(out)
    assert ckpt["arch"] == "lite1ctx" and not ckpt["encoder_included"]
    from mlcore.colorizer import Colorizer
    colorizer = Colorizer.load(out, device="cpu")
    assert len(colorizer.model.encoder.blocks) == 21
    assert colorizer.colorize(Image.new("L", (40, 30), 100)).size == (40, 30)


def test_mirrored_batches_take_the_features_of_the_mirrored_photo():
    from mlcore.training.train import Batches

    class Arrays:
        L = np.arange(2 * 4 * 4, dtype=np.float16).reshape(2, 1, 4, 4)
        ab = np.zeros((2, 2, 1, 1), np.float16)
        idx = np.zeros((2, 1, 1, 5), np.int16)
        w = np.zeros((2, 1, 1, 5), np.float16)
        clean_L = None  # the network sees the photo's own L

    feats = [torch.zeros(2, 3, 1, 1)]
    mirrored = [torch.ones(2, 3, 1, 1)]
    batch = Batches(Arrays, 2, feats, mirrored).get(np.array([1, 0]), "cpu", flip=np.array([True, False]))
    assert batch["feats"][0][:, 0, 0, 0].tolist() == [1.0, 0.0]  # row 0 flipped, row 1 not
    assert batch["L"][0, 0, 0].tolist() == [3.0, 2.0, 1.0, 0.0]


def test_excluding_a_source_leaves_it_out_of_training_and_validation(prepared, tmp_path):
    out = tmp_path / "loso.pt"
    call_command("train_colorizer", "--data", str(prepared), "--out", str(out), "--epochs", "1",
                 "--exclude-source", "city", *TINY, verbosity=0)
    start = json.loads(Path(f"{out}.log.jsonl").read_text().splitlines()[0])
    beach_train = sum(1 for r in _manifest(prepared) if r["split"] == "train" and r["source"] == "beach")
    assert start["train_images"] == beach_train
    with pytest.raises(CommandError, match="no source named nowhere"):
        call_command("train_colorizer", "--data", str(prepared), "--out", str(tmp_path / "x.pt"), "--epochs", "1",
                     "--exclude-source", "nowhere", *TINY, verbosity=0)


def test_semantic_weight_adds_the_classifier_term_to_training_and_validation(prepared, tmp_path):
    plain, semantic = tmp_path / "plain.pt", tmp_path / "semantic.pt"
    common = ["--data", str(prepared), "--arch", "lite0", "--size", "32", "--epochs", "1", "--batch-size", "8",
              "--device", "cpu", "--no-progress", "--precision", "fp32"]
    call_command("train_colorizer", *common, "--out", str(plain), verbosity=0)
    call_command("train_colorizer", *common, "--out", str(semantic), "--semantic-weight", "1", verbosity=0)
    val = lambda p: json.loads(Path(f"{p}.log.jsonl").read_text().splitlines()[1])["val_loss"]
    # Same seed and data: the only difference is the KL term, which is positive for an untrained decoder.
    assert val(semantic) > val(plain)


def test_the_semantic_judge_sees_the_photos_own_lightness_when_the_network_sees_damaged_prints(
        prepared, tmp_path, monkeypatch):
    from mlcore.training import train as training
    from mlcore.training.features import build_split_arrays
    judged = []
    real_loss = training.semantic_loss

    def spy(judge, lightness, *args, **kwargs):
        judged.append(lightness.detach().cpu().numpy())
        return real_loss(judge, lightness, *args, **kwargs)

    monkeypatch.setattr(training, "semantic_loss", spy)
    call_command("train_colorizer", "--data", str(prepared), "--out", str(tmp_path / "m.pt"), "--arch", "lite0",
                 "--size", "32", "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--no-progress",
                 "--precision", "fp32", "--semantic-weight", "1", "--degrade", "1", "--normalise", verbosity=0)
    as_rows = lambda arrays: {np.asarray(row, dtype=np.float32).tobytes() for row in arrays.L}
    own = as_rows(build_split_arrays(prepared, "train", 32)) | as_rows(build_split_arrays(prepared, "val", 32))
    seen_by_network = as_rows(build_split_arrays(prepared, "train", 32, degrade=1.0, normalise=True))
    assert not own & seen_by_network  # every photo was damaged, so the two differ photo for photo
    photos = [row.tobytes() for batch in judged for row in batch]
    assert photos and all(p in own for p in photos)
