"""`kind(expr)`: what kind of value an expression is, with the evidence, in one question.

Rules ask this instead of combining the value, tensor and class facts themselves: a Module comes
with the classes it is built from and its train/eval-dependent layers, a Tensor with what is known
of it (gradients, activation), an Optimizer or a Loss with its class. Anything the analysis cannot
show is Unknown, and a rule that needs a kind stays silent on Unknown.

Loss calls are recognised here too (`F.cross_entropy(x, y)`, a `CrossEntropyLoss` instance
called), so every loss rule reads the same answer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Optional, Tuple

import libcst as cst

from torchlint.analysis.torch_api import LOSS_FUNCTIONS, OPTIMIZER_PREFIX
from torchlint.syntax import argument

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis import ModuleAnalysis, Where
    from torchlint.analysis.model_classes import ModeLayers


class ValueKind(enum.Enum):
    MODULE = "module"
    TENSOR = "tensor"
    OPTIMIZER = "optimizer"
    LOSS = "loss"  # a loss module (`nn.CrossEntropyLoss()`): called, it gives a tensor
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Kind:
    """What kind of value an expression is, with the evidence a finding can quote."""

    kind: ValueKind
    evidence: str  # why, in words a finding can quote
    classes: Tuple[str, ...] = ()  # MODULE / LOSS / OPTIMIZER: the (qualified) classes it is built from
    layers: Optional["ModeLayers"] = None  # MODULE: its train/eval-dependent layers
    activation: Optional[str] = None  # TENSOR: softmax, log_softmax or sigmoid output
    requires_grad: bool = False  # TENSOR: surely carries gradients

    @property
    def known(self) -> bool:
        return self.kind is not ValueKind.UNKNOWN


UNKNOWN = Kind(ValueKind.UNKNOWN, "nothing shows what it is")


@dataclass(frozen=True)
class LossCall:
    """A call computing a loss: which loss, and the arguments given as input and target."""

    loss: str  # the qualified class or function: torch.nn.CrossEntropyLoss, torch.nn.functional.cross_entropy
    input: Optional[cst.Arg]
    target: Optional[cst.Arg]


class Kinds:
    def __init__(self, analysis: "ModuleAnalysis") -> None:
        self.analysis = analysis
        # call and place -> (the call, its answer): TL101 and TL102 both ask it of every call
        self._loss_calls: Dict[Tuple[int, int, int, bool], Tuple[cst.Call, Optional[LossCall]]] = {}

    def kind(self, expr: cst.BaseExpression, where: Optional["Where"] = None) -> Kind:
        values, tensors = self.analysis.values, self.analysis.tensors
        if values.is_module(expr, where):
            classes = tuple(_class_name(c) for c in values.module_classes(expr, where) or ())
            if classes and all(_is_loss_class(c) for c in classes):
                return Kind(ValueKind.LOSS, f"built by {', '.join(sorted(set(classes)))}", classes)
            layers = self.analysis.model_classes.of_value(expr, where or self.analysis.where())
            evidence = f"an nn.Module ({', '.join(sorted(set(classes)))})" if classes else "used as an nn.Module"
            return Kind(ValueKind.MODULE, evidence, classes, layers)
        optimizer = self._optimizer(expr, where)
        if optimizer is not None:
            return Kind(ValueKind.OPTIMIZER, f"built by {optimizer}", (optimizer,))
        activation = tensors.activation(expr, where)
        grad = tensors.requires_grad(expr, where)
        if activation is not None or grad:
            evidence = f"a {activation} output" if activation is not None else "computed from parameters with grad on"
            return Kind(ValueKind.TENSOR, evidence, activation=activation.kind if activation else None,
                        requires_grad=grad)
        return UNKNOWN

    def optimizer(self, expr: cst.BaseExpression, where: Optional["Where"] = None) -> Optional[str]:
        """The `torch.optim` class that built the value, when every origin is one of that class
        (the OPTIMIZER part of `kind`, without asking whether it is a module or a tensor)."""
        return self._optimizer(expr, where)

    def _optimizer(self, expr: cst.BaseExpression, where: Optional["Where"]) -> Optional[str]:
        origins = self.analysis.values.origins(expr, where)
        names = set()
        for node, node_where in origins or ():
            if not isinstance(node, cst.Call):
                return None
            qualified = self.analysis.qualified_name(node.func, node_where) or ""
            last = qualified.rsplit(".", 1)[-1]
            if (not qualified.startswith(OPTIMIZER_PREFIX) or ".lr_scheduler." in qualified or ".swa_utils." in qualified
                    or not last[:1].isupper()):  # (schedulers, SWALR and AveragedModel are no optimizers)
                return None
            names.add(qualified)
        return names.pop() if len(names) == 1 else None

    def loss_call(self, call: cst.Call, where: Optional["Where"] = None) -> Optional[LossCall]:
        """`F.cross_entropy(x, y)` or `criterion(x, y)` with `criterion` a loss module."""
        if where is None and self.analysis.shadowing():
            return self._loss_call(call, None)  # lambda variables in force: an answer for here only
        place = where or self.analysis.where()
        # (asked at the traversal, `where` None, values are followed a step further: another answer)
        key = (id(call), id(place[0]), id(place[1]), where is None)
        known = self._loss_calls.get(key)
        if known is not None and known[0] is call:  # the call is held: its id is not reused
            return known[1]
        answer = self._loss_call(call, where)
        self._loss_calls[key] = (call, answer)
        return answer

    def _loss_call(self, call: cst.Call, where: Optional["Where"]) -> Optional[LossCall]:
        func = call.func
        qualified = self.analysis.qualified_name(func, where)
        if qualified in LOSS_FUNCTIONS:
            return LossCall(qualified, argument(call, 0, "input"), argument(call, 1, "target"))  # type: ignore[arg-type]
        if isinstance(func, cst.Attribute) and func.attr.value == "forward":
            func = func.value
        if not isinstance(func, (cst.Name, cst.Attribute, cst.Call)):
            return None
        # Only the classes matter here (asked of every call: the full kind() would cost layers too).
        values = self.analysis.values
        classes = {_class_name(c) for c in values.module_classes(func, where) or ()}
        if len(classes) == 1 and _is_loss_class(next(iter(classes))) and values.is_module(func, where):
            return LossCall(classes.pop(), argument(call, 0, "input"), argument(call, 1, "target"))
        return None


def _is_loss_class(qualified: str) -> bool:
    return qualified.startswith("torch.nn.") and qualified.endswith("Loss")


def _class_name(cls: object) -> str:
    return cls if isinstance(cls, str) else cls.name.value  # type: ignore[attr-defined]
