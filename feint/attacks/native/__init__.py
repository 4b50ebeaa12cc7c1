"""feint's own attacks: batched torch implementations, one module each."""

from feint.attacks.native.apgd import APGD
from feint.attacks.native.cgba import CGBA
from feint.attacks.native.fab import FAB
from feint.attacks.native.fmn import FMN
from feint.attacks.native.geoda import GeoDA
from feint.attacks.native.hop_skip_jump import HopSkipJump
from feint.attacks.native.jsma import JSMA
from feint.attacks.native.pgd import PGD
from feint.attacks.native.rays import RayS
from feint.attacks.native.square import Square
from feint.attacks.native.surfree import SurFree
from feint.attacks.native.wasserstein import Wasserstein

ATTACKS = (PGD, JSMA, Wasserstein, HopSkipJump, GeoDA, SurFree, CGBA, RayS, APGD, FAB, Square, FMN)

__all__ = [
    "ATTACKS",
    "PGD",
    "JSMA",
    "Wasserstein",
    "HopSkipJump",
    "GeoDA",
    "SurFree",
    "CGBA",
    "RayS",
    "APGD",
    "FAB",
    "Square",
    "FMN",
]
