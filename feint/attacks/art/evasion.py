"""ART's evasion attacks: adversarial inputs, judged and measured like native ones.

How feint hands a batch to ART (``mode``) follows how the ART attack asks for queries,
so that every query is owned by the right sample:

- ``sample``: ART attacks one sample at a time anyway (its per-sample loops, or calls on
  shrinking subsets of the batch); feint calls it once per sample and every query of
  that call belongs to that sample, exactly.
- ``batch``: ART attacks the whole batch with calls of one row per sample; row ``i`` is
  sample ``i``. A call of another size would count in the run's totals only.
- ``universal``: one perturbation for the whole batch; calls of one row per sample are
  attributed by row, ART's inner per-sample steps (on ``x_i`` plus the shared
  perturbation) count in the run's totals.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import numpy as np
import torch

from feint.attacks.art.base import ArtAttack, need, one_hot
from feint.attacks.art.estimators import LOGITS, PROBABILITIES, make_estimator, quiet, seeded
from feint.attacks.base import AttackOutput, Batch
from feint.attacks.model import CountedModel, SampleStopped
from feint.attacks.params import Bool
from feint.attacks.targeting import TARGET_LABELS
from feint.errors import FeintError, Incompatible
from feint.targets.base import Target

__all__ = ["ArtEvasion", "ArtDecisionTree"]

SAMPLE, BATCH, UNIVERSAL = "sample", "batch", "universal"


def sample_seed(seed: int, sample_id: int) -> int:
    return (seed * 1_000_003 + int(sample_id)) % 2**32


class ArtEvasion(ArtAttack):
    family = "evasion"
    mode: ClassVar[str] = SAMPLE
    output: ClassVar[str] = PROBABILITIES  # what ART sees as the model's output
    probe_batch: ClassVar[int] = 0  # ART's batch_size where it only cuts probes into pieces (sample mode)
    # ART reads the labels it is given as the classes to reach (JSMA): give them only
    # when the run is targeted, and let ART pick a random other class otherwise.
    labels_are_goals: ClassVar[bool] = False

    def more_kwargs(self, p: dict[str, Any], n: int) -> dict[str, Any]:
        """ART arguments that are not options of the catalog entry."""
        return {}

    def estimator(self, model: CountedModel):
        return make_estimator(model, self.output, gradients=self.needs_gradients())

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        x = batch.x.detach().cpu().numpy().astype(np.float32)
        n = len(x)
        y: np.ndarray | None = one_hot(batch.goal.cpu().numpy(), model.num_classes)
        est = self.estimator(model)
        kwargs = self.art_kwargs(p)
        if self.mode != SAMPLE and "batch_size" in self.art_signature:
            kwargs["batch_size"] = n  # ART would otherwise cut the batch into pieces
        elif self.probe_batch and "batch_size" in self.art_signature:
            kwargs["batch_size"] = self.probe_batch
        kwargs.update(self.more_kwargs(p, n))
        if self.labels_are_goals and not p.get("targeted"):
            y = None
        ids = model.sample_ids if model.sample_ids is not None else np.arange(n)
        out = np.empty_like(x)
        with quiet():
            attack = self.construct(est.art, kwargs)
            try:
                if self.mode == SAMPLE:
                    for i in range(n):
                        est.attribution.focus = i
                        try:
                            with seeded(sample_seed(batch.seed, ids[i])):
                                out[i : i + 1] = self.call(attack, x[i : i + 1], None if y is None else y[i : i + 1])
                        except SampleStopped:  # a stopping rule ended it: its closest adversarial, or itself
                            tracker = model.tracker
                            if tracker is not None and bool(tracker.found[i]):
                                out[i] = tracker.best_x[i].reshape(x.shape[1:]).numpy()
                            else:
                                out[i] = x[i]
                else:
                    with seeded(sample_seed(batch.seed, ids[0])):
                        out[:] = self.call(attack, x, y)
            except FeintError:
                raise
            except Exception as exc:  # ART's own failure (an overflow, a shape it cannot take)
                raise self.failed(exc) from exc
            finally:
                est.attribution.focus = None
        est.settle()
        broken = np.asarray(~np.isfinite(out.reshape(n, -1)).all(axis=1), dtype=bool)
        out[broken] = x[broken]  # ART gave no usable input (NaN): the sample stays as it was, not turned
        notes: list[str | None] = [
            "ART gave no usable input (not finite); the sample is kept unchanged" if b else None for b in broken
        ]
        return AttackOutput(x_adv=torch.as_tensor(out, dtype=batch.x.dtype), notes=notes)

    def call(self, attack: Any, x: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        return attack.generate(x, y=y)


class ArtUniversal(ArtEvasion):
    """Universal perturbation, its inner attack kept quiet too."""

    def more_kwargs(self, p: dict[str, Any], n: int) -> dict[str, Any]:
        attacks_dict = next(vars(k)["attacks_dict"] for k in self.art_class.__mro__ if "attacks_dict" in vars(k))
        module, name = attacks_dict[p["attacker"]].rsplit(".", 1)
        inner = getattr(importlib.import_module(module), name)
        return {"attacker_params": {"verbose": False} if "verbose" in getattr(inner, "attack_params", []) else {}}


class ArtZoo(ArtEvasion):
    """ZOO, its parallel coordinate updates capped at the number of features (ART refuses
    more than a sample has, which its default of 128 is for a small tabular sample)."""

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        self._features = int(np.prod(batch.x.shape[1:]))
        return super().generate(model, batch, p)

    def more_kwargs(self, p: dict[str, Any], n: int) -> dict[str, Any]:
        return {"nb_parallel": min(int(p["nb_parallel"]), getattr(self, "_features", int(p["nb_parallel"])))}


class ArtSignOpt(ArtEvasion):
    """Sign-OPT, which ART refuses on a two-class model (its labels come out as one column)."""

    @classmethod
    def check_target(cls, target: Target) -> None:
        super().check_target(target)
        if len(target.output_classes) < 3:
            raise Incompatible(
                f"attack {cls.name} needs a model of three classes or more (ART's Sign-OPT refuses two); "
                f"{target.target_name} has {len(target.output_classes)}"
            )


# -- cross-option checks that one range cannot say ------------------------------------------


def init_eval_below_max_eval(p: dict[str, Any]) -> None:
    need(p["init_eval"] <= p["max_eval"], "init_eval", f"at most max_eval ({p['max_eval']})", p["init_eval"])


def odd_kernel(p: dict[str, Any]) -> None:
    need(p["kernel_size"] % 2 == 1, "kernel_size", "an odd integer", p["kernel_size"])


def wasserstein_step(p: dict[str, Any]) -> None:
    if p["norm"] == "inf":
        need(p["eps_step"] <= p["eps"], "eps_step", f"at most eps ({p['eps']:g}) with norm inf", p["eps_step"])


def evolution_strategy(p: dict[str, Any]) -> None:
    if p["es"] == 0:
        try:
            import cma  # noqa: F401
        except ImportError:
            raise FeintError(
                "option es=0 (CMA-ES) needs the cma package (pip install cma); "
                "es=1 uses differential evolution, which needs nothing more"
            ) from None


# -- the decision-tree attack: a target whose model is a scikit-learn decision tree -------------


def sklearn_tree(target: Target):
    """The scikit-learn decision tree behind a target that offers one through
    ``sklearn_model()``, or None."""
    get = getattr(target, "sklearn_model", None)
    if not callable(get):
        return None
    model = get()
    from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

    return model if isinstance(model, (DecisionTreeClassifier, ExtraTreeClassifier)) else None


class ArtDecisionTree(ArtEvasion):
    """Needs the tree itself: a target whose ``sklearn_model()`` returns a fitted
    scikit-learn decision tree; its queries are the tree's predictions."""

    @classmethod
    def check_target(cls, target: Target) -> None:
        if target.data_type not in cls.data_types:
            raise Incompatible(
                f"attack {cls.name} does not accept {target.data_type} targets like "
                f"{target.target_name}; it accepts: {', '.join(cls.data_types)}"
            )
        if not callable(getattr(target, "sklearn_model", None)):
            raise Incompatible(
                f"attack {cls.name} needs a target whose model is a scikit-learn decision tree (offered through "
                f"sklearn_model()); {target.target_name} is not"
            )

    def estimator(self, model: CountedModel):
        from art.estimators.classification.scikitlearn import ScikitlearnDecisionTreeClassifier

        from feint.attacks.art.estimators import Attribution, Estimator

        tree = sklearn_tree(model.target)
        if tree is None:
            raise Incompatible(
                f"attack {self.name} needs a scikit-learn decision tree; the sklearn_model() of "
                f"{model.target.target_name} is {type(getattr(model.target, 'sklearn_model', lambda: None)()).__name__}"
            )
        attribution = Attribution(model)
        rows = [0]

        class CountingTree(ScikitlearnDecisionTreeClassifier):
            def predict(self, x, **kwargs):
                attribution.count(len(x))
                rows[0] += len(x)
                return super().predict(np.asarray(x, np.float32).reshape(len(x), -1), **kwargs)

        est = CountingTree(model=tree, clip_values=tuple(float(b) for b in model.target.bounds))
        return Estimator(est, attribution, lambda: rows[0])

    def call(self, attack: Any, x: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        return attack.generate(x.reshape(len(x), -1)).reshape(x.shape)


def table() -> list[type[ArtAttack]]:
    """The evasion attacks: name, ART class, how feint hands it the batch, what ART sees
    as the model's output, and the data types it accepts."""
    import art.attacks.evasion as E

    from feint.attacks.art.base import IMAGE, IMAGE_TABULAR, define

    ev = ArtEvasion
    universal_attackers = tuple(E.UniversalPerturbation.attacks_dict)
    return [
        define(
            ev,
            "art.boundary",
            E.BoundaryAttack,
            mode=SAMPLE,
            needs="labels",
            probe_batch=1024,
            summary="Boundary attack: a decision-based random walk along the decision boundary.",
        ),
        define(
            ev,
            "art.carlini_l2",
            E.CarliniL2Method,
            mode=SAMPLE,
            output=LOGITS,
            summary="Carlini and Wagner L2: optimise the smallest L2 perturbation that turns the label.",
        ),
        define(
            ev,
            "art.carlini_linf",
            E.CarliniLInfMethod,
            mode=SAMPLE,
            output=LOGITS,
            summary="Carlini and Wagner Linf: optimise the smallest Linf perturbation that turns the label.",
        ),
        define(
            ev,
            "art.deepfool",
            E.DeepFool,
            mode=BATCH,
            output=LOGITS,
            summary="DeepFool: step to the nearest linearised decision boundary until the label turns.",
        ),
        define(
            ev,
            "art.elastic_net",
            E.ElasticNet,
            mode=BATCH,
            output=LOGITS,
            summary="Elastic net (EAD): Carlini-Wagner with an L1 plus L2 penalty, for sparse changes.",
        ),
        define(
            ev,
            "art.fgsm",
            E.FastGradientMethod,
            mode=BATCH,
            summary="Fast gradient method: one step along the loss gradient (its sign, for Linf).",
        ),
        define(
            ArtSignOpt,
            "art.sign_opt",
            E.SignOPTAttack,
            mode=SAMPLE,
            needs="labels",
            probe_batch=1024,
            defaults={"targeted": False},  # ART's default is targeted
            summary="Sign-OPT: decision-based, signs of directional derivatives of the distance to the boundary.",
        ),
        define(
            ev,
            "art.hop_skip_jump",
            E.HopSkipJump,
            mode=SAMPLE,
            needs="labels",
            probe_batch=1024,
            checks=(init_eval_below_max_eval,),
            summary="HopSkipJump: decision-based, gradient estimates at the boundary from labels alone.",
        ),
        define(
            ev,
            "art.newtonfool",
            E.NewtonFool,
            mode=BATCH,
            summary="NewtonFool: Newton steps that lower the probability of the current class.",
        ),
        define(
            ev,
            "art.pixel",
            E.PixelAttack,
            mode=SAMPLE,
            data_types=IMAGE,
            checks=(evolution_strategy,),
            summary="Pixel attack: change a few pixels, chosen by an evolution strategy.",
        ),
        define(
            ev,
            "art.threshold",
            E.ThresholdAttack,
            mode=SAMPLE,
            data_types=IMAGE,
            defaults={"es": 1},  # differential evolution: ART's default, CMA-ES, needs the cma package
            checks=(evolution_strategy,),
            summary="Threshold attack: an evolution strategy inside a Linf threshold.",
        ),
        define(
            ev,
            "art.pgd",
            E.ProjectedGradientDescent,
            mode=BATCH,
            summary="Projected gradient descent: gradient steps projected onto the eps-ball.",
        ),
        define(
            ev,
            "art.jsma",
            E.SaliencyMapMethod,
            mode=SAMPLE,
            labels_are_goals=True,
            targeted=Bool(
                False,
                "turn each sample into a target class; otherwise ART picks a random other "
                "class per sample (seeded) and any change of label counts",
            ),
            target_labels=TARGET_LABELS,
            summary="Jacobian saliency map attack: change the most salient features, a pair at a time.",
        ),
        define(
            ev,
            "art.simba",
            E.SimBA,
            mode=SAMPLE,
            data_types=IMAGE,
            summary="SimBA: simple black-box steps along random pixel or DCT directions.",
        ),
        define(
            ev,
            "art.spatial_transformation",
            E.SpatialTransformation,
            mode=BATCH,
            data_types=IMAGE,
            summary="Spatial transformation: the worst translation and rotation on a grid.",
        ),
        define(
            ev,
            "art.square",
            E.SquareAttack,
            mode=SAMPLE,
            data_types=IMAGE,  # ART's square attack takes images only
            summary="Square attack: random square-shaped updates, scored by the model's output.",
        ),
        define(
            ArtUniversal,
            "art.universal_perturbation",
            E.UniversalPerturbation,
            mode=UNIVERSAL,
            access="open-box",
            choices={"attacker": universal_attackers},
            summary="Universal perturbation: one perturbation for the whole batch (inner attack: deepfool).",
        ),
        define(
            ev,
            "art.virtual_adversarial",
            E.VirtualAdversarialMethod,
            mode=BATCH,
            summary="Virtual adversarial method: the direction that most changes the output distribution.",
        ),
        define(
            ev,
            "art.wasserstein",
            E.Wasserstein,
            mode=BATCH,
            data_types=IMAGE,
            defaults={"regularization": 100},  # ART's 3000 overflows its Sinkhorn iterations on digits
            checks=(odd_kernel, wasserstein_step),
            hint="ART's Sinkhorn iterations overflow at a high regularization: try --set regularization=100 "
            "(or the native wasserstein, which does not overflow)",
            summary="Wasserstein attack: projected Sinkhorn iterations inside a Wasserstein ball.",
        ),
        define(
            ArtZoo,
            "art.zoo",
            E.ZooAttack,
            mode=SAMPLE,
            summary="ZOO: Carlini-Wagner with gradients estimated by finite differences "
            "(nb_parallel is capped at the sample's number of features).",
        ),
        define(
            ArtDecisionTree,
            "art.decision_tree",
            E.DecisionTreeAttack,
            mode=SAMPLE,
            access="open-box",
            data_types=IMAGE_TABULAR,
            summary="Decision-tree attack: walk the tree to the nearest leaf of another class.",
        ),
    ]
