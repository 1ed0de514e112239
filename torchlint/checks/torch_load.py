"""TL502 and TL503: the two ways `torch.load` goes wrong, which must agree on each call.

Both rules record the `torch.load` calls of the module and the evidence that a value is used as a
module (`x.eval()`, `x.parameters()`, `x(...)`, ...). At the end of the module a load is "used as a
module" when such a use can see its result, directly or through a variable. TL503 reports those;
TL502 leaves them alone, since forcing `weights_only=True` on a whole-model load breaks it.
"""

from __future__ import annotations

from typing import List, Set, Tuple

import libcst as cst

from torchlint.analysis import Where
from torchlint.analysis.torch_api import MODULE_ONLY_METHODS
from torchlint.analysis.values import strip_module_methods
from torchlint.checks._syntax import argument, has_star_args, with_keyword
from torchlint.rule import NO_FIX, SAFE, SOMETIMES, UNSAFE, Fix, Rule, register, Edit


WEIGHTS_ONLY_DEFAULT = (2, 6)  # the release that made weights_only=True the default


class _LoadTracker(Rule):
    triggers = ("load",)

    def __init__(self, analysis) -> None:
        super().__init__(analysis)
        self.loads: List[cst.Call] = []
        self._module_uses: List[Tuple[cst.BaseExpression, Where, str]] = []

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if self.analysis.qualified_name(func) == "torch.load":
            self.loads.append(node)
        elif isinstance(func, cst.Attribute):
            if func.attr.value in MODULE_ONLY_METHODS:
                self._module_uses.append((func.value, self.analysis.where(), f".{func.attr.value}()"))
        elif not isinstance(func, cst.Name) or self.analysis.reaching(func.value):
            # `model(x)` or `torch.load(p)(x)`: only modules (of what torch.load returns) are called.
            self._module_uses.append((func, self.analysis.where(), "called"))

    def loads_used_as_module(self) -> dict:
        """Map id(load call) -> how it is used as a module (the first use seen)."""
        if not self.loads:
            return {}
        load_ids: Set[int] = {id(call) for call in self.loads}
        used: dict = {}
        for expr, where, how in self._module_uses:
            origins = self.analysis.values.origins(expr, where)
            for origin, _ in origins or ():
                call = strip_module_methods(origin)
                if id(call) in load_ids:
                    used.setdefault(id(call), how)
        return used


@register
class TorchLoadWithoutWeightsOnly(_LoadTracker):
    """
    ## What it does
    Finds `torch.load(...)` calls that do not pass `weights_only=True`: the argument is missing,
    or it is set to `False`.

    ## Why is this bad?
    Without `weights_only=True`, `torch.load` unpickles arbitrary Python objects, and unpickling
    can run any code the file's author chose: loading a downloaded checkpoint is then running a
    downloaded program. Before PyTorch 2.6 the default was `weights_only=False`; 2.6 made `True`
    the default, but an explicit `weights_only=False` still opts out, and setting the environment
    variable `TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1` turns the old default back on for every call that
    does not say `weights_only` itself. CVE-2025-32434 showed that even `weights_only=True` was
    bypassable before 2.6.0, so also keep PyTorch up to date. Saying `weights_only=True` makes the
    safe behaviour explicit on every version and under every environment.

    A `torch.load` whose result is used as a whole module is reported by TL503 instead: it needs a
    different change (save a state dict) and adding `weights_only=True` alone would break it.

    ## Example
    ```python
    state = torch.load("model.pt")
    ckpt = torch.load("ckpt.pt", weights_only=False)
    ```

    ## Use instead
    ```python
    state = torch.load("model.pt", weights_only=True)
    ckpt = torch.load("ckpt.pt", weights_only=True)
    ```

    ## Torch versions
    When the project targets torch 2.6 or newer (`target-torch = "2.6"` in `[tool.torchlint]`,
    `--target-torch 2.6`, or a `torch>=2.6` requirement in the project's `pyproject.toml`), a
    missing `weights_only` is not reported: the default is already `True`. An explicit
    `weights_only=False` is always reported.

    ## Fix safety
    Safe when the argument is missing and no `pickle_module` is passed: it adds
    `weights_only=True`, which is what PyTorch 2.6 and later already do. Unsafe when it replaces an
    explicit `weights_only=False`: the author may have meant to load a pickled object that is not
    a plain checkpoint, which will then be refused. No fix when a `pickle_module` is passed
    (PyTorch refuses to combine the two) or when `**kwargs` are forwarded.

    ## Source
    Note 001, "14.Pytorch模型断点续练方法": every load in the note's checkpoint code is a plain
    `torch.load(path)`; the note predates the 2.6 default change and never mentions the risk.
    """

    code = "TL502"
    name = "torch-load-without-weights-only"
    summary = "`torch.load` without `weights_only=True` can run arbitrary code from the file"
    fix_safety = SOMETIMES
    level = "error"

    def finish(self) -> None:
        used = self.loads_used_as_module()
        for call in self.loads:
            if id(call) not in used:
                self._check(call)

    def _check(self, call: cst.Call) -> None:
        weights_only = argument(call, None, "weights_only")
        pickle_module = argument(call, 2, "pickle_module")
        if weights_only is None:
            if has_star_args(call) or self.options.target_torch >= WEIGHTS_ONLY_DEFAULT:
                return
            fix = None if pickle_module else Fix(
                SAFE, "Add `weights_only=True`", (Edit(call, with_keyword(call, "weights_only", cst.Name("True"))),)
            )
            self.report(call, "`torch.load` without `weights_only=True` unpickles arbitrary objects, "
                        "which can run code from the file; pass `weights_only=True`", fix)
        elif isinstance(weights_only.value, cst.Name) and weights_only.value.value == "False":
            fix = None if pickle_module else Fix(
                UNSAFE, "Set `weights_only=True`",
                (Edit(weights_only.value, weights_only.value.with_changes(value="True")),),
            )
            self.report(call, "`torch.load(..., weights_only=False)` unpickles arbitrary objects, "
                        "which can run code from the file; load weights with `weights_only=True`", fix)


@register
class WholeModelLoad(_LoadTracker):
    """
    ## What it does
    Finds `torch.load(...)` whose result is used as a module: `.eval()`, `.train()`,
    `.parameters()`, `.state_dict()`, `.load_state_dict()`, `.modules()`, `.children()`,
    `.zero_grad()` or a call like `model(x)`, either directly on the call (also after `.to()` /
    `.cuda()`) or through the variable it was assigned to. A use of `.to()` alone is not evidence:
    tensors have `.to()` too.

    ## Why is this bad?
    The file holds a pickled module, the counterpart of `torch.save(model, path)` (TL501). It
    loads only if the model's class can be imported under the same module path as when it was
    saved, and since PyTorch 2.6 `torch.load` refuses it by default (`weights_only=True`) with an
    `UnpicklingError`; making it load again means `weights_only=False`, which lets the file run
    arbitrary code (TL502).

    ## Example
    ```python
    model = torch.load("model.pt")
    model.eval()
    ```

    ## Use instead
    ```python
    model = Net()
    model.load_state_dict(torch.load("model.pt", weights_only=True))
    model.eval()
    ```
    and save with `torch.save(model.state_dict(), "model.pt")`.

    ## Fix safety
    No fix: the model's class and constructor arguments are needed to rebuild it, and the file
    must be saved again as a state dict.

    ## Source
    Note 001, "14.Pytorch模型断点续练方法": "直接保存，然后加载" shows `model = torch.load(path)` and the
    note warns that this first method is error-prone ("第一种方法容易出错").
    """

    code = "TL503"
    name = "whole-model-load"
    summary = "`torch.load` result is used as a whole module; load a `state_dict` into a new model"
    fix_safety = NO_FIX

    def finish(self) -> None:
        used = self.loads_used_as_module()
        for call in self.loads:
            how = used.get(id(call))
            if how is not None:
                self.report(call, f"`torch.load` result is used as a whole module ({how}): this needs the "
                            "pickled class and fails with `weights_only=True` (the default since torch 2.6); "
                            "save a `state_dict`, rebuild the model and call `load_state_dict`")
