"""The Attack: a catalog entry with metadata, typed parameters and a batched implementation.

An attack author writes class attributes (name, family, access, data types), declares
parameters as class attributes of :mod:`feint.attacks.params` types, and implements
one batched method, :meth:`Attack.generate`. The base owns everything common: it
collects the parameters, refuses an incompatible target before anything runs, and
after ``generate`` projects onto the attack's budget and clips to the target's bounds,
so every output is inside both whatever the attack did. Extraction and inference attacks
override how a result is judged (:meth:`Attack.succeeded`, :meth:`Attack.run_metrics`)
and what evidence is kept (:meth:`Attack.save_evidence`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from feint.attacks.params import Options, Param
from feint.attacks.shape import RunShape, split_shape
from feint.attacks.targeting import random_other_classes
from feint.attacks.trajectory import STOP_PARAMS, norm_of
from feint.errors import Incompatible
from feint.records import RUN_PARAMS
from feint.targets.base import GRADIENTS, LABELS, Target

if TYPE_CHECKING:  # pragma: no cover
    from feint.attacks.model import CountedModel

__all__ = ["Attack", "AttackOutput", "Batch", "RunShape", "random_other_classes", "OPEN_BOX", "CLOSED_BOX", "FAMILIES"]

OPEN_BOX = "open-box"
CLOSED_BOX = "closed-box"
FAMILIES = ("evasion", "extraction", "inference")


@dataclass
class Batch:
    """What an attack works on: samples, their labels as the model gave them, and, for a
    targeted attack, the class each sample should be turned into; the run's seed and the
    target's indices of the samples, for attacks that draw from a library's own random
    source or must know which samples are measured."""

    x: torch.Tensor
    labels: torch.Tensor
    targets: torch.Tensor | None
    generator: torch.Generator
    seed: int = 0
    indices: np.ndarray | None = None
    # A text target's samples, as strings (``x`` is then an empty tensor).
    texts: list[str] | None = None

    @property
    def targeted(self) -> bool:
        return self.targets is not None

    @property
    def goal(self) -> torch.Tensor:
        """The class the loss is about: the target class, or the current label."""
        return self.targets if self.targets is not None else self.labels

    def reached(self, pred: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Whether predicted labels ``pred`` (of samples ``rows``) are adversarial: the
        target class when targeted, any class but the original otherwise."""
        if self.targets is not None:
            return pred == (self.targets if rows is None else self.targets[rows])
        return pred != (self.labels if rows is None else self.labels[rows])


@dataclass
class AttackOutput:
    x_adv: torch.Tensor
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # per-sample measures
    # The attack's own final class probabilities for the batch, where the result is not
    # judged by the target (an extraction attack's stolen model); None: the runner asks
    # the target about ``x_adv``.
    final_probs: np.ndarray | None = None
    # Per row of the batch, why the attack could not work on it (None: nothing to say).
    notes: list[str | None] | None = None
    # A text attack's adversarial texts, one per row (``x_adv`` is then an empty tensor).
    texts: list[str] | None = None


class Attack:
    """Base of every attack. Subclasses set ``name``, ``access``, ``data_types`` and
    parameters, and implement :meth:`generate`."""

    name: ClassVar[str] = ""
    framework: ClassVar[str] = "native"
    family: ClassVar[str] = "evasion"
    access: ClassVar[str] = OPEN_BOX
    data_types: ClassVar[tuple[str, ...]] = ("image", "tabular")
    reference: ClassVar[str] = ""
    # What the attack needs of the model's answers: "scores" (probabilities or logits) or
    # "labels" (a decision-based attack, which runs on a labels-only target too).
    needs: ClassVar[str] = "scores"
    params: ClassVar[dict[str, Param]] = {}
    # The names of the run's shape (samples, seed, logger, batch size): not the attack's options.
    RUN_PARAMS: ClassVar[tuple[str, ...]] = RUN_PARAMS
    # True: generate sees every sample of a run in one batch (an extraction attack steals
    # one model per run and measures it on all the samples).
    whole_run: ClassVar[bool] = False
    # The per-sample measures this attack has besides those of the target's data type, by
    # name in feint.measures.MEASURES; one without a ``compute`` the attack reports itself,
    # per sample, under its name in AttackOutput.extras.
    measures: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if isinstance(value, Param):
                    found[attr] = value if value.name == attr else _named(value, attr)
        if cls.stops():  # the stopping rules every closed-box evasion attack has
            for attr, value in STOP_PARAMS.items():
                found.setdefault(attr, value)
        shaped = sorted(set(found) & set(RUN_PARAMS))
        if shaped:
            raise TypeError(
                f"{cls.__name__} declares {', '.join(shaped)}: they shape the run (RunShape), not the attack"
            )
        cls.params = found

    def __init__(self, **values: Any) -> None:
        """An instance with these option values (text or values); the run's shape
        (``sample_index``, ``seed``, ``logger``, ``batch_size``) may be given too, as the
        shape :func:`feint.engine.run.execute_run` uses when it is given none."""
        self.id = uuid.uuid4().hex[:8]
        shape, own = split_shape(values)
        self.options = Options(self.params, own)
        self.shape = RunShape.of(shape)

    def set(self, name: str, value: Any) -> Any:
        """Set an option, or a part of the instance's run shape (``sample_index``, ``seed``,
        ``logger``, ``batch_size``), from text or a value; returns the value set."""
        if RunShape.is_shape(name):
            self.shape = self.shape.replace(**{name: value})
            return self.shape.get(name)
        return self.options.set(name, value)

    def update(self, values: dict[str, Any]) -> None:
        """:meth:`set` for each item, in order."""
        for name, value in values.items():
            self.set(name, value)

    def values(self) -> dict[str, Any]:
        """The option values and the shape's, as JSON data: what a stored run keeps as its params."""
        return {**self.options.values(), **self.shape.values()}

    # -- metadata --------------------------------------------------------------------
    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    @classmethod
    def needs_gradients(cls) -> bool:
        return cls.access == OPEN_BOX

    @classmethod
    def stops(cls) -> bool:
        """Whether the attack has the stopping rules and a per-query trajectory
        (:mod:`feint.attacks.trajectory`): every closed-box evasion attack has, but for the
        transformations, whose result is the strength they found."""
        return cls.access == CLOSED_BOX and cls.family == "evasion"

    def distance_norm(self, p: dict[str, Any]) -> str:
        """The norm the attack minimises, ``2`` or ``inf``: the one its trajectory and
        ``target_distance`` are measured in (its ``norm`` option, else L2)."""
        return norm_of(p.get("norm", "2"))

    @classmethod
    def check_target(cls, target: Target) -> None:
        """Refuse, before anything runs, a target this attack cannot work on."""
        if target.data_type not in cls.data_types:
            raise Incompatible(
                f"attack {cls.name} does not accept {target.data_type} targets like "
                f"{target.target_name}; it accepts: {', '.join(cls.data_types)}"
            )
        if cls.needs_gradients() and GRADIENTS not in target.capabilities:
            answers = "labels only" if LABELS in target.capabilities else "probabilities only"
            raise Incompatible(
                f"attack {cls.name} needs gradients (open-box) and target "
                f"{target.target_name} is closed-box ({answers}); use a closed-box attack"
            )
        if cls.needs != LABELS and LABELS in target.capabilities:
            raise Incompatible(
                f"attack {cls.name} needs the model's scores and target {target.target_name} answers labels only"
            )
        fixed = getattr(target, "fixed_columns", ())
        if fixed and (cls.family != "evasion" or cls.whole_run):
            raise Incompatible(
                f"attack {cls.name} ({cls.family}) asks the model about inputs that are not the samples; target "
                f"{target.target_name} holds its text columns ({', '.join(fixed)}) fixed per sample, "
                "so only evasion attacks run on it"
            )

    @classmethod
    def compatible(cls, target: Target) -> bool:
        try:
            cls.check_target(target)
        except Incompatible:
            return False
        return True

    def check_options(self, p: dict[str, Any]) -> None:
        """Checks across parameters that a single range cannot say; raise BadValue."""

    def is_targeted(self) -> bool:
        return bool(self.options.current.get("targeted", False))

    # -- judging and evidence, by family ----------------------------------------------------
    def succeeded(
        self, initial: np.ndarray, final: np.ndarray, goal: np.ndarray | None, extras: dict[str, np.ndarray]
    ) -> np.ndarray:
        """Per sample, whether the attack reached its aim, from the labels before and after.
        Evasion: the label changed (or, targeted, became the goal)."""
        return final == goal if goal is not None else final != initial

    def run_metrics(self, success: np.ndarray, extras: dict[str, np.ndarray]) -> dict[str, float]:
        """Run-level measures in the family's own terms (none for evasion)."""
        return {}

    def save_evidence(
        self,
        folder,
        index: int,
        x: np.ndarray,
        x_out: np.ndarray,
        bounds: tuple[float, float],
        initial_label: str,
        final_label: str,
    ) -> dict[str, str]:
        """PNGs of one image sample; returns kind -> path. Evasion: original, adversarial
        and amplified perturbation."""
        from feint.attacks.evidence import save_triplet

        return save_triplet(folder, index, x, x_out, bounds)

    # -- the work ----------------------------------------------------------------------
    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        """Adversarial inputs for the whole batch. ``p`` holds the current option values."""
        raise NotImplementedError

    def project(self, x: torch.Tensor, x_adv: torch.Tensor, p: dict[str, Any]) -> torch.Tensor:
        """Bring ``x_adv`` back inside the attack's budget around ``x`` (default: no budget)."""
        return x_adv

    def __call__(self, model: CountedModel, batch: Batch) -> AttackOutput:
        p = self.options.as_dict()
        out = self.generate(model, batch, p)
        x_adv = self.project(batch.x, out.x_adv.detach(), p)
        out.x_adv = x_adv.clamp(model.lower, model.upper)
        return out


def _named(param: Param, name: str) -> Param:
    import dataclasses

    return dataclasses.replace(param, name=name)
