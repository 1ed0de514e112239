"""The walks' view of LibCST and CPython trees: generated child listers against a plain reading of
every field, and the references walk against `ast.walk`."""

from __future__ import annotations

import ast
import dataclasses
import pathlib
import textwrap

import libcst as cst
import pytest

from torchlint.engine import parse_source
from torchlint.references import references
from torchlint.tree import child_fields, child_nodes, children_lister, walk

ROOT = pathlib.Path(__file__).resolve().parent.parent
FILES = (sorted((ROOT / "fixtures").rglob("*.py")) + sorted((ROOT / "tests" / "projects").rglob("*.py"))
         + sorted((ROOT / "torchlint" / "analysis").glob("*.py")))
# Syntax the fixtures may lack: every statement and expression form the walks must enter.
SYNTAX = textwrap.dedent('''
    from __future__ import annotations
    import a.b as c, d
    from .e import (f as g, h)
    from . import *
    @decorator(x=1)
    async def fn(p: int, /, q=2, *args: str, r, s: "t" = 3, **kw) -> list[int]:
        global G
        nonlocal_value: dict = {**kw, "k": [v async for v in q if v] or (yield)}
        async with ctx() as (u, w), other:
            await thing
        async for i, *rest in stream:
            del rest[0], i.attr
        try:
            raise E from cause
        except* (E1, E2) as err:
            pass
        else:
            x = lambda y, *, z=0: y if z else -y
        finally:
            assert x, f"{x!r:>{width}} {y=}"
        match command:
            case Point(x=0, y=yy) | [1, 2, *others] | {"k": vv, **more} if yy > 0:
                pass
            case None | True | -1 | 2j | "s" | b.c:
                pass
            case _:
                pass
        while (n := n - 1) > 0:
            continue
        return a @ b ** c // d << e >> f & g | h ^ ~i, not j, k is not l, m not in o
    class K(Base, metaclass=Meta):
        attr: int = 1
        items = [*range(3)][1:2:-1]
        other = {x for x in y}, {k: v for k, v in z.items()}, (x for x in y)
''')


def _plain_children(node: cst.CSTNode):
    """The children as a loop over every field reads them (what the generated listers replace)."""
    found = []
    for name in child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found.extend(item for item in value if isinstance(item, cst.CSTNode))
    return found


def _every_field_node(node: cst.CSTNode):
    """The nodes of every field but tokens and whitespace, the `child_fields` filter left out: no
    field it drops as text or flags (`Name.value: str`) may hold a node."""
    from torchlint.tree import _TOKEN_FIELDS

    found = []
    for field in dataclasses.fields(node):
        if field.name in _TOKEN_FIELDS or field.name.startswith("whitespace"):
            continue
        value = getattr(node, field.name)
        if isinstance(value, cst.CSTNode):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found.extend(item for item in value if isinstance(item, cst.CSTNode))
    return found


def _modules():
    yield "syntax", parse_source(SYNTAX)
    for path in FILES:
        yield path.name, parse_source(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("label, module", list(_modules()), ids=lambda value: value if isinstance(value, str) else "")
def test_generated_listers_list_what_every_field_holds_in_both_orders(label, module):
    count = 0
    for node in walk(module):
        expected = _plain_children(node)
        assert [id(n) for n in child_nodes(node)] == [id(n) for n in expected], type(node).__name__
        assert sorted(map(id, expected)) == sorted(map(id, _every_field_node(node))), type(node).__name__
        assert [id(n) for n in children_lister(type(node), backwards=True)(node)] == [id(n) for n in reversed(expected)]
        count += 1
    assert count >= 1


def test_the_walk_follows_source_order():
    module = parse_source("@dec\ndef f(a=b):\n    return c(d, g if h else i)\n")
    names = [node.value for node in walk(module) if isinstance(node, cst.Name)]
    assert names == ["dec", "f", "a", "b", "c", "d", "g", "h", "i"]


def _ast_references(tree: ast.AST):
    """Identifiers, attributes and depth as `ast.walk` and a recursive depth read them."""
    identifiers, attributes = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            identifiers.add(node.id)
        elif isinstance(node, ast.Attribute):
            attributes.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            identifiers.add(node.name)
        elif isinstance(node, ast.arg):
            identifiers.add(node.arg)
        elif isinstance(node, ast.alias):
            identifiers.update(node.name.split("."))
            if node.asname:
                identifiers.add(node.asname)
    return identifiers, attributes


@pytest.mark.parametrize("path", [None] + FILES, ids=lambda p: "syntax" if p is None else p.name)
def test_the_references_walk_reaches_every_name(path):
    text = SYNTAX if path is None else path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    found = references(tree)
    identifiers, attributes = _ast_references(tree)
    assert attributes == found.evidence.attributes
    assert identifiers <= found.evidence.names
    assert found.depth == _depth(tree)


def _depth(node: ast.AST) -> int:
    """Levels of syntax nodes, as TL003 has always counted them: every child node, the context
    and operator singletons (`Load()`, `Add()`) included, but not below a name or an import."""
    if isinstance(node, (ast.Name, ast.Import, ast.ImportFrom)):
        return 1
    return 1 + max((_depth(child) for child in ast.iter_child_nodes(node)), default=0)


def test_libcsts_sequence_fields_hold_only_nodes():
    """What the generated listers rely on: every sequence field a walk reads is annotated with
    node classes only (a LibCST release that changed this would break the walks loudly here)."""
    import collections.abc
    import dataclasses
    import typing

    from torchlint.tree import node_types

    def flat(annotation):
        if typing.get_origin(annotation) is typing.Union:
            for argument in typing.get_args(annotation):
                yield from flat(argument)
        else:
            yield annotation

    checked = 0
    for kind in node_types(cst.CSTNode):
        if not dataclasses.is_dataclass(kind) or "__init__" not in kind.__dict__:
            continue
        hints = typing.get_type_hints(kind, vars(cst))
        for name in child_fields(kind):
            for annotation in flat(hints[name]):
                if typing.get_origin(annotation) in (collections.abc.Sequence, list, tuple):
                    checked += 1
                    items = [item for argument in typing.get_args(annotation) for item in flat(argument)]
                    assert all(isinstance(item, type) and issubclass(item, cst.CSTNode) for item in items), (
                        kind.__name__, name, annotation)
    assert checked > 50


def test_an_empty_display_counts_its_context_level():
    """TL003's depth: `x = []` is Module > Assign > List > Load, four levels, as before the walk
    skipped the context singletons."""
    assert references(ast.parse("x = []\n")).depth == 4 == _depth(ast.parse("x = []\n"))
    assert references(ast.parse("f(())\n")).depth == 5
