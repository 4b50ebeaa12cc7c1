"""The project's promises about itself: the README's commands and the public API."""

from pathlib import Path

import feint

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in (ROOT / "README.md").read_text()
    assert ci.index("pip install torch==2.13.0") < ci.index("-e")  # the CPU torch before anything needing it


def test_public_api_is_explicit():
    assert set(feint.__all__) == {
        "__version__",
        "Target",
        "get_target",
        "Attack",
        "get_attack",
        "attacks",
        "frameworks",
        "Options",
        "RunShape",
        "execute_run",
        "plan_scan",
        "execute_scan",
        "RunResult",
        "SampleResult",
        "ScanResult",
        "Store",
        "FeintError",
    }
    for name in feint.__all__:
        assert getattr(feint, name) is not None


def test_feint_attacks_is_the_catalog_even_once_its_package_is_imported():
    import feint.attacks.catalog  # makes feint.attacks the package

    assert "pgd" in feint.attacks() and set(feint.attacks("native")) <= set(feint.attacks())
    assert feint.attacks() == feint.attacks.catalog.attacks()
