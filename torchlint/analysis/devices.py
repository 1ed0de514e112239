"""Which values may live on a CUDA device: tensors and modules moved with `.cuda()` / `.to(dev)`,
built with `device=...`, or computed from such values, followed through assignments.

Answers are levels, on positive evidence only: NONE (no evidence), MAYBE (some path puts it on
CUDA, e.g. `"cuda" if torch.cuda.is_available() else "cpu"` or a `device` parameter) and SURE
(every path does, e.g. `.cuda()`: such code cannot run without a GPU). Unknown values are NONE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Set, Tuple

import libcst as cst

from torchlint.analysis.torch_api import MODULE_RETURNING_METHODS
from torchlint.syntax import is_self_attribute
from torchlint.syntax import argument

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis import ModuleAnalysis, Where

NONE, MAYBE, SURE = 0, 1, 2

# Tensor attributes and methods that read metadata: the result is not device data.
METADATA = frozenset(
    "shape dtype device ndim is_cuda requires_grad layout names is_leaf size dim numel "
    "element_size stride is_contiguous data_ptr get_device is_floating_point ndimension nelement "
    "storage_offset".split()
)
# Methods whose result is host data (they copy to the CPU, which waits for the device).
TO_HOST_METHODS = frozenset("cpu item tolist numpy".split())
# Builtins whose result is a plain Python value, never device data.
_HOST_BUILTINS = frozenset(
    "len isinstance issubclass type id str repr format print float int bool range enumerate "
    "hasattr callable hash round".split()
)


def combine(levels: Iterable[int]) -> int:
    """The level of a value that may be any of several: SURE only if every one is."""
    levels = list(levels)
    if levels and all(level == SURE for level in levels):
        return SURE
    return MAYBE if any(level != NONE for level in levels) else NONE


def named_like_device(expr: cst.CSTNode) -> bool:
    """`device`, `dev`, `args.device`, `cfg["device"]`, `train_device`: a name that says it
    holds a device."""
    if isinstance(expr, cst.Attribute):
        name = expr.attr.value
    elif isinstance(expr, cst.Name):
        name = expr.value
    elif isinstance(expr, cst.Subscript) and len(expr.slice) == 1:
        key = expr.slice[0].slice
        value = key.value if isinstance(key, cst.Index) else None
        name = value.evaluated_value if isinstance(value, cst.SimpleString) else None
    else:
        return False
    return isinstance(name, str) and (name in ("device", "dev") or name.endswith("_device"))


def is_builtin_call(analysis: "ModuleAnalysis", call: cst.Call, names, where: "Where") -> bool:
    """`len(x)`-style call of a builtin in `names` that no local binding shadows."""
    func = call.func
    return isinstance(func, cst.Name) and func.value in names and not analysis.reaching(func.value, where)


class DeviceFacts:
    def __init__(self, analysis: "ModuleAnalysis") -> None:
        self.analysis = analysis
        self._memo: Dict[Tuple[int, int], int] = {}
        self._visiting: Set[int] = set()
        self._moves: Optional[List[Tuple[str, "Where", cst.Call]]] = None

    # ------------------------------------------------------------------ devices
    def device(self, expr: cst.BaseExpression, where: "Where", explicit: bool) -> Optional[int]:
        """The level at which the device designator `expr` may be CUDA; None when `expr` is not
        known to be a device at all (`.to(torch.float16)`). `explicit`: `expr` sits where only a
        device can (`device=...`, `torch.device(...)`), so an unknown value may be CUDA."""
        if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString)):
            text = expr.evaluated_value
            if isinstance(text, bytes) or text is None:
                return None
            return SURE if text.startswith("cuda") else NONE
        if isinstance(expr, cst.FormattedString):
            first = expr.parts[0] if expr.parts else None
            if isinstance(first, cst.FormattedStringText) and first.value.startswith("cuda"):
                return SURE
            return MAYBE if explicit else None
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.left, cst.SimpleString):
            return self.device(expr.left, where, explicit)  # "cuda:%d" % i, "cuda:" + str(i)
        if isinstance(expr, cst.Integer):
            return SURE  # a device index means a CUDA device
        if isinstance(expr, cst.IfExp):
            branches = [self.device(e, where, explicit) for e in (expr.body, expr.orelse)]
            if all(b is None for b in branches):
                return None
            return combine(NONE if b is None else b for b in branches)
        if isinstance(expr, cst.Call):
            name = self.analysis.qualified_name(expr.func, where)
            if name == "torch.device" and expr.args:
                return _or(self.device(expr.args[0].value, where, True), MAYBE)
            if name and name.startswith("torch.cuda."):
                return SURE  # torch.cuda.current_device() and the like
        if isinstance(expr, cst.Attribute) and expr.attr.value == "device":
            # `x.device`: where `x` lives. A tensor torch built without a device is on the CPU;
            # any other owner (`args`, an `Accelerator`, a parameter) may hold a CUDA device.
            level = self.value(expr.value, where)
            if level != NONE:
                return level
            return MAYBE if self._opaque(expr.value, where) else NONE
        if isinstance(expr, cst.Name):
            origins = self.analysis.values.origins(expr, where)
            if origins is not None:
                named = explicit or named_like_device(expr)
                levels = [self._origin_device(node, w, named) for node, w in origins]
                if all(level is None for level in levels):
                    return None
                return combine(NONE if level is None else level for level in levels)
        if explicit or named_like_device(expr):
            return MAYBE
        return None

    def _origin_device(self, node: cst.CSTNode, where: "Where", explicit: bool) -> Optional[int]:
        if isinstance(node, cst.Param):
            annotation = node.annotation.annotation if node.annotation else None
            typed = annotation is not None and (
                self.analysis.qualified_name(annotation, where) == "torch.device")
            return MAYBE if explicit or typed or named_like_device(node.name) else None
        if isinstance(node, cst.Name):  # an imported name (`from config import device`) or None
            if node.value == "None":
                return NONE
            return MAYBE if explicit or named_like_device(node) else None
        if isinstance(node, cst.BaseExpression):
            if id(node) in self._visiting:
                return None
            self._visiting.add(id(node))
            try:
                return self.device(node, where, explicit)
            finally:
                self._visiting.discard(id(node))
        return None

    def _opaque(self, expr: cst.BaseExpression, where: "Where") -> bool:
        """True when `expr` may be an object whose device this file does not show: a parameter,
        an unknown name, or what another library returned (`Accelerator()`). Tensors built by
        torch and outputs of modules of this file that are not on CUDA are not opaque."""
        origins = self.analysis.values.origins(expr, where)
        if origins is None:
            return True
        for node, node_where in origins:
            if isinstance(node, cst.Param):
                return True
            if isinstance(node, cst.Call) and id(node) not in self._visiting:
                func = node.func
                name = self.analysis.qualified_name(func, node_where)
                if name and name.startswith("torch."):
                    continue
                if isinstance(func, cst.Attribute) and name is None:
                    self._visiting.add(id(node))
                    try:
                        if self._opaque(func.value, node_where):  # `x.float()`: where x comes from
                            return True
                    finally:
                        self._visiting.discard(id(node))
                    continue
                if not self.analysis.values.is_module(func, node_where):
                    return True
            elif isinstance(node, cst.Attribute):
                return True
        return False

    # ------------------------------------------------------------------ values
    def value(self, expr: cst.BaseExpression, where: "Where", called: bool = False) -> int:
        """The level at which the tensor or module `expr` may live on CUDA. `called`: `expr` is
        called (`model(x)`), so it is a module and `model.to(device)` statements moved it."""
        key = (id(expr), id(where[1]))
        if key in self._memo:
            return self._memo[key]
        if id(expr) in self._visiting:
            return NONE  # a value fed back into itself adds no evidence
        self._visiting.add(id(expr))
        try:
            level = self._value(expr, where, called)
        finally:
            self._visiting.discard(id(expr))
        self._memo[key] = level
        return level

    def _value(self, expr: cst.BaseExpression, where: "Where", called: bool) -> int:
        if not isinstance(expr, cst.Name) and not is_self_attribute(expr):
            return self._origin_value(expr, where)
        moved = self._moved_in_place(expr, where, called) if isinstance(expr, cst.Name) else NONE
        origins = self.analysis.values.origins(expr, where)
        if origins is None:
            return moved
        level = combine(self._origin_value(node, w) for node, w in origins)
        return max(level, moved)

    def _origin_value(self, node: cst.CSTNode, where: "Where") -> int:
        if isinstance(node, cst.Call):
            return self.call(node, where)
        if isinstance(node, cst.BinaryOperation):
            return max(self.value(node.left, where), self.value(node.right, where))
        if isinstance(node, cst.UnaryOperation):
            return self.value(node.expression, where)
        if isinstance(node, cst.Comparison):
            if all(isinstance(t.operator, (cst.Is, cst.IsNot)) for t in node.comparisons):
                return NONE  # identity, a Python bool
            operands = [node.left] + [target.comparator for target in node.comparisons]
            return max(self.value(operand, where) for operand in operands)
        if isinstance(node, cst.Subscript):
            return self.value(node.value, where)
        if isinstance(node, cst.Attribute):
            if node.attr.value in METADATA:
                return NONE
            return self.value(node.value, where)
        if isinstance(node, (cst.Tuple, cst.List)):
            return max((self.value(e.value, where) for e in node.elements), default=NONE)
        if isinstance(node, cst.IfExp):
            return combine(self.value(e, where) for e in (node.body, node.orelse))
        return NONE  # literals; names here are imports, functions or classes: no device data

    def call(self, call: cst.Call, where: "Where") -> int:
        """The level of a call's result: a move to a device, a build with `device=`, a module
        on CUDA called, or an operation on CUDA values."""
        if is_builtin_call(self.analysis, call, _HOST_BUILTINS, where):
            return NONE
        func = call.func
        name = self.analysis.qualified_name(func, where)
        if name and name.startswith("torch.cuda.") and name.endswith("Tensor"):
            return SURE  # the legacy `torch.cuda.FloatTensor(...)` builds on the GPU
        if name and (name.startswith(("torch.cuda.", "torch.optim.lr_scheduler.")) or name == "torch.device"):
            return NONE  # runtime handles, devices, and schedulers (which only set numbers)
        device = argument(call, None, "device")
        if device is not None:
            return _or(self.device(device.value, where, True), NONE)
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method == "cuda":
                return SURE
            if method in TO_HOST_METHODS or method in METADATA:
                return NONE
            receiver = self.value(func.value, where)
            if method == "to":
                return self._moved_to(call, where, receiver)
            if method in MODULE_RETURNING_METHODS:
                return receiver
            return max([receiver] + [self.value(a.value, where) for a in call.args])
        callee = self.value(func, where, called=True)
        return max([callee] + [self.value(a.value, where) for a in call.args])

    def _moved_to(self, call: cst.Call, where: "Where", receiver: int) -> int:
        """`x.to(...)`: a device moves it, a dtype keeps it where it is, a tensor moves it there."""
        if not call.args or call.args[0].keyword is not None:
            return receiver
        target = call.args[0].value
        level = self.device(target, where, False)
        if level is not None:
            return level
        return max(receiver, self.value(target, where))

    def move_level(self, call: cst.Call, where: "Where") -> Optional[int]:
        """For `m.cuda()` / `m.to(...)`: the level of the device it moves to; None for another call."""
        if not isinstance(call.func, cst.Attribute):
            return None
        if call.func.attr.value == "cuda":
            return SURE
        if call.func.attr.value == "to":
            target = argument(call, None, "device")
            if target is None and call.args and call.args[0].keyword is None:
                target = call.args[0]
            if target is not None:
                return self.device(target.value, where, target.keyword is not None)
        return None

    # ------------------------------------------------------------------ modules moved in place
    def _moved_in_place(self, name: cst.Name, where: "Where", called: bool) -> int:
        """`model.to(device)` as a statement moves a module (not a tensor) without rebinding it."""
        moves = [m for m in self._in_place_moves() if m[0] == name.value]
        if not moves or not (called or self.analysis.values.is_module(name, where)):
            return NONE
        used = {id(b) for b in self.analysis.reaching(name.value, where)}
        levels = [NONE]
        for _, move_where, call in moves:
            same_scope = move_where[0] is where[0]
            if same_scope and move_where[1].seq >= where[1].seq and not any(
                move_where[1].seq in loop for loop in where[1].loops
            ):
                continue  # moved only after this use
            if used & {id(b) for b in self.analysis.reaching(name.value, move_where)}:
                level = self.move_level(call, move_where) or NONE
                blocks = move_where[1].blocks
                if level == SURE and not (same_scope and where[1].blocks[: len(blocks)] == blocks):
                    level = MAYBE  # the move is not on every path to this use
                levels.append(level)
        return max(levels)

    def _in_place_moves(self) -> List[Tuple[str, "Where", cst.Call]]:
        if self._moves is None:
            self._moves = []
            for info in self.analysis.index.statements.values():
                if not isinstance(info.node, cst.SimpleStatementLine):
                    continue
                for small in info.node.body:
                    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                        receiver = _chain_receiver(small.value)
                        if receiver is not None:
                            self._moves.append((receiver.value, (info.scope, info), small.value))
        return self._moves


def _chain_receiver(call: cst.Call) -> Optional[cst.Name]:
    """`model.eval().cuda()` -> `model` when the outer call is a move and the chain keeps a module."""
    if not (isinstance(call.func, cst.Attribute) and call.func.attr.value in ("to", "cuda")):
        return None
    node: cst.BaseExpression = call.func.value
    while (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
           and node.func.attr.value in MODULE_RETURNING_METHODS):
        node = node.func.value
    return node if isinstance(node, cst.Name) else None


def _or(level: Optional[int], default: int) -> int:
    return default if level is None else level
