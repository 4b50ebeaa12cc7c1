"""Counterfit's attack names, as aliases of feint's attacks.

Counterfit 1.0 named its attacks by ART's class names (``HopSkipJump``,
``CarliniLInfMethod``); Counterfit 1.1 by the names of its attack files (``hop_skip_jump``,
``carlini``, ``saliency_map``). Each name here resolves, through
:func:`feint.attacks.catalog.get_attack`, to the feint attack that runs the same
algorithm (ART's own class where feint wraps it; feint's native HopSkipJump and
Wasserstein, as the plain names ``hop_skip_jump`` and ``wasserstein`` already do). A
lookup by alias is a dictionary lookup plus the one framework it names.

Counterfit 1.0 forced ``targeted`` to False when it built an attack's options; an attack
reached by a 1.0 name starts untargeted too (``BoundaryAttack`` is ``art.boundary``
untargeted; ART's own default is targeted). Counterfit 1.1 forced nothing: its names give
the attack with feint's defaults. A few of Counterfit's attacks have no counterpart in
feint; their names are refused with a line that says so.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Alias", "ALIASES", "aliases_of"]


@dataclass(frozen=True)
class Alias:
    """A Counterfit attack name: the feint attack it resolves to (``None``: feint has no
    counterpart), the Counterfit release that used the name, the ART class Counterfit
    ran, and whether the attack starts untargeted (Counterfit 1.0 forced it)."""

    attack: str | None
    release: str
    art_class: str
    untargeted: bool = True


def _table() -> dict[str, Alias]:
    v10 = {
        # name: (feint attack, ART class); Counterfit 1.0 used ART's class names
        "BoundaryAttack": "art.boundary",
        "CarliniL2Method": "art.carlini_l2",
        "CarliniLInfMethod": "art.carlini_linf",
        "CarliniL0Method": None,
        "CopycatCNN": "art.copycat_cnn",
        "DecisionTreeAttack": "art.decision_tree",
        "DeepFool": "art.deepfool",
        "ElasticNet": "art.elastic_net",
        "FastGradientMethod": "art.fgsm",
        "FunctionallyEquivalentExtraction": "art.functionally_equivalent",
        "HopSkipJump": "hop_skip_jump",
        "KnockoffNets": "art.knockoff_nets",
        "LabelOnlyDecisionBoundary": None,
        "MembershipInferenceBlackBoxRuleBased": "art.membership_rule_based",
        "MIFace": "art.mi_face",
        "NewtonFool": "art.newtonfool",
        "PixelAttack": "art.pixel",
        "ProjectedGradientDescent": "art.pgd",
        "ProjectedGradientDescentCommon": "art.pgd",
        "SaliencyMapMethod": "art.jsma",
        "ShapeShifter": None,
        "SimBA": "art.simba",
        "SpatialTransformation": "art.spatial_transformation",
        "SquareAttack": "art.square",
        "ThresholdAttack": "art.threshold",
        "UniversalPerturbation": "art.universal_perturbation",
        "VirtualAdversarialMethod": "art.virtual_adversarial",
        "Wasserstein": "wasserstein",
        "ZooAttack": "art.zoo",
    }
    # Counterfit 1.1's names (its attack files) -> (feint attack, the ART class it ran)
    v11 = {
        "black_box_rule_based": ("art.membership_rule_based", "MembershipInferenceBlackBoxRuleBased"),
        "boundary": ("art.boundary", "BoundaryAttack"),
        "carlini": ("art.carlini_linf", "CarliniLInfMethod"),
        "copycat_cnn": ("art.copycat_cnn", "CopycatCNN"),
        "deepfool": ("art.deepfool", "DeepFool"),
        "elastic_net": ("art.elastic_net", "ElasticNet"),
        "functionally_equivalent_extraction": ("art.functionally_equivalent", "FunctionallyEquivalentExtraction"),
        "hop_skip_jump": ("hop_skip_jump", "HopSkipJump"),
        "knockoff_nets": ("art.knockoff_nets", "KnockoffNets"),
        "label_only_boundary_distance": (None, "LabelOnlyDecisionBoundary"),
        "mi_face": ("art.mi_face", "MIFace"),
        "newtonfool": ("art.newtonfool", "NewtonFool"),
        "pixel_threshold": ("art.pixel", "PixelAttack"),
        "projected_gradient_descent_numpy": ("art.pgd", "ProjectedGradientDescentCommon"),
        "saliency_map": ("art.jsma", "SaliencyMapMethod"),
        "simba": ("art.simba", "SimBA"),
        "spatial_transformation": ("art.spatial_transformation", "SpatialTransformation"),
        "universal_perturbation": ("art.universal_perturbation", "UniversalPerturbation"),
        "virtual_adversarial": ("art.virtual_adversarial", "VirtualAdversarialMethod"),
        "wasserstein": ("wasserstein", "Wasserstein"),
        "white_box_decision_tree": (None, "AttributeInferenceWhiteBoxDecisionTree"),
    }
    table = {name: Alias(attack, "1.0", name, untargeted=True) for name, attack in v10.items()}
    table.update({name: Alias(attack, "1.1", art, untargeted=False) for name, (attack, art) in v11.items()})
    return table


ALIASES: dict[str, Alias] = _table()


def aliases_of(attack: str) -> list[str]:
    """The Counterfit names that resolve to the feint attack ``attack``, other than its
    own name and its plain name (``boundary`` for ``art.boundary``)."""
    own = {attack, attack.split(".", 1)[-1]}
    return [name for name, a in ALIASES.items() if a.attack == attack and name not in own]
