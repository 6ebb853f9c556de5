"""Train a colorizer on a folder made by prepare_dataset.

Example (the shipped default model; see mlcore/weights/MODEL_CARD.md):
    python manage.py train_colorizer --data data/pool --out runs/lite0_rebal.pt --loss rebalanced --arch lite0 --epochs 16

Multi-GPU or multi-machine: torchrun --nproc_per_node N manage.py train_colorizer ...
"""
from django.core.management.base import BaseCommand, CommandError

from mlcore.networks import ARCHITECTURES
from mlcore.training.losses import LOSSES
from mlcore.training.train import TrainConfig, train


class Command(BaseCommand):
    help = "Train a colorization model (Zhang et al. 2016) on a prepared dataset."

    def add_arguments(self, parser):
        d = TrainConfig
        parser.add_argument("--data", required=True, help="folder written by prepare_dataset")
        parser.add_argument("--out", required=True, help="model file to write (best validation loss)")
        parser.add_argument("--loss", choices=LOSSES, default=d.loss)
        parser.add_argument("--arch", choices=ARCHITECTURES, default=d.arch)
        parser.add_argument("--width", type=float, default=d.width, help="channel width multiplier (eccv16: 1 = the paper's 32M-parameter net)")
        parser.add_argument("--size", type=int, default=d.size, help="training resolution (multiple of 32)")
        parser.add_argument("--epochs", type=int, default=d.epochs)
        parser.add_argument("--batch-size", type=int, default=d.batch_size)
        parser.add_argument("--lr", type=float, default=d.lr)
        parser.add_argument("--weight-decay", type=float, default=d.weight_decay)
        parser.add_argument("--init-from", help="start from another model's weights (e.g. L2 fine-tuned from classification)")
        parser.add_argument("--resume", action="store_true", help="continue exactly from OUT.state.pt")
        parser.add_argument("--device", default=d.device, help="auto (CUDA when present), cpu, cuda, cuda:1 ...")
        parser.add_argument("--seed", type=int, default=d.seed)
        parser.add_argument("--neighbours", type=int, default=d.neighbours, help="bins per soft target (paper 5; authors' code 10)")
        parser.add_argument("--finetune-epochs", type=int, default=d.finetune_epochs, help="lite0: unfreeze the encoder for the last N epochs")
        parser.add_argument("--flip", action="store_true",
                            help="lite0: flip augmentation on cached features (caches the mirrored photos' features too)")
        parser.add_argument("--exclude-source", action="append", default=[], metavar="SOURCE",
                            help="leave a source out of training and validation (repeatable; e.g. coco for a leave-one-source-out study)")
        parser.add_argument("--semantic-weight", type=float, default=0.0,
                            help="add the semantic-consistency loss (KL of EfficientNet-Lite0's ImageNet classes, true vs colorized photo) at this weight")
        parser.add_argument("--precision", choices=("auto", "bf16", "fp32"), default=d.precision,
                            help="auto (default): bf16 on a GPU or a CPU that computes it (AVX512-BF16, AMX), else fp32")
        parser.add_argument("--limit", type=int, help="use only the first N training images")
        parser.add_argument("--max-minutes", type=float, help="stop after the epoch that passes this budget")
        parser.add_argument("--degrade", type=float, default=d.degrade,
                            help="share of photos (0-1) whose L gets old-print damage: grain, blur, fading, dust, JPEG")
        parser.add_argument("--normalise", action="store_true",
                            help="the network sees L with its tones stretched, in training and in use")
        parser.add_argument("--checkpoint-minutes", type=float, default=d.checkpoint_minutes,
                            help="also save the training state this often within an epoch, for --resume")
        parser.add_argument("--freeze-base", action="store_true",
                            help="lite0guide: train only the hint guide on top of --init-from's network, which stays "
                                 "as it is (its colours without hints, and its inference settings, carry over)")
        parser.add_argument("--guide-from",
                            help="start the hint guide from this guided model's guide (after retraining its base, "
                                 "the guide need not learn from scratch)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")

    def handle(self, *args, **opts):
        cfg = TrainConfig(data=opts["data"], out=opts["out"], loss=opts["loss"], arch=opts["arch"], width=opts["width"],
                          size=opts["size"], epochs=opts["epochs"], batch_size=opts["batch_size"], lr=opts["lr"],
                          weight_decay=opts["weight_decay"], init_from=opts["init_from"], resume=opts["resume"],
                          device=opts["device"], seed=opts["seed"], neighbours=opts["neighbours"],
                          finetune_epochs=opts["finetune_epochs"], precision=opts["precision"], limit=opts["limit"],
                          max_minutes=opts["max_minutes"], flip=opts["flip"],
                          exclude_sources=tuple(opts["exclude_source"]), semantic_weight=opts["semantic_weight"],
                          degrade=opts["degrade"], normalise=opts["normalise"],
                          checkpoint_minutes=opts["checkpoint_minutes"], freeze_base=opts["freeze_base"],
                          guide_from=opts["guide_from"])
        if not 0 <= cfg.degrade <= 1:
            raise CommandError("--degrade must be between 0 and 1")
        try:
            result = train(cfg, show_progress=not opts["no_progress"] and opts["verbosity"] > 0,
                           log=lambda msg: self.stdout.write(msg) if opts["verbosity"] > 0 else None)
        except (ValueError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"best validation loss {result['best_val']:.4f}; model written to {cfg.out}"))
