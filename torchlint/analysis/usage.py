"""What the code does with its values: evidence of kind from use, and the call sites of functions.

A value built where the analysis cannot see (`model = build_model(cfg)` from a library, a
parameter of a helper) is still known to be an `nn.Module` when the code treats it as one: its
`.parameters()` go to an optimizer, hooks are registered on it, or it is both called and switched
with `.train()` / `.eval()` / `.load_state_dict()`. Optimizers share `zero_grad`, `state_dict` and
`load_state_dict` with modules but are never called, so those alone are no evidence.

The facts come from one walk over the module, made the first time a rule asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Set, Tuple

import libcst as cst

from torchlint.analysis.scopes import Binding, Scope, StatementInfo
from torchlint.syntax import is_self_attribute
from torchlint.tree import children_lister

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis import ModuleAnalysis, Where

# Methods only nn.Module has: one call is enough evidence.
MODULE_ONLY_USES = frozenset(
    "parameters named_parameters modules named_modules children named_children buffers named_buffers "
    "register_forward_hook register_forward_pre_hook register_full_backward_hook register_backward_hook "
    "register_buffer register_parameter add_module get_submodule".split()
)
# Methods a module shares with other objects: evidence only together with a call of the value.
MODULE_WITH_CALL_USES = frozenset({"train", "eval", "load_state_dict"})
CALLED = "()"


@dataclass
class _Facts:
    """The facts of one walk: uses of bindings and `self` attributes, calls by callee name."""

    uses: Dict[int, Set[str]] = field(default_factory=dict)  # id(binding) -> methods called, CALLED
    attribute_uses: Dict[Tuple[int, str], Set[str]] = field(default_factory=dict)  # (class scope, attr)
    calls: Dict[str, List[Tuple[cst.Call, "Where"]]] = field(default_factory=dict)  # callee name -> calls
    references: Dict[str, int] = field(default_factory=dict)  # name -> uses other than being called or defined


def _is_module_use(uses: Set[str]) -> bool:
    return bool(uses & MODULE_ONLY_USES) or (CALLED in uses and bool(uses & MODULE_WITH_CALL_USES))


class Usage:
    def __init__(self, analysis: "ModuleAnalysis") -> None:
        self.analysis = analysis
        self._facts: Optional[_Facts] = None

    @property
    def facts(self) -> _Facts:
        if self._facts is None:
            self._facts = _collect(self.analysis)
        return self._facts

    def binding_used_as_module(self, binding: Binding) -> bool:
        """The value of this binding is treated as an nn.Module where it reaches."""
        return _is_module_use(self.facts.uses.get(id(binding), set()))

    def attribute_used_as_module(self, class_scope: object, attribute: str) -> bool:
        """`self.<attribute>` is treated as an nn.Module in the class's methods."""
        return _is_module_use(self.facts.attribute_uses.get((id(class_scope), attribute), set()))

    def attribute_called(self, class_scope: object, attribute: str) -> bool:
        """`self.<attribute>(...)` is called, or used as a module, in the class's methods."""
        uses = self.facts.attribute_uses.get((id(class_scope), attribute), set())
        return CALLED in uses or _is_module_use(uses)

    def call_sites(self, name: str) -> Tuple[List[Tuple[cst.Call, "Where"]], int]:
        """The calls `name(...)` in this file and how often the name is used otherwise (passed,
        stored, decorated: then the calls shown are not all the calls)."""
        return self.facts.calls.get(name, []), self.facts.references.get(name, 0)


def _collect(analysis: "ModuleAnalysis") -> _Facts:
    facts = _Facts()
    index = analysis.index
    callees: Set[int] = set()
    start = StatementInfo(0, (), index.module_scope, ())
    # Where the walk enters a statement or a scope: one lookup per node instead of three.
    places: Dict[int, Tuple[Optional[StatementInfo], Optional[Scope]]] = {
        key: (info, None) for key, info in index.small_statements.items()}
    places.update((key, (info, None)) for key, info in index.statements.items())
    for key, scope in index.scopes.items():
        places[key] = (places.get(key, (None, None))[0], scope)
    # The place is kept in two variables; entering a statement or scope pushes the place to
    # restore after its subtree (a tuple: nodes are never tuples), not a place per node.
    scope, statement = index.module_scope, start
    stack: List[object] = [analysis.module]
    pop, push, extend = stack.pop, stack.append, stack.extend
    listers: Dict[type, Callable[[cst.CSTNode], List[cst.CSTNode]]] = {}
    while stack:
        node = pop()
        kind = type(node)  # exact types: isinstance on LibCST's ABC-based classes is slow here
        if kind is tuple:
            scope, statement = node  # type: ignore[misc]
            continue
        place = places.get(id(node))
        if place is not None:
            push((scope, statement))
            entered_statement, entered_scope = place  # a def is both: its scope and its statement
            if entered_scope is not None:
                scope = entered_scope
            if entered_statement is not None:
                statement = entered_statement
        if kind is cst.Call:
            _record_call(analysis, facts, node, (scope, statement))  # type: ignore[arg-type]
            callees.add(id(node.func))  # type: ignore[attr-defined]
        elif kind is cst.Attribute:
            callees.add(id(node.attr))  # type: ignore[attr-defined]  # `torch.save`: not a use of a name `save`
        elif kind is cst.Name:
            if id(node) not in callees:
                facts.references[node.value] = facts.references.get(node.value, 0) + 1  # type: ignore[attr-defined]
            continue  # a name has no syntax children
        elif kind is cst.FunctionDef or kind is cst.ClassDef:
            callees.add(id(node.name))  # type: ignore[attr-defined]
        elif kind is cst.Arg and node.keyword is not None:  # type: ignore[attr-defined]
            callees.add(id(node.keyword))  # type: ignore[attr-defined]
        lister = listers.get(kind)
        if lister is None:
            lister = listers[kind] = children_lister(kind)
        extend(lister(node))  # type: ignore[arg-type]  # (last child first, as the facts were always kept)
    return facts


def _record_call(analysis: "ModuleAnalysis", facts: _Facts, call: cst.Call, where: "Where") -> None:
    func = call.func
    if isinstance(func, cst.Attribute):
        _record_use(analysis, facts, func.value, func.attr.value, where)
    if isinstance(func, cst.Name):
        facts.calls.setdefault(func.value, []).append((call, where))
    _record_use(analysis, facts, func, CALLED, where)


def _record_use(analysis: "ModuleAnalysis", facts: _Facts, value: cst.BaseExpression, use: str, where: "Where") -> None:
    if isinstance(value, cst.Name):
        for binding in analysis.reaching(value.value, where):
            facts.uses.setdefault(id(binding), set()).add(use)
    elif is_self_attribute(value):
        scope = where[0]
        if scope.kind == "function" and scope.parent is not None and scope.parent.kind == "class":
            key = (id(scope.parent), value.attr.value)  # type: ignore[attr-defined]
            facts.attribute_uses.setdefault(key, set()).add(use)
