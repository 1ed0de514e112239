"""Whether autograd is recording at a statement: `with torch.no_grad():` blocks, functions
decorated with `@torch.no_grad()` / `@torch.inference_mode()`, `torch.set_grad_enabled(False)`.

The innermost context wins (`torch.enable_grad()` inside `no_grad` turns recording back on).
Only what the reader can see counts: a helper of the file counts as running without gradients
when every call of it (and no other module of the project names it) is made with gradients off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import libcst as cst

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis import ModuleAnalysis, Where

_DISABLING = frozenset({
    "torch.no_grad", "torch.autograd.no_grad", "torch.autograd.grad_mode.no_grad",
    "torch.inference_mode", "torch.autograd.inference_mode", "torch.autograd.grad_mode.inference_mode",
})
_ENABLING = frozenset({"torch.enable_grad", "torch.autograd.enable_grad", "torch.autograd.grad_mode.enable_grad"})
_SETTING = frozenset({"torch.set_grad_enabled", "torch.autograd.set_grad_enabled",
                      "torch.autograd.grad_mode.set_grad_enabled"})


def grad_mode(analysis: "ModuleAnalysis", expr: cst.BaseExpression, where: "Where") -> Optional[bool]:
    """False for a context/decorator that disables gradients, True for one that enables them."""
    call = expr if isinstance(expr, cst.Call) else None
    target = call.func if call is not None else expr
    name = analysis.qualified_name(target, where)
    if name in _DISABLING:
        if name.endswith("inference_mode") and call is not None and call.args:
            # inference_mode(False) leaves the mode as it was; a non-literal says nothing.
            return False if _literal_bool(call.args[0].value) is True else None
        return False
    if name in _ENABLING:
        return True
    if name in _SETTING and call is not None and call.args:
        return _literal_bool(call.args[0].value)
    return None


def grad_enabled_at(analysis: "ModuleAnalysis", where: "Where") -> Optional[bool]:
    """False when the statement at `where` surely runs with gradients off; True when surely on
    by an explicit context; None when nothing visible says (the default: on)."""
    scope, stmt = where
    for compound in reversed(stmt.enclosing):
        if isinstance(compound, cst.With):
            for item in reversed(compound.items):
                mode = grad_mode(analysis, item.item, (stmt.scope, analysis.index.statements[id(compound)]))
                if mode is not None:
                    return mode
    function = stmt.scope.node
    if isinstance(function, cst.FunctionDef):
        outer = analysis.index.statements[id(function)]
        for decorator in function.decorators:
            mode = grad_mode(analysis, decorator.decorator, (outer.scope, outer))
            if mode is not None:
                return mode
        return _mode_at_every_call(analysis, function, outer)
    return None


def _mode_at_every_call(analysis: "ModuleAnalysis", function: cst.FunctionDef, outer) -> Optional[bool]:
    """A helper of this file called only with gradients off runs with gradients off (when no
    other module of the project may call it)."""
    if function.decorators or outer.scope.kind == "class" or id(function) in _ASKING:
        return None
    name = function.name.value
    calls, references = analysis.values.usage.call_sites(name)
    if not calls or references:
        return None
    if analysis.context is None:
        return None
    _ASKING.add(id(function))
    try:
        for call, where in calls:
            bindings = analysis.reaching(name, where)
            if len(bindings) != 1 or bindings[0].node is not function or grad_enabled_at(analysis, where) is not False:
                return None
    finally:
        _ASKING.discard(id(function))
    # Last, as the dearest question: it searches the project's files.
    return None if analysis.context.mentioned_elsewhere(name) else False


_ASKING: set = set()  # functions whose callers are being asked: recursion adds no evidence


def asking_callers() -> bool:
    """True while a helper's call sites are being asked (answers then may be cut short)."""
    return bool(_ASKING)


def _literal_bool(expr: cst.BaseExpression) -> Optional[bool]:
    if isinstance(expr, cst.Name) and expr.value in ("True", "False"):
        return expr.value == "True"
    return None
