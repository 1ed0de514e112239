from __future__ import annotations

from typing import Iterator, Optional, Tuple

import libcst as cst

from torchlint.analysis import Where
from torchlint.checks._syntax import argument
from torchlint.syntax import is_self_attribute
from torchlint.rule import UNSAFE, Edit, Fix, Rule, register


@register
class WholeModelSave(Rule):
    """
    ## What it does
    Finds `torch.save(model, path)` where `model` is an `nn.Module` instance: a `torch.nn` layer,
    a class of this file or project that subclasses one, a `torchvision.models` / `timm` model, a
    `DataParallel` / `DistributedDataParallel` wrapper or its `.module`, a submodule (`net.fc`),
    `self` in a module's method, a value the code trains as a module (a model from `torch.load`
    given to an optimizer), or a `.to()` / `.cuda()` / `.eval()` chain of those, followed through
    assignments. Modules inside a dict, list or tuple literal that is saved
    (`torch.save({"model": model}, path)`) are found too. A value that is a module on some paths
    only (`to_save = model if best else ema_state`, or an `if`/`else` that rebinds it) is reported
    too: on those paths the whole model is saved. Left alone: a file the same code reads straight
    back with an explicit `torch.load(path, weights_only=False)`, which pickles the module on
    purpose (a serialisation test).

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
    `--unsafe-fixes`. No fix when the value is a module on some paths only (`.state_dict()` would
    fail on the others). Names whose type is unknown (a function parameter without an
    `nn.Module` annotation that nothing uses as a module, say) are never reported.

    ## Source
    Note 001, "14.Pytorch模型断点续练方法": the note shows both `torch.save(model, path)` and
    `torch.save(model.state_dict(), path)` and rightly recommends the second ("官方推荐第二种方法").
    """

    code = "TL501"
    name = "whole-model-save"
    summary = "`torch.save` of a whole module pickles its class; save its `state_dict()` instead"
    fix_safety = UNSAFE
    triggers = ("save",)  # torch.save
    fires_on = frozenset({"torch.save"})

    def visit_Call(self, node: cst.Call) -> None:
        if not self.analysis.refers_to(node.func, "torch.save"):
            return
        saved = argument(node, 0, "obj")
        if saved is None:
            return
        found = list(self._modules_in(saved.value, None))
        if not found or self.analysis.checkpoints.loaded_back_unpickling(node):  # read straight back
            return  # with weights_only=False: pickled on purpose
        modules = [expr for expr, always in found if always]
        sometimes = [expr for expr, always in found if not always]
        names = ", ".join(f"`{self._code(m)}`" for m in modules + sometimes)
        if sometimes:
            message = (
                f"`torch.save` pickles the whole module {names} on some paths (one of its values is a module): "
                "the file then needs the class's code to load and is refused by `torch.load(weights_only=True)`; "
                "save `.state_dict()` instead"
            )
            self.report(node, message)  # `.state_dict()` would fail on the paths where it is not a module
            return
        edits = tuple(Edit(m, _state_dict_of(m)) for m in modules)
        message = (
            f"`torch.save` pickles the whole module {names}: the file needs the class's code to load "
            "and is refused by `torch.load(weights_only=True)`; save `.state_dict()` instead"
        )
        fix_message = "Save " + ", ".join(f"`{self._code(e.new)}`" for e in edits)
        self.report(node, message, Fix(UNSAFE, fix_message, edits))

    def _code(self, node: cst.CSTNode) -> str:
        return self.analysis.module.code_for_node(node).strip()

    def _modules_in(self, expr: cst.BaseExpression, where: Optional[Where]) -> Iterator[Tuple[cst.BaseExpression, bool]]:
        """The module-valued expressions that `expr` saves, looking inside container literals,
        each with whether it is a module on every path (False: only some of its values are)."""
        if isinstance(expr, cst.Dict):
            for entry in expr.elements:
                if isinstance(entry, cst.DictElement):
                    yield from self._modules_in(entry.value, where)
        elif isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            for element in expr.elements:
                if isinstance(element, cst.Element):
                    yield from self._modules_in(element.value, where)
        elif self.analysis.values.is_module(expr, where):
            yield expr, True
        elif isinstance(expr, (cst.Name, cst.IfExp)) or is_self_attribute(expr):
            # A checkpoint built in a variable (`ckpt = {"model": model}`), or a value that is a
            # module on some paths only (`to_save = model if ... else None`, if/else rebindings).
            literals = []
            some_module = False
            for node, node_where in self._possible_values(expr, where):
                if isinstance(node, (cst.Dict, cst.List, cst.Tuple)):
                    literals.append((node, node_where))
                elif self.analysis.values.is_module(node, node_where):  # type: ignore[arg-type]
                    some_module = True
            if some_module:
                yield expr, False
            elif len(literals) == 1:
                literal, literal_where = literals[0]
                yield from self._modules_in(literal, literal_where)

    def _possible_values(self, expr: cst.BaseExpression, where: Optional[Where]) -> Iterator[Tuple[cst.CSTNode, Where]]:
        if isinstance(expr, cst.IfExp):
            yield from self._possible_values(expr.body, where)
            yield from self._possible_values(expr.orelse, where)
            return
        for node, node_where in self.analysis.values.origins(expr, where) or ():
            if isinstance(node, cst.IfExp):
                yield from self._possible_values(node, node_where)
            else:
                yield node, node_where


def _state_dict_of(expr: cst.BaseExpression) -> cst.Call:
    return cst.Call(func=cst.Attribute(value=expr, attr=cst.Name("state_dict")))
