from __future__ import annotations

import libcst as cst

from torchlint.rule import SAFE, Edit, Fix, Rule, register


@register
class ViewOnNonContiguous(Rule):
    """
    ## What it does
    Finds `.view(...)` that merges dimensions which are not adjacent and in order in memory: after
    `transpose`, `permute`, `.t()`, `.T`, `.mT`, `movedim`, `swapaxes`, `expand`, a step slice
    (`x[::2]`), a slice that shortens an inner dimension (`x[:, :-1]`, `narrow`), or an element-wise
    op or comparison whose first operand is one of those (the result keeps its layout: the
    top-k accuracy idiom `pred.t().eq(...)[:k].view(-1)`), with no `.contiguous()` in between.
    Values are followed through assignments; the permutation is tracked when its dims are literal.

    Which dimensions a view merges is read from its sizes: a product such as `h * w` merges, a
    single size is one dimension, a `-1` is whatever is left over, a single size or `-1` alone
    flattens, a divided size (`t // n`, `int(t / n)`) is part of a split dimension whose rest a
    following `-1` merges with the next dims (`x.transpose(1, 2).view(b, t // n, -1)`), and a
    view with more sizes than the input has dims splits. Views that only split
    (`x.transpose(1, 2).view(-1, c, h, w)` from `(b, h * w, c)`), merge dims that stay adjacent
    (`x.permute(0, 2, 3, 1).view(b, h * w, c)`), keep a strided last dim whole
    (`x[:, :, ::2].view(b * n, -1)`), may merge nothing (`x[:, :k].view(-1, k)`: the `-1` can be
    one dimension), or reinterpret the dtype (`x.view(torch.int32)`) are not reported; nor are
    calls that are not the tensor method (`self.t(x)` on a submodule).

    ## Why is this bad?
    `view` never copies: it reinterprets the existing memory, which is possible only when the
    requested shape is compatible with the tensor's strides. After a transpose or permute it
    usually is not, and the call fails with `RuntimeError: view size is not compatible with input
    tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use
    .reshape(...) instead.` Whether it fails can depend on the sizes (a dimension of
    size 1 merges with anything: the top-k idiom works for k = 1 and raises for k = 5), so the bug
    can hide until the batch or image size changes. Hence "may raise".

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
    triggers = (".view",)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "view") or not node.args:
            return
        if self.analysis.qualified_name(func) is not None or not self.analysis.tensors.view_may_fail(node):
            return
        self.report(
            node,
            "`.view()` on a tensor that may be non-contiguous (transposed, permuted, expanded or strided) "
            "may raise; use `.reshape()`, which copies only when it must",
            Fix(SAFE, "Use `.reshape()`", (Edit(func.attr, func.attr.with_changes(value="reshape")),)),
        )
