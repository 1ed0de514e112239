from __future__ import annotations

import libcst as cst

from typing import List

from torchlint.analysis.guards import version_guarded
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
    outputs. Not reported when `**kwargs` are forwarded, when the project targets torch older
    than 1.10 (which has no `indexing`), under a version guard, or in a file that passes
    `indexing=` to another `torch.meshgrid` call (the bare call is then the fallback for old
    releases: `try: torch.meshgrid(a, b, indexing="ij") except TypeError: torch.meshgrid(a, b)`).

    ## Source
    Not in the user's notes; torch's own warning. Common in real code (grid anchors, positional
    encodings).
    """

    code = "TL609"
    name = "meshgrid-without-indexing"
    summary = "`torch.meshgrid` without `indexing=` warns; its default differs from NumPy's"
    fix_safety = SAFE
    triggers = ("meshgrid",)

    def __init__(self, analysis) -> None:
        super().__init__(analysis)
        self._bare: List[cst.Call] = []
        self._file_knows_indexing = False

    def visit_Call(self, node: cst.Call) -> None:
        if self.analysis.qualified_name(node.func) != "torch.meshgrid":
            return
        if argument(node, None, "indexing") is not None or any(arg.star == "**" for arg in node.args):
            self._file_knows_indexing = True
            return
        if not version_guarded(self.analysis, "indexing"):
            self._bare.append(node)

    def finish(self) -> None:
        # `indexing=` appeared in torch 1.10: a file that passes it elsewhere keeps the bare calls
        # as the fallback for older releases (`try: ...(indexing="ij") except TypeError: ...`).
        if self._file_knows_indexing or (self.options.target_torch_stated and self.options.target_torch < (1, 10)):
            return
        for node in self._bare:
            self._report(node)

    def _report(self, node: cst.Call) -> None:
        self.report(node, "`torch.meshgrid` without `indexing=` warns and uses \"ij\" (NumPy's default is \"xy\"); "
                          "pass `indexing=\"ij\"` or `indexing=\"xy\"`",
                    Fix(SAFE, 'Pass `indexing="ij"` (today\'s default)',
                        (Edit(node, with_keyword(node, "indexing", cst.SimpleString('"ij"'))),)))
