"""mkdocs hook: the reference tables, generated from feint's live catalog and registries.

A page holds a marker where a generated part goes; :func:`on_page_markdown` replaces it:

- ``<!-- feint:attacks -->``: :func:`attack_table`, a table of every attack (name,
  framework, family, access, data types, one-line doc);
- ``<!-- feint:attack-options -->``: :func:`option_sections`, the options every attack
  has, then one section per attack with its own options (name, type, default, range,
  doc);
- ``<!-- feint:art-attacks -->``: :func:`art_table`, the ART attacks with the ART class
  behind each and how feint hands it the samples;
- ``<!-- feint:counterfit-names -->``: :func:`counterfit_table`, Counterfit's attack names
  (``feint.attacks.aliases.ALIASES``) and the feint attack each resolves to;
- ``<!-- feint:targets -->``: :func:`target_table`, the built-in targets
  (``feint.targets.TARGETS``);
- ``<!-- feint:yaml-keys -->``: :func:`yaml_key_tables`, the keys of a YAML target
  declaration (``feint.targets.loaders.yaml``) and of its ``model``, ``preprocess`` and
  ``samples`` mappings;
- ``<!-- feint:endpoint-options -->``: :func:`endpoint_option_table`, the options of an
  HTTP endpoint (``feint.targets.adapters.http.OPTIONS``);
- ``<!-- feint:report-formats -->``: :func:`format_table`, the report formats
  (``feint.report.formats.FORMATS``);
- ``<!-- feint:executors -->``: :func:`executor_table`, the executors of a scan
  (``feint.engine.executors.EXECUTORS``).

:func:`attack_tables` is the first two together, the whole generated attack reference.

The tables are read from the code (the catalog, the registries, the schemas the loaders
check declarations against), so they cannot drift from it: a new attack, option, target,
key, format or executor shows up on the next build.
feint is imported from the checkout that holds this file (``docs/hooks/`` two levels
below the repository root), so the pages describe that checkout's code; it is imported
inside the functions, so loading this hook costs nothing until a page needs it.

Plain functions, callable without mkdocs::

    from docs.hooks.reference import attack_tables
    markdown = attack_tables()
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "MARKERS",
    "attack_tables",
    "attack_table",
    "option_sections",
    "art_table",
    "target_table",
    "yaml_key_tables",
    "endpoint_option_table",
    "format_table",
    "executor_table",
    "anchor",
    "on_page_markdown",
]

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("mkdocs.hooks.reference")

# Characters that Markdown (or a table's cell syntax) would read as markup.
_SPECIAL = set("\\`*_[]|~^{}<>&#")

# How feint hands an ART attack its samples, by the attack class's ``mode``.
_HANDED = {
    "sample": "one sample at a time",
    "batch": "the batch",
    "universal": "the batch, jointly",
}


# -- reading the catalog ------------------------------------------------------------------


def _checkout() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # this checkout's feint before any installed one


@functools.cache
def _catalog() -> tuple[tuple[str, Any], ...]:
    """Every attack class of the catalog, by name, in the catalog's order."""
    _checkout()
    from feint.attacks.catalog import attacks

    return tuple(attacks().items())


def _run_params(classes: list[Any]) -> dict[str, Any]:
    """The options every attack shares (``RUN_PARAMS``), as most attacks declare them."""
    names: list[str] = []
    for cls in classes:
        for name in getattr(cls, "RUN_PARAMS", ()):
            if name not in names:
                names.append(name)
    common = {}
    for name in names:
        specs = [cls.params[name] for cls in classes if name in cls.params]
        if specs:  # options are not hashable (a choice holds a dict of aliases): count by equality
            common[name] = max(specs, key=lambda spec: sum(other == spec for other in specs))
    return common


# -- rendering ------------------------------------------------------------------------------


def _escape(text: str) -> str:
    return "".join(f"&#{ord(c)};" if c in _SPECIAL else c for c in text)


def _cell(text: Any) -> str:
    """Text as one Markdown table cell: on one line, `code` kept as code, nothing else read
    as markup (docs read from ART hold pipes, brackets and asterisks)."""
    text = " ".join(str(text).split())
    out = []
    for part in re.split(r"(`[^`]+`)", text):
        if len(part) > 2 and part.startswith("`") and part.endswith("`"):
            out.append(f"<code>{_escape(part[1:-1])}</code>")
        else:
            out.append(_escape(part))
    return "".join(out)


def _code(text: Any) -> str:
    return f"<code>{_escape(str(text))}</code>" if str(text) != "" else ""


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def anchor(name: str) -> str:
    """The id of an attack's section: its name with dots as dashes (``art.pgd`` -> ``art-pgd``)."""
    return re.sub(r"[^a-z0-9_-]", "-", name.lower())


def _range(param: Any) -> str:
    text = param.range_text() if hasattr(param, "range_text") else ""
    return text[3:] if text.startswith("in ") else text


def _type(param: Any) -> str:
    return str(getattr(param, "type_name", type(param).__name__))


def _default(param: Any) -> str:
    shown = param.show(param.default) if hasattr(param, "show") else str(param.default)
    return _code(shown)


def _option_rows(params: dict[str, Any]) -> list[list[str]]:
    return [
        [_code(name), _cell(_type(p)), _default(p), _cell(_range(p)), _cell(getattr(p, "doc", ""))]
        for name, p in params.items()
    ]


_OPTION_HEADER = ["option", "type", "default", "range", "doc"]


def attack_table() -> str:
    """One table of every attack: name, framework, family, access, data types, one-line doc."""
    rows = []
    for name, cls in _catalog():
        rows.append(
            [
                f"[{_code(name)}](#{anchor(name)})",
                _cell(cls.framework),
                _cell(cls.family),
                _cell(cls.access),
                _cell(", ".join(cls.data_types)),
                _cell(cls.summary()),
            ]
        )
    counts = Counter(cls.framework for _, cls in _catalog())
    told = ", ".join(f"{n} {fw}" for fw, n in counts.items())
    return f"{sum(counts.values())} attacks ({told}):\n\n" + _table(
        ["attack", "framework", "family", "access", "data", "what it does"], rows
    )


def option_sections(level: int = 3) -> str:
    """The options every attack has, then one section per attack with its own options."""
    classes = [cls for _, cls in _catalog()]
    common = _run_params(classes)
    hashes = "#" * level
    parts = []
    if common:
        parts.append(
            f"{hashes} Options of every attack {{#options-of-every-attack}}\n\n"
            "Every attack has these options; an attack whose own default or range differs "
            "lists the option again in its section.\n\n" + _table(_OPTION_HEADER, _option_rows(common))
        )
    for name, cls in _catalog():
        own = {n: p for n, p in cls.params.items() if n not in common or p != common[n]}
        facts = [
            f"framework {_code(cls.framework)}",
            f"family {_code(cls.family)}",
            f"access {_code(cls.access)}",
            "data " + ", ".join(_code(d) for d in cls.data_types),
        ]
        art_class = getattr(cls, "art_class", None)
        if art_class is not None:
            facts.append(f"ART class {_code(art_class.__name__)}")
        lines = [f"{hashes} {_code(name)} {{#{anchor(name)}}}", "", _cell(cls.summary()), "", " · ".join(facts)]
        reference = str(getattr(cls, "reference", "") or "")
        if reference:
            shown = f"<{reference}>" if re.match(r"https?://\S+$", reference) else _cell(reference)
            lines += ["", f"Reference: {shown}"]
        lines.append("")
        if own:
            lines.append(_table(_OPTION_HEADER, _option_rows(own)))
        else:
            lines.append("No options besides those of every attack.")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def attack_tables() -> str:
    """The generated attack reference: the table of every attack, then its options."""
    return attack_table() + "\n\n" + option_sections()


def art_table() -> str:
    """The ART attacks: ART class, family, access, data types and how feint hands ART the
    samples (one at a time, the batch, or one stolen model per run)."""
    rows = []
    for name, cls in _catalog():
        art_class = getattr(cls, "art_class", None)
        if art_class is None:
            continue
        if getattr(cls, "whole_run", False):
            handed = "one stolen model per run"
        else:
            handed = _HANDED.get(getattr(cls, "mode", ""), "\u2014")
        rows.append(
            [
                f"[{_code(name)}](#{anchor(name)})",
                _code(art_class.__name__),
                _cell(cls.family),
                _cell(cls.access),
                _cell(", ".join(cls.data_types)),
                _cell(handed),
            ]
        )
    return _table(["attack", "ART class", "family", "access", "data", "feint hands ART"], rows)


def counterfit_table() -> str:
    """Counterfit's attack names: the release that used each, the ART class Counterfit ran
    and the feint attack the name resolves to (or that feint has none)."""
    from feint.attacks.aliases import ALIASES

    rows = []
    for name, alias in sorted(ALIASES.items(), key=lambda item: (item[1].release, item[0].lower())):
        attack = f"[{_code(alias.attack)}](#{anchor(alias.attack)})" if alias.attack else "none in feint"
        rows.append([_code(name), _cell(alias.release), _code(alias.art_class), attack])
    return _table(["Counterfit name", "Counterfit", "ART class", "feint attack"], rows)


def target_table() -> str:
    """The built-in targets: name, data type, input shape, classes, access and what each is."""
    _checkout()
    from feint.targets import TARGETS

    rows = []
    for name, entry in TARGETS.items():
        cls = entry.load_class()
        classes = list(cls.output_classes)
        shown = ", ".join(classes) if len(classes) <= 6 else f"{len(classes)}: {classes[0]} to {classes[-1]}"
        rows.append(
            [
                _code(name),
                _cell(cls.data_type),
                _code(list(cls.input_shape)) if cls.input_shape else "set on load",
                _cell(shown) if classes else "set on load",
                _cell("open-box" if cls().open_box else "closed-box"),
                _cell(entry.doc),
            ]
        )
    return _table(["target", "data", "input shape", "classes", "access", "what it is"], rows)


def _key_rows(keys: Any, prefix: str = "") -> list[list[str]]:
    return [
        [
            _code(prefix + key.name),
            "required" if key.required else (_code(key.default) if key.default else ""),
            _cell(key.doc),
        ]
        for key in keys
    ]


def yaml_key_tables() -> str:
    """The keys of a YAML declaration, then those of its ``model``, ``preprocess`` and
    ``samples`` mappings, each with whether it is required (or its default) and what it takes."""
    _checkout()
    from feint.targets.loaders.samples import SAMPLE_KEYS
    from feint.targets.loaders.yaml import KEYS, MODEL_KEYS, PREPROCESS_KEYS

    header = ["key", "required or default", "what it takes"]
    rows = _key_rows(KEYS)
    rows += _key_rows(MODEL_KEYS, "model.")
    rows += _key_rows(PREPROCESS_KEYS, "preprocess.")
    rows += _key_rows(SAMPLE_KEYS, "samples.")
    return _table(header, rows)


def endpoint_option_table() -> str:
    """The options of ``model: {endpoint: {...}}``: name, default, what each does."""
    _checkout()
    from feint.targets.adapters.http import OPTIONS

    rows = [[_code(name), _cell(option.shown), _cell(option.doc)] for name, option in OPTIONS.items()]
    return _table(["option", "default", "what it does"], rows)


def format_table() -> str:
    """The report formats: name, the extensions of ``-o`` that choose it, what it is."""
    _checkout()
    from feint.report.formats import FORMATS

    rows = [
        [_code(name), ", ".join(_code(ext) for ext in fmt.extensions), _cell(fmt.doc)] for name, fmt in FORMATS.items()
    ]
    return _table(["format", "extension", "what it is"], rows)


def executor_table() -> str:
    """The executors of ``feint scan --executor``: name and where they run the units."""
    _checkout()
    from feint.engine.executors import EXECUTORS

    rows = [[_code(name), _cell(kind.doc)] for name, kind in EXECUTORS.items()]
    return _table(["executor", "where the units run"], rows)


MARKERS: dict[str, Callable[[], str]] = {
    "<!-- feint:attacks -->": attack_table,
    "<!-- feint:attack-options -->": option_sections,
    "<!-- feint:art-attacks -->": art_table,
    "<!-- feint:counterfit-names -->": counterfit_table,
    "<!-- feint:targets -->": target_table,
    "<!-- feint:yaml-keys -->": yaml_key_tables,
    "<!-- feint:endpoint-options -->": endpoint_option_table,
    "<!-- feint:report-formats -->": format_table,
    "<!-- feint:executors -->": executor_table,
}


# -- the mkdocs event -----------------------------------------------------------------------


def on_page_markdown(markdown: str, page: Any = None, config: Any = None, files: Any = None, **_: Any) -> str:
    for marker, make in MARKERS.items():
        if marker in markdown:
            try:
                generated = make()
            except ImportError as exc:
                from mkdocs.exceptions import PluginError

                raise PluginError(
                    f"docs/hooks/reference.py: cannot read feint's catalog and registries ({exc}); "
                    "install feint with its dependencies (pip install -e .) to build the docs"
                ) from exc
            markdown = markdown.replace(marker, generated)
    for unknown in sorted(set(re.findall(r"<!-- feint:[\w-]+ -->", markdown))):
        where = getattr(getattr(page, "file", None), "src_uri", "a page")
        log.warning("%s: unknown marker %s; known: %s", where, unknown, ", ".join(MARKERS))
    return markdown


# -- the per-sample measures ----------------------------------------------------------------
#
# ``<!-- feint:measures -->``: :func:`measure_table`, every registered per-sample measure
# (``feint.measures.MEASURES``) with its JSON key, column label, format, unit, who has it
# (the data types it comes with, the attacks and built-in targets that declare it) and doc.


def _holders(name: str, data_types: tuple[str, ...]) -> list[str]:
    """Who has measure ``name``: its data types' targets, then the attacks of the catalog and
    the built-in targets that declare it."""
    from feint.targets import target_classes

    out = [f"{_cell(d)} targets" for d in data_types]
    out += [f"attack [{_code(a)}](attacks.md#{anchor(a)})" for a, cls in _catalog() if name in cls.measures]
    out += [f"target {_code(t)}" for t, cls in target_classes().items() if name in cls.measures]
    return out


def measure_table() -> str:
    """One table of every registered per-sample measure."""
    _catalog()  # puts this checkout's feint first on the path
    from feint.measures import MEASURES

    rows = [
        [
            _code(name),
            _cell(m.label),
            _code(m.fmt),
            _cell(m.unit),
            ", ".join(_holders(name, m.data_types)) or "\u2014",
            _cell(m.doc),
        ]
        for name, m in MEASURES.items()
    ]
    return _table(["measure", "column", "format", "unit", "who has it", "what it is"], rows)


MARKERS["<!-- feint:measures -->"] = measure_table
__all__ += ["measure_table"]


def transform_table() -> str:
    """The transformations: attack, strength option and unit, where it starts (no change)
    and its default, its range, and what it does."""
    _checkout()
    from feint.attacks.transforms.table import SPECS

    rows = []
    for name, spec in SPECS.items():
        s = spec.strength
        attack = f"transforms.{name}"
        link = f"[{_code(attack)}](../reference/attacks.md#{anchor(attack)})"
        if s is None:
            rows.append([link, "\u2014", "\u2014", "\u2014", "\u2014", "\u2014", _cell(spec.summary)])
            continue
        rows.append(
            [
                link,
                _code(s.param),
                _cell(s.unit),
                _cell(f"{s.weakest:g}"),
                _cell(f"{s.default:g}"),
                _cell(f"{s.low:g} to {s.high:g}"),
                _cell(spec.summary),
            ]
        )
    return _table(["attack", "strength", "unit", "no change at", "default", "range", "what it does"], rows)


def corruption_table() -> str:
    """The corruption suite: each corruption, its attack and the options of severities 1 to 5."""
    _checkout()
    from feint.attacks.transforms.suite import SUITES
    from feint.attacks.transforms.table import spec

    suite = SUITES.get("corruptions")
    rows = []
    for family, attack in suite.families.items():
        sp = spec(attack)
        cells = [_cell(", ".join(f"{k}={v:g}" for k, v in row.items())) for row in sp.severities]
        rows.append([_code(family), _code(attack), *cells, "ImageNet-C" if sp.imagenet_c else "feint"])
    return _table(["corruption", "attack", *(f"severity {k}" for k in suite.severities), "from"], rows)


MARKERS["<!-- feint:transforms -->"] = transform_table
MARKERS["<!-- feint:corruptions -->"] = corruption_table
__all__ += ["transform_table", "corruption_table"]
