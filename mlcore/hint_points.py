"""A person's colour hints as the API, the site and the command line take them, checked once.

[{"x": 0.42, "y": 0.31, "color": "#b03a2e"}, ...]: x and y fractions of the photo's width and
height from the top-left, the colour as sRGB hex. numpy only (no torch, no Django): web
processes validate with it, and the API's serializer reports its messages per field. The
network's side of a hint (the hint map) is mlcore/hints.py's.
"""
import numpy as np

from .color import rgb_to_lab

MAX_HINTS = 64  # what a person may give on one photo
# Zhang et al. 2017 (SIGGRAPH), PSNR in dB on ImageNet by number of simulated hints: the
# reference beside which the model page shows our own hint curve (`evaluate --hints`).
PAPER_HINT_PSNR = {0: 24.43, 1: 25.37, 2: 26.20, 5: 27.39, 10: 28.42, 20: 29.34, 50: 30.42, 100: 31.13}


class HintError(ValueError):
    """Hints that are not valid. `errors` is {field: [message]} for the whole list, or
    {index: {field: [message]}} per hint, as the API answers them."""

    def __init__(self, errors):
        super().__init__(_first_message(errors))
        self.errors = errors


def _first_message(errors):
    value = next(iter(errors.values()))
    if isinstance(value, dict):
        key, messages = next(iter(value.items()))
        return f"hint {next(iter(errors))}: {key}: {messages[0]}"
    return f"{next(iter(errors))}: {value[0]}"


def _fraction(value):
    # bool is an int to Python; a JSON true is no coordinate.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, "A number from 0 to 1 is required."
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        return None, "Must be from 0 to 1 (a fraction of the photo's width or height, from the top-left)."
    return float(value), None


def _colour(value):
    if not isinstance(value, str) or len(value) != 7 or value[0] != "#":
        return None, "A color as #rrggbb is required."
    try:
        int(value[1:], 16)
    except ValueError:
        return None, "A color as #rrggbb is required."
    return value.lower(), None


def validate_hints(hints):
    """The hints a person gave, checked and normalised: a list of {"x", "y", "color"} (fractions
    as floats, colours in lower case). Raises HintError."""
    if not isinstance(hints, list):
        raise HintError({"hints": ["A list of hints, each {\"x\", \"y\", \"color\"}, is required."]})
    if len(hints) > MAX_HINTS:
        raise HintError({"hints": [f"At most {MAX_HINTS} hints; {len(hints)} were given."]})
    clean, errors = [], {}
    for i, hint in enumerate(hints):
        if not isinstance(hint, dict):
            errors[i] = {"non_field_errors": ["Each hint is an object {\"x\", \"y\", \"color\"}."]}
            continue
        problems = {}
        x, problems["x"] = _fraction(hint.get("x"))
        y, problems["y"] = _fraction(hint.get("y"))
        color, problems["color"] = _colour(hint.get("color"))
        problems = {k: [v] for k, v in problems.items() if v}
        if problems:
            errors[i] = problems
        else:
            clean.append({"x": x, "y": y, "color": color})
    if errors:
        raise HintError(errors)
    return clean


def hex_to_ab(color):
    """(a, b) of an sRGB "#rrggbb": the hint's chroma (the photo keeps its own lightness)."""
    rgb = np.array([[[int(color[i:i + 2], 16) for i in (1, 3, 5)]]], dtype=np.uint8)
    _, a, b = rgb_to_lab(rgb)[0, 0]
    return float(a), float(b)


def hint_points(hints):
    """Validated hints as the network's points: [(x, y, a, b), ...]."""
    return [(h["x"], h["y"], *hex_to_ab(h["color"])) for h in hints]
