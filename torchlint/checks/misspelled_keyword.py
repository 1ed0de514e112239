from __future__ import annotations

from typing import List, Set, cast

import libcst as cst

from torchlint.analysis.api_table import KIND_NN_MODULE, close_names, torch_api
from torchlint.analysis.deprecations import deprecations
from torchlint.analysis.guards import version_guarded
from torchlint.rule import SAFE, SOMETIMES, UNSAFE, Edit, Fix, Rule, register
from torchlint.syntax import is_name

_GRAD_WORDS = ("requires_grad", "require_grad")


@register
class MisspelledKeyword(Rule):
    """
    ## What it does
    Finds a keyword argument that the called torch function or class does not accept and that is
    one edit (two for longer words) away from one it does: `torch.normal(0, 0.01, size,
    require_grad=True)`, `F.interpolate(x, scale_factr=2)`. The accepted keywords come from the
    torch API table shipped with torchlint (signatures, ATen schemas, and the aliases torch's
    argument parser accepts, such as `keepdims=` and `axis=`), never from a guess: a callable that
    takes `**kwargs`, or whose parameters the table does not know, is never reported.

    Two more spellings of the same mistake: `requires_grad=True` (or `require_grad=`) given to an
    `nn.Module` constructor such as `nn.Linear(3, 4, requires_grad=True)`, which accepts neither,
    and the assignment `p.require_grad = False`, which sets a new attribute and changes nothing.

    ## Why is this bad?
    A keyword the callable does not accept raises `TypeError` when the line runs. The
    `x.require_grad = ...` assignment is worse: it raises nothing, and the parameter keeps
    training (or keeps not training) while the code says otherwise.

    ## Example
    ```python
    w = torch.normal(0, 0.01, (3, 4), require_grad=True)
    layer = nn.Linear(3, 4, requires_grad=True)
    for p in backbone.parameters():
        p.require_grad = False
    ```

    ## Use instead
    ```python
    w = torch.normal(0, 0.01, (3, 4), requires_grad=True)
    layer = nn.Linear(3, 4)  # its parameters require grad already
    for p in backbone.parameters():
        p.requires_grad = False
    ```

    ## Fix safety
    Safe for a keyword with exactly one close accepted keyword that the call does not pass
    already: the call raises as written. Unsafe for `.require_grad =`: the fixed line takes
    effect (and raises on a non-leaf tensor when setting `requires_grad = False`), so check that
    is what you want. No fix for `requires_grad` given to a module constructor.

    ## Source
    Note 000: `torch.normal(0,0.01,size,require_grad=True)` (raises TypeError); the notes also
    write `require_grad` for `requires_grad` in prose (note 001). TorchFix TOR002 reports the
    assignment typo.
    """

    code = "TL602"
    name = "misspelled-keyword"
    summary = "keyword argument that the torch callable does not accept, close to one it does"
    fix_safety = SOMETIMES
    level = "error"
    triggers = ("import torch", "require_grad")  # a torch callable, or `x.require_grad = ...`

    @classmethod
    def could_fire(cls, references) -> bool:
        """Only where `.require_grad` is written or a torch callable gets a keyword it does not take."""
        if "require_grad" in references.attributes:
            return True
        api = torch_api()
        for callee, keywords in references.calls:
            accepted = api.keywords(callee)
            if accepted is not None and not keywords <= accepted:
                return True
        return False

    def __init__(self, analysis) -> None:
        super().__init__(analysis)
        self._assignments: List[cst.Attribute] = []
        self._own_require_grad = False

    def visit_Call(self, node: cst.Call) -> None:
        keywords = [arg for arg in node.args if arg.keyword is not None]
        if not keywords:
            return
        qualified = self.analysis.qualified_name(node.func)
        if not qualified:
            return
        api = torch_api()
        accepted = api.keywords(qualified)
        if accepted is None:
            return
        passed: Set[str] = {arg.keyword.value for arg in keywords}  # type: ignore[union-attr]
        for arg in keywords:
            word = arg.keyword.value  # type: ignore[union-attr]
            if (word in accepted or deprecations().for_keyword(qualified, word) is not None
                    or api.historical_keyword(qualified, word)):
                continue
            close = [c for c in close_names(word, accepted) if c not in passed]
            if close:
                if version_guarded(self.analysis, word):
                    continue
                fix = None
                if len(close) == 1:
                    keyword = cast(cst.Name, arg.keyword)
                    fix = Fix(SAFE, f"Use `{close[0]}=`", (Edit(keyword, keyword.with_changes(value=close[0])),))
                listed = " or ".join(f"`{c}=`" for c in close[:3])
                self.report(arg, f"`{qualified}` has no keyword `{word}=` (raises TypeError); did you mean {listed}?", fix)
            elif word in _GRAD_WORDS and api.kind(qualified) == KIND_NN_MODULE:
                self.report(arg, f"`{qualified}` takes no `{word}=` (raises TypeError): a module's parameters "
                                 "require grad already; call `.requires_grad_(False)` on the module to freeze it")

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            attribute = target.target
            if isinstance(attribute, cst.Attribute) and attribute.attr.value == "require_grad":
                if is_name(attribute.value, "self") or is_name(attribute.value, "cls"):
                    self._own_require_grad = True  # a class of this file has its own `require_grad`
                else:
                    self._assignments.append(attribute)

    def visit_Param(self, node: cst.Param) -> None:
        if node.name.value == "require_grad":
            self._own_require_grad = True

    def finish(self) -> None:
        if self._own_require_grad:
            return
        for attribute in self._assignments:
            fix = Fix(UNSAFE, "Set `requires_grad`", (Edit(attribute.attr, attribute.attr.with_changes(value="requires_grad")),))
            self.report(attribute, "`.require_grad = ...` sets a new attribute and changes nothing; "
                                   "the attribute autograd reads is `requires_grad`", fix)
