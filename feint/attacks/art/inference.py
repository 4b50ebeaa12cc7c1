"""ART's inference attacks: what the model gives away about its training data.

- ``art.mi_face`` (model inversion): for each sample, reconstruct an image of the class
  the target gives it, from the model alone, by gradient ascent on that class's
  probability from a neutral start. Success: the target recognises the reconstruction
  as that class. The reconstructions are saved as PNGs (``class_LABEL_from_INDEX.png``).
  ART asks for one sample at a time; every query of it belongs to that sample.
- ``art.membership_rule_based``: a sample is declared a member of the training data
  when the target classifies it correctly. Success: declared a member. The run's
  ``member_rate`` is the share declared; on samples known to be held out (the built-in
  targets' samples are) every declared member is a false positive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from feint.attacks.art.base import ArtAttack, one_hot
from feint.attacks.art.estimators import PROBABILITIES, make_estimator, quiet, seeded
from feint.attacks.art.evasion import sample_seed
from feint.attacks.base import AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.params import Choice
from feint.errors import FeintError, Incompatible
from feint.targets.base import Target

__all__ = ["ArtMIFace", "ArtMembershipRuleBased"]


class ArtMIFace(ArtAttack):
    family = "inference"
    start = Choice(
        "zeros",
        "where each reconstruction starts: zeros (ART's default), middle (the middle of the "
        "bounds) or sample (the sample itself)",
        choices=("zeros", "middle", "sample"),
    )

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        x = batch.x.detach().cpu().numpy().astype(np.float32)
        if p["start"] == "zeros":
            x0 = np.zeros_like(x)
        elif p["start"] == "middle":
            x0 = np.full_like(x, (model.lower + model.upper) / 2)
        else:
            x0 = x.copy()
        y = one_hot(batch.labels.cpu().numpy(), model.num_classes)
        est = make_estimator(model, PROBABILITIES)
        ids = model.sample_ids if model.sample_ids is not None else np.arange(len(x))
        out = np.empty_like(x)
        with quiet():
            attack = self.construct(est.art, {**self.art_kwargs(p), "batch_size": 1})
            try:
                for i in range(len(x)):
                    est.attribution.focus = i
                    with seeded(sample_seed(batch.seed, ids[i])):
                        out[i : i + 1] = attack.infer(x0[i : i + 1], y=y[i : i + 1])
            except FeintError:
                raise
            except Exception as exc:
                raise self.failed(exc) from exc
            finally:
                est.attribution.focus = None
        est.settle()
        return AttackOutput(x_adv=torch.as_tensor(np.nan_to_num(out), dtype=batch.x.dtype))

    def succeeded(self, initial, final, goal, extras) -> np.ndarray:
        return final == initial  # the reconstruction is recognised as the class it was made for

    def run_metrics(self, success: np.ndarray, extras: dict[str, np.ndarray]) -> dict[str, float]:
        return {"recognised_rate": float(np.mean(success)) if len(success) else 0.0}

    def save_evidence(self, folder, index, x, x_out, bounds, initial_label, final_label) -> dict[str, str]:
        from PIL import Image

        from feint.attacks.evidence import to_uint8

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for kind, img, fname in (
            ("original", x, f"{index}_original.png"),
            ("reconstruction", x_out, f"class_{initial_label}_from_{index}.png"),
        ):
            path = folder / fname
            Image.fromarray(to_uint8(img, bounds)).save(path)
            paths[kind] = str(path)
        return paths


class ArtMembershipRuleBased(ArtAttack):
    family = "inference"

    @classmethod
    def check_target(cls, target: Target) -> None:
        """Also refuse, once its samples are loaded, a target that knows no true labels: the
        rule compares them with the model's answers."""
        super().check_target(target)
        if getattr(target, "_loaded", False) and target.y is None:
            raise Incompatible(f"attack {cls.name} needs the true labels of the samples; {target.target_name} has none")

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        target = model.target
        if target.y is None:
            raise Incompatible(
                f"attack {self.name} needs the true labels of the samples; {target.target_name} has none"
            )
        ids = model.sample_ids if model.sample_ids is not None else np.arange(len(batch.x))
        truth = np.asarray(target.y)[ids]
        x = batch.x.detach().cpu().numpy().astype(np.float32)
        est = make_estimator(model, PROBABILITIES, gradients=False)
        with quiet(), seeded(batch.seed):
            attack = self.construct(est.art, self.art_kwargs(p))
            try:
                member = np.asarray(attack.infer(x, y=one_hot(truth, model.num_classes)), np.float64).reshape(-1)
            except Exception as exc:
                raise self.failed(exc) from exc
        est.settle()
        return AttackOutput(x_adv=batch.x.clone(), extras={"member": member})

    def succeeded(self, initial, final, goal, extras) -> np.ndarray:
        return extras["member"] > 0.5  # declared a member of the training data

    def run_metrics(self, success: np.ndarray, extras: dict[str, np.ndarray]) -> dict[str, float]:
        return {
            "declared_members": int(np.sum(success)),
            "member_rate": float(np.mean(success)) if len(success) else 0.0,
        }

    def save_evidence(self, folder, index, x, x_out, bounds, initial_label, final_label) -> dict[str, str]:
        return {}


def table() -> list[type[ArtAttack]]:
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBoxRuleBased
    from art.attacks.inference.model_inversion import MIFace

    from feint.attacks.art.base import IMAGE, IMAGE_TABULAR, define

    return [
        define(
            ArtMIFace,
            "art.mi_face",
            MIFace,
            data_types=IMAGE,
            summary="Model inversion (MI-Face): reconstruct an image of each sample's class.",
        ),
        define(
            ArtMembershipRuleBased,
            "art.membership_rule_based",
            MembershipInferenceBlackBoxRuleBased,
            data_types=IMAGE_TABULAR,
            needs="labels",
            summary="Membership inference: a sample is declared a member if classified correctly.",
        ),
    ]
