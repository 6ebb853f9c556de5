"""Which model file: decided here and nowhere else (no torch needed to ask)."""
from pathlib import Path

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "weights" / "default.pt"


def model_path(configured=None):
    """The model file to load: the one configured (COLORIZER_MODEL, or --model), else the shipped one."""
    return Path(configured) if configured else DEFAULT_MODEL_PATH
