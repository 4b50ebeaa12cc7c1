"""The CI gate: ``--fail-on EXPR``, a small condition language over a scan's summary.

An expression compares metrics of the summary by attack with numbers::

    success_rate > 0.2
    pgd.success_rate > 0.5 or jsma.successes >= 3
    success_rate > 20% and queries.avg < 1000
    not (0.1 <= linf.avg <= 0.3)

Grammar (parsed by a tokenizer and a recursive-descent parser, never ``eval``)::

    expr       := conj ("or" conj)*
    conj       := neg ("and" neg)*
    neg        := "not" neg | "(" expr ")" | comparison
    comparison := operand (OP operand)+        chained: a < b < c means a < b and b < c
    operand    := NUMBER ["%"] | [ATTACK "."] METRIC
    OP         := "<" | "<=" | ">" | ">=" | "==" | "=" | "!="

A metric without an attack is checked for every attack of the scan, and the attacks
for which the whole expression holds fail. An expression that names attacks only is
checked once; when it holds, the attacks whose comparisons held fail. A comparison
with a missing value (``best_score`` when nothing succeeded, distances when no sample
was turned) is false.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from feint.errors import ParamError

__all__ = ["Gate", "GateError", "GateResult", "METRICS", "STAT_METRICS", "parse_gate", "evaluate_gates"]

# Metrics of one attack's summary (feint.report.summary.by_attack): name -> meaning.
METRICS: dict[str, str] = {
    "total_runs": "runs of the attack (one per parameter set)",
    "samples": "samples attacked, over all its runs",
    "successes": "samples turned",
    "success_rate": "successes / samples (0 to 1; write 20% for 0.2)",
    "accuracy": "share of its outputs the target labels with their true label (samples with true labels only)",
    "best_score": "the highest confidence of a successful adversarial label",
    "robust_accuracy": "an evaluation's: the share of samples labelled right that no attack turned (0 to 1), per budget",
    "clean_accuracy": "an evaluation's: the share of samples the target labels right before any attack (0 to 1)",
}
STAT_METRICS: dict[str, str] = {
    "time_s": "seconds per run",
    "queries": "model queries per sample (forward + gradient)",
    "forward_queries": "forward queries per sample",
    "gradient_queries": "gradient queries per sample",
    "linf": "Linf distance of the turned samples",
    "l2": "L2 distance of the turned samples",
    "l0": "features changed in the turned samples",
}
STATS = ("min", "avg", "max")


def metric_names() -> list[str]:
    return [*METRICS, *(f"{m}.{s}" for m in STAT_METRICS for s in STATS)]


class GateError(ParamError):
    """A gate expression (``fail_on``) that cannot be parsed or names what a scan does not
    have. Written with the command line's ``--fail-on``, which names the parameter."""

    def __init__(self, message: str) -> None:
        escaped = message.replace("{", "{{").replace("}", "}}")
        super().__init__(escaped.replace("--fail-on", "{fail_on}"))


# -- tokens ------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?%?)"
    r"|(?P<op><=|>=|==|!=|<|>|=)"
    r"|(?P<paren>[()])"
    r"|(?P<name>[A-Za-z_][\w\-]*(?:\.[A-Za-z_][\w\-]*)*)"
    r")"
)
_KEYWORDS = {"and", "or", "not"}
_OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


@dataclass(frozen=True)
class _Tok:
    kind: str  # number, op, paren, name, keyword, end
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            start = pos + (len(text[pos:]) - len(text[pos:].lstrip()))
            raise GateError(f"bad --fail-on expression {text!r}: unexpected {text[start]!r} at position {start + 1}")
        kind = m.lastgroup or ""
        value, start = m.group(kind), m.start(kind)
        if kind == "name" and value.lower() in _KEYWORDS:
            kind, value = "keyword", value.lower()
        toks.append(_Tok(kind, "==" if value == "=" and kind == "op" else value, start))
        pos = m.end()
    toks.append(_Tok("end", "", len(text)))
    return toks


# -- the tree ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    attack: str | None  # None: the attack being checked
    name: str  # "success_rate", "queries.avg"

    def __str__(self) -> str:
        return f"{self.attack}.{self.name}" if self.attack else self.name


@dataclass(frozen=True)
class Compare:
    operands: tuple[Any, ...]  # Metric or float, one more than ops
    ops: tuple[str, ...]


@dataclass(frozen=True)
class BoolOp:
    op: str  # and, or, not
    args: tuple[Any, ...]


MAX_DEPTH = 50  # nested 'not's and parentheses an expression may hold


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, tok: _Tok, expected: str) -> GateError:
        found = f"{tok.text!r}" if tok.kind != "end" else "the end"
        where = f" at position {tok.pos + 1}" if tok.kind != "end" else ""
        return GateError(f"bad --fail-on expression {self.text!r}: expected {expected}, found {found}{where}")

    def parse(self) -> Any:
        if self.peek().kind == "end":
            raise GateError("bad --fail-on expression '': it is empty; e.g. 'success_rate > 0.2'")
        tree = self.expr()
        if self.peek().kind != "end":
            raise self.fail(self.peek(), "'and', 'or' or the end")
        return tree

    def expr(self) -> Any:
        args = [self.conj()]
        while self.peek().kind == "keyword" and self.peek().text == "or":
            self.take()
            args.append(self.conj())
        return args[0] if len(args) == 1 else BoolOp("or", tuple(args))

    def conj(self) -> Any:
        args = [self.neg()]
        while self.peek().kind == "keyword" and self.peek().text == "and":
            self.take()
            args.append(self.neg())
        return args[0] if len(args) == 1 else BoolOp("and", tuple(args))

    def neg(self) -> Any:
        tok = self.peek()
        nests = (tok.kind == "keyword" and tok.text == "not") or (tok.kind == "paren" and tok.text == "(")
        if not nests:
            return self.comparison()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise GateError(
                f"bad --fail-on expression {self.text[:60]!r}{'...' if len(self.text) > 60 else ''}: it nests "
                f"'not' and parentheses more than {MAX_DEPTH} deep; accepted: at most {MAX_DEPTH}"
            )
        self.take()
        if tok.text == "not":
            node: Any = BoolOp("not", (self.neg(),))
        else:
            node = self.expr()
            if self.peek().text != ")":
                raise self.fail(self.peek(), "')'")
            self.take()
        self.depth -= 1
        return node

    def comparison(self) -> Compare:
        operands = [self.operand()]
        ops = []
        while self.peek().kind == "op":
            ops.append(self.take().text)
            operands.append(self.operand())
        if not ops:
            raise self.fail(self.peek(), "a comparison (<, <=, >, >=, ==, !=)")
        if not any(isinstance(o, Metric) for o in operands):
            raise GateError(
                f"bad --fail-on expression {self.text!r}: a comparison needs a metric, e.g. 'success_rate > 0.2'"
            )
        return Compare(tuple(operands), tuple(ops))

    def operand(self) -> Any:
        tok = self.take()
        if tok.kind == "number":
            text = tok.text
            return float(text[:-1]) / 100 if text.endswith("%") else float(text)
        if tok.kind == "name":
            return _metric(tok.text, self.text)
        raise self.fail(tok, "a number or a metric")


def _metric(name: str, text: str) -> Metric:
    known = metric_names()
    if name in known:
        return Metric(None, name)
    # ATTACK.METRIC: the longest metric that ends the name; the rest names the attack.
    parts = name.split(".")
    for cut in range(1, len(parts)):
        attack, metric = ".".join(parts[:cut]), ".".join(parts[cut:])
        if metric in known:
            return Metric(attack, metric)
    if parts[-1] in STAT_METRICS:
        raise GateError(
            f"metric {name!r} in --fail-on {text!r} needs a statistic: {', '.join(f'{name}.{s}' for s in STATS)}"
        )
    raise GateError(
        f"unknown metric {name!r} in --fail-on {text!r}; accepted: {', '.join(METRICS)}, and "
        f"{', '.join(STAT_METRICS)} with .min, .avg or .max; ATTACK.METRIC for one attack"
    )


def _metrics_of(tree: Any) -> list[Metric]:
    if isinstance(tree, Metric):
        return [tree]
    if isinstance(tree, Compare):
        return [o for o in tree.operands if isinstance(o, Metric)]
    if isinstance(tree, BoolOp):
        return [m for a in tree.args for m in _metrics_of(a)]
    return []


# -- evaluation ----------------------------------------------------------------------------
@dataclass
class GateResult:
    expr: str
    failed: bool
    attacks: list[str]  # the attacks that fail the gate
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # attack -> metric -> value read

    def to_dict(self) -> dict[str, Any]:
        return {"expr": self.expr, "failed": self.failed, "attacks": self.attacks, "values": self.values}


def _lookup(summary: Mapping[str, Any], name: str) -> Any:
    value: Any = summary
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Gate:
    """One parsed ``--fail-on`` expression."""

    text: str
    tree: Any

    @property
    def attacks(self) -> list[str]:
        """The attacks the expression names (``ATTACK.METRIC``)."""
        return list(dict.fromkeys(m.attack for m in _metrics_of(self.tree) if m.attack))

    @property
    def per_attack(self) -> bool:
        """Whether it has metrics without an attack, checked for every attack."""
        return any(m.attack is None for m in _metrics_of(self.tree))

    def check_attacks(self, names: Iterable[str]) -> None:
        """Refuse an attack the scan does not run."""
        names = list(names)
        for attack in self.attacks:
            if attack not in names:
                raise GateError(
                    f"--fail-on {self.text!r} names attack {attack!r}, which this scan does not run; "
                    f"its attacks: {', '.join(names) or 'none'}"
                )

    def evaluate(self, summary: Mapping[str, Mapping[str, Any]]) -> GateResult:
        """Check the gate against a summary by attack (``by_attack``)."""
        values: dict[str, dict[str, Any]] = {}

        def read(m: Metric, current: str | None) -> Any:
            attack = m.attack or current
            v = _lookup(summary.get(attack, {}), m.name) if attack is not None else None
            values.setdefault(str(attack), {})[m.name] = v
            return v

        held: set[str] = set()

        def ev(node: Any, current: str | None) -> bool:
            if isinstance(node, BoolOp):
                results = [ev(a, current) for a in node.args]  # every branch, to know what held
                if node.op == "not":
                    return not results[0]
                return all(results) if node.op == "and" else any(results)
            vals = [read(o, current) if isinstance(o, Metric) else o for o in node.operands]
            ok = all(v is not None for v in vals) and all(
                _OPS[op](vals[k], vals[k + 1]) for k, op in enumerate(node.ops)
            )
            if ok:
                held.update(o.attack for o in node.operands if isinstance(o, Metric) and o.attack)
            return ok

        failing: list[str] = []
        if self.per_attack:
            for attack in summary:
                held.clear()
                if ev(self.tree, attack):
                    failing.append(attack)
        elif ev(self.tree, None):
            failing = [a for a in self.attacks if a in held] or self.attacks
        return GateResult(self.text, bool(failing), failing, values)


def parse_gate(text: str) -> Gate:
    """Parse one expression; raise :class:`GateError` (one line) when it is not valid."""
    return Gate(text.strip(), _Parser(text.strip()).parse())


def evaluate_gates(exprs: Iterable[str], summary: Mapping[str, Mapping[str, Any]]) -> list[GateResult]:
    return [parse_gate(e).evaluate(summary) for e in exprs]
