from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from torchlint.analysis import Where
from torchlint.checks._syntax import argument
from torchlint.rule import UNSAFE, Edit, Fix, Rule, register


@register
class WholeModelSave(Rule):
    """
    ## What it does
    Finds `torch.save(model, path)` where `model` is an `nn.Module` instance: a `torch.nn` layer,
    a class of this file that subclasses one, a `torchvision.models` / `timm` model, a
    `DataParallel` / `DistributedDataParallel` wrapper, or a `.to()` / `.cuda()` / `.eval()` chain
    of those, followed through assignments. Modules inside a dict, list or tuple literal that is
    saved (`torch.save({"model": model}, path)`) are found too.

    ## Why is this bad?
    Saving the module pickles the object, which stores a reference to its class, not its code. The
    file loads only where the same class can be imported under the same module path, breaks when
    the class is renamed or moved, and cannot be loaded with `torch.load(path, weights_only=True)`,
    which is the default since PyTorch 2.6: loading fails with `UnpicklingError` until the reader
    turns the safety check off. The state dict is a plain mapping of tensors that loads anywhere.

    ## Example
    ```python
    model = Net().to(device)
    torch.save(model, "model.pt")
    ```

    ## Use instead
    ```python
    torch.save(model.state_dict(), "model.pt")
    # later
    model = Net()
    model.load_state_dict(torch.load("model.pt", weights_only=True))
    ```

    ## Fix safety
    Unsafe: the fix saves `model.state_dict()` in place of `model`, so the code that loads the
    file must also change (build the model, then `load_state_dict`). Applied only with
    `--unsafe-fixes`. Names whose type is unknown (a function parameter without an `nn.Module`
    annotation, say) are never reported.

    ## Source
    Note 001, "14.Pytorch模型断点续练方法": the note shows both `torch.save(model, path)` and
    `torch.save(model.state_dict(), path)` and rightly recommends the second ("官方推荐第二种方法").
    """

    code = "TL501"
    name = "whole-model-save"
    summary = "`torch.save` of a whole module pickles its class; save its `state_dict()` instead"
    fix_safety = UNSAFE
    triggers = ("save",)

    def visit_Call(self, node: cst.Call) -> None:
        if self.analysis.qualified_name(node.func) != "torch.save":
            return
        saved = argument(node, 0, "obj")
        if saved is None:
            return
        modules = list(self._modules_in(saved.value, None))
        if not modules:
            return
        edits = tuple(Edit(m, _state_dict_of(m)) for m in modules)
        names = ", ".join(f"`{self.analysis.module.code_for_node(m).strip()}`" for m in modules)
        message = (
            f"`torch.save` pickles the whole module {names}: the file needs the class's code to load "
            "and is refused by `torch.load(weights_only=True)`; save `.state_dict()` instead"
        )
        fix_message = "Save " + ", ".join(
            f"`{self.analysis.module.code_for_node(e.new).strip()}`" for e in edits
        )
        self.report(node, message, Fix(UNSAFE, fix_message, edits))

    def _modules_in(self, expr: cst.BaseExpression, where: Optional[Where]) -> Iterator[cst.BaseExpression]:
        """The module-valued expressions that `expr` saves, looking inside container literals."""
        if isinstance(expr, cst.Dict):
            for element in expr.elements:
                if isinstance(element, cst.DictElement):
                    yield from self._modules_in(element.value, where)
        elif isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            for element in expr.elements:
                if isinstance(element, cst.Element):
                    yield from self._modules_in(element.value, where)
        elif self.analysis.values.is_module(expr, where):
            yield expr
        elif isinstance(expr, cst.Name):
            # A checkpoint built in a variable: `ckpt = {"model": model}; torch.save(ckpt, p)`.
            origins = self.analysis.values.origins(expr, where)
            if origins and len(origins) == 1 and isinstance(origins[0][0], (cst.Dict, cst.List, cst.Tuple)):
                literal, literal_where = origins[0]
                yield from self._modules_in(literal, literal_where)  # type: ignore[arg-type]


def _state_dict_of(expr: cst.BaseExpression) -> cst.Call:
    return cst.Call(func=cst.Attribute(value=expr, attr=cst.Name("state_dict")))
