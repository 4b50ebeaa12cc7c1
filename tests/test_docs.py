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


def test_every_counterfit_name_has_a_reference_entry():
    from feint.attacks.aliases import ALIASES

    text = _text(_reference().counterfit_table())
    for name, alias in ALIASES.items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, f"Counterfit name {name} has no row"
        assert (f"`{alias.attack}`" if alias.attack else "none in feint") in row


def test_the_attack_page_carries_the_generated_tables():
    page = (ROOT / "docs" / "reference" / "attacks.md").read_text()
    assert "<!-- feint:attacks -->" in page and "<!-- feint:attack-options -->" in page


def _text(html: str) -> str:
    import html as entities

    return entities.unescape(html.replace("<code>", "`").replace("</code>", "`"))


# marker -> the page that carries it
PAGES = {
    "<!-- feint:targets -->": "guide/targets.md",
    "<!-- feint:yaml-keys -->": "reference/yaml.md",
    "<!-- feint:endpoint-options -->": "reference/endpoint.md",
    "<!-- feint:report-formats -->": "guide/reports.md",
    "<!-- feint:executors -->": "guide/scans.md",
    "<!-- feint:counterfit-names -->": "reference/attacks.md",
}


def test_every_yaml_key_and_endpoint_option_has_a_reference_entry():
    from feint.targets.adapters.http import OPTIONS
    from feint.targets.loaders.samples import SAMPLE_KEYS
    from feint.targets.loaders.yaml import ACCEPTED_KEYS, MODEL_KEYS, PREPROCESS_KEYS

    reference = _reference()
    keys = _text(reference.yaml_key_tables())
    expected = [*ACCEPTED_KEYS, *(f"model.{k.name}" for k in MODEL_KEYS)]
    expected += [f"preprocess.{k.name}" for k in PREPROCESS_KEYS] + [f"samples.{k.name}" for k in SAMPLE_KEYS]
    for key in expected:
        assert f"| `{key}` |" in keys, f"YAML key {key} has no entry in the YAML reference"
    options = _text(reference.endpoint_option_table())
    for option in OPTIONS:
        assert f"| `{option}` |" in options, f"endpoint option {option} has no entry in the endpoint reference"


def test_every_target_format_and_executor_has_a_reference_entry():
    from feint.engine.executors import EXECUTORS
    from feint.report.formats import FORMATS
    from feint.targets import TARGETS

    reference = _reference()
    for names, table, what in [
        (TARGETS.names(), reference.target_table(), "built-in target"),
        (FORMATS.names(), reference.format_table(), "report format"),
        (EXECUTORS.names(), reference.executor_table(), "executor"),
    ]:
        text = _text(table)
        for name in names:
            assert f"| `{name}` |" in text, f"{what} {name} has no entry in its generated table"


def test_a_newcomer_shows_up_in_the_generated_tables(monkeypatch):
    from feint.engine.executors import EXECUTORS, ExecutorKind
    from feint.targets import TARGETS, BuiltinTarget

    monkeypatch.setitem(TARGETS._entries, "halves", BuiltinTarget("tests.targets.test_registry:Halves", "halves"))
    monkeypatch.setitem(EXECUTORS._entries, "inline", ExecutorKind("a test's executor", lambda t, w: None))
    reference = _reference()
    assert "| `halves` | tabular | `[2]` | left, right | closed-box | halves |" in _text(reference.target_table())
    assert "| `inline` | a test's executor |" in _text(reference.executor_table())


def test_the_pages_carry_the_generated_tables():
    reference = _reference()
    assert set(PAGES) <= set(reference.MARKERS)
    for marker, page in PAGES.items():
        assert marker in (ROOT / "docs" / page).read_text(), f"docs/{page} lacks {marker}"


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
