"""The attack catalog: every attack of every framework, by name.

A framework is a module that exposes ``ATTACKS``, a sequence of Attack classes, and one
registration in :data:`FRAMEWORKS` (the project's one registry shape,
:class:`feint.registry.Registry`); its attacks are reachable by their names. Frameworks
load on first use, so listing the frameworks imports none. Native attacks have
plain names (``pgd``); every other framework's names carry its prefix (``art.pgd``), so
a plain name never loads another framework, and a plain name that only another
framework has (``boundary``) resolves to that framework's attack. Counterfit's attack
names (``HopSkipJump``, ``carlini``; :mod:`feint.attacks.aliases`) resolve to the attacks
that run the same algorithm.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import NamedTuple

from feint.attacks.aliases import ALIASES
from feint.attacks.base import Attack
from feint.errors import FeintError, Incompatible, UnknownName
from feint.registry import Registry
from feint.targets.base import LABELS, Target

__all__ = ["FRAMEWORKS", "Framework", "attacks", "get_attack", "frameworks", "check_target"]


class Framework(NamedTuple):
    """A framework of attacks: the module whose ``ATTACKS`` it holds, and one line on it."""

    module: str
    description: str


FRAMEWORKS: Registry[Framework] = Registry("framework")
FRAMEWORKS.register("native", Framework("feint.attacks.native", "feint's own batched torch implementations"))
FRAMEWORKS.register(
    "art", Framework("feint.attacks.art", "IBM's Adversarial Robustness Toolbox, through feint's adapter")
)
FRAMEWORKS.register(
    "transforms",
    Framework(
        "feint.attacks.transforms", "image transformations (blur, JPEG, rotation, noise, overlays), batched in torch"
    ),
)
FRAMEWORKS.register(
    "text",
    Framework("feint.attacks.text", "feint's own batched attacks on text targets: characters, typos, synonyms"),
)

_cache: dict[str, dict[str, type[Attack]]] = {}


def _framework(name: str) -> dict[str, type[Attack]]:
    if name not in _cache:
        module = importlib.import_module(FRAMEWORKS.get(name).module)
        _cache[name] = {cls.name: cls for cls in module.ATTACKS}
    return _cache[name]


def attacks(framework: str | None = None) -> dict[str, type[Attack]]:
    """Attack classes by name, of one framework or of all."""
    if framework is not None and framework not in FRAMEWORKS:
        raise UnknownName("framework", framework, sorted(FRAMEWORKS.names()))
    out: dict[str, type[Attack]] = {}
    for fw in FRAMEWORKS if framework is None else [framework]:
        out.update(_framework(fw))
    return out


def get_attack(name: str) -> type[Attack]:
    """The attack class named ``name``: ``pgd`` (native) or ``art.pgd``; a plain name
    that no native attack has finds the one framework attack of that name."""
    prefix = name.split(".", 1)[0] if "." in name else "native"
    if prefix in FRAMEWORKS and name in _framework(prefix):
        return _framework(prefix)[name]
    if name in ALIASES:
        return _by_alias(name)
    catalog = attacks()
    if "." not in name:
        found = [cls for n, cls in catalog.items() if n.split(".", 1)[-1] == name and "." in n]
        if len(found) == 1:
            return found[0]
    raise UnknownName("attack", name, sorted(catalog))


_untargeted: dict[str, type[Attack]] = {}


def _by_alias(name: str) -> type[Attack]:
    """The attack a Counterfit name stands for; through a name of Counterfit 1.0, which
    forced attacks untargeted, it starts untargeted."""
    alias = ALIASES[name]
    if alias.attack is None:
        raise FeintError(
            f"attack {name!r} is Counterfit's name for ART's {alias.art_class}, which feint does not "
            "have; 'list attacks' shows feint's attacks"
        )
    cls = get_attack(alias.attack)
    targeted = cls.params.get("targeted")
    if not alias.untargeted or targeted is None or targeted.default is False:
        return cls
    if cls.name not in _untargeted:
        param = dataclasses.replace(targeted, default=False)
        _untargeted[cls.name] = type(cls.__name__, (cls,), {"targeted": param, "__doc__": cls.__doc__})
    return _untargeted[cls.name]


def frameworks() -> dict[str, dict[str, object]]:
    return {fw: {"description": entry.description, "attacks": len(_framework(fw))} for fw, entry in FRAMEWORKS.items()}


def check_target(cls: type[Attack], target: Target) -> None:
    """``cls.check_target(target)``; refusing a labels-only target, it names the attacks of
    the catalog that do run on it (the decision-based ones)."""
    try:
        cls.check_target(target)
    except Incompatible as exc:
        if LABELS not in target.capabilities or cls.needs == LABELS:
            raise
        able = [n for n, c in attacks().items() if c.needs == LABELS and target.data_type in c.data_types]
        raise Incompatible(f"{exc}; attacks that need only labels: {', '.join(able) or 'none'}") from None
