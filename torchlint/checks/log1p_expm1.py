from __future__ import annotations

from typing import Optional

import libcst as cst

from torchlint.rule import SAFE, Edit, Fix, Rule, register


def _is_one(node: cst.BaseExpression) -> bool:
    return (isinstance(node, cst.Integer) and node.value == "1") or (
        isinstance(node, cst.Float) and node.value in ("1.0", "1.")
    )


def _plus_one_operand(node: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """`1 + x` or `x + 1` -> x."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add) and not node.lpar:
        if _is_one(node.left):
            return node.right
        if _is_one(node.right):
            return node.left
    return None


@register
class Log1pExpm1(Rule):
    """
    ## What it does
    Finds `torch.log(1 + x)` (or `x + 1`) and `torch.exp(x) - 1`.

    ## Why is this bad?
    For small `x`, `1 + x` rounds away most of `x`'s digits before the logarithm sees it (in
    float32, `1 + 1e-8` is exactly `1`, so `torch.log(1 + x)` is `0`), and `exp(x) - 1`
    subtracts two nearly equal numbers. `torch.log1p` and `torch.expm1` compute the same
    functions without that loss.

    ## Example
    ```python
    y = torch.log(1 + x)
    z = torch.exp(x) - 1
    ```

    ## Use instead
    ```python
    y = torch.log1p(x)
    z = torch.expm1(x)
    ```

    ## Fix safety
    Safe: the same function, computed more accurately (the results differ only where the old
    form lost precision).

    ## Source
    TorchFix TOR106 and TOR107 (not in the user's notes).
    """

    code = "TL608"
    name = "imprecise-log-exp"
    summary = "`torch.log(1 + x)` / `torch.exp(x) - 1` lose precision; use `torch.log1p` / `torch.expm1`"
    fix_safety = SAFE
    triggers = ("log", "exp")

    def visit_Call(self, node: cst.Call) -> None:
        if len(node.args) != 1 or node.args[0].keyword or node.args[0].star:
            return
        if self.analysis.qualified_name(node.func) != "torch.log" or not isinstance(node.func, cst.Attribute):
            return
        operand = _plus_one_operand(node.args[0].value)
        if operand is not None:
            new = cst.Call(func=node.func.with_changes(attr=cst.Name("log1p")), args=[cst.Arg(operand)])
            self.report(node, "`torch.log(1 + x)` loses precision for small `x`; use `torch.log1p(x)`",
                        Fix(SAFE, "Use `torch.log1p`", (Edit(node, new),)))

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if not isinstance(node.operator, cst.Subtract) or not _is_one(node.right):
            return
        call = node.left
        if not isinstance(call, cst.Call) or len(call.args) != 1 or call.args[0].keyword or call.args[0].star:
            return
        if self.analysis.qualified_name(call.func) != "torch.exp" or not isinstance(call.func, cst.Attribute):
            return
        new = call.with_changes(func=call.func.with_changes(attr=cst.Name("expm1")))
        self.report(node, "`torch.exp(x) - 1` loses precision for small `x`; use `torch.expm1(x)`",
                    Fix(SAFE, "Use `torch.expm1`", (Edit(node, new.with_changes(lpar=node.lpar, rpar=node.rpar)),)))
