from __future__ import annotations

import libcst as cst

from torchlint.rule import SAFE, Edit, Fix, Rule, register


@register
class ViewOnNonContiguous(Rule):
    """
    ## What it does
    Finds `.view(...)` that merges dimensions (a `-1`, a product such as `h * w`, or a single
    size) on a tensor that may be non-contiguous: the result of `transpose`, `permute`, `.t()`,
    `.T`, `.mT`, `expand`, `movedim`, `swapaxes`/`swapdims`, a strided slice such as `x[::2]`, or
    an element-wise op on a transposed or permuted tensor (which keeps its layout), with no
    `.contiguous()` in between. Values are followed through assignments. Views that only split
    dimensions (`q.view(b, heads, n, d)` after a transpose) always work and are not reported, nor
    are dtype views (`x.view(torch.int32)`).

    ## Why is this bad?
    `view` never copies: it reinterprets the existing memory, which is possible only when the
    requested shape is compatible with the tensor's strides. After a transpose or permute it
    usually is not, and the call fails with `RuntimeError: view size is not compatible with input
    tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use
    .reshape(...) instead.` Whether it fails depends on the shapes: some views of permuted tensors
    succeed (`x.permute(0, 2, 3, 1).view(b, h * w, c)` does), so the bug can hide until the batch
    or image size changes. Hence "may raise".

    ## Example
    ```python
    tokens = features.transpose(1, 2)
    flat = tokens.view(batch, -1)
    ```

    ## Use instead
    ```python
    flat = tokens.reshape(batch, -1)
    ```

    ## Fix safety
    Safe: `reshape` returns the same values as `.contiguous().view(...)`. It returns a view
    whenever `view` would have succeeded and copies only when `view` would have raised, so code
    that works keeps its behaviour (including sharing memory with the input).

    ## Source
    Note 001, "Pytorch注意点总结" (the pitfalls list): "view needs contiguous memory; call
    contiguous() first". Right, and `reshape` is the shorter spelling of the same fix.
    """

    code = "TL202"
    name = "view-on-non-contiguous"
    summary = "`.view()` on a tensor that may be non-contiguous may raise; use `.reshape()`"
    fix_safety = SAFE
    triggers = (".view(",)

    def _is_dtype_view(self, call: cst.Call) -> bool:
        """`x.view(torch.int32)` reinterprets the dtype: a different operation with other rules."""
        if len(call.args) != 1 or call.args[0].keyword is not None:
            return False
        qualified = self.analysis.qualified_name(call.args[0].value) or ""
        return qualified.startswith("torch.") and qualified.count(".") == 1

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "view"):
            return
        if not node.args or self._is_dtype_view(node) or not _may_merge_dimensions(node):
            return
        if self.analysis.qualified_name(func) is not None:
            return
        if not self.analysis.tensors.may_be_non_contiguous(func.value):
            return
        self.report(
            node,
            "`.view()` on a tensor that may be non-contiguous (transposed, permuted, expanded or strided) "
            "may raise; use `.reshape()`, which copies only when it must",
            Fix(SAFE, "Use `.reshape()`", (Edit(func.attr, func.attr.with_changes(value="reshape")),)),
        )


def _may_merge_dimensions(call: cst.Call) -> bool:
    """Only a view that merges dimensions can fail on a permuted tensor: splitting one dimension
    (`q.view(b, heads, n, d)` after a transpose) always works. Evidence of merging: a `-1`, a
    product such as `h * w`, or a single size (a 1-D result). Other shapes are not reported."""
    sizes = [arg.value for arg in call.args if arg.keyword is None and not arg.star]
    if len(sizes) == 1 and isinstance(sizes[0], (cst.Tuple, cst.List)):
        sizes = [element.value for element in sizes[0].elements]
    elif len(sizes) == 1 and not isinstance(sizes[0], cst.Name):
        return True  # `x.t().view(12)`, `x.t().view(x.numel())`: flattened to one dimension
    return any(_is_minus_one(size) or _has_product(size) for size in sizes)


def _is_minus_one(node: cst.BaseExpression) -> bool:
    return (isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus)
            and isinstance(node.expression, cst.Integer) and node.expression.value == "1")


def _has_product(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.BinaryOperation):
        return isinstance(node.operator, cst.Multiply) or _has_product(node.left) or _has_product(node.right)
    return False
