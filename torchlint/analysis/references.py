"""What a file names, by qualified name, read from CPython's syntax tree before LibCST parses it.

The engine builds CPython's tree anyway (the syntax check), ten times cheaper than LibCST's. From
it, one walk collects every qualified name the file can refer to (`torch.nn.functional.softmax`
for `F.softmax` after `import torch.nn.functional as F`, relative imports resolved as the
analysis resolves them), the keywords passed to each named callable, and every attribute name.
Rules that fire only on named API (the API-table rules TL601-TL604) ask it whether the file can
hold a finding at all; when no rule can, the file is never parsed by LibCST.

It over-approximates what `ModuleAnalysis.qualified_name` answers: a name counts with every
import that binds it anywhere in the file (flow and scopes ignored), and in a file with a star
import every free name also counts under each starred module. So a rule that says "no" here
would have found nothing in the LibCST pass either.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, List, Optional, Set, Tuple

from torchlint.analysis.torch_api import canonical

RelativeResolver = Callable[[int, Optional[str]], Optional[str]]


@dataclass(frozen=True)
class References:
    """The qualified names a file may refer to, the keywords of its calls of named callables
    (`(callee, keywords)` for calls that pass keywords), and every `.attribute` it accesses."""

    names: FrozenSet[str]
    calls: Tuple[Tuple[str, FrozenSet[str]], ...]
    attributes: FrozenSet[str]
    depth: int = 0  # of the tree (the module is 1): the engine's TL003 limit, measured on the way


def references(tree: ast.AST, relative: Optional[RelativeResolver] = None) -> References:
    """One walk of `tree` (an explicit stack: deep expressions need no recursion)."""
    imports: Dict[str, Set[str]] = {}  # local name -> qualified names an import binds it to
    stars: List[str] = []
    modules: Set[str] = set()  # imported module paths and their prefixes
    names: List[str] = []  # free-standing Name ids, in any context
    chains: List[Tuple[str, str]] = []  # (root Name id, ".a.b" attribute path) of each Attribute
    calls: List[Tuple[ast.expr, FrozenSet[str]]] = []
    attributes: Set[str] = set()
    stack: List[Tuple[ast.AST, int]] = [(tree, 1)]
    pop, push = stack.pop, stack.append
    Name, Attribute, Call, Import, ImportFrom = ast.Name, ast.Attribute, ast.Call, ast.Import, ast.ImportFrom
    AST = ast.AST
    deepest = 0
    while stack:
        node, depth = pop()
        if depth > deepest:
            deepest = depth
        kind = type(node)
        if kind is Name:
            names.append(node.id)  # type: ignore[attr-defined]
            continue
        if kind is Attribute:
            attributes.add(node.attr)  # type: ignore[attr-defined]
            chain = _chain(node)  # type: ignore[arg-type]
            if chain is not None:
                chains.append(chain)
        elif kind is Call:
            keywords = frozenset(k.arg for k in node.keywords if k.arg is not None)  # type: ignore[attr-defined]
            if keywords:
                calls.append((node.func, keywords))  # type: ignore[attr-defined]
        elif kind is Import:
            for alias in node.names:  # type: ignore[attr-defined]
                _add_prefixes(modules, alias.name)
                local = alias.asname or alias.name.split(".")[0]
                imports.setdefault(local, set()).add(alias.name if alias.asname else local)
            continue
        elif kind is ImportFrom:
            base = node.module  # type: ignore[attr-defined]
            if node.level:  # type: ignore[attr-defined]
                base = relative(node.level, base) if relative is not None else None  # type: ignore[attr-defined]
            if base:
                _add_prefixes(modules, base)
                for alias in node.names:  # type: ignore[attr-defined]
                    if alias.name == "*":
                        stars.append(base)
                    else:
                        imports.setdefault(alias.asname or alias.name, set()).add(f"{base}.{alias.name}")
            continue
        depth += 1
        for field in getattr(kind, "_fields", ()):
            value = getattr(node, field, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, AST):  # (lists may hold strings and None)
                        push((item, depth))
            elif isinstance(value, AST):
                push((value, depth))
    found: Set[str] = set(modules)
    for bound in imports.values():
        found.update(bound)
    free = set(names) - imports.keys()
    for root, path in chains:
        for qualified in _qualified(root, imports, stars, free):
            found.add(qualified + path)
    for star in stars:  # `from torch.nn import *` then `Relu`: the starred module's name, maybe
        found.update(f"{star}.{name}" for name in free)
    call_names = tuple((name, keywords) for func, keywords in calls for name in _callee(func, imports, stars, free))
    canonical_names = frozenset(canonical(name) for name in found)
    return References(canonical_names, tuple((canonical(n), k) for n, k in call_names), frozenset(attributes),
                      deepest)


def _chain(node: ast.Attribute) -> Optional[Tuple[str, str]]:
    """`F.nn.softmax` -> ("F", ".nn.softmax"); None when the chain does not start at a name."""
    parts: List[str] = []
    current: ast.expr = node
    while type(current) is ast.Attribute:
        parts.append(current.attr)  # type: ignore[attr-defined]
        current = current.value  # type: ignore[attr-defined]
    if type(current) is not ast.Name:
        return None
    return current.id, "." + ".".join(reversed(parts))  # type: ignore[attr-defined]


def _qualified(root: str, imports: Dict[str, Set[str]], stars: List[str], free: Set[str]) -> List[str]:
    bound = imports.get(root)
    if bound:
        return list(bound)
    if stars and root in free:
        return [f"{star}.{root}" for star in stars]
    return []


def _callee(func: ast.expr, imports: Dict[str, Set[str]], stars: List[str], free: Set[str]) -> List[str]:
    if type(func) is ast.Name:
        return _qualified(func.id, imports, stars, free)  # type: ignore[attr-defined]
    if type(func) is ast.Attribute:
        chain = _chain(func)  # type: ignore[arg-type]
        if chain is not None:
            return [qualified + chain[1] for qualified in _qualified(chain[0], imports, stars, free)]
    return []


def _add_prefixes(into: Set[str], dotted: str) -> None:
    parts = dotted.split(".")
    for end in range(1, len(parts) + 1):
        into.add(".".join(parts[:end]))
