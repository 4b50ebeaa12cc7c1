"""feint's built-in targets, and the weights of their models that ship with feint."""

from pathlib import Path

__all__ = ["WEIGHTS", "weights_path"]

WEIGHTS = Path(__file__).with_name("weights")


def weights_path(name: str) -> Path:
    """The shipped file ``name`` (``digits_keras.keras``, ``photos.pt``, ...); see
    :mod:`feint.targets.builtin.train`, which made them."""
    return WEIGHTS / name
