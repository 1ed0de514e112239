"""What a training step does to parameter gradients: computes them, applies them, clears them.

`loss.backward()` adds to each parameter's `.grad`; `optimizer.step()` applies what `.grad`
holds; `optimizer.zero_grad()` (or `model.zero_grad()`, `p.grad = None`) clears it. The
questions here are asked of one call or one assignment:
- `stepped(call)`: the optimizer a call steps (`opt.step()`, `scaler.step(opt)` of AMP), with
  evidence that it is one (built by a `torch.optim` class); None for any other call;
- `backpropagates(call)`: a `.backward()` call on a value that is no module or optimizer;
- `may_clear(call)` / `clears_by_assignment(statement)`: the call or assignment clears
  gradients, or may: `zero_grad` named at all (called, or handed on as a callback), an
  in-place change of a `.grad` (`p.grad.zero_()`), a function of this file whose body may
  (followed a few calls deep), or a call this file does not show that is handed a module or
  an optimizer (a helper, a trainer's method: it may clear them). Calls that are known not to
  clear (torch's own, builtins, calling a model, a module's or optimizer's other methods, a
  tensor's methods) do not.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Dict, Iterator, Optional, Set, cast

import libcst as cst

from torchlint.syntax import is_self_attribute
from torchlint.tree import walk

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis import ModuleAnalysis, Where
    from torchlint.analysis.scopes import StatementInfo

CLEARING = "zero_grad"
_BUILTINS = frozenset(dir(builtins))
_DEPTH = 3  # calls followed into functions of this file


class GradientFacts:
    def __init__(self, analysis: "ModuleAnalysis") -> None:
        self.analysis = analysis
        self._functions: Dict[int, bool] = {}  # function -> may a call clear (when not cut short)
        self._open: Set[int] = set()  # functions being followed
        self._truncated = False  # the answer being computed was cut short somewhere

    def stepped(self, call: cst.Call, where: Optional["Where"] = None) -> Optional[cst.BaseExpression]:
        """The optimizer `call` steps: `opt.step()` (no closure), `scaler.step(opt)`."""
        func = call.func
        if not isinstance(func, cst.Attribute) or func.attr.value != "step":
            return None
        if not call.args and self._is_optimizer(func.value, where):
            return func.value
        if len(call.args) == 1 and call.args[0].keyword is None and not call.args[0].star:
            stepped = call.args[0].value
            if self._is_optimizer(stepped, where) and not self._is_optimizer(func.value, where):
                return stepped  # `scaler.step(optimizer)` (a closure passed to `opt.step` is no optimizer)
        return None

    def backpropagates(self, call: cst.Call, where: Optional["Where"] = None) -> bool:
        """`loss.backward()` (or with gradient arguments) on a value that is no module or optimizer."""
        func = call.func
        if not isinstance(func, cst.Attribute) or func.attr.value != "backward":
            return False
        return not self._holds_training_state(func.value, where)  # (a loss module is a module)

    def may_clear(self, call: cst.Call, where: Optional["Where"] = None, depth: int = 0) -> bool:
        """The call clears parameter gradients, or may (see the module's docstring)."""
        where = where or self.analysis.where()
        func = call.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method == CLEARING:
                return True
            if method.endswith("_") and _holds_grad(func.value):
                return True  # `p.grad.zero_()`, `p.grad.data.mul_(0)`
        function = self.analysis.values.local_function(func, where)
        if function is not None:
            return self._function_may_clear(function, depth + 1)
        if self.analysis.qualified_name(func, where) is not None:
            qualified = self.analysis.qualified_name(func, where) or ""
            return not qualified.startswith("torch.") and self._hands_over(call, where)
        if self.analysis.values.is_module(func, where):
            return False  # `model(x)`, `self.criterion(out, y)`: a module's forward
        if isinstance(func, cst.Name):
            bindings = self.analysis.reaching(func.value, where)
            if func.value in _BUILTINS and not bindings:
                return False
            if any(b.value is not None and _names_clearing(b.value) for b in bindings):
                return True  # `clear = optimizer.zero_grad`, `clear = lambda: model.zero_grad()`
            return self._hands_over(call, where)
        if isinstance(func, cst.Attribute):
            receiver = func.value
            if self.analysis.values.is_module(receiver, where):
                return any(self._function_may_clear(method, depth + 1)
                           for method in self._methods(receiver, func.attr.value, where))
            if self._is_optimizer(receiver, where):
                return False  # its own methods: `optimizer.step()`
            if is_self_attribute(func) and self._instance_attribute(func.attr.value, where):
                return self._hands_over(call, where)  # `self.model(x)`: an object it holds, called
            if is_self_attribute(func):
                return True  # a method of this object the file does not show: it may hold the optimizer
            methods = list(self._instance_methods(receiver, func.attr.value, where))
            if any(self._function_may_clear(method, depth + 1) for method in methods):
                return True  # `helper.reset()` of a class of this file, whose method clears
            return self._hands_over(call, where) or self._holds_training_state(receiver, where)
        return self._hands_over(call, where)

    def clears_by_assignment(self, target: cst.BaseExpression) -> bool:
        """`p.grad = None`, `del p.grad`, `p.grad[...] = 0`: an assignment to a gradient."""
        return _holds_grad(target)

    # ------------------------------------------------------------------ helpers
    def _is_optimizer(self, expr: cst.BaseExpression, where: Optional["Where"]) -> bool:
        return self.analysis.kinds.optimizer(expr, where) is not None

    def _instance_methods(self, receiver: cst.BaseExpression, name: str, where: "Where") -> Iterator[cst.FunctionDef]:
        """The method `name` of the classes of this file whose instances `receiver` may be
        (`helper = Helper(opt)`), when it is no module."""
        for node, node_where in self.analysis.values.origins(receiver, where) or ():
            if isinstance(node, cst.Call):
                for classdef, _ in self.analysis.values.local_classes(node.func, node_where):
                    yield from _method(classdef, name)

    def _methods(self, receiver: cst.BaseExpression, name: str, where: "Where") -> Iterator[cst.FunctionDef]:
        """The method `name` of the classes of this file that `receiver` may be an instance of
        (a module's own method, `model.reset()`); torch's methods have none here."""
        for classdef in self.analysis.values.module_classes(receiver, where) or ():
            if isinstance(classdef, cst.ClassDef):
                yield from _method(classdef, name)

    def _instance_attribute(self, name: str, where: "Where") -> bool:
        """`self.<name> = ...` is assigned in a method of the class `where` is in."""
        scope = where[0]
        owner = scope.parent if scope.kind == "function" else None
        return owner is not None and owner.kind == "class" and name in owner.attributes

    def _hands_over(self, call: cst.Call, where: "Where") -> bool:
        """A module or an optimizer is among the call's arguments (or their parameters)."""
        for arg in call.args:
            value = arg.value
            if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
                value = value.func.value  # `model.parameters()`
            if self._holds_training_state(value, where):
                return True
        return False

    def _holds_training_state(self, expr: cst.BaseExpression, where: Optional["Where"]) -> bool:
        """A module (its parameters) or an optimizer (the parameters it steps)."""
        return self.analysis.values.is_module(expr, where) or self._is_optimizer(expr, where)

    def _function_may_clear(self, function: cst.FunctionDef, depth: int) -> bool:
        """A call of `function` may clear gradients. Followed `_DEPTH` calls deep; deeper, it
        may (an answer that depends on the depth is not kept)."""
        known = self._functions.get(id(function))
        if known is not None:
            return known
        if depth > _DEPTH or id(function) in self._open:
            self._truncated = True
            return True  # too deep to follow, or a recursive call: it may
        self._open.add(id(function))
        outer, self._truncated = self._truncated, False
        try:
            scope = self.analysis.index.scopes.get(id(function))
            found = scope is not None and any(
                self._statement_may_clear(info, depth) for info in self.analysis.simple_statements(scope))
        finally:
            self._open.discard(id(function))
        if not self._truncated:
            self._functions[id(function)] = found
        self._truncated = self._truncated or outer
        return found

    def _statement_may_clear(self, info: "StatementInfo", depth: int) -> bool:
        where = (info.scope, info)
        for node in walk(cast(cst.CSTNode, info.node)):
            if isinstance(node, cst.Attribute) and node.attr.value == CLEARING:
                return True
            if isinstance(node, (cst.AssignTarget, cst.Del)) and _holds_grad(node.target):
                return True
            if isinstance(node, cst.Call) and self.may_clear(node, where, depth):
                return True
        return False


def _method(classdef: cst.ClassDef, name: str) -> Iterator[cst.FunctionDef]:
    for statement in classdef.body.body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value == name:
            yield statement


def _names_clearing(value: cst.BaseExpression) -> bool:
    """The value names `zero_grad` (a bound method, a lambda calling it)."""
    return any(isinstance(node, cst.Attribute) and node.attr.value == CLEARING for node in walk(value))


def _holds_grad(expr: cst.BaseExpression) -> bool:
    """`p.grad`, `p.grad.data`, `p.grad[0]`: the expression reads or is a `.grad`."""
    while isinstance(expr, (cst.Attribute, cst.Subscript)):
        if isinstance(expr, cst.Attribute) and expr.attr.value == "grad":
            return True
        expr = expr.value
    return False


__all__ = ["CLEARING", "GradientFacts"]
