from __future__ import annotations

from typing import List, Optional, Set, Tuple

import libcst as cst

from torchlint.analysis.api_table import close_names, torch_api
from torchlint.analysis.deprecations import deprecations
from torchlint.analysis.guards import version_guarded
from torchlint.rule import SAFE, Edit, Fix, Rule, register
from torchlint.syntax import dotted_name


@register
class UnknownTorchAttribute(Rule):
    """
    ## What it does
    Finds a name under a torch module that the module does not have: `torch.cuda.is_avaliable()`,
    `torch.cdis(a, b)`, `torch.nn.functionl`, `from torch.nn import Relu`. Names are resolved
    through every import form (`import torch.nn as nn`, `from torch import cuda`), and checked
    against the table of torch's public API that ships with torchlint (generated from a real torch
    by `scripts/gen_api_table.py`). The closest real names are suggested.

    It stays silent for attributes of objects (`torch.float32.itemsize`, `model.foo`), for
    dynamic and private namespaces (`torch.ops`, `torch.classes`, `torch._C`, anything starting
    with `_`), for modules the table could not list (an optional dependency was missing when it
    was made), for names the deprecation table knows from older versions (TL603/TL604 report
    those), for names the file assigns itself (`torch.my_flag = 1`), for a local `torch` that is
    not the library, and for version-guarded code (`if hasattr(torch, "compile")`, a
    `torch.__version__` check, `try: ... except AttributeError`).

    ## Why is this bad?
    The name does not exist: the line raises `AttributeError` (or `ImportError` at the import)
    when it runs, which in a training script may be hours in, after the first epoch, in the
    evaluation branch nobody ran before.

    ## Example
    ```python
    if torch.cuda.is_avaliable():
        d = torch.cdis(a, b)
    ```

    ## Use instead
    ```python
    if torch.cuda.is_available():
        d = torch.cdist(a, b)
    ```

    ## Fix safety
    Safe when exactly one real name is close (one edit away, two for longer names, or the same
    letters in another case): the code cannot have worked as written, and the one close name is
    what it meant. No fix when several names are close (the message lists them), and none for
    `from torch.nn import Relu` without `as` (the file's own uses of `Relu` would need renaming).

    ## Torch versions
    The table is one torch release's public API (the release is recorded in the table). A name
    added in a later torch release is unknown to it: pass `target-torch` and keep torchlint
    current, or guard new API with `hasattr`, which silences this rule.

    ## Source
    Note 004 (beginner notes): `print(torch.cuda.is_avaliable())`, a typo that raises
    AttributeError. Note 000: `torch.cdis(a,b,p)` for `torch.cdist`.
    """

    code = "TL601"
    name = "unknown-torch-attribute"
    summary = "name that the torch module does not have (raises AttributeError)"
    fix_safety = SAFE
    level = "error"
    triggers = ("import torch",)  # names resolve only through an import of torch

    @classmethod
    def could_fire(cls, references) -> bool:
        """Only where the file names something under torch that the table says is missing."""
        api = torch_api()
        return any(name.startswith("torch.") and name.rpartition(".")[2][:1] != "_" and api.exists(name) is False
                   for name in references.names)

    def __init__(self, analysis) -> None:
        super().__init__(analysis)
        self._candidates: List[Tuple[cst.CSTNode, str, str, Optional[cst.Name]]] = []
        self._assigned: Set[str] = set()
        self._annotations = 0

    # ------------------------------------------------------------------ uses
    def visit_Annotation(self, node: cst.Annotation) -> None:
        self._annotations += 1  # annotations name what type checkers know (the .pyi stubs)

    def leave_Annotation(self, node: cst.Annotation) -> None:
        self._annotations -= 1

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if self._annotations:
            return
        qualified = self.analysis.qualified_name(node)
        if not qualified or not qualified.startswith("torch."):
            return
        parent = qualified.rpartition(".")[0]
        self._check(node, parent, node.attr.value, node.attr)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            if isinstance(target.target, cst.Attribute):
                qualified = self.analysis.qualified_name(target.target)
                if qualified:
                    self._assigned.add(qualified)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.target, cst.Attribute):
            qualified = self.analysis.qualified_name(node.target)
            if qualified:
                self._assigned.add(qualified)

    # ------------------------------------------------------------------ imports
    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
            return
        module = (dotted_name(node.module) or "")
        if module != "torch" and not module.startswith("torch."):
            return
        self._check_module_path(node.module, module)
        for alias in node.names:
            if isinstance(alias.name, cst.Name):
                # Renaming the import fixes it only where the local name stays: `import X as y`.
                fixable = alias.name if alias.asname is not None else None
                self._check(alias.name, module, alias.name.value, fixable)

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            dotted = (dotted_name(alias.name) or "")
            if dotted.startswith("torch."):
                self._check_module_path(alias.name, dotted)

    def _check_module_path(self, node: cst.BaseExpression, dotted: str) -> None:
        """`import torch.nn.functionl` / `from torch.nn.functionl import x`: the first missing part."""
        while isinstance(node, cst.Attribute):
            parent = dotted.rpartition(".")[0]
            if torch_api().is_module(parent):
                self._check(node, parent, node.attr.value, None)
                return
            node, dotted = node.value, parent

    # ------------------------------------------------------------------ judging
    def _check(self, node: cst.CSTNode, module: str, attribute: str, name: Optional[cst.Name]) -> None:
        api = torch_api()
        if attribute.startswith("_") or not api.is_closed_module(module):
            return
        if api.exists(f"{module}.{attribute}") is not False:
            return
        qualified = f"{module}.{attribute}"
        table = deprecations()
        if table.for_name(qualified) is not None:
            return
        if version_guarded(self.analysis, attribute):
            return
        self._candidates.append((node, module, attribute, name))

    def finish(self) -> None:
        api = torch_api()
        for node, module, attribute, name in self._candidates:
            if f"{module}.{attribute}" in self._assigned:
                continue
            close = close_names(attribute, api.members(module))
            fix = None
            if close:
                listed = " or ".join(f"`{module}.{c}`" for c in close[:3])
                hint = f"; did you mean {listed}?"
                if len(close) == 1 and name is not None:
                    fix = Fix(SAFE, f"Use `{close[0]}`", (Edit(name, name.with_changes(value=close[0])),))
            else:
                hint = ""
            self.report(node, f"`{module}` has no attribute `{attribute}` (torch {api.version}): "
                              f"this raises AttributeError{hint}", fix)


