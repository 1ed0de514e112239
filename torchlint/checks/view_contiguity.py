from __future__ import annotations

import libcst as cst

from torchlint.rule import SAFE, Edit, Fix, Rule, register


@register
class ViewOnNonContiguous(Rule):
    """
    ## What it does
    Finds `.view(...)` on a tensor that may be non-contiguous: the result of `transpose`,
    `permute`, `.t()`, `.T`, `.mT`, `expand`, `movedim`, `swapaxes`/`swapdims`, a strided slice
    such as `x[:, ::2]`, or an element-wise op on one of those (which keeps the layout), with no
    `.contiguous()` in between. Values are followed through assignments.

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

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "view"):
            return
        if not node.args or _is_dtype_view(node):
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


def _is_dtype_view(call: cst.Call) -> bool:
    """`x.view(torch.int32)` reinterprets the dtype: a different operation with other rules."""
    first = call.args[0]
    return (len(call.args) == 1 and first.keyword is None and isinstance(first.value, cst.Attribute)
            and isinstance(first.value.value, cst.Name) and first.value.attr.value in _DTYPES)


_DTYPES = frozenset("float float16 float32 float64 half double bfloat16 int int8 int16 int32 int64 long uint8 bool".split())
