"""sRGB <-> CIE Lab (D65), vectorised in float32.

scikit-image's conversions work in float64 with generic code paths; ours use a lookup
table for 8-bit sRGB decoding and float32 maths, which makes them several times faster
on a full-resolution photo. tests/test_mlcore_color.py checks both against scikit-image.
"""
import numpy as np

# sRGB primaries, D65 white point (the same constants scikit-image uses).
_RGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423],
                        [0.212671, 0.715160, 0.072169],
                        [0.019334, 0.119193, 0.950227]], dtype=np.float32)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ.astype(np.float64)).astype(np.float32)
_WHITE = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)

_EPS = 0.008856  # (6/29)**3, CIE's switch between the cube root and the linear segment
_KAPPA = 7.787


def _srgb_to_linear(c):
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


_LINEAR_LUT = _srgb_to_linear(np.arange(256, dtype=np.float32) / 255.0)


def _linear(rgb):
    if rgb.dtype == np.uint8:
        return _LINEAR_LUT[rgb]
    return _srgb_to_linear(np.asarray(rgb, dtype=np.float32))


def _f(t):
    return np.where(t > _EPS, np.cbrt(t), _KAPPA * t + 16.0 / 116.0)


def rgb_to_lab(rgb):
    """(..., 3) uint8 (0-255) or float (0-1) sRGB -> float32 Lab (L 0..100, ab about -110..110)."""
    lin = _linear(rgb)
    xyz = lin @ (_RGB_TO_XYZ / _WHITE[:, None]).T
    f = _f(xyz)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def rgb_to_l(rgb):
    """The L channel alone: only luminance Y is needed, a third of the work of rgb_to_lab."""
    lin = _linear(rgb)
    y = lin @ _RGB_TO_XYZ[1]
    return (116.0 * _f(y) - 16.0).astype(np.float32)


def gray_to_l(gray):
    """8-bit (or 0-1 float) gray values treated as sRGB with R=G=B."""
    y = _linear(gray)  # rows of the matrix sum to the white point, so Y equals the linear value
    return (116.0 * _f(y) - 16.0).astype(np.float32)


def _linear_rgb(lab):
    """Lab -> linear RGB clipped to [0, 1]; out-of-gamut colours are clipped per channel."""
    lab = np.asarray(lab, dtype=np.float32)
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    xyz = np.where(f > 6.0 / 29.0, f * f * f, (f - 16.0 / 116.0) / _KAPPA) * _WHITE
    lin = xyz @ _XYZ_TO_RGB.T
    return np.clip(lin, 0.0, 1.0, out=lin)


def _linear_to_srgb(lin):
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * np.power(lin, 1 / 2.4) - 0.055)


# Encoding linear light to 8-bit sRGB through a table: 2^14 steps keep every output within
# half a level of the exact curve (its steepest slope, near black, is 12.92 * 255 per unit).
_SRGB_LUT_SIZE = 1 << 14
_SRGB_LUT = (_linear_to_srgb(np.linspace(0.0, 1.0, _SRGB_LUT_SIZE, dtype=np.float64)) * 255.0 + 0.5).astype(np.uint8)


def lab_to_rgb(lab):
    """Lab -> uint8 sRGB."""
    lin = _linear_rgb(lab)
    lin *= _SRGB_LUT_SIZE - 1
    lin += 0.5
    return _SRGB_LUT[lin.astype(np.int32)]
