"""The one device lattice: may a tensor or module live on a CUDA device, and which device does a
designator name.

Answers are levels, on evidence only (never on how a name is spelled):
- NONE: no evidence it is on CUDA (CPU tensors, values the file does not show);
- MAYBE: some path puts it on CUDA, e.g. `"cuda" if torch.cuda.is_available() else "cpu"`, or a
  device whose value the file does not show (a parameter passed as `device=`, `.to(dev)`,
  `torch.device(dev)`): an unknown device may be CUDA;
- SURE: every path does (`.cuda()`, `"cuda"`, `f"cuda:{rank}"`): such code cannot run without a GPU.

Queries:
- `device_of(expr, where)`: where the tensor or module `expr` lives;
- `device_named(expr, where, explicit)`: the device a designator names, None when `expr` is not a
  device at all (`.to(torch.float16)`, `.to(other_tensor)` answers through `device_of`);
- `move_target(call, where)`: for `x.cuda()` / `x.to(...)`, the device it moves to;
- `is_blocking_copy(call, where)`: a `.to()` / `.cuda()` / `.cpu()` that copies between host and
  device without `non_blocking=True`, which makes the host wait for the GPU.
"""

from __future__ import annotations

import contextlib
import enum
from typing import TYPE_CHECKING, Dict, FrozenSet, Iterable, Iterator, List, Optional, Set, Tuple

import libcst as cst

from torchlint.analysis.conditions import NOTHING, Assumption, Conditions
from torchlint.analysis.scopes import Binding
from torchlint.analysis.torch_api import DTYPE_NAMES, MODULE_RETURNING_METHODS, TENSOR_FACTORIES
from torchlint.syntax import argument, is_name, is_self_attribute
from torchlint.tree import child_nodes

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis import ModuleAnalysis, Where


class DeviceLevel(enum.IntEnum):
    """How surely a value lives on a CUDA device; ordered, so `max` joins evidence."""

    NONE = 0
    MAYBE = 1
    SURE = 2


NONE, MAYBE, SURE = DeviceLevel.NONE, DeviceLevel.MAYBE, DeviceLevel.SURE

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

def combine(levels: Iterable[DeviceLevel]) -> DeviceLevel:
    """The level of a value that may be any of several: SURE only if every one is."""
    found = list(levels)
    if found and all(level == SURE for level in found):
        return SURE
    return MAYBE if any(level != NONE for level in found) else NONE


def is_builtin_call(analysis: "ModuleAnalysis", call: cst.Call, names: FrozenSet[str], where: "Where") -> bool:
    """`len(x)`-style call of a builtin in `names` that no local binding shadows."""
    func = call.func
    return isinstance(func, cst.Name) and func.value in names and not analysis.reaching(func.value, where)


def _or(level: Optional[DeviceLevel], default: DeviceLevel) -> DeviceLevel:
    return default if level is None else level


class DeviceFacts:
    def __init__(self, analysis: "ModuleAnalysis") -> None:
        self.analysis = analysis
        self._memo: Dict[Tuple[int, int, FrozenSet[Assumption]], DeviceLevel] = {}
        self._visiting: Set[int] = set()
        self._moves: Optional[List[Tuple[str, "Where", cst.Call]]] = None
        self._dtype_names: Dict[int, Set[str]] = {}
        self._conditions = Conditions(analysis)
        # The flags and branches the question being answered starts under (analysis/conditions.py):
        # origins under the other branch of one of them cannot reach its starting point.
        self._assumed: FrozenSet[Assumption] = NOTHING
        self._depth = 0

    def _here(self, where: Optional["Where"]) -> "Where":
        return where if where is not None else self.analysis.where()

    @contextlib.contextmanager
    def _question(self, where: "Where") -> Iterator[None]:
        """A public question starts under the branches around `where`; the questions it asks on
        the way keep those assumptions."""
        outer = self._depth == 0
        if outer:
            self._assumed = self._conditions.under(where)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if outer:
                self._assumed = NOTHING

    def _possible(self, origins: List[Tuple[cst.CSTNode, "Where"]]) -> List[Tuple[cst.CSTNode, "Where"]]:
        """The origins the question's assumptions do not rule out."""
        if not self._assumed:
            return origins
        return [(node, w) for node, w in origins if not self._conditions.excluded(self._assumed, w)]

    def _taken(self, expr: cst.IfExp, where: "Where") -> List[cst.BaseExpression]:
        """The branches of `a if test else b` that the assumptions allow."""
        taken = self._conditions.branch(expr.test, self._assumed, where)
        return [expr.body, expr.orelse] if taken is None else [expr.body if taken else expr.orelse]

    # ------------------------------------------------------------------ designators
    def device_named(self, expr: cst.BaseExpression, where: Optional["Where"] = None,
                     explicit: bool = True) -> Optional[DeviceLevel]:
        """The level at which the device designator `expr` may be CUDA; None when `expr` is not a
        device (a dtype, a tensor). `explicit`: `expr` sits where only a device can (`device=`,
        `torch.device(...)`); otherwise it is the first argument of `.to(...)`, which may also be
        a dtype or a tensor, and is a device unless the file shows it is one of those."""
        where = self._here(where)
        with self._question(where):
            return self._device_named(expr, where, explicit)

    def _device_named(self, expr: cst.BaseExpression, where: "Where", explicit: bool) -> Optional[DeviceLevel]:
        if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString)):
            text = expr.evaluated_value
            if not isinstance(text, str):
                return None
            return SURE if text.startswith("cuda") else NONE
        if isinstance(expr, cst.FormattedString):
            first = expr.parts[0] if expr.parts else None
            if isinstance(first, cst.FormattedStringText):
                if first.value.startswith("cuda"):
                    return SURE  # f"cuda:{rank}"
                if first.value.startswith(("cpu", "mps", "meta")):
                    return NONE
            return MAYBE
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.left, cst.SimpleString):
            return self.device_named(expr.left, where, explicit)  # "cuda:%d" % i, "cuda:" + str(i)
        if isinstance(expr, cst.Integer):
            return SURE  # a device index means a CUDA device
        if isinstance(expr, cst.IfExp):
            branches = [self.device_named(e, where, explicit) for e in self._taken(expr, where)]
            if all(b is None for b in branches):
                return None
            return combine(_or(b, NONE) for b in branches)
        if _is_dtype(self.analysis, expr, where):
            return None
        if isinstance(expr, cst.Call):
            name = self.analysis.qualified_name(expr.func, where)
            if name == "torch.device":
                kind: Optional[cst.BaseExpression] = expr.args[0].value if expr.args and not expr.args[0].star else None
                if kind is None:
                    keyword = argument(expr, None, "type")
                    kind = keyword.value if keyword is not None else None
                return MAYBE if kind is None else _or(self.device_named(kind, where, True), MAYBE)
            if name and name.startswith("torch.cuda."):
                return SURE  # torch.cuda.current_device() and the like
            if name in TENSOR_FACTORIES:
                return None if explicit is False else MAYBE
        origins = self._followed(expr, where)
        if isinstance(expr, cst.Attribute) and expr.attr.value == "device" and origins is None:
            # `x.device`: where `x` lives. A tensor torch built without a device is on the CPU;
            # any other owner (`args`, an `Accelerator`, a parameter) may hold a CUDA device.
            level = self.device_of(expr.value, where)
            if level != NONE:
                return level
            return MAYBE if self._opaque(expr.value, where) else NONE
        if isinstance(expr, cst.Name) or is_self_attribute(expr):
            if origins is not None:
                levels = [self._origin_device(node, w, explicit) for node, w in origins]
                if all(level is None for level in levels):
                    return None
                return combine(_or(level, NONE) for level in levels)
            return MAYBE if explicit or not self._used_as_dtype(expr, where) else None
        if not explicit and self._is_tensor_expression(expr, where):
            return None
        return MAYBE  # a device whose value the file does not show may be CUDA

    def _followed(self, expr: cst.BaseExpression, where: "Where") -> Optional[List[Tuple[cst.CSTNode, "Where"]]]:
        """The values a name or `self.x` is bound to (in the class or a base class of this
        file); None when unknown or not bound here."""
        if not (isinstance(expr, cst.Name) or is_self_attribute(expr)):
            return None
        origins = self.analysis.values.origins(expr, where)
        if origins is not None and any(node is expr for node, _ in origins):
            assert isinstance(expr, cst.Attribute)
            origins = self._inherited(expr, where)
        return self._possible(origins) if origins is not None else None

    def _inherited(self, expr: cst.Attribute, where: "Where") -> Optional[List[Tuple[cst.CSTNode, "Where"]]]:
        """`self._cpu_device` set in `__init__` of a base class of this file."""
        scope = where[0]
        classdef = scope.parent.node if scope.parent is not None and scope.parent.kind == "class" else None
        seen: Set[int] = set()
        while isinstance(classdef, cst.ClassDef) and id(classdef) not in seen:
            seen.add(id(classdef))
            bases = [c for base in classdef.bases for c, _ in self.analysis.values.local_classes(base.value, where)]
            if len(bases) != 1:
                return None
            classdef = bases[0]
            class_scope = self.analysis.index.scopes.get(id(classdef))
            bindings = class_scope.attributes.get(expr.attr.value, []) if class_scope is not None else []
            if bindings:
                origins: List[Tuple[cst.CSTNode, "Where"]] = []
                for binding in bindings:
                    if binding.value is None:
                        return None
                    found = self.analysis.values.origins(binding.value, self.analysis.binding_where(binding))
                    if found is None:
                        return None
                    origins.extend(found)
                return origins
        return None

    def _origin_device(self, node: cst.CSTNode, where: "Where", explicit: bool) -> Optional[DeviceLevel]:
        if isinstance(node, cst.Param):
            annotation = node.annotation.annotation if node.annotation else None
            kind = self.analysis.qualified_name(annotation, where) if annotation is not None else None
            if kind == "torch.dtype" or (node.default is not None and _is_dtype(self.analysis, node.default, where)):
                return None
            if kind == "torch.Tensor" and not explicit:
                return None
            if not explicit and self._name_used_as_dtype(node.name.value, where[0].node):
                return None
            return MAYBE  # a device the caller chooses may be CUDA
        if isinstance(node, cst.Name):  # an imported name (`from config import device`) or None
            if node.value == "None":
                return NONE
            return MAYBE
        if isinstance(node, cst.BaseExpression):
            if id(node) in self._visiting:
                return None
            self._visiting.add(id(node))
            try:
                return self.device_named(node, where, explicit)
            finally:
                self._visiting.discard(id(node))
        return None

    def _used_as_dtype(self, expr: cst.BaseExpression, where: "Where") -> bool:
        return isinstance(expr, cst.Name) and self._name_used_as_dtype(expr.value, where[0].node)

    def _name_used_as_dtype(self, name: str, scope_node: cst.CSTNode) -> bool:
        """The name is passed as `dtype=name` somewhere in the scope: usage evidence of a dtype."""
        key = id(scope_node)
        if key not in self._dtype_names:
            names: Set[str] = set()
            stack: List[cst.CSTNode] = [scope_node]
            while stack:
                node = stack.pop()
                if isinstance(node, cst.Arg) and node.keyword is not None and node.keyword.value == "dtype" \
                        and isinstance(node.value, cst.Name):
                    names.add(node.value.value)
                stack.extend(child_nodes(node))
            self._dtype_names[key] = names
        return name in self._dtype_names[key]

    def _is_tensor_expression(self, expr: cst.BaseExpression, where: "Where") -> bool:
        """`.to(other)` with a tensor built or computed here: it moves to that tensor's device."""
        if isinstance(expr, cst.Call):
            name = self.analysis.qualified_name(expr.func, where) or ""
            return name in TENSOR_FACTORIES or (name.startswith("torch.") and not name.startswith("torch.cuda."))
        return False

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
    def device_of(self, expr: cst.BaseExpression, where: Optional["Where"] = None, called: bool = False) -> DeviceLevel:
        """The level at which the tensor or module `expr` may live on CUDA. `called`: `expr` is
        called (`model(x)`), so it is a module and `model.to(device)` statements moved it."""
        where = self._here(where)
        with self._question(where):
            key = (id(expr), id(where[1]), self._assumed)
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

    def _value(self, expr: cst.BaseExpression, where: "Where", called: bool) -> DeviceLevel:
        if not isinstance(expr, cst.Name) and not is_self_attribute(expr):
            return self._origin_value(expr, where)
        moved = self._moved_in_place(expr, where, called) if isinstance(expr, cst.Name) else NONE
        origins = self.analysis.values.origins(expr, where)
        if origins is None:
            return moved
        level = combine(self._origin_value(node, w) for node, w in self._possible(origins))
        return max(level, moved)

    def _origin_value(self, node: cst.CSTNode, where: "Where") -> DeviceLevel:
        if isinstance(node, cst.Call):
            return self.call_result(node, where)
        if isinstance(node, cst.BinaryOperation):
            return max(self.device_of(node.left, where), self.device_of(node.right, where))
        if isinstance(node, cst.UnaryOperation):
            return self.device_of(node.expression, where)
        if isinstance(node, cst.Comparison):
            if all(isinstance(t.operator, (cst.Is, cst.IsNot)) for t in node.comparisons):
                return NONE  # identity, a Python bool
            operands = [node.left] + [target.comparator for target in node.comparisons]
            return max(self.device_of(operand, where) for operand in operands)
        if isinstance(node, cst.Subscript):
            return self.device_of(node.value, where)
        if isinstance(node, cst.Attribute):
            if node.attr.value in METADATA:
                return NONE
            return self.device_of(node.value, where)
        if isinstance(node, (cst.Tuple, cst.List)):
            return max((self.device_of(e.value, where) for e in node.elements), default=NONE)
        if isinstance(node, cst.IfExp):
            return combine(self.device_of(e, where) for e in self._taken(node, where))
        return NONE  # literals; names here are imports, functions or classes: no device data

    def call_result(self, call: cst.Call, where: Optional["Where"] = None) -> DeviceLevel:
        """The level of a call's result: a move to a device, a build with `device=`, a module
        on CUDA called, or an operation on CUDA values."""
        where = self._here(where)
        with self._question(where):
            return self._call_result(call, where)

    def _call_result(self, call: cst.Call, where: "Where") -> DeviceLevel:
        if is_builtin_call(self.analysis, call, _HOST_BUILTINS, where):
            return NONE
        func = call.func
        name = self.analysis.qualified_name(func, where)
        if name and name.startswith("torch.cuda.") and name.endswith("Tensor"):
            return SURE  # the legacy `torch.cuda.FloatTensor(...)` builds on the GPU
        if name and (name.startswith(("torch.cuda.", "torch.optim.lr_scheduler.")) or name == "torch.device"):
            return NONE  # runtime handles, devices, and schedulers (which only set numbers)
        torch_call = bool(name) and name.startswith("torch.")  # type: ignore[union-attr]
        device = argument(call, None, "device")
        if device is not None and (torch_call or self.analysis.values.is_module(call, where)):
            return _or(self.device_named(device.value, where, True), NONE)
        arguments = [self.device_of(a.value, where) for a in call.args]
        if isinstance(func, cst.Attribute) and name is None and not (
                is_self_attribute(func) and self._followed(func, where) is not None):  # `self.model(x)`
            method = func.attr.value
            if method == "cuda":
                return SURE
            if method in TO_HOST_METHODS or method in METADATA:
                return NONE
            receiver = self.device_of(func.value, where)
            if method == "to":
                return self._moved_to(call, where, receiver)
            if method == "type" and call.args:
                target = self._cuda_type(call.args[0].value, where)
                return receiver if target is None else target
            if method in MODULE_RETURNING_METHODS or receiver == NONE:
                return receiver  # a method of an object the file does not show: its result neither
            return max([receiver] + arguments)
        callee = self.device_of(func, where, called=True)
        if callee != NONE or torch_call or self.analysis.values.is_module(func, where):
            return max([callee] + arguments)
        return NONE  # what a function the file does not show returns is not known

    def _cuda_type(self, expr: cst.BaseExpression, where: "Where") -> Optional[DeviceLevel]:
        """`x.type(torch.cuda.FloatTensor)` moves to CUDA; `Tensor = torch.cuda.FloatTensor if cuda
        else torch.FloatTensor` may. None for other arguments (a dtype, a string)."""
        origins = self.analysis.values.origins(expr, where) or [(expr, where)]
        levels: List[DeviceLevel] = []
        for node, node_where in origins:
            if isinstance(node, cst.IfExp):
                branches = [self._cuda_type(e, node_where) for e in (node.body, node.orelse)]
                if all(b is None for b in branches):
                    return None
                levels.append(combine(_or(b, NONE) for b in branches))
                continue
            name = self.analysis.qualified_name(node, node_where) or ""
            if not name.endswith("Tensor"):
                return None
            levels.append(SURE if name.startswith("torch.cuda.") else NONE)
        return combine(levels) if levels else None

    def _moved_to(self, call: cst.Call, where: "Where", receiver: DeviceLevel) -> DeviceLevel:
        """`x.to(...)`: a device moves it, a dtype keeps it where it is, a tensor moves it there."""
        target = self.move_target(call, where)
        if target is not None:
            return target
        first = call.args[0].value if call.args and call.args[0].keyword is None else None
        if first is None:
            return receiver
        return max(receiver, self.device_of(first, where))

    def move_target(self, call: cst.Call, where: Optional["Where"] = None) -> Optional[DeviceLevel]:
        """For `m.cuda()` / `m.to(...)`: the level of the device it moves to; None for another
        call and for `.to(dtype)` / `.to(tensor)`."""
        where = self._here(where)
        with self._question(where):
            return self._move_target(call, where)

    def _move_target(self, call: cst.Call, where: "Where") -> Optional[DeviceLevel]:
        if not isinstance(call.func, cst.Attribute):
            return None
        if call.func.attr.value == "cuda":
            return SURE
        if call.func.attr.value == "cpu":
            return NONE
        if call.func.attr.value == "type" and call.args:
            return self._cuda_type(call.args[0].value, where)
        if call.func.attr.value == "to":
            keyword = argument(call, None, "device")
            if keyword is not None:
                return self.device_named(keyword.value, where, True)
            if call.args and call.args[0].keyword is None and not call.args[0].star:
                return self.device_named(call.args[0].value, where, False)
        return None

    def is_blocking_copy(self, call: cst.Call, where: Optional["Where"] = None) -> bool:
        """A copy between host and device without `non_blocking=True`: PyTorch waits for the
        copy, and so for all work queued before it on the stream. `x.to("cpu")` / `x.cpu()` from
        CUDA; `x.to(device)` / `x.cuda()` of a value that may be on the host (a DataLoader batch)."""
        where = self._here(where)
        target = self.move_target(call, where)
        if target is None:
            return False
        blocking = argument(call, None, "non_blocking")
        if blocking is not None and not is_name(blocking.value, "False"):
            return False
        assert isinstance(call.func, cst.Attribute)
        source = self.device_of(call.func.value, where)
        if target == NONE:
            return True  # to the host: it must wait for the value (a no-op for CPU values)
        return source != SURE  # to the device, from memory that may be the host's

    # ------------------------------------------------------------------ modules moved in place
    def _moved_in_place(self, name: cst.Name, where: "Where", called: bool) -> DeviceLevel:
        """`model.to(device)` as a statement moves a module (not a tensor) without rebinding it."""
        moves = [m for m in self._in_place_moves()
                 if m[0] == name.value and not self._conditions.excluded(self._assumed, m[1])]
        if not moves or not (called or self.analysis.values.is_module(name, where)):
            return NONE
        used = {id(b) for b in self.analysis.reaching(name.value, where)}
        levels = [NONE]
        # The last move before the use on every path to it (`model.to("cpu")` after an earlier
        # `model.to(device)`) decides; earlier moves in the same scope no longer matter.
        dominating = max((m[1][1].seq for m in moves if m[1][0] is where[0] and m[1][1].seq < where[1].seq
                          and where[1].blocks[: len(m[1][1].blocks)] == m[1][1].blocks
                          and not any(m[1][1].seq in loop for loop in where[1].loops)), default=-1)
        for _, move_where, call in moves:
            same_scope = move_where[0] is where[0]
            if same_scope and move_where[1].seq >= where[1].seq and not any(
                move_where[1].seq in loop for loop in where[1].loops
            ):
                continue  # moved only after this use
            if (same_scope and move_where[1].seq < dominating) or (dominating >= 0 and not same_scope):
                continue  # moved again later, before this use
            if used & {id(b) for b in self._reaching(name.value, move_where)}:
                level = _or(self.move_target(call, move_where), NONE)
                if dominating >= 0 and same_scope:
                    levels.append(level)  # the dominating move, or a later one on some paths
                    continue
                blocks = move_where[1].blocks
                if level == SURE and not (same_scope and where[1].blocks[: len(blocks)] == blocks):
                    level = MAYBE  # the move is not on every path to this use
                levels.append(level)
        if dominating >= 0:
            return combine(levels[1:]) if len(levels) > 1 else NONE
        return max(levels)

    def _reaching(self, name: str, where: "Where") -> List[Binding]:
        return self.analysis.reaching(name, where)

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


def _is_dtype(analysis: "ModuleAnalysis", expr: cst.BaseExpression, where: "Where") -> bool:
    """`torch.float16`, `x.dtype`, `torch.get_default_dtype()`: evidence of a dtype, not a device."""
    if isinstance(expr, cst.Attribute) and expr.attr.value == "dtype":
        return True
    if isinstance(expr, cst.Call):
        return analysis.qualified_name(expr.func, where) == "torch.get_default_dtype"
    name = analysis.qualified_name(expr, where)
    return bool(name) and name.startswith("torch.") and name.rsplit(".", 1)[-1] in DTYPE_NAMES  # type: ignore[union-attr]


def _chain_receiver(call: cst.Call) -> Optional[cst.Name]:
    """`model.eval().cuda()` -> `model` when the outer call is a move and the chain keeps a module."""
    if not (isinstance(call.func, cst.Attribute) and call.func.attr.value in ("to", "cuda", "cpu")):
        return None
    node: cst.BaseExpression = call.func.value
    while (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
           and node.func.attr.value in MODULE_RETURNING_METHODS):
        node = node.func.value
    return node if isinstance(node, cst.Name) else None
