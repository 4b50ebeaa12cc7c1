"""feint's text attacks: batched, seeded, closed-box character and word attacks and the
open-box HotFlip, on targets whose samples are strings."""

from feint.attacks.text.char import BadCharacters, DeepWordBug, Typos
from feint.attacks.text.hotflip import HotFlip
from feint.attacks.text.synonym import Synonym
from feint.attacks.text.transforms import Transform

ATTACKS = (DeepWordBug, Typos, BadCharacters, Synonym, HotFlip, Transform)

__all__ = ["ATTACKS", "DeepWordBug", "Typos", "BadCharacters", "Synonym", "HotFlip", "Transform"]
