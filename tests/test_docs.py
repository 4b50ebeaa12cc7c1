"""The documentation's reference pages hold every catalog entry and every option."""

import importlib.util
from pathlib import Path

from feint.attacks.catalog import attacks

ROOT = Path(__file__).resolve().parents[1]


def _reference():
    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "docs" / "hooks" / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_attack_and_option_has_a_reference_entry():
    html = _reference().attack_tables()
    text = html.replace("&#95;", "_").replace("<code>", "`").replace("</code>", "`")
    for name, cls in attacks().items():
        assert f"`{name}`" in text, f"attack {name} has no entry in the attack reference"
        for option in cls.params:
            assert f"`{option}`" in text, f"option {name}.{option} has no entry in the attack reference"


def test_the_attack_page_carries_the_generated_tables():
    page = (ROOT / "docs" / "reference" / "attacks.md").read_text()
    assert "<!-- feint:attacks -->" in page and "<!-- feint:attack-options -->" in page


def test_the_measures_table_holds_every_registered_measure():
    from feint.measures import MEASURES

    page = (ROOT / "docs" / "reference" / "metrics.md").read_text()
    assert "<!-- feint:measures -->" in page
    text = _reference().measure_table().replace("&#95;", "_").replace("<code>", "`").replace("</code>", "`")
    for name, measure in MEASURES.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        assert measure.label in row and f"`{measure.fmt}`" in row
    assert "tabular targets" in next(line for line in text.splitlines() if "`euclid_pct`" in line)
    assert "attack [`wasserstein`]" in next(line for line in text.splitlines() if line.startswith("| `wasserstein`"))
