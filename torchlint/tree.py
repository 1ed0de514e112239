"""Walking LibCST trees fast: the syntax children of a node, without tokens and whitespace.

LibCST's own `.children` and `visit` rebuild or re-visit every node, whitespace included, which
costs as much as parsing; the engine's traversal and every walk of the analysis use these instead.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Callable, Dict, FrozenSet, Iterator, List, Tuple, cast

import libcst as cst

# Fields that hold only whitespace, punctuation or operator tokens: no rule looks at them.
_TOKEN_FIELDS = frozenset({
    "lpar", "rpar", "leading_lines", "lines_after_decorators", "header", "footer", "semicolon", "comma",
    "dot", "equal", "colon", "lbrace", "rbrace", "lbracket", "rbracket", "operator", "asynchronous",
    "first_line", "empty_lines", "last_line", "trailing_whitespace", "newline", "default_newline",
    "encoding", "default_indent", "has_trailing_newline", "star", "await_",
})
# Nodes visited before their siblings, so the walk follows source order where fields do not.
_FIELD_ORDER = {
    "FunctionDef": ("decorators", "name", "params", "returns", "body"),
    "ClassDef": ("decorators", "name", "bases", "keywords", "body"),
    "IfExp": ("body", "test", "orelse"),
}
_FIELDS: Dict[type, Tuple[str, ...]] = {}


def child_fields(node_type: type) -> Tuple[str, ...]:
    """The fields of a node class that can hold syntax nodes, in source order: not its tokens,
    and not the ones its annotations say hold only text or flags (`Name.value: str`)."""
    fields = _FIELDS.get(node_type)
    if fields is None:
        names = [f.name for f in dataclasses.fields(node_type)
                 if f.name not in _TOKEN_FIELDS and not f.name.startswith("whitespace") and not _plain(f.type)]
        order = _FIELD_ORDER.get(node_type.__name__, ())
        fields = tuple(n for n in order if n in names) + tuple(n for n in names if n not in order)
        _FIELDS[node_type] = fields
    return fields


def _plain(annotation: object) -> bool:
    """An annotation no node can satisfy: str, bool, int, or a Literal of them."""
    if annotation in (str, bool, int):
        return True
    return getattr(annotation, "__origin__", None) is typing.Literal


def child_nodes(node: cst.CSTNode) -> List[cst.CSTNode]:
    """The syntax children of a node in source order, tokens and whitespace left out."""
    lister = _LISTERS.get(type(node))
    if lister is None:
        lister = children_lister(type(node))
    return lister(node)


def children_lister(node_type: type, backwards: bool = False) -> Callable[[cst.CSTNode], List[cst.CSTNode]]:
    """A function listing the syntax children of nodes of one class (`child_nodes`), in source
    order or, for a walk's stack, backwards. It is generated from the class's fields, one
    attribute read per field: walks list children millions of times, and a loop over field
    names with `getattr` costs twice as much."""
    table = _BACKWARD_LISTERS if backwards else _LISTERS
    lister = table.get(node_type)
    if lister is None:
        fields = child_fields(node_type)
        lines = ["def children(node):", "    found = []"]
        for name in reversed(fields) if backwards else fields:
            lines += [f"    value = node.{name}",
                      "    kind = type(value)",
                      "    if kind in NODES:",
                      "        found.append(value)",
                      "    elif kind is tuple or kind is list:",  # fields of a sequence type hold nodes only
                      f"        found.extend(value{'[::-1]' if backwards else ''})"]
        lines.append("    return found")
        namespace: Dict[str, object] = {"NODES": _nodes()}
        exec("\n".join(lines), namespace)  # noqa: S102  (code built from the class's field names)
        lister = cast(Callable[[cst.CSTNode], List[cst.CSTNode]], namespace["children"])
        table[node_type] = lister
    return lister


_LISTERS: Dict[type, Callable[[cst.CSTNode], List[cst.CSTNode]]] = {}
_BACKWARD_LISTERS: Dict[type, Callable[[cst.CSTNode], List[cst.CSTNode]]] = {}


@functools.lru_cache(maxsize=None)
def _nodes() -> FrozenSet[type]:
    return node_types(cst.CSTNode)


def node_types(*bases: type) -> FrozenSet[type]:
    """Every LibCST node class that is one of `bases` or derives from one: `type(node) in
    node_types(cst.BaseSuite)` answers `isinstance(node, cst.BaseSuite)` without the ABC check
    (LibCST's classes are abstract base classes; a walk asks millions of times)."""
    found = set()
    stack = list(bases)
    while stack:  # the subclass lists, not `issubclass` (an ABC check per class: slow at import)
        kind = stack.pop()
        if kind not in found:
            found.add(kind)
            stack.extend(kind.__subclasses__())
    return frozenset(found)


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every syntax node under `node` (itself included), depth first."""
    stack: List[cst.CSTNode] = [node]
    listers = _BACKWARD_LISTERS
    while stack:
        current = stack.pop()
        yield current
        lister = listers.get(type(current))
        if lister is None:
            lister = children_lister(type(current), backwards=True)
        stack.extend(lister(current))
