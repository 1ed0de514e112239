"""LibCST's parse with trusted construction (torchlint/parsing.py): the same trees, and LibCST's
own constructors back in place for every node built afterwards."""

from __future__ import annotations

import pathlib

import libcst as cst
import pytest

from torchlint.parsing import _constructors, _trusted_construction, parse_source

from test_tree import SYNTAX

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEXTS = [("syntax", SYNTAX)] + [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8"))
                                for p in sorted((ROOT / "fixtures").rglob("*.py"))
                                + sorted((ROOT / "torchlint" / "analysis").glob("*.py"))]


@pytest.mark.parametrize("label, text", TEXTS, ids=[label for label, _ in TEXTS])
@pytest.mark.parametrize("fast", [False, True])
def test_a_trusted_parse_builds_the_tree_libcst_builds(label, text, fast):
    with _trusted_construction(fast):
        trusted = cst.parse_module(text)
    plain = cst.parse_module(text)
    assert trusted.code == text
    assert trusted.deep_equals(plain)
    assert parse_source(text, checked=True).deep_equals(plain)


def test_every_public_node_class_gets_a_fast_constructor_and_keeps_its_own(monkeypatch):
    from torchlint import parsing

    monkeypatch.setattr(parsing, "_parsed_chars", parsing.FAST_AFTER_CHARS)  # the parse below swaps them
    classes = [getattr(cst, name) for name in dir(cst)]
    nodes = [kind for kind in classes if isinstance(kind, type) and issubclass(kind, cst.CSTNode)
             and "__init__" in kind.__dict__]
    constructors = _constructors()
    assert nodes and all(kind in constructors for kind in nodes)
    parse_source("x = f(y)\n", checked=True)
    assert all(kind.__init__ is constructors[kind][0] for kind in nodes)


def test_fast_constructors_fill_defaults_as_libcst_does():
    """Defaults and default factories (a fresh whitespace node per node) as the dataclass gives."""
    expected = [cst.Add(), cst.Tuple([]), cst.Name("x"), cst.Arg(cst.Name("y"), keyword=cst.Name("k"))]
    with _trusted_construction():
        built = [cst.Add(), cst.Tuple([]), cst.Name("x"), cst.Arg(cst.Name("y"), keyword=cst.Name("k"))]
        twice = [cst.Add(), cst.Add()]
    assert all(a.deep_equals(b) for a, b in zip(built, expected))
    assert twice[0].whitespace_before is not twice[1].whitespace_before


def test_nodes_built_after_a_trusted_parse_are_validated():
    parse_source("x = [a, b]\n", checked=True)
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")


def test_constructors_are_restored_when_the_parse_fails():
    for fast in (False, True):
        with pytest.raises(cst.ParserSyntaxError), _trusted_construction(fast):
            cst.parse_module("def (:\n")
    assert cst.Name.__init__ is _constructors()[cst.Name][0]
    with pytest.raises(cst.CSTValidationError):
        cst.Name("1x")


def test_the_constructors_compiled_code_is_kept_and_reused(tmp_path, monkeypatch):
    """Compiled once per install (named by its source's digest), loaded by every later process."""
    from torchlint import data_files

    monkeypatch.setattr(data_files, "PARSED", str(tmp_path))
    _constructors.cache_clear()
    try:
        first = _constructors()
        kept = [p.name for p in tmp_path.iterdir()]
        assert len(kept) == 1 and kept[0].startswith("torchlint-constructors-")
        _constructors.cache_clear()
        again = _constructors()  # from the kept code
        assert set(again) == set(first)
        with _trusted_construction():
            assert cst.parse_module("x = f(a, *b, k=1)\n").deep_equals(cst.parse_module("x = f(a, *b, k=1)\n"))
    finally:
        _constructors.cache_clear()


def test_fast_constructors_are_made_only_once_parsing_repays_them(monkeypatch):
    from torchlint import parsing

    _constructors.cache_clear()
    monkeypatch.setattr(parsing, "_parsed_chars", 0)
    parse_source("x = 1\n", checked=True)  # a one-file check: making them would cost more than they save
    assert _constructors.cache_info().currsize == 0
    monkeypatch.setattr(parsing, "_parsed_chars", parsing.FAST_AFTER_CHARS)
    assert parse_source("y = 1\n", checked=True).code == "y = 1\n"  # (another text: not a kept tree)
    assert _constructors.cache_info().currsize == 1


def test_recent_trees_are_reused_and_bounded(monkeypatch):
    """The project model's summary and the lint of one text share a tree; the memory is bounded
    by count and by characters, oldest out first."""
    from torchlint import parsing

    monkeypatch.setattr(parsing, "_recent", parsing.collections.OrderedDict())
    monkeypatch.setattr(parsing, "RECENT_TREES", 3)
    monkeypatch.setattr(parsing, "RECENT_CHARS", 100)
    first = parse_source("a = 1\n", checked=True)
    assert parse_source("a = 1\n") is first  # (checked or not: the same tree)
    texts = [f"b{i} = {i}\n" for i in range(3)]
    trees = [parse_source(text) for text in texts]
    assert list(parsing._recent) == texts and parse_source("a = 1\n") is not first  # the oldest went
    assert parse_source(texts[2]) is trees[2]
    large = "c = [" + "1, " * 27 + "]\n"  # 88 characters: the oldest two go
    parse_source(large)
    assert list(parsing._recent) == [texts[2], large]
    huge = "d = '" + "x" * 200 + "'\n"
    parse_source(huge)
    assert huge not in parsing._recent  # larger than the whole budget: not kept
    cr = "e = 1\r"
    assert parse_source(cr).code == cr and parse_source(cr).code == cr  # the kept tree is the fixed one
