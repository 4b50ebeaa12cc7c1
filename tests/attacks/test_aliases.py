"""Counterfit's attack names: each resolves to the feint attack that runs the same algorithm,
untargeted through Counterfit 1.0's names (1.0 forced it); names feint has no counterpart for are refused in one line;
the lookup stays cheap; feint's lists show the names."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from feint.attacks import catalog
from feint.attacks.aliases import ALIASES, Alias, aliases_of
from feint.attacks.catalog import attacks, get_attack
from feint.errors import FeintError

# Counterfit 1.1's attack files and 1.0's ART class names, as its users type them
COUNTERFIT_11 = [
    "black_box_rule_based", "boundary", "carlini", "copycat_cnn", "deepfool", "elastic_net",
    "functionally_equivalent_extraction", "hop_skip_jump", "knockoff_nets", "label_only_boundary_distance",
    "mi_face", "newtonfool", "pixel_threshold", "projected_gradient_descent_numpy", "saliency_map", "simba",
    "spatial_transformation", "universal_perturbation", "virtual_adversarial", "wasserstein",
    "white_box_decision_tree",
]  # fmt: skip
COUNTERFIT_10 = [
    "BoundaryAttack", "CarliniL0Method", "CarliniLInfMethod", "CopycatCNN", "DeepFool", "ElasticNet",
    "FunctionallyEquivalentExtraction", "HopSkipJump", "KnockoffNets", "LabelOnlyDecisionBoundary", "MIFace",
    "NewtonFool", "ProjectedGradientDescentCommon", "SaliencyMapMethod", "ShapeShifter", "SimBA",
    "SpatialTransformation", "UniversalPerturbation", "VirtualAdversarialMethod", "Wasserstein",
]  # fmt: skip
NONE_IN_FEINT = {
    "label_only_boundary_distance",
    "white_box_decision_tree",
    "CarliniL0Method",
    "LabelOnlyDecisionBoundary",
    "ShapeShifter",
}


def test_every_counterfit_name_is_known():
    assert set(COUNTERFIT_11) | set(COUNTERFIT_10) <= set(ALIASES)
    assert {n for n, a in ALIASES.items() if a.attack is None} == NONE_IN_FEINT


@pytest.mark.parametrize("name", sorted(set(COUNTERFIT_11 + COUNTERFIT_10) - NONE_IN_FEINT))
def test_a_counterfit_name_resolves(name):
    cls = get_attack(name)
    assert cls.name == ALIASES[name].attack and cls.name in attacks()
    if ALIASES[name].release == "1.0":
        assert not cls().is_targeted()  # Counterfit 1.0 forced targeted to False
    else:
        assert cls is attacks()[cls.name]  # 1.1 forced nothing: feint's attack as it is
    art_class = getattr(cls, "art_class", None)
    if art_class is not None and ALIASES[name].art_class != "ProjectedGradientDescentCommon":
        assert art_class.__name__ == ALIASES[name].art_class  # the ART class Counterfit ran


@pytest.mark.parametrize("name", sorted(NONE_IN_FEINT))
def test_a_name_feint_lacks_is_refused_in_one_line(name):
    with pytest.raises(FeintError) as err:
        get_attack(name)
    text = str(err.value)
    assert text.startswith(f"attack {name!r} is Counterfit's name for ART's {ALIASES[name].art_class}")
    assert "\n" not in text


def test_boundary_through_counterfit_10_is_untargeted_and_through_11_as_feint_has_it():
    assert get_attack("art.boundary")().is_targeted()  # ART's default
    assert not get_attack("BoundaryAttack")().is_targeted()
    assert get_attack("boundary") is get_attack("art.boundary")


def test_an_alias_of_an_attack_that_starts_targeted_starts_untargeted(monkeypatch):
    from feint.attacks.params import Bool

    pgd = get_attack("pgd")
    aimed = type("AimedPgd", (pgd,), {"name": "aimed_pgd", "targeted": Bool(True, "aim at a class")})
    monkeypatch.setitem(catalog._framework("native"), "aimed_pgd", aimed)
    monkeypatch.setitem(ALIASES, "AimedPGD", Alias("aimed_pgd", "1.0", "AimedPGD"))
    monkeypatch.setattr(catalog, "_untargeted", {})
    assert get_attack("aimed_pgd")().is_targeted()
    via = get_attack("AimedPGD")
    assert via.name == "aimed_pgd" and not via().is_targeted() and issubclass(via, aimed)
    assert get_attack("AimedPGD") is via  # made once


def test_a_native_alias_loads_no_other_framework():
    code = (
        "import sys; from feint.attacks.catalog import get_attack; "
        "print(get_attack('HopSkipJump').name, get_attack('Wasserstein').name, 'art' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["hop_skip_jump", "wasserstein", "False"]


def test_the_lists_show_counterfits_names(capsys):
    from feint.cli.app import main

    assert main(["list", "attacks", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["attacks"]}
    assert set(rows["art.carlini_linf"]["aliases"]) == {"CarliniLInfMethod", "carlini"}
    assert rows["hop_skip_jump"]["aliases"] == ["HopSkipJump"] and rows["pgd"]["aliases"] == []
    assert all({"name", "framework", "family", "access", "data_types", "summary"} <= set(r) for r in rows.values())
    assert main(["info", "saliency_map", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == "art.jsma" and set(info["aliases"]) == {"SaliencyMapMethod", "saliency_map"}
    assert main(["list", "attacks"]) == 0
    table = capsys.readouterr().out
    assert "Counterfit names" in table and "CarliniLInfMethod, carlini" in table
    assert aliases_of("art.boundary") == ["BoundaryAttack"]  # boundary is its plain name already
