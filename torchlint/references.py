"""What a file names, read from CPython's syntax tree before LibCST parses it (LibCST-free).

The engine builds CPython's tree anyway (the syntax check), ten times cheaper than LibCST's. One
walk of it gives what decides which rules run:
- the identifiers of the code, its `.attribute` names and the names in its imports: the evidence
  that rules' `triggers` ask for (torchlint/triggers.py), exactly, with no comment or string in it;
- every qualified name the file can refer to (`torch.nn.functional.softmax` for `F.softmax` after
  `import torch.nn.functional as F`, relative imports resolved as the analysis resolves them) and
  the keywords passed to each named callable, for the rules that fire only on named API (the
  API-table rules TL601-TL604: `Rule.could_fire`);
- the tree's depth, for the engine's TL003 limit;
- the loops, whose attribute names a rule about training loops can ask (on first use).

The qualified names over-approximate what `ModuleAnalysis.qualified_name` answers: a name counts
with every import that binds it anywhere in the file (flow and scopes ignored), and in a file with
a star import every free name also counts under each starred module. So a rule that says "no"
here would have found nothing in the LibCST pass either. They are computed on first use only.
"""

from __future__ import annotations

import ast
from typing import Callable, Dict, FrozenSet, List, Optional, Set, Tuple

from torchlint.triggers import Evidence

RelativeResolver = Callable[[int, Optional[str]], Optional[str]]

# Fields holding identifiers (a string, None, or a list of strings) of nodes that bind or name.
_NAMING_FIELDS: Dict[type, str] = {
    ast.FunctionDef: "name", ast.AsyncFunctionDef: "name", ast.ClassDef: "name", ast.arg: "arg",
    ast.keyword: "arg", ast.ExceptHandler: "name", ast.Global: "names", ast.Nonlocal: "names",
    ast.MatchAs: "name", ast.MatchStar: "name", ast.MatchMapping: "rest", ast.MatchClass: "kwd_attrs",
}


# Fields that never hold a syntax node: identifiers, flags, numbers, and the context and operator
# singletons (`Load()`, `Add()`), which carry nothing a rule asks about. (The context of a list or
# tuple display is read: an empty `[]` is one level deeper by it, and TL003's depth counts it.)
_NOT_CHILDREN = frozenset({"ctx", "op", "ops", "id", "attr", "arg", "name", "asname", "module", "level",
                           "kind", "type_comment", "conversion", "is_async", "rest", "kwd_attrs", "tag",
                           "lineno", "simple"})
_LEAVES = (ast.Constant, ast.MatchSingleton, ast.Global, ast.Nonlocal)  # `value` / `names`: not nodes
_DISPLAYS = (ast.List, ast.Tuple)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_CHILD_FIELDS: Dict[type, Tuple[str, ...]] = {}


def _child_fields(kind: type) -> Tuple[str, ...]:
    """The fields of a syntax node class that may hold nodes (or lists of them)."""
    if not issubclass(kind, ast.AST):
        raise TypeError(f"not a syntax node: {kind.__name__}")
    if issubclass(kind, _LEAVES):
        fields: Tuple[str, ...] = ()
    else:  # `type X = ...` (3.12): TypeAlias.name is a Name node; every other `name` is a string
        fields = tuple(f for f in kind._fields if f not in _NOT_CHILDREN
                       or (f == "name" and kind.__name__ == "TypeAlias") or (f == "ctx" and kind in _DISPLAYS))
    _CHILD_FIELDS[kind] = fields
    return fields


class References:
    """What one walk of a file's tree found (see the module's docstring)."""

    def __init__(self, identifiers: Set[str], attributes: Set[str], imported: Set[str], depth: int,
                 imports: Dict[str, Set[str]], from_imports: List[ast.ImportFrom], modules: Set[str],
                 names: List[str], chains: List[Tuple[str, str]], calls: List[Tuple[ast.expr, FrozenSet[str]]],
                 loops: List[ast.AST]) -> None:
        self.attributes = frozenset(attributes)
        self.depth = depth  # the module is 1
        self.evidence = Evidence(frozenset(identifiers), self.attributes, frozenset(imported))
        self._imports = imports  # `import a.b as c`: local name -> qualified names
        self._from_imports = from_imports  # resolved on first use (relative ones need the resolver)
        self._modules = modules
        self._plain_names = names
        self._chains, self._call_funcs = chains, calls
        self._relative: Optional[RelativeResolver] = None
        self.extra: FrozenSet[str] = frozenset()  # evidence the engine adds, not in the code (`%time`)
        self._stars: List[str] = []
        self._free: Set[str] = set()
        self._bound = False
        self._names: Optional[FrozenSet[str]] = None
        self._calls: Optional[Tuple[Tuple[str, FrozenSet[str]], ...]] = None
        self._loops: List[ast.AST] = loops
        self._loop_attributes: Optional[Tuple[FrozenSet[str], ...]] = None

    def resolve_relative(self, relative: Optional[RelativeResolver]) -> "References":
        """How relative imports resolve (`from .models import Net`), as the analysis resolves them
        for this file: set before the qualified names are first read."""
        self._relative = relative
        return self

    def with_extra(self, extra: Tuple[str, ...]) -> "References":
        """The evidence the engine adds for this run, not in the code (a notebook's `%time`)."""
        self.extra = frozenset(extra)
        return self

    @property
    def names(self) -> FrozenSet[str]:
        """Every qualified name the file may refer to (canonical, as the analysis gives them)."""
        if self._names is None:
            from torchlint.analysis.torch_api import canonical

            self._bind()
            found: Set[str] = set(self._modules)
            for bound in self._imports.values():
                found.update(bound)
            for root, path in self._chains:
                for qualified in self._qualified(root):
                    found.add(qualified + path)
            for star in self._stars:  # `from torch.nn import *` then `Relu`: the starred module's name, maybe
                found.update(f"{star}.{name}" for name in self._free)
            self._names = frozenset(canonical(name) for name in found)
        return self._names

    @property
    def calls(self) -> Tuple[Tuple[str, FrozenSet[str]], ...]:
        """(qualified callee, keywords passed) for each call that passes keywords to a named callable."""
        if self._calls is None:
            from torchlint.analysis.torch_api import canonical

            self._bind()
            self._calls = tuple((canonical(name), keywords) for func, keywords in self._call_funcs
                                for name in self._callee(func))
        return self._calls

    def loop_attributes(self) -> Tuple[FrozenSet[str], ...]:
        """For each `for` / `while` loop, the attribute names used anywhere in it (its body,
        nested loops, functions and lambdas defined in it): computed on first use."""
        if self._loop_attributes is None:
            index = {id(loop): position for position, loop in enumerate(self._loops)}
            found: List[Set[str]] = [set() for _ in self._loops]
            inner: Set[int] = set()  # loops met inside another: walked with it
            for loop in self._loops:  # (outer loops come before the loops inside them)
                if id(loop) in inner:
                    continue
                stack: List[Tuple[ast.AST, Tuple[int, ...]]] = [(loop, (index[id(loop)],))]
                while stack:
                    node, around = stack.pop()
                    kind = type(node)
                    if kind is ast.Attribute:
                        for position in around:
                            found[position].add(node.attr)  # type: ignore[attr-defined]
                    elif node is not loop and id(node) in index:
                        inner.add(id(node))
                        around = around + (index[id(node)],)
                    stack.extend((child, around) for child in _children(node))
            self._loop_attributes = tuple(frozenset(used) for used in found)
        return self._loop_attributes

    def _bind(self) -> None:
        """The names `from` imports bind, relative ones resolved, and the free names (once)."""
        if self._bound:
            return
        self._bound = True
        imports = {name: set(bound) for name, bound in self._imports.items()}
        for node in self._from_imports:
            base = node.module
            if node.level:
                base = self._relative(node.level, base) if self._relative is not None else None
            if not base:
                continue
            _add_prefixes(self._modules, base)
            for alias in node.names:
                if alias.name == "*":
                    self._stars.append(base)
                else:
                    imports.setdefault(alias.asname or alias.name, set()).add(f"{base}.{alias.name}")
        self._imports = imports
        self._free = set(self._plain_names) - imports.keys()

    def _qualified(self, root: str) -> List[str]:
        bound = self._imports.get(root)
        if bound:
            return list(bound)
        if self._stars and root in self._free:
            return [f"{star}.{root}" for star in self._stars]
        return []

    def _callee(self, func: ast.expr) -> List[str]:
        if type(func) is ast.Name:
            return self._qualified(func.id)  # type: ignore[attr-defined]
        if type(func) is ast.Attribute:
            chain = _chain(func)  # type: ignore[arg-type]
            if chain is not None:
                return [qualified + chain[1] for qualified in self._qualified(chain[0])]
        return []


def references(tree: ast.AST) -> References:
    """One walk of `tree` (an explicit stack: deep expressions need no recursion)."""
    imports: Dict[str, Set[str]] = {}  # local name -> qualified names an `import` binds it to
    from_imports: List[ast.ImportFrom] = []
    modules: Set[str] = set()  # imported module paths and their prefixes
    names: List[str] = []  # Name ids, in any context
    chains: List[Tuple[str, str]] = []  # (root Name id, ".a.b" attribute path) of each Attribute
    calls: List[Tuple[ast.expr, FrozenSet[str]]] = []
    attributes: Set[str] = set()
    identifiers: Set[str] = set()  # the other identifiers: definitions, parameters, keywords, ...
    imported: Set[str] = set()  # the identifiers of import statements
    loops: List[ast.AST] = []
    loop_kinds = _LOOPS
    stack: List[Tuple[ast.AST, int]] = [(tree, 1)]
    pop, push = stack.pop, stack.append
    Name, Attribute, Call, Import, ImportFrom = ast.Name, ast.Attribute, ast.Call, ast.Import, ast.ImportFrom
    naming = _NAMING_FIELDS
    child_fields = _CHILD_FIELDS
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
                imported.update(alias.name.split("."))
                if alias.asname:
                    imported.add(alias.asname)
                local = alias.asname or alias.name.split(".")[0]
                imports.setdefault(local, set()).add(alias.name if alias.asname else local)
            continue
        elif kind is ImportFrom:
            from_imports.append(node)  # type: ignore[arg-type]
            if node.module:  # type: ignore[attr-defined]
                imported.update(node.module.split("."))  # type: ignore[attr-defined]
            for alias in node.names:  # type: ignore[attr-defined]
                imported.add(alias.name)
                if alias.asname:
                    imported.add(alias.asname)
            continue
        else:
            if kind in loop_kinds:
                loops.append(node)
            field = naming.get(kind)
            if field is not None:
                value = getattr(node, field, None)
                if type(value) is str:
                    identifiers.add(value)
                elif type(value) is list:
                    identifiers.update(value)
        depth += 1
        fields = child_fields.get(kind)
        if fields is None:
            fields = _child_fields(kind)
        for field in fields:
            value = getattr(node, field)
            if type(value) is list:
                for item in value:
                    if item is not None:  # `{**d}`: Dict.keys holds None
                        push((item, depth))
            elif value is not None and type(value) is not str:  # (3.14's `Interpolation.str` holds text)
                push((value, depth))
    identifiers.update(names)
    identifiers.update(attributes)
    identifiers.update(imported)
    return References(identifiers, attributes, imported, deepest, imports, from_imports, modules, names, chains,
                      calls, loops)


def _children(node: ast.AST) -> List[ast.AST]:
    """The syntax nodes right under `node`, as `references` walks them."""
    found: List[ast.AST] = []
    for name in _CHILD_FIELDS.get(type(node)) or _child_fields(type(node)):
        value = getattr(node, name)
        if type(value) is list:
            found.extend(item for item in value if item is not None)
        elif value is not None and type(value) is not str:
            found.append(value)
    return found


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


def _add_prefixes(into: Set[str], dotted: str) -> None:
    parts = dotted.split(".")
    for end in range(1, len(parts) + 1):
        into.add(".".join(parts[:end]))
