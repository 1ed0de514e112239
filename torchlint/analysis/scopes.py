"""Scopes and bindings from one light walk over the statements of a module.

Why our own: LibCST's ScopeProvider/QualifiedNameProvider cost about ten times the parse. This walk
visits statements only (not every expression), numbers them in source order, and records for each
scope which names each statement binds and to what expression. That is enough to answer "which
assignments can reach this use?" conservatively: rules fire only when every reaching value agrees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import libcst as cst
from torchlint.tree import child_nodes
from torchlint.syntax import dotted_name, target_names

# A block is the body of a branch: (id of the compound statement, which part). A binding made in
# block chain B dominates a statement in chain S when B is a prefix of S (no branch in between).
Block = Tuple[int, str]


# Resolves a relative import (level, module) to an absolute module name, for files of a package.
RelativeResolver = Callable[[int, Optional[str]], Optional[str]]


@dataclass
class StatementInfo:
    """Where a statement is: its order, the branches and loops around it, its scope."""

    seq: float  # source order; the k-th statement of a `a = 1; b = a` line is seq + k / 1000
    blocks: Tuple[Block, ...]
    scope: "Scope"
    loops: Tuple["LoopRange", ...]  # the enclosing loop bodies in this scope, outermost first
    enclosing: Tuple[cst.CSTNode, ...] = ()  # compound statements around it in this scope, outermost first
    node: Optional[cst.CSTNode] = None  # the statement itself
    listed: bool = False  # it sits in a statement list, so statements can be inserted before it


@dataclass
class LoopRange:
    """Statement numbers of one loop body; `last` is set once the body has been walked."""

    first: float
    last: float = -1

    def __contains__(self, seq: float) -> bool:
        return self.first <= seq <= self.last


@dataclass
class Binding:
    """One statement that binds a name in a scope, and with what."""

    name: str
    kind: str  # assign, annassign, augassign, param, import, for, with, def, class, unknown
    stmt: StatementInfo
    value: Optional[cst.BaseExpression] = None
    qualified: Optional[str] = None  # imports: the qualified name bound
    annotation: Optional[cst.BaseExpression] = None
    node: Optional[cst.CSTNode] = None  # def/class: the definition
    unpack: Tuple[int, ...] = ()  # `a, (b, c) = value`: the element path of this name in value


@dataclass
class Scope:
    """A module, function or class body: its bindings, returns and `self.x` assignments."""

    kind: str  # module, function, class
    node: cst.CSTNode
    parent: Optional["Scope"]
    bindings: Dict[str, List[Binding]] = field(default_factory=dict)
    global_names: set = field(default_factory=set)
    returns: List[Tuple[Optional[cst.BaseExpression], "StatementInfo"]] = field(default_factory=list)
    attributes: Dict[str, List[Binding]] = field(default_factory=dict)  # class scopes: `self.x = ...`
    is_generator: bool = False
    star_imports: List[str] = field(default_factory=list)  # `from models import *`: the modules

    def add(self, binding: Binding) -> None:
        self.bindings.setdefault(binding.name, []).append(binding)

    def enclosing_for_lookup(self) -> Optional["Scope"]:
        """Python skips class scopes when a function looks up a free name."""
        scope = self.parent
        while scope is not None and scope.kind == "class":
            scope = scope.parent
        return scope


class ScopeIndex:
    """Statement numbering and bindings for one module, built by `build`."""

    def __init__(self, module: cst.Module, relative: Optional[RelativeResolver] = None) -> None:
        self.statements: Dict[int, StatementInfo] = {}
        # The later small statements of a `;`-joined line, each with its own place in the order.
        self.small_statements: Dict[int, StatementInfo] = {}
        self.scopes: Dict[int, Scope] = {}
        self._relative = relative
        self.module_scope = Scope("module", module, None)
        self.scopes[id(module)] = self.module_scope
        self._seq = 0
        self._enclosing: List[cst.CSTNode] = []
        self._walk_body(module.body, self.module_scope, (), ())

    def release(self) -> None:
        """Break the cycles between scopes and what they hold (a binding's statement names its
        scope): the index is then freed by reference counting (see `ModuleAnalysis.release`)."""
        for scope in self.scopes.values():
            scope.bindings.clear()
            scope.attributes.clear()
            scope.returns.clear()

    # ----------------------------------------------------------------- walking statements
    def _info(self, stmt: cst.CSTNode, scope: Scope, blocks, loops, listed: bool) -> StatementInfo:
        self._seq += 1
        info = StatementInfo(self._seq, blocks, scope, loops, tuple(self._enclosing), stmt, listed)
        self.statements[id(stmt)] = info
        return info

    def _walk_body(self, body, scope: Scope, blocks, loops) -> None:
        listed = not isinstance(body, cst.SimpleStatementSuite)
        for stmt in _statements(body):
            self._walk_statement(stmt, scope, blocks, loops, listed)

    def _walk_statement(self, stmt, scope: Scope, blocks, loops, listed: bool = True) -> None:
        info = self._info(stmt, scope, blocks, loops, listed)
        if isinstance(stmt, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for position, small in enumerate(stmt.body):
                small_info = info
                if position:
                    small_info = StatementInfo(info.seq + position / 1000, blocks, scope, loops, info.enclosing,
                                               stmt, listed)
                    self.small_statements[id(small)] = small_info
                self._bind_small(small, scope, small_info)
        elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            outer, self._enclosing = self._enclosing, []
            self._walk_definition(stmt, scope, info)
            self._enclosing = outer
        else:
            self._enclosing.append(stmt)
            self._walk_compound(stmt, scope, info, blocks, loops)
            self._enclosing.pop()

    def _walk_definition(self, stmt, scope: Scope, info: StatementInfo) -> None:
        if isinstance(stmt, cst.FunctionDef):
            scope.add(Binding(stmt.name.value, "def", info, node=stmt))
            inner = Scope("function", stmt, scope)
            self.scopes[id(stmt)] = inner
            start = StatementInfo(info.seq, (), inner, ())
            for param in _parameters(stmt.params):
                inner.add(Binding(param.name.value, "param", start, value=None,
                                  annotation=param.annotation.annotation if param.annotation else None,
                                  node=param))
            self._walk_body(stmt.body, inner, (), ())
        else:
            scope.add(Binding(stmt.name.value, "class", info, node=stmt))
            inner = Scope("class", stmt, scope)
            self.scopes[id(stmt)] = inner
            self._walk_body(stmt.body, inner, (), ())

    def _walk_compound(self, stmt, scope: Scope, info: StatementInfo, blocks, loops) -> None:
        if isinstance(stmt, (cst.For, cst.While)):
            if isinstance(stmt, cst.For):
                self._bind_target(stmt.target, None, "for", scope, info)
            loop = LoopRange(self._seq + 1)
            self._walk_body(stmt.body, scope, blocks + ((id(stmt), "body"),), loops + (loop,))
            loop.last = self._seq + 0.999  # the `;`-joined statements of its last line too
            if stmt.orelse is not None:
                self._walk_body(stmt.orelse.body, scope, blocks + ((id(stmt), "else"),), loops)
        elif isinstance(stmt, cst.If):
            self._walk_body(stmt.body, scope, blocks + ((id(stmt), "body"),), loops)
            if stmt.orelse is not None:
                # An elif is an If nested in the else branch: walking it as a statement numbers it too.
                branch = blocks + ((id(stmt), "else"),)
                if isinstance(stmt.orelse, cst.If):
                    self._walk_statement(stmt.orelse, scope, branch, loops, listed=False)
                else:
                    self._walk_body(stmt.orelse.body, scope, branch, loops)
        elif isinstance(stmt, (cst.With,)):
            for item in stmt.items:
                if item.asname is not None:
                    self._bind_target(item.asname.name, None, "with", scope, info)
            self._walk_body(stmt.body, scope, blocks, loops)
        elif isinstance(stmt, (cst.Try, cst.TryStar)):
            self._walk_body(stmt.body, scope, blocks + ((id(stmt), "body"),), loops)
            handlers: Sequence[Union[cst.ExceptHandler, cst.ExceptStarHandler]] = stmt.handlers
            for index, handler in enumerate(handlers):
                branch = blocks + ((id(stmt), f"handler{index}"),)
                if handler.name is not None:
                    self._bind_target(handler.name.name, None, "unknown", scope, info)
                self._walk_body(handler.body, scope, branch, loops)
            if stmt.orelse is not None:
                self._walk_body(stmt.orelse.body, scope, blocks + ((id(stmt), "else"),), loops)
            if stmt.finalbody is not None:
                self._walk_body(stmt.finalbody.body, scope, blocks, loops)
        elif isinstance(stmt, cst.Match):
            for index, case in enumerate(stmt.cases):
                for name in _pattern_names(case.pattern):
                    scope.add(Binding(name, "unknown", info))
                self._walk_body(case.body, scope, blocks + ((id(stmt), f"case{index}"),), loops)

    def _bind_small(self, small, scope: Scope, info: StatementInfo) -> None:
        kind = type(small)  # exact types: LibCST's ABC isinstance checks are slow here
        if kind is cst.Assign:
            if isinstance(small.value, cst.Yield):
                scope.is_generator = True
            for target in small.targets:
                self._bind_self_attribute(target.target, small.value, scope, info)
                self._bind_target(target.target, small.value, "assign", scope, info)
        elif kind is cst.AnnAssign:
            if isinstance(small.target, cst.Name):
                scope.add(Binding(small.target.value, "annassign", info, value=small.value,
                                  annotation=small.annotation.annotation))
        elif kind is cst.AugAssign:
            if isinstance(small.target, cst.Name):
                scope.add(Binding(small.target.value, "augassign", info, value=None, node=small))
        elif kind is cst.Import:
            for alias in small.names:
                dotted = (dotted_name(alias.name) or "")
                if alias.asname is not None:
                    local = alias.asname.name.value  # type: ignore[union-attr]
                    scope.add(Binding(local, "import", info, qualified=dotted))
                else:
                    top = dotted.split(".")[0]
                    scope.add(Binding(top, "import", info, qualified=top))
        elif kind is cst.ImportFrom:
            module = dotted_name(small.module) if small.module is not None else None
            if small.relative:
                base = self._relative(len(small.relative), module) if self._relative else None
            else:
                base = module
            if isinstance(small.names, cst.ImportStar):
                if base:
                    scope.star_imports.append(base)
                return
            for alias in small.names:
                name = (dotted_name(alias.name) or "")
                local = alias.asname.name.value if alias.asname is not None else name  # type: ignore[union-attr]
                qualified = f"{base}.{name}" if base else None
                scope.add(Binding(local, "import" if qualified else "unknown", info, qualified=qualified))
        elif kind is cst.Return:
            scope.returns.append((small.value, info))
        elif kind is cst.Expr and isinstance(small.value, cst.Yield):
            scope.is_generator = True
        elif (kind is cst.Global or kind is cst.Nonlocal):
            for item in small.names:
                scope.global_names.add(item.name.value)
        elif kind is cst.Del:
            for name in target_names(small.target):
                scope.add(Binding(name, "unknown", info))

    def _bind_self_attribute(self, target, value, scope: Scope, info: StatementInfo) -> None:
        """`self.fc = nn.Linear(...)` in a method: remember it on the class for `self.fc` lookups."""
        if (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)
                and target.value.value == "self" and scope.kind == "function"
                and scope.parent is not None and scope.parent.kind == "class"):
            scope.parent.attributes.setdefault(target.attr.value, []).append(
                Binding(target.attr.value, "assign", info, value=value))

    def _bind_target(self, target, value, kind, scope: Scope, info: StatementInfo, path=()) -> None:
        if isinstance(target, cst.Name):
            if path and value is not None:
                kind = "unpack"
            scope.add(Binding(target.value, kind, info, value=value, unpack=path))
        elif isinstance(target, (cst.Tuple, cst.List)):
            starred = any(isinstance(e, cst.StarredElement) for e in target.elements)
            for index, element in enumerate(target.elements):
                if starred:  # `a, *rest = x`: positions after the star are not known
                    self._bind_target(element.value, None, "unknown", scope, info)
                else:
                    self._bind_target(element.value, value, kind, scope, info, path + (index,))
        # Attribute and subscript targets bind no local name.


def _statements(body) -> Iterator[cst.CSTNode]:
    if isinstance(body, cst.SimpleStatementSuite):
        # `if x: a = 1` puts small statements on the header line: the suite is one statement.
        yield body
        return
    if isinstance(body, cst.IndentedBlock):
        yield from body.body
        return
    yield from body


def _parameters(params: cst.Parameters) -> Iterator[cst.Param]:
    yield from params.posonly_params
    yield from params.params
    if isinstance(params.star_arg, cst.Param):
        yield params.star_arg
    yield from params.kwonly_params
    if params.star_kwarg is not None:
        yield params.star_kwarg


def _pattern_names(pattern) -> Iterator[str]:
    for node in _walk(pattern):
        if isinstance(node, cst.MatchAs) and node.name is not None:
            yield node.name.value
        elif isinstance(node, cst.MatchStar) and node.name is not None:
            yield node.name.value


def _walk(node) -> Iterator[cst.CSTNode]:
    yield node
    for child in child_nodes(node):
        yield from _walk(child)
