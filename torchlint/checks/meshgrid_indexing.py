from __future__ import annotations

import libcst as cst

from torchlint.checks._syntax import with_keyword
from torchlint.rule import SAFE, Edit, Fix, Rule, register
from torchlint.syntax import argument


@register
class MeshgridWithoutIndexing(Rule):
    """
    ## What it does
    Finds `torch.meshgrid(...)` calls that do not pass `indexing=`.

    ## Why is this bad?
    Without it torch warns on every call that a future release will require it, and uses
    matrix indexing (`"ij"`), while NumPy's `np.meshgrid` defaults to Cartesian indexing
    (`"xy"`): code ported from NumPy silently gets its grids transposed. Saying which one is
    meant removes both problems.

    ## Example
    ```python
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w))
    ```

    ## Use instead
    ```python
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    ```

    ## Fix safety
    Safe: the fix passes `indexing="ij"`, what torch does today when it is left out. If the code
    was written for NumPy's convention, `indexing="xy"` is what it meant; check the order of the
    outputs. No fix when `**kwargs` are forwarded.

    ## Source
    Not in the user's notes; torch's own warning. Common in real code (grid anchors, positional
    encodings).
    """

    code = "TL609"
    name = "meshgrid-without-indexing"
    summary = "`torch.meshgrid` without `indexing=` warns; its default differs from NumPy's"
    fix_safety = SAFE
    triggers = ("meshgrid",)

    def visit_Call(self, node: cst.Call) -> None:
        if self.analysis.qualified_name(node.func) != "torch.meshgrid":
            return
        if argument(node, None, "indexing") is not None or any(arg.star == "**" for arg in node.args):
            return
        self.report(node, "`torch.meshgrid` without `indexing=` warns and uses \"ij\" (NumPy's default is \"xy\"); "
                          "pass `indexing=\"ij\"` or `indexing=\"xy\"`",
                    Fix(SAFE, 'Pass `indexing="ij"` (today\'s default)',
                        (Edit(node, with_keyword(node, "indexing", cst.SimpleString('"ij"'))),)))
