"""ART's extraction attacks: steal a copy of the target, report how faithful it is.

An extraction run steals one model (from thief data: the target's other samples, never
those measured, or uniform random inputs) and measures it on the run's samples: per
sample, the initial label is the target's and the final label the stolen model's, and
success means they agree; the run's ``fidelity`` is the share of samples where they do.
The target's answers to the thief's queries belong to no sample of the run: they count
in the run's totals (``unattributed_forward_queries``), and only the two predictions of
each measured sample (none for the stolen model, which is the thief's own) count per
sample.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from feint.attacks.art.base import ArtAttack, need, one_hot
from feint.attacks.art.estimators import PROBABILITIES, Attribution, Estimator, make_estimator, quiet, seeded
from feint.attacks.base import AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.params import Choice, Int
from feint.errors import FeintError, Incompatible
from feint.targets.base import GRADIENTS, Target

__all__ = ["ArtExtraction", "thief_network", "relu_one_hidden_layer"]


def thief_network(input_shape: tuple[int, ...], classes: int) -> torch.nn.Module:
    """The thief's own model: a small CNN for images (channels first), an MLP otherwise."""
    nn = torch.nn
    if len(input_shape) == 3 and min(input_shape[1:]) >= 8:
        c, h, w = input_shape
        return nn.Sequential(
            nn.Conv2d(c, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * (h // 4) * (w // 4), 128),
            nn.ReLU(),
            nn.Linear(128, classes),
        )
    d = int(np.prod(input_shape))
    return nn.Sequential(nn.Flatten(), nn.Linear(d, 128), nn.ReLU(), nn.Linear(128, classes))


class ArtExtraction(ArtAttack):
    """Shared by the extraction attacks; a subclass says how to steal."""

    family = "extraction"
    whole_run = True  # one stolen model per run, measured on every sample
    thief_data = Choice(
        "samples",
        "what the thief queries the target with: samples (the target's samples other "
        "than those measured) or uniform (random inputs inside the target's bounds)",
        choices=("samples", "uniform"),
    )

    def succeeded(self, initial, final, goal, extras) -> np.ndarray:
        return final == initial  # the stolen model agrees with the target

    def run_metrics(self, success: np.ndarray, extras: dict[str, np.ndarray]) -> dict[str, float]:
        return {"fidelity": float(np.mean(success)) if len(success) else 0.0}

    def save_evidence(self, folder, index, x, x_out, bounds, initial_label, final_label) -> dict[str, str]:
        return {}  # nothing was changed: the evidence is the fidelity

    def thief_inputs(
        self, target: Target, batch: Batch, p: dict[str, Any], count: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Inputs the thief queries the target with (and their true labels, where known);
        never the samples of ``batch``, which are measured."""
        rng = np.random.default_rng(batch.seed)
        if p["thief_data"] == "uniform":
            lo, hi = (float(b) for b in target.bounds)
            return rng.uniform(lo, hi, (count, *target.input_shape)).astype(np.float32), None
        measured = set(int(i) for i in (batch.indices if batch.indices is not None else ()))
        pool = np.array([i for i in range(len(target.X)) if i not in measured], dtype=np.int64)
        if len(pool) == 0:
            raise FeintError(
                f"{self.name} with thief_data=samples needs samples of {target.target_name} other than "
                "those measured; measure fewer, or set thief_data=uniform"
            )
        chosen = np.sort(rng.choice(pool, size=min(count, len(pool)), replace=False))
        labels = None if target.y is None else np.asarray(target.y)[chosen]
        return target.get_samples(chosen), labels

    def estimator(self, model: CountedModel, p: dict[str, Any]):
        return make_estimator(model, PROBABILITIES, gradients=False)

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        est = self.estimator(model, p)
        est.attribution.off = True  # the thief's queries belong to no measured sample
        x = batch.x.detach().cpu().numpy().astype(np.float32)
        with quiet(), seeded(batch.seed):
            try:
                predict = self.steal(est.art, model, batch, p)
                probs = np.asarray(predict(x), np.float64)
            except FeintError:
                raise
            except Exception as exc:
                raise self.failed(exc) from exc
        est.settle()
        return AttackOutput(x_adv=batch.x.clone(), final_probs=probs)

    def steal(self, estimator: Any, model: CountedModel, batch: Batch, p: dict[str, Any]):
        """Steal a model; return its predict (class probabilities) for a batch of inputs."""
        raise NotImplementedError


class ArtThief(ArtExtraction):
    """Copycat CNN and Knockoff Nets: train the thief's network on the target's answers."""

    def check_options(self, p: dict[str, Any]) -> None:
        super().check_options(p)
        if p.get("sampling_strategy") == "adaptive":
            need(
                p["thief_data"] == "samples",
                "sampling_strategy",
                "random with thief_data=uniform (adaptive needs labelled thief data)",
                "adaptive",
            )

    def steal(self, estimator: Any, model: CountedModel, batch: Batch, p: dict[str, Any]):
        from art.estimators.classification import PyTorchClassifier

        target = model.target
        x, labels = self.thief_inputs(target, batch, p, p["nb_stolen"])
        y = None
        if p.get("sampling_strategy") == "adaptive":
            if labels is None:
                raise Incompatible(
                    f"{self.name} with sampling_strategy=adaptive needs the true labels of "
                    f"{target.target_name}'s samples, which it does not have"
                )
            y = one_hot(labels, model.num_classes)
        net = thief_network(tuple(target.input_shape), model.num_classes)
        thief = PyTorchClassifier(
            model=net,
            loss=torch.nn.CrossEntropyLoss(),
            optimizer=torch.optim.Adam(net.parameters(), lr=1e-3),
            input_shape=tuple(target.input_shape),
            nb_classes=model.num_classes,
            clip_values=tuple(float(b) for b in target.bounds),
            device_type="cpu",
        )
        attack = self.construct(estimator, self.art_kwargs(p))
        stolen = attack.extract(x, y=y, thieved_classifier=thief)

        def predict(batch: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                logits = torch.as_tensor(stolen.predict(batch.astype(np.float32)))
            return torch.softmax(logits, dim=1).numpy()

        return predict


def relu_one_hidden_layer(module: torch.nn.Module | None) -> int | None:
    """The hidden width of a torch model made of one hidden ReLU layer (Linear, ReLU,
    Linear, with at most a Flatten besides), or None for any other model (or none)."""
    if module is None:
        return None
    nn = torch.nn
    leaves = [m for m in module.modules() if not list(m.children())]
    linear = [m for m in leaves if isinstance(m, nn.Linear)]
    others = [m for m in leaves if not isinstance(m, (nn.Linear, nn.ReLU, nn.Flatten, nn.Identity))]
    if len(linear) != 2 or others or not any(isinstance(m, nn.ReLU) for m in leaves):
        return None
    if linear[0].out_features != linear[1].in_features:
        return None
    return int(linear[0].out_features)


class ArtFunctionallyEquivalent(ArtExtraction):
    """Recovers the weights of a one-hidden-layer ReLU network from its logits."""

    max_queries = Int(
        1_000_000,
        "stop (with an error) after this many queries: ART's critical-point search "
        "has no bound of its own and does not converge on every model",
        low=1,
        high=10**9,
    )

    @classmethod
    def check_target(cls, target: Target) -> None:
        if target.data_type not in cls.data_types:
            raise Incompatible(
                f"attack {cls.name} does not accept {target.data_type} targets like "
                f"{target.target_name}; it accepts: {', '.join(cls.data_types)}"
            )
        if GRADIENTS not in target.capabilities:
            raise Incompatible(
                f"attack {cls.name} needs the model's logits, which only an open-box target gives; "
                f"{target.target_name} answers with probabilities only"
            )
        if relu_one_hidden_layer(target.torch_module()) is None:
            raise Incompatible(
                f"attack {cls.name} needs a target whose model is one hidden ReLU layer (Linear, "
                f"ReLU, Linear); the model of {target.target_name} is not"
            )

    def estimator(self, model: CountedModel, p: dict[str, Any]):
        """ART's search compares slopes of the logits to 1e-5: the logits are computed in
        float64 (on a copy of the module, the target's own untouched) and handed over
        without ART's cast to float32."""
        from art.estimators.classification import BlackBoxClassifierNeuralNetwork

        if model.module is None:
            raise Incompatible(f"attack {self.name} needs the model's logits; {model.target.target_name} gives none")
        module = copy.deepcopy(model.module).double().eval()
        attribution = Attribution(model)
        rows = [0]
        name, budget = self.name, p["max_queries"]

        def logits(x: np.ndarray) -> np.ndarray:
            if rows[0] + len(x) > budget:
                raise FeintError(
                    f"{name} stopped after {rows[0]} queries (max_queries={budget}): ART's "
                    "critical-point search did not converge on this model"
                )
            rows[0] += len(x)
            attribution.count(len(x))
            shaped = torch.as_tensor(np.asarray(x, np.float64)).reshape(-1, *model.target.input_shape)
            with torch.no_grad():
                return module(shaped).numpy()

        class Exact(BlackBoxClassifierNeuralNetwork):
            def predict(self, x, batch_size: int = 128, **kwargs):
                return logits(x)

        flat = (int(np.prod(model.target.input_shape)),)
        est = Exact(
            logits,
            input_shape=flat,
            nb_classes=model.num_classes,
            clip_values=tuple(float(b) for b in model.target.bounds),
        )
        return Estimator(est, attribution, lambda: rows[0])

    def steal(self, estimator: Any, model: CountedModel, batch: Batch, p: dict[str, Any]):
        target = model.target
        width = relu_one_hidden_layer(model.module)
        x, _ = self.thief_inputs(target, batch, p, 1000)
        try:
            attack = self.art_class(estimator, num_neurons=width)
        except (ValueError, TypeError) as exc:
            raise FeintError(f"ART refused {self.name}: {exc}") from exc
        stolen = attack.extract(x.reshape(len(x), -1), **self.art_kwargs(p))

        def predict(batch: np.ndarray) -> np.ndarray:
            logits = torch.as_tensor(np.asarray(stolen.predict(batch.reshape(len(batch), -1)), np.float32))
            return torch.softmax(logits, dim=1).numpy()

        return predict


def table() -> list[type[ArtAttack]]:
    import art.attacks.extraction as X

    from feint.attacks.art.base import IMAGE_TABULAR, define

    # ART's defaults steal from one query in batches of one: feint starts from a thief that
    # can learn something (the docs name ART's default).
    thief = {"nb_stolen": 500, "batch_size_fit": 32, "batch_size_query": 100}
    return [
        define(
            ArtThief,
            "art.copycat_cnn",
            X.CopycatCNN,
            needs="labels",  # the thief learns from the labels (use_probability=False)
            data_types=IMAGE_TABULAR,
            defaults=thief,
            summary="Copycat CNN: train a copy of the target on its labels for the thief's inputs.",
        ),
        define(
            ArtThief,
            "art.knockoff_nets",
            X.KnockoffNets,
            needs="labels",  # the thief learns from the labels (use_probability=False)
            data_types=IMAGE_TABULAR,
            defaults=thief,
            summary="Knockoff Nets: train a copy of the target, choosing queries at random or adaptively.",
        ),
        define(
            ArtFunctionallyEquivalent,
            "art.functionally_equivalent",
            X.FunctionallyEquivalentExtraction,
            function=X.FunctionallyEquivalentExtraction.extract,
            access="open-box",
            data_types=IMAGE_TABULAR,
            summary="Functionally equivalent extraction: recover a one-hidden-layer ReLU network's weights.",
        ),
    ]
