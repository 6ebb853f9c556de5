"""Training loop for `train_colorizer`: seeded, resumable, one process or many (torchrun).

Files written next to --out MODEL_PATH:
  MODEL_PATH              the model with the best validation loss so far (what colorize loads)
  MODEL_PATH.state.pt     the full training state after the last finished epoch (--resume)
  MODEL_PATH.log.jsonl    one JSON line per epoch (and one at the start)
"""
import copy
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from ..checkpoint import atomic_save, read_checkpoint, save_model
from ..fusion import fold_batchnorm
from ..networks import ARCHITECTURES, build_model, count_parameters, encoder_name, has_pretrained_encoder
from ..quantize import SOFT_NEIGHBOURS, SOFT_SIGMA, ab_bin_centres, output_channels
from .dataset import read_manifest
from .features import attach_clean_lightness, build_split_arrays, cache_dir
from ..hints import simulate_hints
from .losses import LOSSES, compute_loss
from .rebalance import BinCounter, rebalance_weights
from .semantic import SemanticJudge, semantic_loss


@dataclass
class TrainConfig:
    data: str
    out: str
    loss: str = "rebalanced"
    arch: str = "lite0"
    width: float = 1.0
    size: int = 128
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    init_from: str | None = None
    resume: bool = False
    device: str = "auto"
    seed: int = 0
    neighbours: int = SOFT_NEIGHBOURS
    sigma: float = SOFT_SIGMA
    finetune_epochs: int = 0   # lite0: unfreeze the encoder for the last N epochs
    flip: bool = False         # lite0 on cached features: also cache the mirrored photos' features and train on both
    exclude_sources: tuple = ()  # leave these sources out of training and validation (generalization studies)
    semantic_weight: float = 0.0  # weight of the semantic-consistency term (training/semantic.py); 0 = off
    precision: str = "auto"    # bf16 (autocast), fp32, or auto: bf16 where the hardware computes it (resolve_precision)
    limit: int | None = None   # use only the first N training images (quick runs, tests)
    max_minutes: float | None = None  # stop after the epoch that crosses this wall-clock budget
    degrade: float = 0.0       # share of photos whose L gets old-print damage (mlcore/training/degrade.py)
    normalise: bool = False    # the network sees L with its tones stretched (mlcore/lightness.py), here and in use
    checkpoint_minutes: float = 10.0  # also save the training state this often within an epoch (--resume)
    freeze_base: bool = False  # lite0guide: train only the hint guide on the --init-from network, kept as it is
    guide_from: str | None = None  # start the hint guide from this guided model's guide (a retrained base)


def cpu_has_bf16(cpuinfo="/proc/cpuinfo"):
    """Whether this CPU computes bfloat16 itself (AVX512-BF16 or AMX). Without it, PyTorch
    emulates bf16 and training is slower than in fp32 (2x on this project's AVX2 machines)."""
    try:
        with open(cpuinfo) as fh:
            flags = next((line.split(":", 1)[1].split() for line in fh if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision, device):
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_has_bf16() else "fp32"


def pick_device(name):
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Distributed:
    """Rank/world from torchrun's environment; a no-op in a single process."""

    def __init__(self, device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.enabled = self.world > 1
        if self.enabled and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")

    @property
    def main(self):
        return self.rank == 0

    def barrier(self):
        if self.enabled:
            dist.barrier()

    def all_mean(self, value):
        if not self.enabled:
            return value
        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t)
        return t.item() / self.world


def compute_bin_weights(idx_array, num_bins):
    counter = BinCounter(num_bins)
    for start in range(0, len(idx_array), 1024):
        counter.add(np.asarray(idx_array[start:start + 1024, ..., 0]))
    prior = counter.distribution()
    weights, _ = rebalance_weights(prior, ab_bin_centres())
    return weights, prior.astype(np.float32)


def cached_encoder_features(model, arrays, count, device, directory, show=True, desc="features", mirrored=False):
    """Frozen-encoder features, computed once per split, size and count and kept on disk:
    the ImageNet weights never change, so every run on the same data can reuse them.
    `mirrored`: the features of the horizontally flipped photos (flip augmentation).
    A cache with fewer tensors than this encoder gives (no context vector) is made again."""
    directory = Path(directory)
    needed = 5 if getattr(model.encoder, "head", None) is not None else 4
    if not (directory / "done").exists() or len(list(directory.glob("f*.npy"))) < needed:
        directory.mkdir(parents=True, exist_ok=True)
        encoder_features(model, arrays, count, device, desc=desc, show=show, mirrored=mirrored, directory=directory)
        (directory / "done").write_text(str(count))
    # Memory-mapped: the big pool's features (about 290 KB a photo) outgrow the machine's memory.
    return [np.load(name, mmap_mode="r") for name in sorted(directory.glob("f*.npy"))]


# Photos per encoder pass when caching features. On a CPU small batches keep the activations in
# cache: with BatchNorm folded and channels-last memory, 65 photos/s at 224 px with 4 against 9
# unfused with 128 (2 AVX2 cores). A GPU wants large ones.
FEATURE_BATCH_CPU, FEATURE_BATCH_GPU = 4, 128


@torch.no_grad()
def encoder_features(model, arrays, count, device, batch_size=None, desc="features", show=True, mirrored=False,
                     directory=None):
    """Frozen-encoder features of the first `count` images of a split, float16 (in memory, or
    written batch by batch to DIRECTORY/f<i>.npy and returned memory-mapped).
    They come from a copy of the encoder with BatchNorm folded (mlcore/fusion.py): the same
    features to about 1e-4, below float16's step, computed 7x faster on a CPU."""
    encoder = fold_batchnorm(copy.deepcopy(model.encoder).eval()).to(memory_format=torch.channels_last)
    batch_size = batch_size or (FEATURE_BATCH_GPU if device.type == "cuda" else FEATURE_BATCH_CPU)
    chunks, first = None, 0
    progress = Path(directory) / "progress" if directory is not None else None
    if progress is not None and progress.exists():
        # An interrupted cache (the big pool's takes most of an hour): go on from the last flush.
        chunks = [np.load(name, mmap_mode="r+") for name in sorted(Path(directory).glob("f*.npy"))]
        first = int(progress.read_text())
    last_flush = time.time()
    for start in tqdm(range(first, count, batch_size), desc=desc, disable=not show, leave=False,
                      initial=first // batch_size, total=(count + batch_size - 1) // batch_size):
        stop = min(count, start + batch_size)
        lightness = torch.from_numpy(np.asarray(arrays.L[start:stop], dtype=np.float32)).to(device)
        if mirrored:
            lightness = lightness.flip(3)
        feats = [f.half().cpu() for f in encoder(lightness.contiguous(memory_format=torch.channels_last))]
        if directory is None:
            chunks = [[f] for f in feats] if chunks is None else [c + [f] for c, f in zip(chunks, feats)]
            continue
        if chunks is None:
            chunks = [np.lib.format.open_memmap(Path(directory) / f"f{i}.npy", "w+", np.float16,
                                                (count, *f.shape[1:])) for i, f in enumerate(feats)]
        for target, f in zip(chunks, feats):
            target[start:stop] = f.numpy()
        if time.time() - last_flush > 60:
            for target in chunks:
                target.flush()
            progress.write_text(str(stop))
            last_flush = time.time()
    if directory is None:
        return [torch.cat(c) for c in chunks]
    for target in chunks:
        target.flush()
    progress.unlink(missing_ok=True)
    return [np.load(Path(directory) / f"f{i}.npy", mmap_mode="r") for i in range(len(chunks))]


def _rows(features, order):
    """Rows of a feature cache (a tensor, or a memory-mapped array) as a float32 tensor."""
    if isinstance(features, torch.Tensor):
        return features[torch.from_numpy(order)].float()
    return torch.from_numpy(np.asarray(features[order], dtype=np.float32))


class Batches:
    """Yields training batches as dicts of tensors, from memory-mapped arrays (and features;
    with `mirrored_feats`, a flipped photo's features are those computed on the flipped photo)."""

    def __init__(self, arrays, count, feats=None, mirrored_feats=None):
        self.arrays, self.count, self.feats, self.mirrored_feats = arrays, count, feats, mirrored_feats

    def get(self, indices, device, flip=None):
        order = np.sort(indices)  # memmap reads are faster in order; the batch order is irrelevant
        a = self.arrays
        batch = {
            "L": torch.from_numpy(np.asarray(a.L[order], dtype=np.float32)),
            "ab": torch.from_numpy(np.asarray(a.ab[order], dtype=np.float32)),
            "idx": torch.from_numpy(np.asarray(a.idx[order], dtype=np.int64)),
            "w": torch.from_numpy(np.asarray(a.w[order], dtype=np.float32)),
        }
        if a.clean_L is not None:
            batch["L_clean"] = torch.from_numpy(np.asarray(a.clean_L[order], dtype=np.float32))
        if flip is not None:
            f = torch.as_tensor(flip)  # aligned with `order`
            for key, dim in (("L", 3), ("L_clean", 3), ("ab", 3), ("idx", 2), ("w", 2)):
                if key in batch:
                    batch[key][f] = batch[key][f].flip(dim)  # the width axis: a mirror, not upside down
        if self.feats is not None:
            feats = [_rows(f, order) for f in self.feats]
            if flip is not None and self.mirrored_feats is not None:
                f = torch.as_tensor(flip)
                for mine, mirrored in zip(feats, self.mirrored_feats):
                    mine[f] = _rows(mirrored, order[flip])
            batch["feats"] = [x.contiguous(memory_format=torch.channels_last) for x in feats]
        return {k: ([x.to(device) for x in v] if k == "feats" else v.to(device)) for k, v in batch.items()}


def forward(model, batch, use_cached):
    """Network outputs for a batch; a hint-taking model gets the batch's hints (none: no hints)."""
    hints = (batch.get("hints"),) if getattr(model, "takes_hints", False) else ()
    if use_cached:
        lightness_s4 = model.lightness_at_quarter(batch["L"], batch["feats"][0].shape[-2:])
        return model.decode(batch["feats"], lightness_s4, *hints)
    return model(batch["L"], *hints)


def lr_at(step, total, base_lr, warmup=100):
    if step < warmup:
        return base_lr * (step + 1) / warmup
    return base_lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def init_from_checkpoint(model, path, prefix=""):
    """Copy every tensor whose name and shape match (the paper's "L2, ft" row starts from the
    classification network and replaces its last layer); with `prefix`, only those whose name
    starts with it (`guide.`: another model's hint guide)."""
    ckpt = read_checkpoint(path)
    own = model.state_dict()
    copied = {k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()
              if k.startswith(prefix) and k in own and own[k].shape == v.shape}
    own.update(copied)
    model.load_state_dict(own)
    return len(copied), len(own)


def train(cfg: TrainConfig, show_progress=True, log=print):
    if cfg.loss not in LOSSES:
        raise ValueError(f"unknown loss {cfg.loss!r}; choose from {', '.join(LOSSES)}")
    if cfg.arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {cfg.arch!r}; choose from {', '.join(ARCHITECTURES)}")
    if cfg.size % 32:
        raise ValueError("--size must be a multiple of 32")
    if cfg.freeze_base and not cfg.arch.endswith("guide"):
        raise ValueError("only a network with a hint guide (lite0guide) can train on a frozen base")
    if cfg.freeze_base and not cfg.init_from:
        raise ValueError("--freeze-base trains a guide on a trained network: give it with --init-from")
    if cfg.guide_from and not cfg.arch.endswith("guide"):
        raise ValueError("--guide-from starts a hint guide: train a network that has one (lite0guide)")
    device = pick_device(cfg.device)
    cfg = replace(cfg, precision=resolve_precision(cfg.precision, device))
    ddp = Distributed(device)
    show = show_progress and ddp.main
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    state_path, log_path = Path(f"{out}.state.pt"), Path(f"{out}.log.jsonl")

    variant = {"degrade": cfg.degrade, "normalise": cfg.normalise}
    if ddp.main:
        for split in ("train", "val"):
            with tqdm(desc=f"arrays ({split})", disable=not show) as bar:
                build_split_arrays(cfg.data, split, cfg.size, cfg.neighbours, cfg.sigma, progress=bar.update, **variant)
    ddp.barrier()
    train_arrays = build_split_arrays(cfg.data, "train", cfg.size, cfg.neighbours, cfg.sigma, **variant)
    val_arrays = build_split_arrays(cfg.data, "val", cfg.size, cfg.neighbours, cfg.sigma, **variant)
    if cfg.semantic_weight and (cfg.degrade or cfg.normalise):
        # The classifier judges the photo as the product makes it: our colours on the photo's own L.
        for split, arrays in (("train", train_arrays), ("val", val_arrays)):
            if ddp.main:
                with tqdm(desc=f"arrays ({split}, own L)", disable=not show) as bar:
                    attach_clean_lightness(arrays, cfg.data, split, cfg.size, cfg.neighbours, cfg.sigma, bar.update)
            ddp.barrier()
            attach_clean_lightness(arrays, cfg.data, split, cfg.size, cfg.neighbours, cfg.sigma)
    train_rows = rows_without(cfg.data, "train", cfg.exclude_sources)[:cfg.limit]
    val_rows = rows_without(cfg.data, "val", cfg.exclude_sources)
    n_train = len(train_rows)
    if not n_train or not len(val_rows):
        raise ValueError("no training or validation photos left after --limit / --exclude-source")
    centres = ab_bin_centres()
    bin_weights, prior = compute_bin_weights(train_arrays.idx[np.sort(train_rows)] if cfg.exclude_sources
                                             else train_arrays.idx[:n_train], len(centres))
    saved_loss = cfg.loss
    if cfg.freeze_base:
        # The file describes its automatic colours, which are the base's: its loss, and the bin
        # weights its prior correction subtracts (the guide's own loss stays in meta.config).
        base = read_checkpoint(cfg.init_from)
        bin_weights, prior, saved_loss = base["bin_weights"].numpy(), base["prior"].numpy(), base["loss"]
    bin_weights_t = torch.from_numpy(bin_weights).to(device)
    centres_t = torch.from_numpy(centres).float().to(device)
    judge = None
    if cfg.semantic_weight:
        if cfg.loss == "l2":
            raise ValueError("--semantic-weight needs a classification loss (it reads the bin distribution)")
        judge = SemanticJudge().to(device)
    objective = Objective(cfg, bin_weights_t, judge, centres_t, device)

    model = build_model(cfg.arch, output_channels(cfg.loss, len(centres)), cfg.width).to(device)
    if cfg.init_from and not cfg.resume:
        copied, total = init_from_checkpoint(model, cfg.init_from)
        log(f"initialised {copied}/{total} tensors from {cfg.init_from}")
    if cfg.guide_from and not cfg.resume:
        copied, _ = init_from_checkpoint(model, cfg.guide_from, prefix="guide.")
        if not copied:
            raise ValueError(f"{cfg.guide_from} has no hint guide of this shape to start from")
        log(f"initialised the hint guide's {copied} tensors from {cfg.guide_from}")
    if cfg.freeze_base:
        model.freeze_base()
    if device.type == "cpu" or cfg.precision == "bf16":
        model = model.to(memory_format=torch.channels_last)
    head_params = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    encoder_params = [p for n, p in model.named_parameters() if n.startswith("encoder.")]
    optimizer = torch.optim.AdamW([{"params": head_params, "lr": cfg.lr},
                                   {"params": encoder_params, "lr": cfg.lr * 0.1}],
                                  lr=cfg.lr, weight_decay=cfg.weight_decay)
    per_rank = n_train // ddp.world
    steps_per_epoch = max(1, per_rank // cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs

    start_epoch, best_val, history, elapsed_before = 0, float("inf"), [], 0.0
    resume_step, resume_running = 0, (0.0, 0)
    if cfg.resume:
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, best_val, history = state["epoch"], state["best_val"], state["history"]
        elapsed_before = state.get("elapsed", 0.0)
        resume_step, resume_running = state.get("step", 0), state.get("running", (0.0, 0))
        log(f"resuming after epoch {start_epoch}" + (f", step {resume_step}" if resume_step else "")
            + f" (best validation loss {best_val:.4f})")
    train_model = model
    if ddp.enabled:
        train_model = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=cfg.arch == "lite0")

    is_lite = has_pretrained_encoder(cfg.arch)
    takes_hints = getattr(model, "takes_hints", False)
    # The feature cache holds the ImageNet encoder's features: a model that starts from a
    # fine-tuned encoder runs that encoder every step, and its file keeps it.
    inherited_encoder = is_lite and cfg.init_from is not None and read_checkpoint(cfg.init_from)["encoder_included"]
    cacheable = is_lite and not inherited_encoder
    cached_train = cached_val = mirrored_train = None
    first_finetune_epoch = cfg.epochs - cfg.finetune_epochs
    if cacheable and start_epoch < first_finetune_epoch:
        # Features of the whole split are cached (indexed like the split's arrays), shared by the
        # architectures on one encoder: lite0ctx's five tensors are lite0's four plus the pooled head.
        features = f"{encoder_name(cfg.arch)}_features"
        train_dir = cache_dir(cfg.data, "train", cfg.size, cfg.neighbours, cfg.sigma, **variant) / features
        mirror_dir = cache_dir(cfg.data, "train", cfg.size, cfg.neighbours, cfg.sigma, **variant) / f"{features}_mirrored"
        val_dir = cache_dir(cfg.data, "val", cfg.size, cfg.neighbours, cfg.sigma, **variant) / features
        if ddp.main:
            cached_encoder_features(model, train_arrays, len(train_arrays), device, train_dir, show, "encoder features (train)")
            cached_encoder_features(model, val_arrays, len(val_arrays), device, val_dir, show, "encoder features (val)")
            if cfg.flip:
                cached_encoder_features(model, train_arrays, len(train_arrays), device, mirror_dir, show,
                                        "encoder features (train, mirrored)", mirrored=True)
        ddp.barrier()
        cached_train = cached_encoder_features(model, train_arrays, len(train_arrays), device, train_dir)
        cached_val = cached_encoder_features(model, val_arrays, len(val_arrays), device, val_dir)
        if cfg.flip:
            mirrored_train = cached_encoder_features(model, train_arrays, len(train_arrays), device, mirror_dir, mirrored=True)

    meta = {"command": " ".join(sys.argv), "config": asdict(cfg), "host": platform.node(),
            **base_inference(cfg),
            "device": str(device), "world_size": ddp.world, "train_images": n_train,
            "val_images": len(val_arrays), "parameters": count_parameters(model), "num_bins": len(centres),
            "torch": str(torch.__version__)}
    if ddp.main and start_epoch == 0:
        with open(log_path, "w") as fh:
            fh.write(json.dumps({"event": "start", **meta}) + "\n")
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
    t_start = time.time()
    for epoch in range(start_epoch, cfg.epochs):
        finetune = is_lite and epoch >= first_finetune_epoch
        use_cached = cacheable and not finetune
        if is_lite:
            model.freeze_encoder(not finetune)
        train_model.train()
        gen = np.random.default_rng([cfg.seed, epoch])
        perm = train_rows[gen.permutation(n_train)[ddp.rank * per_rank:(ddp.rank + 1) * per_rank]]
        flips = gen.random(len(train_arrays)) < 0.5
        batches = Batches(train_arrays, n_train, cached_train if use_cached else None, mirrored_train)
        first_step = resume_step if epoch == start_epoch else 0
        bar = tqdm(range(first_step, steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not show,
                   leave=True)
        (running, seen), t_epoch = (resume_running if first_step else (0.0, 0)), time.time()
        seen_before, t_checkpoint = seen, time.time()
        for step in bar:
            indices = perm[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            # Flipping cached features is not a flip of the image: cached steps flip only with the
            # features computed on the mirrored photos (--flip).
            flip = flips[np.sort(indices)] if not use_cached or mirrored_train is not None else None
            batch = batches.get(indices, device, flip)
            if takes_hints:
                # Seeded per step: a resumed run draws the same hints as an uninterrupted one.
                batch["hints"] = simulate_hints(batch["ab"].cpu(), np.random.default_rng([cfg.seed, epoch, step])).to(device)
            if not use_cached:
                batch["L"] = batch["L"].contiguous(memory_format=torch.channels_last)
            for i, group in enumerate(optimizer.param_groups):
                group["lr"] = lr_at(epoch * steps_per_epoch + step, total_steps, cfg.lr * (0.1 if i else 1.0))
            with autocast:
                outputs = forward(train_model if not use_cached else model, batch, use_cached)
            loss = objective(outputs, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if use_cached and ddp.enabled:
                _all_reduce_grads(model)
            optimizer.step()
            running += loss.item() * len(indices)
            seen += len(indices)
            bar.set_postfix(loss=f"{running / seen:.4f}",
                            img_s=f"{(seen - seen_before) * ddp.world / (time.time() - t_epoch):.0f}")
            if ddp.main and time.time() - t_checkpoint > cfg.checkpoint_minutes * 60 and step + 1 < steps_per_epoch:
                # Mid-epoch state: a resumed run continues at the next step with the same order and hints.
                atomic_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                             "step": step + 1, "running": (running, seen), "best_val": best_val,
                             "history": history, "elapsed": elapsed_before + (time.time() - t_start)}, state_path)
                t_checkpoint = time.time()
        train_loss = ddp.all_mean(running / max(1, seen))
        val_loss = evaluate_loss(model, val_arrays, cached_val if use_cached else None, device, objective,
                                 autocast, rows=val_rows)
        epoch_time = time.time() - t_epoch
        record = {"event": "epoch", "epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss,
                  "images_per_s": (seen - seen_before) * ddp.world / epoch_time, "epoch_s": epoch_time,
                  "lr": optimizer.param_groups[0]["lr"], "finetune_encoder": finetune}
        history.append(record)
        improved = val_loss < best_val
        best_val = min(best_val, val_loss)
        elapsed = elapsed_before + (time.time() - t_start)
        if ddp.main:
            if improved:
                save_model(out, model, arch=cfg.arch, width=cfg.width, loss=saved_loss, centres=centres,
                           bin_weights=bin_weights, prior=prior, size=cfg.size, encoder_trained=finetune or inherited_encoder,
                           meta={**meta, "epoch": epoch + 1, "val_loss": val_loss, "train_seconds": elapsed,
                                 "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
            atomic_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1,
                         "best_val": best_val, "history": history, "elapsed": elapsed}, state_path)
            with open(log_path, "a") as fh:
                fh.write(json.dumps({**record, "saved_best": improved, "elapsed_s": elapsed}) + "\n")
            log(f"epoch {epoch + 1}: train {train_loss:.4f}  val {val_loss:.4f}{'  (best, saved)' if improved else ''}"
                f"  {record['images_per_s']:.0f} img/s")
        if cfg.max_minutes is not None and elapsed > cfg.max_minutes * 60 and epoch + 1 < cfg.epochs:
            log(f"stopping: {elapsed / 60:.1f} minutes used of a {cfg.max_minutes:g}-minute budget")
            break
    ddp.barrier()
    return {"best_val": best_val, "history": history}


def _all_reduce_grads(model):
    # Cached-feature steps call the decoder directly, outside DDP's wrapper, so average by hand.
    world = dist.get_world_size()
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world


def base_inference(cfg):
    """A guide trained on a frozen base colours a photo without hints exactly as the base does, so
    the base's inference settings (chosen on validation) carry over: {"inference": ...} or {}."""
    if not cfg.freeze_base:
        return {}
    inference = read_checkpoint(cfg.init_from).get("meta", {}).get("inference")
    return {"inference": inference} if inference else {}


def rows_without(data_dir, split, exclude_sources):
    """Indices (into the split's arrays, which follow the manifest) of photos not from these sources."""
    if not exclude_sources:
        return np.arange(len(read_manifest(data_dir, split)))
    rows = read_manifest(data_dir, split)
    unknown = set(exclude_sources) - {r["source"] for r in read_manifest(data_dir)}
    if unknown:
        raise ValueError(f"no source named {', '.join(sorted(unknown))} in {data_dir}")
    return np.array([i for i, r in enumerate(rows) if r["source"] not in exclude_sources], dtype=np.int64)


class Objective:
    """The training loss: the chosen per-pixel loss, plus the semantic-consistency term when
    its weight is set (then validation counts it too, so the saved epoch is chosen on both)."""

    def __init__(self, cfg, bin_weights, judge=None, centres=None, device=None):
        self.cfg, self.bin_weights, self.judge, self.centres = cfg, bin_weights, judge, centres
        self.device_type = getattr(device, "type", "cpu")

    def __call__(self, outputs, batch):
        loss = compute_loss(self.cfg.loss, outputs, batch, self.bin_weights)
        if self.judge is not None:
            # The classifier runs in bfloat16 like the decoder (it is most of a step's cost).
            with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16"):
                term = semantic_loss(self.judge, batch.get("L_clean", batch["L"]), outputs, batch["ab"], self.centres)
            loss = loss + self.cfg.semantic_weight * term.float()
        return loss


VAL_HINT_SEED = 20171  # validation hints: fixed, whatever the training seed


@torch.no_grad()
def evaluate_loss(model, arrays, cached, device, objective, autocast, batch_size=128, rows=None):
    model.eval()
    batches = Batches(arrays, len(arrays), cached)
    rows = np.arange(len(arrays)) if rows is None else rows
    total, count = 0.0, 0
    for start in range(0, len(rows), batch_size):
        indices = rows[start:start + batch_size]
        batch = batches.get(indices, device)
        if getattr(model, "takes_hints", False):
            # The same simulated hints every epoch, so validation losses compare across epochs.
            batch["hints"] = simulate_hints(batch["ab"].cpu(), np.random.default_rng([VAL_HINT_SEED, start])).to(device)
        with autocast:
            outputs = forward(model, batch, cached is not None)
        total += objective(outputs, batch).item() * len(indices)
        count += len(indices)
    return total / count
