"""feint's own attacks: batched torch implementations, one module each."""

from feint.attacks.native.jsma import JSMA
from feint.attacks.native.pgd import PGD
from feint.attacks.native.wasserstein import Wasserstein

ATTACKS = (PGD, JSMA, Wasserstein)

__all__ = ["ATTACKS", "PGD", "JSMA", "Wasserstein"]
