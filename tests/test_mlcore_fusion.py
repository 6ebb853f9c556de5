"""mlcore.fusion: BatchNorm folded into convolutions gives the same outputs, faster."""
import pytest
import torch
from torch import nn

from mlcore.checkpoint import load_model
from mlcore.colorizer import Colorizer
from mlcore.fusion import fold_batchnorm
from mlcore.networks import LiteEncoder
from mlcore.paths import DEFAULT_MODEL_PATH


def _randomise_statistics(net):
    """BatchNorms with statistics and affine parameters far from the identity they start as."""
    gen = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen))
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.randn(m.num_features, generator=gen))
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen))
    return net


def _batchnorms(net):
    return sum(isinstance(m, nn.BatchNorm2d) for m in net.modules())


def test_a_sequential_conv_batchnorm_pair_folds_to_the_same_function():
    net = _randomise_statistics(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                                              nn.ReLU(), nn.Conv2d(8, 4, 1), nn.BatchNorm2d(4))).eval()
    x = torch.randn(2, 3, 16, 16)
    expected = net(x)
    fold_batchnorm(net)
    assert _batchnorms(net) == 0
    assert torch.allclose(net(x), expected, atol=1e-5)


def test_a_batchnorm_not_right_after_a_convolution_stays():
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.BatchNorm2d(8)).eval()
    fold_batchnorm(net)
    assert _batchnorms(net) == 1


def test_the_efficientnet_blocks_fold_with_their_same_padding():
    encoder = _randomise_statistics(LiteEncoder(pretrained=False)).eval()
    lightness = torch.rand(2, 1, 64, 64) * 100
    expected = encoder(lightness)
    fold_batchnorm(encoder)
    assert _batchnorms(encoder) == 0
    for got, want in zip(encoder(lightness), expected):
        assert torch.allclose(got, want, atol=1e-4 * want.abs().max().item())


def test_folding_refuses_a_network_in_training_mode():
    with pytest.raises(ValueError):
        fold_batchnorm(nn.Sequential(nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1)))


@pytest.mark.skipif(not DEFAULT_MODEL_PATH.exists(), reason="the shipped model is not there")
def test_the_shipped_colorizer_runs_folded_and_predicts_what_the_trained_network_does():
    colorizer = Colorizer.load(DEFAULT_MODEL_PATH, device="cpu")
    reference, _ = load_model(DEFAULT_MODEL_PATH, "cpu")
    assert _batchnorms(colorizer.model) == 0 and _batchnorms(reference) > 0
    lightness = torch.rand(3, 1, 160, 160) * 100
    with torch.no_grad():
        got, want = colorizer.model(lightness), reference(lightness)
    assert torch.allclose(got, want, atol=1e-3)
    assert (got.argmax(1) == want.argmax(1)).float().mean() > 0.999
