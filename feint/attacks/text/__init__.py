"""feint's text attacks: batched, seeded, closed-box character and word attacks and the
open-box HotFlip, on targets whose samples are strings."""

from feint.attacks.text.char import BadCharacters, DeepWordBug, Typos
from feint.attacks.text.hotflip import HotFlip
from feint.attacks.text.synonym import Synonym

ATTACKS = (DeepWordBug, Typos, BadCharacters, Synonym, HotFlip)

__all__ = ["ATTACKS", "DeepWordBug", "Typos", "BadCharacters", "Synonym", "HotFlip"]
