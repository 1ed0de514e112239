"""Evaluation order and GPU waits: which calls queue CUDA work, which wait for the GPU, and what
a wall-clock interval measures.

CUDA kernels run asynchronously: a call returns once its kernels are queued. A wall-clock
interval measures the GPU's work only where something in it waits for that work. This module
records, per scope and in evaluation order, the calls and operations of the code (events), and
answers:
- `effect(event)`: does it queue CUDA work (and how surely), wait for the GPU, or neither; calls
  the file cannot see that are given CUDA values may do both (OPAQUE), and count as waiting;
- `waits_for_gpu(call, where)`: explicit synchronisation, barriers, copies to the host
  (`.item()`, `.cpu()`, `.tolist()`, `.numpy()`, `float(t)`, `print(t)`, f-strings of a CUDA value),
  host-blocking copies (`.to(device)` without `non_blocking=True` from memory that may be the
  host's), serialisation (`torch.save`, ONNX export), a helper of the file that waits;
- `intervals()`: the measured intervals: `end - start` of two clock reads, and calls of the
  file's timer classes that visibly read a wall clock (`t.tic()` ... `t.toc()`);
- `unwaited_work(interval)`: the CUDA work queued in the interval that nothing waits for. In a
  loop, work waited for by a wait of a later iteration that is still measured (the next pass of
  an ETA meter, of a per-iteration meter whose start is read again, or of a wall clock around the
  whole loop) is measured, so it does not count;
- `timed_statements()`: `timeit.timeit` / `timeit.repeat` / `timeit.Timer(...)` of a statement.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from torchlint.analysis.devices import METADATA, NONE, SURE, DeviceLevel, is_builtin_call
from torchlint.syntax import is_self_attribute
from torchlint.tree import child_nodes, node_types

if TYPE_CHECKING:  # pragma: no cover
    from torchlint.analysis import ModuleAnalysis, Where
    from torchlint.analysis.scopes import LoopRange

CLOCKS = frozenset({
    "time.time", "time.perf_counter", "time.monotonic", "time.clock",
    "time.time_ns", "time.perf_counter_ns", "time.monotonic_ns", "timeit.default_timer",
})
# Method names that wait for the device whatever the receiver: explicit synchronisation,
# barriers, and the copies and checks that need values on the host.
SYNC_METHODS = frozenset(
    "item tolist numpy cpu synchronize barrier wait_for_everyone nonzero argwhere unique masked_select "
    "allclose equal save_pretrained".split()
)
SYNC_FUNCTIONS = frozenset({
    "torch.save", "torch.onnx.export", "torch.onnx.dynamo_export", "torch.jit.save", "torch.export.save",
    "safetensors.torch.save_file",
    "torch.distributed.all_gather_object", "torch.distributed.broadcast_object_list",
    "torch.distributed.gather_object", "torch.distributed.scatter_object_list",
})
_FORMATTING_BUILTINS = frozenset("print str repr format float int bool".split())
_HOST_BUILTINS = frozenset("len isinstance issubclass type id hasattr callable range enumerate zip".split())
_CONTAINER_BUILTINS = frozenset("list dict set tuple".split())
# Methods that touch no device data even on a module or tensor on CUDA.
_NO_WORK_METHODS = METADATA | frozenset(
    "eval train requires_grad_ parameters named_parameters buffers named_buffers state_dict modules "
    "named_modules children named_children zero_grad register_buffer register_forward_hook "
    "register_forward_pre_hook register_full_backward_hook".split()
)
_CONDITIONAL = frozenset({cst.IfExp, cst.BooleanOperation, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp})
_EXPRESSIONS = node_types(cst.BaseExpression)
_TIMEIT_FUNCTIONS = frozenset({"timeit.timeit", "timeit.repeat"})
_TIMER_CLASS = "timeit.Timer"
# Every name through which code reads a wall clock or times a statement: a file that names none
# has no interval and no timed statement (a timer class of the file reads a clock too).
TIMERS = CLOCKS | _TIMEIT_FUNCTIONS | {_TIMER_CLASS}
_TIMEIT_METHODS = frozenset({"timeit", "repeat", "autorange"})


class Effect(enum.Enum):
    """What evaluating an event does to the GPU's queue."""

    NONE = "none"  # touches no device data
    WORK = "work"  # may queue CUDA work
    WAIT = "wait"  # waits for the GPU
    OPAQUE = "opaque"  # a call the file cannot see, given CUDA values: may queue work, may wait


@dataclass(eq=False)
class Event:
    """A call or operation, in evaluation order within its scope (calls after their arguments)."""

    index: int
    node: cst.CSTNode
    where: "Where"
    line: Optional[cst.CSTNode]  # the simple statement holding it (None in a compound header)
    conditional: bool  # inside `a if c else b`, `a and b` or a comprehension: it may not run
    truth: bool = False  # the truth of `node` is taken (an `if` / `while` / `assert` test)
    clock: bool = False  # a read of a wall clock


@dataclass(eq=False)
class Interval:
    """A measured interval: the end (a clock read or a timer's stop call) and the reads it may
    be measured from."""

    end: Event
    starts: List[Event] = field(default_factory=list)


@dataclass(eq=False)
class TimedStatement:
    """`timeit.timeit(stmt, ...)`: the timing call and the events of one run of the statement."""

    call: cst.Call
    where: "Where"
    events: List[Event]


@dataclass(eq=False)
class MagicTimed:
    """Statements an IPython `%%time` cell or `%time` line times: the first, and the events of a run."""

    first: cst.CSTNode
    events: List[Event]


class TimingFacts:
    def __init__(self, analysis: "ModuleAnalysis") -> None:
        self.analysis = analysis
        self.devices = analysis.devices
        self._events: Optional[Dict[int, List[Event]]] = None  # by id(scope)
        self._subtractions: List[Tuple[cst.BinaryOperation, "Where"]] = []
        self._timeits: List[Tuple[cst.Call, "Where"]] = []
        self._by_node: Dict[int, Event] = {}
        self._compared: Set[int] = set()
        self._effects: Dict[int, Tuple[Effect, DeviceLevel]] = {}
        self._waiting_functions: Dict[int, bool] = {}
        self._function_levels: Dict[int, DeviceLevel] = {}
        self._spans: Dict[int, Dict[int, Tuple[int, int]]] = {}
        self._timer_methods: Optional[Dict[int, Tuple[Set[str], Set[str]]]] = None

    # ------------------------------------------------------------------ recording
    def events(self, scope_node: cst.CSTNode) -> List[Event]:
        """The events of the scope whose node is `scope_node` (a function, class or the module)."""
        self._record_all()
        scope = self.analysis.index.scopes.get(id(scope_node))
        return self._events.get(id(scope), []) if scope is not None and self._events is not None else []

    def event_of(self, node: cst.CSTNode) -> Optional[Event]:
        self._record_all()
        return self._by_node.get(id(node))

    def _record_all(self) -> None:
        if self._events is not None:
            return
        self._events = {}
        if self.imports_clock():
            self._body(self.analysis.module.body)

    def imports_clock(self) -> bool:
        """The file imports `time` or `timeit` (or a name from them): without that it reads no
        wall clock, and nothing needs recording."""
        for scope in self.analysis.index.scopes.values():
            for bindings in scope.bindings.values():
                for binding in bindings:
                    qualified = binding.qualified or ""
                    if binding.kind == "import" and qualified.split(".")[0] in ("time", "timeit"):
                        return True
        return False

    def _body(self, statements: Sequence[cst.CSTNode]) -> None:
        for statement in statements:
            self._statement(statement)

    def _suite(self, suite: cst.BaseSuite) -> None:
        if isinstance(suite, cst.SimpleStatementSuite):
            self._statement(suite)
        else:
            self._body(suite.body)  # type: ignore[attr-defined]

    def _statement(self, stmt: cst.CSTNode) -> None:
        info = self.analysis.index.statements.get(id(stmt))
        if info is None:
            return
        where: "Where" = (info.scope, info)
        if isinstance(stmt, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for small in stmt.body:
                self._small(small, where, stmt)
        elif isinstance(stmt, cst.FunctionDef):
            self._suite(stmt.body)
        elif isinstance(stmt, cst.ClassDef):
            self._suite(stmt.body)
        elif isinstance(stmt, cst.If):
            self._test(stmt.test, where)
            self._suite(stmt.body)
            if isinstance(stmt.orelse, cst.If):
                self._statement(stmt.orelse)
            elif stmt.orelse is not None:
                self._suite(stmt.orelse.body)
        elif isinstance(stmt, cst.While):
            self._test(stmt.test, where)
            self._suite(stmt.body)
            self._test(stmt.test, where)  # tested again after the last pass through the body
            if stmt.orelse is not None:
                self._suite(stmt.orelse.body)
        elif isinstance(stmt, cst.For):
            self._expression(stmt.iter, where, None)
            self._suite(stmt.body)
            if stmt.orelse is not None:
                self._suite(stmt.orelse.body)
        elif isinstance(stmt, cst.With):
            for item in stmt.items:
                self._expression(item.item, where, None)
            self._suite(stmt.body)
        elif isinstance(stmt, (cst.Try, cst.TryStar)):
            self._suite(stmt.body)
            for handler in stmt.handlers:
                self._suite(handler.body)
            if stmt.orelse is not None:
                self._suite(stmt.orelse.body)
            if stmt.finalbody is not None:
                self._suite(stmt.finalbody.body)
        elif isinstance(stmt, cst.Match):
            self._expression(stmt.subject, where, None)
            for case in stmt.cases:
                self._suite(case.body)

    def _small(self, small: cst.CSTNode, where: "Where", line: cst.CSTNode) -> None:
        if isinstance(small, cst.Assign):
            self._expression(small.value, where, line)
            for target in small.targets:
                self._expression(target.target, where, line)
        elif isinstance(small, cst.AugAssign):
            self._expression(small.value, where, line)
            self._expression(small.target, where, line)
            self._add(small, where, line, False)
        elif isinstance(small, cst.Assert):
            self._test(small.test, where, line)
        else:
            for child in child_nodes(small):
                if type(child) in _EXPRESSIONS:
                    self._expression(child, where, line)

    def _test(self, test: cst.BaseExpression, where: "Where", line: Optional[cst.CSTNode] = None) -> None:
        self._expression(test, where, line)
        self._add(test, where, line, False, truth=True)

    def _expression(self, root: cst.CSTNode, where: "Where", line: Optional[cst.CSTNode],
                    out: Optional[List[Event]] = None) -> None:
        """Events of an expression in evaluation order (post-order, no recursion: deep trees)."""
        stack: List[Tuple[cst.CSTNode, bool, bool]] = [(root, False, False)]
        while stack:
            node, done, conditional = stack.pop()
            if done:
                self._add(node, where, line, conditional, out=out)
                continue
            kind = type(node)  # exact types: LibCST's ABC isinstance checks are slow in a walk
            if kind is cst.Lambda:
                continue  # its body runs later, not where it is written
            if kind is cst.Comparison:
                self._compared.add(id(node.left))  # type: ignore[attr-defined]
                self._compared.update(id(target.comparator) for target in node.comparisons)  # type: ignore[attr-defined]
            if kind is cst.Call or kind is cst.BinaryOperation or kind is cst.FormattedStringExpression:
                stack.append((node, True, conditional))
                if out is None and kind is cst.BinaryOperation and type(node.operator) is cst.Subtract:  # type: ignore[attr-defined]
                    self._subtractions.append((node, where))  # type: ignore[arg-type]
            inner = conditional or kind in _CONDITIONAL
            stack.extend((child, False, inner) for child in reversed(child_nodes(node)))

    def _add(self, node: cst.CSTNode, where: "Where", line: Optional[cst.CSTNode], conditional: bool,
             truth: bool = False, out: Optional[List[Event]] = None) -> None:
        assert self._events is not None
        target = out if out is not None else self._events.setdefault(id(where[0]), [])
        event = Event(len(target), node, where, line, conditional, truth=truth)
        if isinstance(node, cst.Call):
            event.clock = self.analysis.refers_to(node.func, CLOCKS, where)
            if out is None and (self.analysis.refers_to(node.func, _TIMEIT_FUNCTIONS, where)
                                or self._is_timer_call(node, where)):
                self._timeits.append((node, where))
        target.append(event)
        if out is None and not truth:
            self._by_node[id(node)] = event

    # ------------------------------------------------------------------ effects
    def effect(self, event: Event) -> Tuple[Effect, DeviceLevel]:
        """What the event does: queue CUDA work (with how surely it is CUDA), wait, or neither."""
        known = self._effects.get(id(event))
        if known is None:
            known = self._effect(event)
            self._effects[id(event)] = known
        return known

    def _effect(self, event: Event) -> Tuple[Effect, DeviceLevel]:
        node, where = event.node, event.where
        if event.clock:
            return Effect.NONE, NONE
        if event.truth or isinstance(node, cst.FormattedStringExpression):
            value = node.expression if isinstance(node, cst.FormattedStringExpression) else node
            assert isinstance(value, cst.BaseExpression)
            return (Effect.WAIT, NONE) if self.devices.device_of(value, where) != NONE else (Effect.NONE, NONE)
        if isinstance(node, cst.BinaryOperation):
            if isinstance(node.operator, cst.Modulo) and isinstance(node.left, (cst.SimpleString, cst.ConcatenatedString)):
                return (Effect.WAIT, NONE) if self._shows_cuda(node.right, where) else (Effect.NONE, NONE)
            return _work(max(self.devices.device_of(node.left, where), self.devices.device_of(node.right, where)))
        if isinstance(node, cst.AugAssign):
            return _work(max(self.devices.device_of(node.target, where), self.devices.device_of(node.value, where)))
        if not isinstance(node, cst.Call):
            return Effect.NONE, NONE
        if self.waits_for_gpu(node, where):
            return Effect.WAIT, NONE
        return self._call_effect(node, where)

    def waits_for_gpu(self, call: cst.Call, where: Optional["Where"] = None) -> bool:
        """True when the call waits for the GPU (or may: a doubtful wait counts, precision first)."""
        where = where if where is not None else self.analysis.where()
        func = call.func
        name = self.analysis.qualified_name(func, where)
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in SYNC_METHODS:
                return True
            if method in ("to", "cuda", "type") and self.devices.is_blocking_copy(call, where):
                return True
            if method == "step" and self._made_by(func.value, where, lambda name: name.endswith("GradScaler")):
                return True  # GradScaler.step reads whether gradients overflowed
            if method == "step" and call.args and self._made_by(func.value, where,
                                                                  lambda name: name.startswith("torch.optim.lr_scheduler.")):
                return any(self._shows_cuda(a.value, where) for a in call.args)  # ReduceLROnPlateau: float(metric)
            if method in ("save", "_save_for_lite_interpreter") and self._torch_object(func.value, where):
                return True  # a scripted or traced module written to a file
            if method == "format" and isinstance(func.value, (cst.SimpleString, cst.ConcatenatedString)):
                return any(self._shows_cuda(a.value, where) for a in call.args)
        if name in SYNC_FUNCTIONS or (name and name.startswith("torch.") and name.rsplit(".", 1)[-1] in SYNC_METHODS):
            return True
        if name and name.startswith("math.") and any(self._shows_cuda(a.value, where) for a in call.args):
            return True  # `math.isnan(loss)`: a Python float of the tensor
        if "synchron" in _called_name(func).lower():
            return True  # `time_synchronized()`, `cuda_synchronize()` from a helper module
        function = self.analysis.values.local_function(func, where)
        if function is not None and self._runs_as_written(function, where) and self._function_waits(function):
            return True
        if is_builtin_call(self.analysis, call, _FORMATTING_BUILTINS, where):
            return any(self._shows_cuda(a.value, where) for a in call.args)
        return False

    def cuda_work(self, call: cst.Call, where: Optional["Where"] = None) -> DeviceLevel:
        """How surely a call queues CUDA work (NONE for waits and calls that touch no device data)."""
        where = where if where is not None else self.analysis.where()
        if self.waits_for_gpu(call, where):
            return NONE
        effect, level = self._call_effect(call, where)
        return level if effect == Effect.WORK else NONE

    def _call_effect(self, call: cst.Call, where: "Where") -> Tuple[Effect, DeviceLevel]:
        func = call.func
        name = self.analysis.qualified_name(func, where)
        if name and (name.startswith("torch.cuda.") or name.startswith(("time.", "timeit."))):
            return Effect.NONE, NONE
        if is_builtin_call(self.analysis, call, _HOST_BUILTINS | _FORMATTING_BUILTINS | _CONTAINER_BUILTINS, where):
            return Effect.NONE, NONE
        arguments = max([self.devices.device_of(a.value, where) for a in call.args], default=NONE)
        if isinstance(func, cst.Attribute) and name is None and not is_self_attribute(func):
            if func.attr.value in _NO_WORK_METHODS:
                return Effect.NONE, NONE
            move = self.devices.move_target(call, where)
            receiver = self.devices.device_of(func.value, where)
            level = receiver if move is None else max(move, receiver)
            if level != NONE:
                return Effect.WORK, level
            if arguments == NONE or self._host_container(func.value, where) or self._torch_object(func.value, where):
                return _work(arguments) if self._torch_object(func.value, where) else (Effect.NONE, NONE)
            return Effect.OPAQUE, NONE  # a method of an object the file does not show, given CUDA values
        function = self.analysis.values.local_function(func, where)
        if function is not None and self._runs_as_written(function, where):
            return _work(max(arguments, self._function_work(function)))
        callee = self.devices.device_of(func, where, called=True)
        if callee != NONE:
            return Effect.WORK, max(callee, arguments)
        if (name and name.startswith("torch.")) or self.analysis.values.is_module(func, where) \
                or self._passed_in(func, where):
            return _work(arguments)
        return (Effect.OPAQUE, NONE) if arguments != NONE else (Effect.NONE, NONE)

    def _passed_in(self, func: cst.BaseExpression, where: "Where") -> bool:
        """A callable the caller passes in (`model(x)` with `model` a parameter) runs the CUDA
        values it is given; functions imported from elsewhere (an `evaluate` returning floats)
        may wait, so those stay opaque."""
        origins = self.analysis.values.origins(func, where)
        return bool(origins) and all(isinstance(node, cst.Param) for node, _ in origins or [])

    def _shows_cuda(self, expr: cst.BaseExpression, where: "Where") -> bool:
        return any(self.devices.device_of(e, where) != NONE for e in _values_in(expr))

    def _host_container(self, expr: cst.BaseExpression, where: "Where") -> bool:
        """A list, dict or set built here: `out.append(y)` does no device work."""
        origins = self.analysis.values.origins(expr, where)
        return bool(origins) and all(
            isinstance(node, (cst.List, cst.Dict, cst.Set, cst.ListComp, cst.DictComp, cst.SetComp))
            or (isinstance(node, cst.Call) and is_builtin_call(self.analysis, node, _CONTAINER_BUILTINS, w))
            for node, w in origins or []
        )

    def _made_by(self, expr: cst.BaseExpression, where: "Where", made: Callable[[str], bool]) -> bool:
        """Every value `expr` may hold is the result of a call whose qualified name passes `made`."""
        origins = self.analysis.values.origins(expr, where)
        return bool(origins) and all(
            isinstance(node, cst.Call) and made(self.analysis.qualified_name(node.func, w) or "")
            for node, w in origins or []
        )

    def _torch_object(self, expr: cst.BaseExpression, where: "Where") -> bool:
        return self._made_by(expr, where, lambda name: name.startswith("torch."))

    def _function_events(self, function: cst.FunctionDef) -> List[Event]:
        return self.events(function)

    def _runs_as_written(self, function: cst.FunctionDef, where: "Where") -> bool:
        """No decorator, or only torch's grad-mode ones (`@torch.no_grad()`): otherwise a
        wrapper the file may not show runs instead of the body."""
        for decorator in function.decorators:
            target = decorator.decorator
            target = target.func if isinstance(target, cst.Call) else target
            if not (self.analysis.qualified_name(target, where) or "").startswith("torch."):
                return False
        return True

    def _function_work(self, function: cst.FunctionDef) -> DeviceLevel:
        """How surely a helper of this file queues CUDA work itself (through the values it reads)."""
        key = id(function)
        if key not in self._function_levels:
            self._function_levels[key] = NONE  # recursion adds nothing
            self._function_levels[key] = max(
                (level for effect, level in map(self.effect, self._function_events(function)) if effect == Effect.WORK),
                default=NONE,
            )
        return self._function_levels[key]

    def _function_waits(self, function: cst.FunctionDef) -> bool:
        """A helper of this file that waits for the GPU itself, or may (an opaque call in it)."""
        key = id(function)
        if key not in self._waiting_functions:
            self._waiting_functions[key] = False  # recursion adds nothing
            self._waiting_functions[key] = any(
                self.effect(event)[0] in (Effect.WAIT, Effect.OPAQUE) for event in self._function_events(function)
            )
        return self._waiting_functions[key]

    # ------------------------------------------------------------------ intervals
    def intervals(self) -> List[Interval]:
        """Every measured interval: `end - start` of clock reads (names followed), and the
        stop calls of timer objects of the file's timer classes after their start calls."""
        self._record_all()
        by_end: Dict[int, Interval] = {}
        for sub, where in self._subtractions:
            if id(sub) in self._compared:
                continue  # `time.time() - start < budget` is a deadline, not a measurement
            for end in self._reads(sub.left, where):
                if end.line is None:
                    continue  # a read in an `if` / `while` header: a deadline, not a benchmark
                for start in self._reads(sub.right, where):
                    if start.where[0] is end.where[0]:
                        interval = by_end.setdefault(id(end), Interval(end))
                        if start not in interval.starts:
                            interval.starts.append(start)
        for end, starts in self._timer_intervals():
            by_end.setdefault(id(end), Interval(end)).starts.extend(s for s in starts if s not in by_end[id(end)].starts)
        return sorted(by_end.values(), key=lambda i: (i.end.where[1].seq, i.end.index))

    def _reads(self, expr: cst.BaseExpression, where: "Where", depth: int = 0) -> List[Event]:
        """The clock reads `expr` evaluates to: a read itself, or a name every value of which is one.
        Names are followed with `reaching` so `t = time.time() - t` sees only this iteration's read."""
        event = self._by_node.get(id(expr))
        if event is not None and event.clock:
            return [event]
        if not isinstance(expr, cst.Name) or depth > 4:
            return []
        reads: List[Event] = []
        for binding in self.analysis.reaching(expr.value, where):
            if binding.kind != "assign" or binding.value is None:
                return []
            found = self._reads(binding.value, self.analysis.binding_where(binding), depth + 1)
            if not found:
                return []
            reads.extend(found)
        return reads

    def unwaited_work(self, interval: Interval) -> List[Event]:
        """The CUDA work queued in the interval that nothing measured waits for: walking back from
        the end, the work met before any wait or start, unless a wait of a later pass of the loop
        around it still falls in a measured interval."""
        events = self._scope_events(interval.end)
        starts = {s.index for s in interval.starts}
        frontier: List[Event] = []
        seen: Set[int] = set()
        stack = self._predecessors(events, interval.end.index)
        while stack:
            position = stack.pop()
            if position in seen:
                continue
            seen.add(position)
            if position in starts:
                continue
            effect = self.effect(events[position])[0]
            if effect == Effect.WORK:
                frontier.append(events[position])
            elif effect == Effect.NONE:
                stack.extend(self._predecessors(events, position))
        return [work for work in frontier if not self._waited_later(events, work, interval, starts)]

    def _waited_later(self, events: List[Event], work: Event, interval: Interval, starts: Set[int]) -> bool:
        end = interval.end.index
        end_loops = self._loops(events, end)
        spans = self._loop_spans(events)
        restarted = any(spans[id(loop)][0] <= s <= spans[id(loop)][1] for loop in end_loops for s in starts)
        around_end = {id(loop) for loop in end_loops}
        # (position, measured now, the end was passed: a later read of the same start must follow)
        stack = [(p, True, False) for p in self._successors(events, work.index)]
        seen: Set[Tuple[int, bool, bool]] = set()
        while stack:
            position, measured, passed = stack.pop()
            if (position, measured, passed) in seen:
                continue
            seen.add((position, measured, passed))
            if position == end and end not in starts:
                if not end_loops:
                    continue  # the interval is over, and nothing later measures from its start
                measured, passed = measured and not restarted, True
            elif position in starts:
                measured, passed = True, False
            if passed and not around_end & {id(loop) for loop in self._loops(events, position)}:
                measured = False  # left the loop around the end: no later read measures this wait
            if measured and self.effect(events[position])[0] in (Effect.WAIT, Effect.OPAQUE):
                return True
            stack.extend((p, measured, passed) for p in self._successors(events, position))
        return False

    def waited_before(self, event: Event) -> bool:
        """The GPU was waited for after every CUDA work that may come before `event` in its
        scope (False when the scope's start is reached: the caller may have queued work)."""
        events = self._scope_events(event)
        seen: Set[int] = set()
        stack = self._predecessors(events, event.index)
        if not stack:
            return False
        while stack:
            position = stack.pop()
            if position in seen:
                continue
            seen.add(position)
            effect = self.effect(events[position])[0]
            if effect == Effect.WORK:
                return False
            if effect == Effect.NONE:
                before = self._predecessors(events, position)
                if not before:
                    return False
                stack.extend(before)
        return True

    @staticmethod
    def always_runs_with(event: Event, other: Event) -> bool:
        """`event` runs whenever the statement of `other` does: no branch of its own around it."""
        if event.conditional:
            return False
        shared = {id(c) for c in other.where[1].enclosing}
        return not any(
            isinstance(c, (cst.If, cst.Try, cst.TryStar, cst.Match)) and id(c) not in shared
            for c in event.where[1].enclosing
        )

    def _scope_events(self, event: Event) -> List[Event]:
        assert self._events is not None
        return self._events.get(id(event.where[0]), [])

    def _loops(self, events: List[Event], position: int) -> Tuple["LoopRange", ...]:
        return events[position].where[1].loops

    def _loop_spans(self, events: List[Event]) -> Dict[int, Tuple[int, int]]:
        """For each loop of the scope, the positions of its first and last events."""
        key = id(events)
        if key not in self._spans:
            spans: Dict[int, Tuple[int, int]] = {}
            for event in events:
                for loop in event.where[1].loops:
                    first, _ = spans.get(id(loop), (event.index, event.index))
                    spans[id(loop)] = (first, event.index)
            self._spans[key] = spans
        return self._spans[key]

    def _predecessors(self, events: List[Event], position: int) -> List[int]:
        spans = self._loop_spans(events)
        found = [position - 1] if position > 0 else []
        found += [spans[id(loop)][1] for loop in self._loops(events, position) if spans[id(loop)][0] == position]
        return found

    def _successors(self, events: List[Event], position: int) -> List[int]:
        spans = self._loop_spans(events)
        found = [position + 1] if position + 1 < len(events) else []
        found += [spans[id(loop)][0] for loop in self._loops(events, position) if spans[id(loop)][1] == position]
        return found

    # ------------------------------------------------------------------ timer objects
    def _timer_classes(self) -> Dict[int, Tuple[Set[str], Set[str]]]:
        """Classes of this file with methods that read a wall clock into `self.x` (start methods)
        and methods that subtract `self.x` from a clock read (stop methods), by id(ClassDef)."""
        if self._timer_methods is None:
            self._timer_methods = {}
            for scope in self.analysis.index.scopes.values():
                if scope.kind != "class":
                    continue
                starts: Set[str] = set()
                stops: Set[str] = set()
                clock_attributes = {
                    name for name, bindings in scope.attributes.items()
                    if any(isinstance(b.value, cst.Call) and self.analysis.qualified_name(
                        b.value.func, self.analysis.binding_where(b)) in CLOCKS for b in bindings)
                }
                for name, bindings in scope.bindings.items():
                    for binding in bindings:
                        if binding.kind != "def" or not isinstance(binding.node, cst.FunctionDef):
                            continue
                        inner = self.analysis.index.scopes[id(binding.node)]
                        for attribute in clock_attributes:
                            if any(b.stmt.scope is inner and isinstance(b.value, cst.Call) for b in scope.attributes[attribute]):
                                starts.add(name)
                        if any(self._is_self_subtraction(sub, w, clock_attributes) for sub, w in self._subtractions
                               if w[0] is inner):
                            stops.add(name)
                if starts and stops:
                    self._timer_methods[id(scope.node)] = (starts, stops)
        return self._timer_methods

    def _is_self_subtraction(self, sub: cst.BinaryOperation, where: "Where", attributes: Set[str]) -> bool:
        """`time.time() - self.start` with `self.start` a clock read of the class."""
        right = sub.right
        return (is_self_attribute(right) and right.attr.value in attributes  # type: ignore[attr-defined]
                and bool(self._reads(sub.left, where)))

    def _timer_roles(self, call: cst.Call, where: "Where") -> Tuple[bool, bool]:
        """(starts, stops): `t.tic()` / `t.toc()` on an instance of a timer class of this file."""
        func = call.func
        if not isinstance(func, cst.Attribute) or not isinstance(func.value, cst.Name):
            return False, False
        classes = self._instance_classes(func.value, where)
        if not classes:
            return False, False
        timers = self._timer_classes()
        roles = [timers.get(id(c)) for c in classes]
        if any(r is None for r in roles):
            return False, False
        method = func.attr.value
        return (all(method in r[0] for r in roles if r), all(method in r[1] for r in roles if r))

    def _instance_classes(self, expr: cst.Name, where: "Where") -> List[cst.ClassDef]:
        origins = self.analysis.values.origins(expr, where)
        classes: List[cst.ClassDef] = []
        for node, node_where in origins or []:
            if not isinstance(node, cst.Call):
                return []
            found = [c for c, _ in self.analysis.values.local_classes(node.func, node_where)]
            if not found:
                return []
            classes.extend(found)
        return classes

    def _timer_intervals(self) -> Iterator[Tuple[Event, List[Event]]]:
        if not self._timer_classes():
            return
        assert self._events is not None
        for events in self._events.values():
            calls = [(e, self._timer_roles(e.node, e.where)) for e in events if isinstance(e.node, cst.Call)]
            starts = [(e, e.node.func.value.value) for e, (s, _) in calls if s]  # type: ignore[attr-defined]
            for end, (_, stops) in calls:
                if not stops or end.line is None:
                    continue
                receiver = end.node.func.value.value  # type: ignore[attr-defined]
                found = [s for s, name in starts if name == receiver and s is not end and (
                    s.index < end.index or set(map(id, s.where[1].loops)) & set(map(id, end.where[1].loops)))]
                if found:
                    yield end, found

    def _is_timer_call(self, call: cst.Call, where: "Where") -> bool:
        """`timeit.Timer(stmt).timeit(...)` (and `.repeat`, `.autorange`)."""
        func = call.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in _TIMEIT_METHODS:
            return False
        receiver = func.value
        return isinstance(receiver, cst.Call) and self.analysis.qualified_name(receiver.func, where) == _TIMER_CLASS

    # ------------------------------------------------------------------ timeit
    def timed_statements(self) -> List[TimedStatement]:
        """`timeit.timeit(stmt)` and friends, with the events of one run of `stmt` (a lambda, a
        function of this file, or source text evaluated where the call is)."""
        self._record_all()
        found: List[TimedStatement] = []
        for call, where in self._timeits:
            timing = call.func.value if self._is_timer_call(call, where) else call  # type: ignore[attr-defined]
            stmt = _argument(timing, 0, "stmt")
            if stmt is None:
                continue
            events: List[Event] = []
            if isinstance(stmt, cst.Lambda):
                self._expression(stmt.body, where, None, out=events)
            elif isinstance(stmt, (cst.SimpleString, cst.ConcatenatedString)):
                text = stmt.evaluated_value
                try:
                    parsed = cst.parse_module(text) if isinstance(text, str) else None
                except cst.ParserSyntaxError:
                    parsed = None
                for statement in parsed.body if parsed is not None else ():
                    self._expression(statement, where, None, out=events)
            else:
                function = self.analysis.values.local_function(stmt, where)
                if function is None:
                    continue
                events = self._function_events(function)
            found.append(TimedStatement(call, where, events))
        return found

    def magic_timed(self, spans: Sequence[Tuple[int, int]]) -> List[MagicTimed]:
        """The module-level statements within each line span (a notebook's `%%time` cell or
        `%time` line, which IPython times with the wall clock and never synchronises), each span
        one timed run, ready for `statement_work`."""
        if not spans:
            return []
        self._record_all()
        if not self.imports_clock() and not getattr(self, "_magic_recorded", False):
            self._magic_recorded = True  # not recorded without a clock import: IPython reads the clock
            self._body(self.analysis.module.body)
        module = self.analysis.module
        line = 1 + len(module.header)
        starts: List[Tuple[int, cst.CSTNode]] = []
        for statement in module.body:
            starts.append((line + len(getattr(statement, "leading_lines", ())), statement))
            line += module.code_for_node(statement).count("\n")
        module_events = self.events(module)
        found: List[MagicTimed] = []
        for first, last in spans:
            chosen = [statement for start, statement in starts if first <= start <= last]
            if not chosen:
                continue
            inside: Set[int] = set()
            stack: List[cst.CSTNode] = list(chosen)
            while stack:
                node = stack.pop()
                inside.add(id(node))
                stack.extend(child_nodes(node))
            found.append(MagicTimed(chosen[0], [e for e in module_events if id(e.node) in inside]))
        return found

    def statement_work(self, timed: TimedStatement) -> Optional[Event]:
        """The CUDA work of a timed statement when nothing in it waits (each run's waits would
        measure the previous run's work); None otherwise."""
        effects = [(event, self.effect(event)[0]) for event in timed.events]
        if any(effect in (Effect.WAIT, Effect.OPAQUE) for _, effect in effects):
            return None
        work = [event for event, effect in effects if effect == Effect.WORK]
        return work[-1] if work else None

    # ------------------------------------------------------------------ edits
    def can_insert_before(self, line: Optional[cst.CSTNode]) -> bool:
        """A statement of a statement list, so another can be inserted before it."""
        if line is None:
            return False
        info = self.analysis.index.statements.get(id(line))
        return info is not None and info.listed

    def module_alias(self, module: str, lines: Sequence[cst.CSTNode]) -> Optional[str]:
        """The name `module` is imported under, valid at every one of `lines`."""
        names = [module] + sorted({
            binding.name
            for scope in self.analysis.index.scopes.values()
            for bindings in scope.bindings.values()
            for binding in bindings
            if binding.kind == "import" and binding.qualified == module
        })
        for name in names:
            if all(self._qualifies(name, line, module) for line in lines):
                return name
        return None

    def _qualifies(self, name: str, line: cst.CSTNode, module: str) -> bool:
        info = self.analysis.index.statements.get(id(line))
        return info is not None and self.analysis.qualified_name(cst.Name(name), (info.scope, info)) == module


def _work(level: DeviceLevel) -> Tuple[Effect, DeviceLevel]:
    return (Effect.WORK, level) if level != NONE else (Effect.NONE, NONE)


def _argument(call: cst.Call, position: int, keyword: str) -> Optional[cst.BaseExpression]:
    from torchlint.syntax import argument_value

    return argument_value(call, position, keyword)


def _values_in(expr: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    """The values an argument shows: itself, and what an f-string or `%` / `+` formatting holds."""
    if isinstance(expr, cst.FormattedString):
        for part in expr.parts:
            if isinstance(part, cst.FormattedStringExpression):
                yield from _values_in(part.expression)
    elif isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, (cst.Modulo, cst.Add)):
        yield from _values_in(expr.left)
        yield from _values_in(expr.right)
    elif isinstance(expr, (cst.Tuple, cst.List)):
        for element in expr.elements:
            yield from _values_in(element.value)
    else:
        yield expr


def _called_name(func: cst.BaseExpression) -> str:
    """`helper` for `helper(...)` and `obj.helper(...)`; empty for other callees."""
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else ""


__all__ = ["CLOCKS", "TIMERS", "SURE", "Effect", "Event", "Interval", "TimedStatement", "TimingFacts"]
