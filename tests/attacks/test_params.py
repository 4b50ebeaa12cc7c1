import pytest
from hypothesis import given
from hypothesis import strategies as st

from feint.attacks.params import Bool, Choice, Float, Indices, Int, Labels, Options, format_indices, parse_indices
from feint.errors import BadValue, UnknownName


def test_float_parses_text_and_checks_range():
    p = Float(0.3, "budget", name="eps", low=0, low_open=True)
    assert p.parse("0.25") == 0.25
    assert p.parse("1e-3") == 0.001
    with pytest.raises(BadValue, match=r"'eps' expects a number in \(0, inf\); got 'banana'"):
        p.parse("banana")
    with pytest.raises(BadValue, match="got '0'"):
        p.parse("0")
    for bad in ("nan", "inf", "__import__('os')"):
        with pytest.raises(BadValue):
            p.parse(bad)


def test_int_bool_choice_labels():
    assert Int(5, "", name="n", low=1).parse("7") == 7
    with pytest.raises(BadValue, match="an integer"):
        Int(5, "", name="n", low=1).parse("7.5")
    with pytest.raises(BadValue, match=r"in \[1, inf\)"):
        Int(5, "", name="n", low=1).parse("0")
    assert Bool(False, "", name="b").parse("yes") is True
    assert Bool(False, "", name="b").parse("off") is False
    with pytest.raises(BadValue):
        Bool(False, "", name="b").parse("maybe")
    c = Choice("inf", "", name="norm", choices=("inf", "2"), aliases={"linf": "inf"})
    assert c.parse("LINF") == "inf"
    with pytest.raises(BadValue, match="one of inf, 2"):
        c.parse("1")
    assert Labels((), "", name="t").parse("3, cat") == (3, "cat")


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("3", (3,)),
        ("0:4", (0, 1, 2, 3)),
        ("1,4,7:9", (1, 4, 7, 8)),
        ("0:10:4", (0, 4, 8)),
        (5, (5,)),
        ([2, 1], (2, 1)),
        (range(2), (0, 1)),
        ("[0:2]", (0, 1)),
        ("range(20)", tuple(range(20))),
        ("range(3, 6)", (3, 4, 5)),
        (" range( 0 ,10, 4 ) ", (0, 4, 8)),
    ],
)
def test_indices(spec, expected):
    assert parse_indices(spec) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "a",
        "-1",
        "5:2",
        "1:",
        ":4",
        "0:4:0",
        True,
        "range()",
        "range(5, 2)",
        "range(-3)",
        "range(0, 4, 0)",
        "range(1, 2, 3, 4)",
        "range(2) + range(3)",
        "range(len('abc'))",
        "__import__('os').getpid()",
    ],
)
def test_bad_indices(bad):
    with pytest.raises(BadValue, match="sample_index"):
        Indices((0,), "", name="sample_index").validate(bad)


def test_range_text_is_read_never_run(monkeypatch):
    import builtins

    def refuse(*args, **kwargs):
        raise AssertionError("index text was run")

    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    assert Indices((0,), "", name="sample_index").parse("range(3, 6)") == (3, 4, 5)


@given(st.integers(0, 200), st.integers(1, 60), st.integers(1, 7))
def test_range_text_matches_pythons_range(start, length, step):
    assert parse_indices(f"range({start}, {start + length}, {step})") == tuple(range(start, start + length, step))


@given(st.lists(st.integers(0, 300), min_size=1, max_size=40, unique=True))
def test_format_indices_round_trips(idx):
    assert parse_indices(format_indices(idx)) == tuple(idx)


def test_options_keep_default_current_previous():
    opts = Options({"eps": Float(0.3, "budget", name="eps", low=0)})
    opts.set("eps", "0.2")
    opts.set("--eps", 0.1)
    assert opts["eps"] == 0.1
    assert opts.previous["eps"] == [0.3, 0.2]
    assert opts.specs["eps"].default == 0.3
    with pytest.raises(UnknownName, match="unknown parameter 'epz'; accepted: eps"):
        opts.set("epz", 1)
    with pytest.raises(BadValue):
        opts.set("eps", "x")
    assert opts["eps"] == 0.1  # a refused value changes nothing
