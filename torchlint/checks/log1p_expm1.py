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
    Finds `torch.log(1 + x)` (or `x + 1`), `torch.exp(x) - 1`, and
    `torch.log(torch.sum(torch.exp(x), dim))` (unless `x` is already shifted, `x - x.max()`: the
    stable form written out).

    ## Why is this bad?
    For small `x`, `1 + x` rounds away most of `x`'s digits before the logarithm sees it (in
    float32, `1 + 1e-8` is exactly `1`, so `torch.log(1 + x)` is `0`), and `exp(x) - 1`
    subtracts two nearly equal numbers. `torch.log1p` and `torch.expm1` compute the same
    functions without that loss. `exp` overflows to `inf` in float32 for `x > 88`, so the log of
    a sum of exponentials is `inf` where `torch.logsumexp` (which subtracts the maximum first)
    gives the right value.

    ## Example
    ```python
    y = torch.log(1 + x)
    z = torch.exp(x) - 1
    s = torch.log(torch.sum(torch.exp(logits), dim=1))
    ```

    ## Use instead
    ```python
    y = torch.log1p(x)
    z = torch.expm1(x)
    s = torch.logsumexp(logits, dim=1)
    ```

    ## Fix safety
    Safe: the same function, computed more accurately (the results differ only where the old
    form lost precision).

    ## Source
    TorchFix TOR106, TOR107 and TOR108 (not in the user's notes).
    """

    code = "TL608"
    name = "imprecise-log-exp"
    summary = "`torch.log(1 + x)`, `torch.exp(x) - 1`, log-sum-exp by hand lose precision; use `log1p` / `expm1` / `logsumexp`"
    fix_safety = SAFE
    # Preview: on 19 public repositories every finding (14) was on integer counts, durations or
    # rounded results, where log1p/expm1 change nothing; the rule cannot see value ranges.
    preview = True
    triggers = (".log", ".exp")  # torch.log, torch.exp (attributes: the rule reads only those)

    def visit_Call(self, node: cst.Call) -> None:
        if len(node.args) != 1 or node.args[0].keyword or node.args[0].star:
            return
        if self.analysis.qualified_name(node.func) != "torch.log" or not isinstance(node.func, cst.Attribute):
            return
        inner = node.args[0].value
        if self._logsumexp(node, inner):
            return
        operand = _plus_one_operand(inner)
        if operand is not None:
            new = cst.Call(func=node.func.with_changes(attr=cst.Name("log1p")), args=[cst.Arg(operand)])
            self.report(node, "`torch.log(1 + x)` loses precision for small `x`; use `torch.log1p(x)`",
                        Fix(SAFE, "Use `torch.log1p`", (Edit(node, new),)))

    def _logsumexp(self, log: cst.Call, inner: cst.BaseExpression) -> bool:
        """`torch.log(torch.sum(torch.exp(x), dim))` -> `torch.logsumexp(x, dim)`."""
        if not isinstance(inner, cst.Call) or self.analysis.qualified_name(inner.func) != "torch.sum":
            return False
        args = [a for a in inner.args if not a.star]
        if len(args) != len(inner.args) or len(args) < 2 or args[0].keyword is not None:
            return False  # TorchFix's condition too: without a dim, logsumexp has no equivalent call
        dim = args[1] if args[1].keyword is None or args[1].keyword.value == "dim" else None
        exp = args[0].value
        if dim is None or not isinstance(exp, cst.Call) or self.analysis.qualified_name(exp.func) != "torch.exp":
            return False
        if len(exp.args) != 1 or exp.args[0].keyword or exp.args[0].star or not isinstance(log.func, cst.Attribute):
            return False
        if isinstance(dim.value, cst.Name) and dim.value.value == "None":
            return False
        if self._shifted(exp.args[0].value):
            return False  # `exp(x - x.max())`: the stable form written out (torch's own decompositions)
        if any(a.keyword is not None and a.keyword.value not in ("dim", "keepdim") for a in args[1:]):
            return False
        new_args = [exp.args[0].with_changes(comma=args[0].comma)] + list(inner.args[1:])
        new = cst.Call(func=log.func.with_changes(attr=cst.Name("logsumexp")), args=new_args)
        self.report(log, "`torch.log(torch.sum(torch.exp(x), dim))` overflows for large `x`; use "
                         "`torch.logsumexp(x, dim)`, which subtracts the maximum first",
                    Fix(SAFE, "Use `torch.logsumexp`", (Edit(log, new),)))
        return True

    def _shifted(self, expr: cst.BaseExpression) -> bool:
        """`x - m`, directly or through the variable's assignment."""
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Subtract):
            return True
        if isinstance(expr, cst.Name):
            return any(isinstance(b.value, cst.BinaryOperation) and isinstance(b.value.operator, cst.Subtract)
                       for b in self.analysis.reaching(expr.value))
        return False

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
