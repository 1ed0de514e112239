"""What the code does with a value: used for what it is (returned, compared, given to a loss, a
metric or any other call, collected into a list, accumulated, stored), or not (discarded, printed,
asserted on, only its shape read). A print is its own answer (`PRINTED`): showing the values of
a trained model is an evaluation, of a model just built a smoke test.

A rule that must tell an evaluation from a smoke test asks `use(node, where)`: names are followed
through assignments to their later reads in the same scope (a few hops), and tensor methods and
torch functions applied to the value are still the value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Tuple

import libcst as cst

from torchlint.analysis.scopes import Scope, StatementInfo
from torchlint.tree import child_nodes
from torchlint.syntax import statement_expressions, target_names

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis import ModuleAnalysis, Where

_NAME_HOPS = 4
_SHAPE_ATTRIBUTES = frozenset("shape size dim ndim ndimension dtype device numel is_cuda layout".split())
_NOT_USES = frozenset("len isinstance type id".split())
PRINTED = "printed"
_COLLECTING_METHODS = frozenset("append extend insert add put update".split())


class ValueUses:
    def __init__(self, analysis: "ModuleAnalysis") -> None:
        self.analysis = analysis
        self._parents: Dict[int, Dict[int, cst.CSTNode]] = {}
        self._statements: Optional[Dict[int, List[Tuple[cst.CSTNode, StatementInfo]]]] = None

    def use(self, node: cst.CSTNode, where: "Where") -> Optional[str]:
        """How the value of `node` (an expression of the statement at `where`) is used, or None."""
        return self._use(node, where[1], 0)

    def _use(self, node: cst.CSTNode, stmt: StatementInfo, hops: int) -> Optional[str]:
        """What the statement does with the value of `node`: None for nothing (discarded), a
        shape or print only, an assert; else how the value is used."""
        parents = self._parents.get(id(stmt.node))
        if parents is None:
            parents = self._parents[id(stmt.node)] = _parents(stmt.node)
        while True:
            parent = parents.get(id(node))
            if parent is None or isinstance(parent, (cst.Expr, cst.Assert)):
                return None
            if isinstance(parent, cst.Attribute):
                if parent.attr.value in _SHAPE_ATTRIBUTES:
                    return None
                grand = parents.get(id(parent))
                node = grand if isinstance(grand, cst.Call) and grand.func is parent else parent
                continue
            if isinstance(parent, cst.Arg):
                call = parents.get(id(parent))
                if not isinstance(call, cst.Call):
                    return None
                func = call.func
                if isinstance(func, cst.Name) and func.value in (*_NOT_USES, "print") \
                        and not self.analysis.reaching(func.value, (stmt.scope, stmt)):  # the builtins
                    return PRINTED if func.value == "print" else None
                if isinstance(func, cst.Attribute) and func.attr.value in _COLLECTING_METHODS:
                    return f"collected by `{self._code(func)}`"
                where = (stmt.scope, stmt)
                if self.analysis.loss_call(call, where) is not None:
                    return f"passed to the loss `{self._code(func)}`"
                qualified = self.analysis.qualified_name(func, where)
                if qualified and qualified.startswith("torch."):
                    node = call  # `torch.cat(outputs)`, `F.softmax(out)`: still the output
                    continue
                return f"passed to `{self._code(func)}`"
            if isinstance(parent, (cst.Subscript, cst.SubscriptElement, cst.Index, cst.Slice)):
                if isinstance(parent, cst.Subscript) and parent.value is node:
                    node = parent
                    continue
                return "used as an index"
            if isinstance(parent, cst.Comparison) or isinstance(parent, cst.ComparisonTarget):
                return "compared"
            if isinstance(parent, (cst.Return, cst.Yield)):
                return "returned"
            if isinstance(parent, cst.AugAssign):
                return "accumulated"
            if isinstance(parent, (cst.Assign, cst.AnnAssign, cst.AssignTarget)):
                if isinstance(parent, cst.AssignTarget):
                    return None
                return self._assigned_use(parent, stmt, hops)
            if isinstance(parent, (cst.For, cst.If, cst.While, cst.BooleanOperation)):
                return "tested or iterated"
            if isinstance(parent, cst.WithItem):
                return None
            node = parent  # operations, tuples, comprehensions, parentheses, await: still the output

    def _assigned_use(self, assign: cst.CSTNode, stmt: StatementInfo, hops: int) -> Optional[str]:
        """`out = model(x)`: how the later reads of `out` use it."""
        if isinstance(assign, cst.Assign):
            targets = [t.target for t in assign.targets]
        elif isinstance(assign, cst.AnnAssign):
            targets = [assign.target]
        else:
            return None
        names = [n for t in targets for n in target_names(t)]
        if any(not isinstance(t, (cst.Name, cst.Tuple, cst.List)) for t in targets):
            return "stored"
        if hops >= _NAME_HOPS:
            return None
        printed = False
        for name in names:
            for read, info in self._reads(name, stmt):
                use = self._use(read, info, hops + 1)
                if use == PRINTED:
                    printed = True
                elif use is not None:
                    return use
        return PRINTED if printed else None

    def _reads(self, name: str, stmt: StatementInfo) -> Iterator[Tuple[cst.Name, StatementInfo]]:
        """Reads of `name` that the binding made at `stmt` may reach, in the same scope."""
        scope = stmt.scope
        own = [b for b in scope.bindings.get(name, ()) if b.stmt is stmt]
        if not own:
            return
        for node, info in self._scope_statements(scope):
            if info is stmt:
                continue
            if not (info.seq > stmt.seq or any(stmt.seq in loop and info.seq in loop for loop in stmt.loops)):
                continue
            for read in _names(node, name):
                if any(b is o for b in self.analysis.reaching(name, (scope, info)) for o in own):
                    yield read, info

    def _code(self, node: cst.CSTNode) -> str:
        text = self.analysis.module.code_for_node(node)
        return text if len(text) <= 40 else text[:37] + "..."

    def _scope_statements(self, scope: Scope) -> List[Tuple[cst.CSTNode, StatementInfo]]:
        """The statements of a scope, each part of a `;`-joined line on its own."""
        if self._statements is None:
            self._statements = {}
            small = self.analysis.index.small_statements
            for info in self.analysis.index.statements.values():
                node = info.node
                if node is None:
                    continue
                parts: List[Tuple[cst.CSTNode, StatementInfo]] = [(node, info)]
                if isinstance(node, (cst.SimpleStatementLine, cst.SimpleStatementSuite)) and len(node.body) > 1:
                    parts = [(part, small.get(id(part), info)) for part in node.body]
                self._statements.setdefault(id(info.scope), []).extend(parts)
        return self._statements.get(id(scope), [])




def _names(statement: cst.CSTNode, name: str) -> Iterator[cst.Name]:
    """Occurrences of `name` in a statement's own expressions."""
    stack = list(statement_expressions(statement))
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Lambda, cst.FunctionDef, cst.ClassDef)):
            continue
        if isinstance(node, cst.Name) and node.value == name:
            yield node
        if isinstance(node, cst.Attribute):
            stack.append(node.value)  # `x.name` is not a read of `name`
            continue
        if isinstance(node, cst.Arg):
            stack.append(node.value)
            continue
        stack.extend(child_nodes(node))


def _parents(statement: Optional[cst.CSTNode]) -> Dict[int, cst.CSTNode]:
    """Child id -> parent, inside one statement (not the bodies of compound statements)."""
    parents: Dict[int, cst.CSTNode] = {}
    if statement is None:
        return parents
    stack = [statement]
    while stack:
        node = stack.pop()
        for child in child_nodes(node):
            if isinstance(child, cst.BaseSuite):
                continue
            parents[id(child)] = node
            stack.append(child)
    return parents


