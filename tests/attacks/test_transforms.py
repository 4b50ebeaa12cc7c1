"""The transformations framework: each transformation keeps its images in bounds, changes
nothing at its weakest, is seeded per sample; the search's smallest strengths turn the
samples when re-applied; closed-box, labels-only and HTTP targets all take them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from feint.attacks.catalog import attacks, check_target, get_attack
from feint.attacks.transforms.chain import parse_chain
from feint.attacks.transforms.ops import Draws
from feint.attacks.transforms.table import SPECS
from feint.engine.run import execute_run
from feint.errors import BadValue, Incompatible

TRANSFORMS = attacks("transforms")


def test_every_transformation_is_in_the_catalog_under_the_framework():
    from feint.attacks.catalog import frameworks

    assert frameworks()["transforms"]["attacks"] == len(SPECS) >= 23
    assert get_attack("transforms.rotate") is get_attack("rotate")  # the plain name finds it too
    for name in (
        "blur brightness contrast saturation sharpen colour_jitter grayscale rotate scale crop pad perspective "
        "shear flip pixelate jpeg gaussian_noise salt_pepper overlay_text overlay_stripes overlay_image "
        "shuffle_pixels opacity"
    ).split():
        cls = TRANSFORMS[f"transforms.{name}"]
        assert cls.access == "closed-box" and cls.needs == "labels" and cls.data_types == ("image",)


def _batch(c: int, n: int = 4, h: int = 16, w: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(c)
    return torch.rand((n, c, h, w), generator=g)


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("channels", [1, 3])
def test_a_transformation_keeps_bounds_and_shape_changes_nothing_at_its_weakest_and_repeats(name, channels):
    spec = SPECS[name]
    x = _batch(channels)
    opts = {k: p.default for k, p in spec.options.items()}
    d = Draws(3, np.arange(10, 14), name)
    value = 0.0 if spec.strength is None else float(spec.strength.default)
    out = spec.op(x, torch.full((4,), value), d, opts)
    assert out.shape == x.shape and torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    again = spec.op(x, torch.full((4,), value), Draws(3, np.arange(10, 14), name), opts)
    assert torch.equal(out, again)  # the same seed and samples, the same image
    if spec.op.colour and channels == 1:
        assert torch.equal(out, x)
    elif spec.strength is not None:
        assert not torch.allclose(out, x, atol=1e-3)  # the default strength does something
    if spec.strength is not None and name not in ("jpeg", "shot_noise"):  # lossy at any setting
        weakest = spec.op(x, torch.full((4,), float(spec.strength.weakest)), d, opts)
        assert torch.allclose(weakest, x, atol=2e-3), name
    # per sample: a sample's image does not depend on the others in its batch
    alone = spec.op(x[2:3], torch.full((1,), value), d.at(torch.tensor([2])), opts)
    assert torch.allclose(alone, out[2:3], atol=1e-5)
    if spec.strength is not None:  # ... nor on the strengths the others have
        mixed = torch.full((4,), value)
        mixed[0] = spec.strength.weakest
        assert torch.allclose(spec.op(x, mixed, d, opts)[1:], out[1:], atol=1e-5)


def test_rotation_and_jpeg_match_what_pillow_does():
    from PIL import Image

    x = _batch(3, n=1, h=32, w=32)
    spec = SPECS["jpeg"]
    out = spec.op(x, torch.tensor([50.0]), Draws(0, np.arange(1), "jpeg"), {})
    u8 = (x[0].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
    import io

    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=50)
    ref = np.asarray(Image.open(buf)).transpose(2, 0, 1) / 255.0
    np.testing.assert_allclose(out[0].numpy(), ref, atol=1e-6)
    flipped = SPECS["flip"].op(x, torch.zeros(1), Draws(0, np.arange(1), "flip"), {"direction": "horizontal"})
    assert torch.equal(flipped[0], x[0].flip(-1))


@pytest.mark.parametrize(
    "shape", [(3, 3, 32, 32), (3, 3, 23, 37), (3, 3, 36, 40), (3, 3, 21, 3), (3, 1, 19, 30), (2, 2, 9, 17)]
)
def test_the_batched_jpeg_codec_gives_libjpegs_image_to_the_bit(shape):
    """Colour (4:2:0, padded blocks at odd sizes, an even height short of whole blocks,
    a chroma two columns wide), grey and other channel counts, at qualities from 5 to 100,
    one per sample: Pillow's own output in every pixel."""
    import io

    from PIL import Image

    from feint.attacks.transforms.codec import jpeg_roundtrip

    rng = np.random.default_rng(sum(shape))
    smooth = rng.integers(0, 256, (shape[0], shape[1], 4, 4)).astype(np.float64)
    u8 = np.kron(smooth, np.ones((10, 10)))[:, :, : shape[2], : shape[3]]  # flat areas and edges
    u8 = np.clip(u8 + rng.normal(0, 20, u8.shape), 0, 255).round().astype(np.uint8)
    qualities = [5, 50, 100][: shape[0]]
    out = jpeg_roundtrip(torch.from_numpy(u8), torch.tensor(qualities)).numpy()
    for img, q, got in zip(u8, qualities, out):
        planes = [img.transpose(1, 2, 0)] if shape[1] == 3 else list(img)
        back = []
        for plane in planes:
            buf = io.BytesIO()
            Image.fromarray(plane).save(buf, format="JPEG", quality=q)
            back.append(np.asarray(Image.open(buf)))
        ref = back[0].transpose(2, 0, 1) if shape[1] == 3 else np.stack(back)
        assert np.array_equal(got, ref), (q, int(np.abs(got - ref).max()))


@pytest.mark.parametrize(
    "name", sorted(n for n, spec in SPECS.items() if spec.strength is not None and not spec.op.colour)
)
def test_the_smallest_strength_found_turns_the_sample_when_applied_again(name, digits_blackbox):
    cls = TRANSFORMS[f"transforms.{name}"]
    run = execute_run(digits_blackbox, cls(sample_index="0:12", seed=5))
    strength = cls.spec.strength
    assert strength is not None
    turned = [s for s in run.samples if s.success]
    for s in run.samples:
        assert s.forward_queries <= 20 + 2  # the search's budget and the runner's two predictions
        assert "strength" in s.measures
        v = s.measures["strength"]
        lo, hi = sorted((strength.weakest, strength.default))
        assert lo - 1e-9 <= v <= hi + 1e-9
        if not s.success:
            assert s.note and s.note.startswith(f"survives {name} up to")
    for s in turned:  # re-applied at the strength found, with the same seed: the same turn
        fixed = cls(sample_index=s.index, seed=5, mode="fixed", **{strength.param: s.measures["strength"]})
        again = execute_run(digits_blackbox, fixed)
        (a,) = again.samples
        assert a.success and a.final_label == s.final_label
        assert a.linf == pytest.approx(s.linf, abs=1e-6) and a.l2 == pytest.approx(s.l2, abs=1e-5)


def test_a_colour_transformation_of_grey_images_asks_nothing_and_says_why(digits_blackbox):
    run = execute_run(digits_blackbox, get_attack("transforms.saturation")(sample_index="0:3"))
    for s in run.samples:
        assert s.forward_queries == 2 and not s.success and s.l2 == 0
        assert s.note == "saturation changes colour and the image has 1 channel(s)"


def test_a_fixed_strength_asks_the_model_only_the_runners_two_questions(digits_blackbox):
    run = execute_run(digits_blackbox, get_attack("transforms.rotate")(sample_index="0:5", mode="fixed", degrees=30))
    assert all(s.forward_queries == 2 and s.measures["strength"] == 30 for s in run.samples)
    assert run.successes >= 1


def test_a_pre_transformation_comes_first_and_alone_may_turn_a_sample(digits_blackbox):
    cls = get_attack("transforms.rotate")
    plain = execute_run(digits_blackbox, cls(sample_index="0:6", mode="fixed", degrees=10))
    chained = execute_run(digits_blackbox, cls(sample_index="0:6", mode="fixed", degrees=10, pre="pad:0.4"))
    assert [s.l2 for s in plain.samples] != [s.l2 for s in chained.samples]
    searched = execute_run(digits_blackbox, cls(sample_index="0:12", pre="pad:0.6"))
    by_pre = [s for s in searched.samples if s.note == "turned by the pre-transformation alone"]
    assert by_pre and all(s.success and s.measures["strength"] == 0 for s in by_pre)
    assert all(s.forward_queries >= 3 for s in searched.samples)  # the pre alone is asked first


def test_chains_are_checked_when_set():
    assert [(s.spec.name, s.value) for s in parse_chain("jpeg:70+rotate:5")] == [("jpeg", 70), ("rotate", 5)]
    cls = get_attack("transforms.blur")
    assert cls(pre="jpeg:70 + rotate").options["pre"] == "jpeg:70+rotate:45"
    with pytest.raises(BadValue, match="pre"):
        cls(pre="jpeg:700")
    with pytest.raises(BadValue, match="NAME one of"):
        cls(pre="sepia:3")
    with pytest.raises(BadValue, match="degrees"):
        get_attack("transforms.rotate")(degrees=999)


def test_severity_sets_the_corruptions_settings(digits_blackbox):
    cls = get_attack("transforms.gaussian_noise")
    run = execute_run(digits_blackbox, cls(sample_index="0:3", mode="fixed", severity=3))
    assert [s.measures["strength"] for s in run.samples] == pytest.approx([0.08] * 3)


def test_tabular_targets_are_refused_in_one_line():
    from feint.targets import get_target

    target = get_target("creditfraud", load=False)
    with pytest.raises(Incompatible) as refusal:
        check_target(get_attack("transforms.rotate"), target)
    assert "\n" not in str(refusal.value) and "no transformation applies to tabular samples" in str(refusal.value)


def test_flat_images_are_refused_in_one_line(tmp_path):
    from feint.targets.base import Target

    class Flat(Target):
        target_name = "flat"
        data_type = "image"
        input_shape = (64,)
        output_classes = ("a", "b")

    with pytest.raises(Incompatible, match=r"shaped \(channels, height, width\) or \(height, width\); target flat"):
        get_attack("transforms.blur").check_target(Flat())


@pytest.mark.parametrize("outputs", ["probabilities", "labels"])
def test_an_image_endpoint_is_transformed_and_judged_by_what_the_server_saw(outputs, tmp_path, monkeypatch, capsys):
    """A real image API on 127.0.0.1, sent PNGs: the transformations search it through its
    answers alone (labels only, too), and each success is the server's own answer."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    import json

    import yaml
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from feint.cli.app import main
    from feint.targets.adapters.http import HttpModel
    from tests.targets.endpoint_apps import Seen, Served, image_app

    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FEINT_HOME", str(tmp_path / "home"))
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    lr = LogisticRegression(max_iter=2000).fit(x.reshape(len(x), -1), d.target)
    classes = [str(i) for i in range(10)]
    seen = Seen()
    served = Served(image_app(lr, classes, seen))
    try:
        np.savez(tmp_path / "digits.npz", X=x[:8], y=d.target[:8])
        url = f"{served.url}/raw" + ("?top_k=1" if outputs == "labels" else "")  # its best label alone
        doc = {
            "name": "digits_api",
            "data_type": "image",
            "input_shape": [1, 8, 8],
            "classes": classes,
            "bounds": [0, 1],
            "samples": {"npz": "digits.npz", "x": "X", "y": "y"},
            "model": {"endpoint": {"url": url, "encoding": "png", "retries": 0, "outputs": outputs}},
        }
        (tmp_path / "api.yaml").write_text(yaml.safe_dump(doc))
        assert (
            main(
                [
                    "scan",
                    str(tmp_path / "api.yaml"),
                    "-a",
                    "transforms.rotate",
                    "transforms.contrast",
                    "-i",
                    "0:8",
                    "--json",
                ]
            )
            == 0
        )
        runs = json.loads(capsys.readouterr().out)["runs"]
        assert 0 < sum(r["forward_queries"] for r in runs) <= seen.rows  # the server classified every row counted
        m = HttpModel.from_config({"url": f"{served.url}/raw", "encoding": "png"}, "t", n_classes=10, classes=classes)
        for run in runs:
            assert all(s["initial_conf"] is None for s in run["samples"]) == (outputs == "labels")
            with np.load(f"{run['artifacts']}/adversarial.npz") as f:
                x_adv, x0 = f["x_adv"], f["x"]
            server = lr.predict(m.as_sent(x_adv).reshape(len(x_adv), -1))
            clean = lr.predict(m.as_sent(x0).reshape(len(x0), -1))
            assert [s["final_label"] for s in run["samples"]] == [classes[i] for i in server]
            assert [s["success"] for s in run["samples"]] == list(server != clean)
            assert all(s["forward_queries"] <= 22 for s in run["samples"])
        assert any(s["success"] for r in runs for s in r["samples"])
    finally:
        served.stop()


def test_the_guide_carries_the_generated_tables_of_every_transformation_and_corruption():
    from pathlib import Path

    from docs.hooks.reference import MARKERS, corruption_table, transform_table
    from feint.attacks.transforms.suite import SUITES

    root = Path(__file__).resolve().parents[2]
    page = (root / "docs" / "guide" / "transforms.md").read_text()
    assert "<!-- feint:transforms -->" in page and "<!-- feint:corruptions -->" in page
    assert {"<!-- feint:transforms -->", "<!-- feint:corruptions -->"} <= set(MARKERS)
    table = transform_table().replace("&#95;", "_")
    assert all(f"transforms.{name}" in table for name in SPECS)
    rows = corruption_table().replace("&#95;", "_")
    assert all(
        f"| <code>{family}</code> |" in rows or f"`{family}`" in rows for family in SUITES.get("corruptions").families
    )
    assert "quality=40" in rows and "sigma=0.1" in rows  # CIFAR-10-C's severity 5 of JPEG and Gaussian noise


def test_overlay_text_draws_the_text_it_is_given():
    spec = SPECS["overlay_text"]
    x = torch.zeros((1, 1, 32, 64))
    d = Draws(0, np.arange(1), "overlay_text")
    short = spec.op(x, torch.tensor([0.5]), d, {"text": "i", "colour": 1.0, "opacity": 1.0})
    long = spec.op(x, torch.tensor([0.5]), d, {"text": "WWWW", "colour": 1.0, "opacity": 1.0})
    assert 0 < short.sum() < long.sum()
    with pytest.raises(BadValue, match="text"):
        get_attack("transforms.overlay_text")(text="a\nb")


@pytest.mark.parametrize("budget", [1, 3, 7])
def test_the_search_never_spends_more_than_its_budget(budget, digits_blackbox):
    cls = get_attack("transforms.rotate")
    for pre in ("", "pad:0.2"):
        run = execute_run(digits_blackbox, cls(sample_index="0:8", max_queries=budget, pre=pre))
        assert all(s.forward_queries <= budget + 2 for s in run.samples)  # and the runner's two


def test_snow_and_frost_join_the_corruption_suite_with_their_own_draws_per_sample():
    from feint.attacks.transforms.ops import frost_texture
    from feint.attacks.transforms.suite import SUITES

    families = SUITES.get("corruptions").families
    assert families["snow"] == "transforms.snow" and families["frost"] == "transforms.frost"
    ice = frost_texture(Draws(0, np.arange(3), "frost"), 3, 32, 32, torch.float32)
    assert ice.shape == (3, 3, 32, 32) and ice.min() >= 0 and ice.max() <= 1
    assert not torch.allclose(ice[0], ice[1], atol=0.05)  # each sample its own ice
    assert (ice[:, 2] >= ice[:, 0]).all()  # tinted towards blue
    x = _batch(3, n=3, h=32, w=32) * 0.5
    for name in ("snow", "frost"):
        spec = SPECS[name]
        opts = {k: p.default for k, p in spec.options.items()} | spec.severities[-1]
        strength = torch.full((3,), float(spec.severities[-1]["amount"]))
        out = spec.op(x, strength, Draws(0, np.arange(3), name), opts)
        assert out.mean() > x.mean() + 0.05, name  # both whiten the image


def test_draws_are_uniform_and_normal_each_sample_its_own_and_the_same_in_any_batch():
    d = Draws(5, np.arange(400), "noise")
    u, z = d.uniform("u", (500,)), d.normal("z", (500,))
    assert 0 < u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.001
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01 and abs((z**4).mean() - 3) < 0.1  # normal's kurtosis
    hist = torch.histc(u, bins=20, min=0, max=1)
    assert (hist - len(u.view(-1)) / 20).abs().max() < 5 * (len(u.view(-1)) / 20) ** 0.5
    corr = torch.corrcoef(u[:50])  # the samples' streams do not follow each other
    assert (corr - torch.eye(50)).abs().max() < 0.2
    assert not torch.equal(d.uniform("v", (500,)), u)  # another key, other numbers
    assert not torch.equal(Draws(6, np.arange(400), "noise").uniform("u", (500,)), u)  # another seed
    some = Draws(5, np.array([399, 7, 123]), "noise")
    assert torch.equal(some.uniform("u", (500,)), u[[399, 7, 123]])  # a sample draws the same in any batch
    assert torch.equal(d.at(torch.tensor([7, 123])).normal("z", (500,)), z[[7, 123]])


@pytest.mark.parametrize("shape", [(6, 3, 32, 32), (3, 1, 80, 80)])  # int32 keys, and int64 above 4,096 pixels
def test_shuffled_pixels_are_the_same_pixels_a_share_s_of_them_moved(shape):
    spec = SPECS["shuffle_pixels"]
    x = _batch(shape[1], n=shape[0], h=shape[2], w=shape[3])
    s = torch.linspace(0.1, 0.9, shape[0])
    out = spec.op(x, s, Draws(0, np.arange(shape[0]), "shuffle_pixels"), {})
    for i in range(shape[0]):
        a, b = x[i].reshape(shape[1], -1).T, out[i].reshape(shape[1], -1).T
        assert torch.equal(a[a[:, 0].argsort()], b[b[:, 0].argsort()])  # a permutation of whole pixels
        moved = (a != b).any(dim=1).float().mean().item()
        assert abs(moved - s[i].item()) < 0.06


def test_pixelation_is_area_means_shown_by_their_nearest_cell():
    import torch.nn.functional as F

    x = _batch(3, n=3, h=23, w=32)
    for ratio in (0.5, 0.3, 0.77, 0.05):
        out = SPECS["pixelate"].op(x, torch.full((3,), ratio), Draws(0, np.arange(3), "pixelate"), {})
        size = (int(23 * ratio) or 1, int(32 * ratio) or 1)
        ref = F.interpolate(F.adaptive_avg_pool2d(x, size), size=(23, 32), mode="nearest")
        assert torch.allclose(out, ref, atol=1e-6)


def test_colour_jitters_hue_turn_is_kornias_adjust_hue():
    import kornia

    from feint.attacks.transforms.ops import _hue_shift

    x = _batch(3, n=6)
    x[0] = 0.5  # no chroma
    x[1, 1] = x[1, 0]  # red and green tie
    turn = torch.tensor([0.1, -0.3, 0.25, 0.5, -0.05, 0.45])
    ref = kornia.enhance.adjust_hue(x, turn * 2 * torch.pi)
    assert torch.allclose(_hue_shift(x, turn), ref, atol=1e-5)


@pytest.mark.parametrize("name", ["rotate", "scale", "pad", "shear"])
@pytest.mark.parametrize("same", [False, True])
@pytest.mark.parametrize("fill", [0.0, 0.6])
def test_warps_are_grid_samplings_of_their_affine_map(name, same, fill):
    import torch.nn.functional as F

    from feint.attacks.transforms.ops import _theta

    x = _batch(3, n=3, h=20, w=24)
    s = (torch.full((3,), 0.35) if same else torch.tensor([0.2, 0.5, 1.9])) * (30 if name == "rotate" else 1)
    out = SPECS[name].op(x, s, Draws(0, np.arange(3), name), {"fill": fill})
    one, z = torch.ones(3), torch.zeros(3)
    if name == "rotate":
        a = s * torch.pi / 180
        theta, corners = _theta(a.cos(), -a.sin() * 19 / 23, a.sin() * 23 / 19, a.cos()), True
    else:
        k = {"scale": 1 / s, "pad": 1 + 2 * s}.get(name)
        theta, corners = (_theta(k, z, z, k) if k is not None else _theta(one, s, z, one)), False
    grid = F.affine_grid(theta, list(x.shape), align_corners=corners)
    ref = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=corners)
    if fill and name != "rotate":  # rotation fills with zeros
        ref = ref + fill * (1 - F.grid_sample(torch.ones_like(x[:, :1]), grid, align_corners=corners))
    assert torch.allclose(out, ref.clamp(0, 1), atol=1e-5)
