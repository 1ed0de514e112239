"""Walking LibCST trees fast: the syntax children of a node, without tokens and whitespace.

LibCST's own `.children` and `visit` rebuild or re-visit every node, whitespace included, which
costs as much as parsing; the engine's traversal and every walk of the analysis use these instead.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Dict, FrozenSet, Iterator, List, Tuple

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


_NODE, _SEQUENCE, _OTHER = 1, 2, 3  # all true: `kinds.get(t) or ...` computes a miss only
# What a field value's type is. `isinstance(value, cst.CSTNode)` is an ABC check (slow, and the
# walk makes millions); a dict by concrete type answers the same question once per type.
_VALUE_KINDS: Dict[type, int] = {}


def _value_kind(kind: type) -> int:
    found = _VALUE_KINDS.get(kind)
    if found is None:
        found = _NODE if issubclass(kind, cst.CSTNode) else _SEQUENCE if issubclass(kind, (list, tuple)) else _OTHER
        _VALUE_KINDS[kind] = found
    return found


def child_nodes(node: cst.CSTNode) -> List[cst.CSTNode]:
    """The syntax children of a node in source order, tokens and whitespace left out."""
    children: List[cst.CSTNode] = []
    kinds = _VALUE_KINDS
    for name in child_fields(type(node)):
        value = getattr(node, name)
        kind = kinds.get(type(value)) or _value_kind(type(value))
        if kind == _NODE:
            children.append(value)
        elif kind == _SEQUENCE:
            for item in value:
                if (kinds.get(type(item)) or _value_kind(type(item))) == _NODE:
                    children.append(item)
    return children



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
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(child_nodes(current)))
