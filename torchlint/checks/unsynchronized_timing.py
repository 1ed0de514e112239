"""TL401: wall-clock timing of CUDA work that does not wait for the GPU.

The rule records, in evaluation order, the calls and operations of each scope while the engine
walks the module, then judges each `end - start` of two clock reads: is there CUDA work between
the reads, and does anything wait for the GPU after the last of it?
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import libcst as cst

from torchlint.analysis import Where
from torchlint.analysis.devices import (
    METADATA,
    NONE,
    SURE,
    TO_HOST_METHODS,
    is_builtin_call,
)
from torchlint.checks._syntax import insert_before, statement_of
from torchlint.rule import SAFE, Edit, Fix, Rule, register
from torchlint.syntax import is_name, is_self_attribute
from torchlint.syntax import argument

CLOCKS = frozenset({
    "time.time", "time.perf_counter", "time.monotonic",
    "time.time_ns", "time.perf_counter_ns", "time.monotonic_ns", "timeit.default_timer",
})
# Calls that wait for the device: explicit synchronisation, barriers, and the copies and checks
# that need the result on the host. Any call of these names counts, as does any name with
# "synchron" in it (`time_synchronized()`, `cuda_synchronize()`): precision first, a doubtful
# sync silences.
SYNC_NAMES = TO_HOST_METHODS | frozenset(
    "synchronize barrier wait_for_everyone nonzero argwhere unique masked_select allclose equal".split()
)
_SYNC_FUNCTIONS = frozenset({"torch.save"})  # serialising copies CUDA tensors to the host
# Formatting a tensor reads its values, which waits for the device.
_FORMATTING_BUILTINS = frozenset("print str repr format float int bool".split())
# Methods that touch no device data even on a module or tensor on CUDA.
_NO_WORK_METHODS = METADATA | frozenset(
    "eval train requires_grad_ parameters named_parameters buffers named_buffers state_dict modules "
    "named_modules children named_children zero_grad register_buffer register_forward_hook "
    "register_forward_pre_hook register_full_backward_hook".split()
)
_HOST_BUILTINS = frozenset("len isinstance issubclass type id hasattr callable range enumerate zip".split())


@dataclass
class _Event:
    """A call or operation seen in the traversal, in evaluation order (calls complete after
    their arguments, so events are recorded when the traversal leaves a node)."""

    index: int
    node: cst.CSTNode
    where: Where
    line: Optional[cst.CSTNode]  # the simple statement holding it (None in a compound header)
    conditional: bool  # inside `a if c else b`, `a and b` or a comprehension: it may not run
    clock: bool = False
    truth: bool = False  # the truth of `node` is taken (an `if` / `while` / `assert` test)


@register
class UnsynchronizedCudaTiming(Rule):
    """
    ## What it does
    Finds wall-clock timing of CUDA work without synchronisation: two reads of `time.time()`,
    `time.perf_counter()`, `time.monotonic()` (or their `_ns` forms, or `timeit.default_timer()`),
    in any import form, whose difference is taken (`end - start`, `time.perf_counter() - t0`),
    with work that may run on CUDA between them and nothing that waits for the GPU between that
    work and the second read. It reports the second read.

    Work may run on CUDA when it involves a module or tensor moved with `.cuda()`, `.to("cuda")`
    or `.to(device)`, built with `device=...`, or computed from one, followed through
    assignments; `device` may be CUDA when it is `"cuda"`, `torch.device("cuda" if
    torch.cuda.is_available() else "cpu")`, or a parameter or variable named like a device whose
    value the file does not show. Waiting for the GPU means `torch.cuda.synchronize()`, a stream
    or CUDA event `.synchronize()`, a helper of the file that calls one (or any function named
    like `*synchron*`), a distributed barrier, or an implicit sync: `.item()`, `.cpu()`,
    `.tolist()`, `.numpy()`, `.to("cpu")`, `.nonzero()`, `torch.save`, `print` or `float` of a
    CUDA tensor, formatting one in an f-string, an `if` / `while` / `assert` on one.

    Not reported: CPU-only code, timing with CUDA events (`torch.cuda.Event(enable_timing=True)` and
    `elapsed_time`) or `torch.utils.benchmark`, time budgets (`while time.time() - start < limit`),
    values whose device the file does not show (a `model` parameter that is never moved), and work
    done inside functions whose arguments show no CUDA value (calls are not followed into other
    functions). A wait on any path, in a branch too, counts as waiting.

    ## Why is this bad?
    CUDA kernels run asynchronously: a call like `model(x)` queues the work and returns at once.
    Reading the clock right after it measures how long it took to *queue* the kernels, often a
    small fraction of the time the GPU needs to run them, and the missing time shows up later in
    whichever call next waits for the GPU. Benchmarks built this way report impossible speed-ups.

    ## Example
    ```python
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = Net().to(device)
    start = time.time()
    out = model(x)
    end = time.time()
    print(end - start)
    ```

    ## Use instead
    ```python
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.time()
    out = model(x)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    end = time.time()
    print(end - start)
    ```
    or time on the GPU with `torch.cuda.Event(enable_timing=True)`, or use
    `torch.utils.benchmark.Timer`, which synchronises for you.

    ## Fix safety
    Safe: the fix inserts `torch.cuda.synchronize()` before the statement of the second read, and
    before the first read unless the GPU was already waited for since the last CUDA work. It only
    waits and changes no value (in a training loop it stops the CPU from queueing the next step
    while the GPU finishes this one, which costs a little speed). The call is guarded by
    `if torch.cuda.is_available():` so the code still runs without a GPU, except where timed work
    that needs CUDA (`.cuda()`, `"cuda"`) runs on every path between the reads: such code cannot
    run without a GPU anyway. No fix when `torch` is not imported as a module name, when the
    second read shares its line with the work, or when it sits in a one-line `if x: ...` suite.

    ## Source
    Note 002, "torch.cuda.synchronize()": the note times `model(input)` three ways and gets the
    verdicts right: only the version with `torch.cuda.synchronize()` before both reads (its "code 2")
    measures the real time, because PyTorch runs GPU work asynchronously, and `print(result)` or
    `result.cpu()` before the second read gives about the same time, because they wait for the
    result. Its explanation of the short time is wrong: the program does not exit after
    `end = time.time()` and take the unfinished CUDA work with it; the queued kernels simply keep
    running after the clock was read, so the time they take is missing from the measurement. And
    `print(result)` is only "similar": it also times the copy to the host and the printing.
    """

    code = "TL401"
    name = "unsynchronized-cuda-timing"
    summary = "timing CUDA work with the wall clock without waiting for the GPU misses the queued kernels"
    fix_safety = SAFE
    triggers = ("time",)  # every clock comes from the `time` or `timeit` module

    def __init__(self, analysis) -> None:
        super().__init__(analysis)
        self.devices = analysis.devices
        self._events: List[_Event] = []
        self._clocks: Dict[int, _Event] = {}
        self._subtractions: List[Tuple[cst.BinaryOperation, Where]] = []
        self._compared: set = set()
        self._lambdas = 0
        self._conditional = 0
        self._kinds: Dict[int, Tuple[str, int]] = {}
        self._tests: Dict[int, cst.BaseExpression] = {}  # id(body) -> the `if` / `while` test
        self._syncing_functions: Dict[int, bool] = {}

    # ------------------------------------------------------------------ traversal: record events
    def visit_SimpleStatementSuite(self, node) -> None:
        self._test_evaluated(node)

    # `if loss < best:` reads a CUDA tensor's value, which waits for the GPU: the test is
    # evaluated just before its body is entered.
    def visit_If(self, node: cst.If) -> None:
        self._tests[id(node.body)] = node.test

    def visit_While(self, node: cst.While) -> None:
        self._tests[id(node.body)] = node.test

    def leave_While(self, node: cst.While) -> None:
        self._record(node.test, truth=True)  # tested again after the last pass through the body

    def visit_IndentedBlock(self, node) -> None:
        self._test_evaluated(node)

    def leave_Assert(self, node: cst.Assert) -> None:
        self._record(node.test, truth=True)

    def _test_evaluated(self, body) -> None:
        test = self._tests.pop(id(body), None)
        if test is not None:
            self._record(test, truth=True)

    def visit_Lambda(self, node) -> None:
        self._lambdas += 1  # a lambda's body runs later, not where it is written

    def leave_Lambda(self, node) -> None:
        self._lambdas -= 1

    def visit_IfExp(self, node) -> None:
        self._conditional += 1

    def leave_IfExp(self, node) -> None:
        self._conditional -= 1

    def visit_BooleanOperation(self, node) -> None:
        self._conditional += 1

    def leave_BooleanOperation(self, node) -> None:
        self._conditional -= 1

    def visit_ListComp(self, node) -> None:
        self._conditional += 1  # a comprehension's body runs once per item, maybe never

    def leave_ListComp(self, node) -> None:
        self._conditional -= 1

    visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_ListComp
    leave_SetComp = leave_DictComp = leave_GeneratorExp = leave_ListComp

    def visit_Comparison(self, node: cst.Comparison) -> None:
        # `time.time() - start < budget` is a deadline, not a measurement.
        self._compared.add(id(node.left))
        self._compared.update(id(target.comparator) for target in node.comparisons)

    def leave_Call(self, node: cst.Call) -> None:
        event = self._record(node)
        if event is not None and self.analysis.qualified_name(node.func) in CLOCKS:
            event.clock = True
            self._clocks[id(node)] = event

    def leave_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        self._record(node)
        if isinstance(node.operator, cst.Subtract) and id(node) not in self._compared and not self._lambdas:
            self._subtractions.append((node, self.analysis.where()))

    def leave_AugAssign(self, node) -> None:
        self._record(node)

    def leave_FormattedStringExpression(self, node) -> None:
        self._record(node)

    def _record(self, node: cst.CSTNode, truth: bool = False) -> Optional[_Event]:
        if self._lambdas:
            return None
        where = self.analysis.where()
        line = where[1].node
        if not isinstance(line, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            line = None
        event = _Event(len(self._events), node, where, line, self._conditional > 0, truth=truth)
        self._events.append(event)
        return event

    # ------------------------------------------------------------------ the check
    def finish(self) -> None:
        if len(self._clocks) < 2:
            return
        starts_by_end: Dict[int, List[_Event]] = {}
        for sub, where in self._subtractions:
            for end in self._reads(sub.left, where):
                for start in self._reads(sub.right, where):
                    if start.where[0] is end.where[0] and start.index < end.index:
                        group = starts_by_end.setdefault(end.index, [])
                        if start not in group:
                            group.append(start)
        for end_index in sorted(starts_by_end):
            self._check(self._events[end_index], starts_by_end[end_index])

    def _reads(self, expr: cst.BaseExpression, where: Where, depth: int = 0) -> List[_Event]:
        """The clock reads `expr` evaluates to: a read itself, or a name every value of which is one.

        Names are followed here rather than with `values.origins` so that `t = time.time() - t`
        in a loop, after `t = time.time()` in the same iteration, sees only that read."""
        if id(expr) in self._clocks:
            return [self._clocks[id(expr)]]
        if not isinstance(expr, cst.Name) or depth > 4:
            return []
        bindings = self.analysis.reaching(expr.value, where)
        reads: List[_Event] = []
        for binding in bindings:
            if binding.kind != "assign" or binding.value is None:
                return []
            found = self._reads(binding.value, self.analysis.binding_where(binding), depth + 1)
            if not found:
                return []
            reads.extend(found)
        return reads

    def _check(self, end: _Event, starts: List[_Event]) -> None:
        if end.line is None:
            return  # a read in an `if` / `while` header: a deadline or interval, not a benchmark
        unsynced: List[Tuple[_Event, _Event]] = []  # (start, last CUDA work before the end)
        sure = False
        for start in starts:
            last_work = None
            for event in self._between(start, end):
                kind, level = self._kind(event)
                if kind == "sync":
                    last_work = None
                elif kind == "work" and level != NONE:
                    last_work = event
                    sure = sure or (level == SURE and _always_runs_with(event, end))
            if last_work is not None:
                unsynced.append((start, last_work))
        if not unsynced:
            return
        clock = self.analysis.module.code_for_node(end.node.func)  # type: ignore[attr-defined]
        message = (
            f"`{clock}()` is read while CUDA work queued since the first read may still be running: "
            "kernels run asynchronously, so the time misses them; call `torch.cuda.synchronize()` "
            "before reading the clock"
        )
        self.report(end.node, message, self._fix(end, unsynced, guard=not sure))

    def _between(self, start: _Event, end: _Event):
        for event in self._events[start.index + 1: end.index]:
            if event.where[0] is start.where[0]:
                yield event

    def _kind(self, event: _Event) -> Tuple[str, int]:
        """("sync", 0), ("work", level) or ("", 0) for an event, computed once."""
        known = self._kinds.get(event.index)
        if known is None:
            known = self._classify(event)
            self._kinds[event.index] = known
        return known

    def _classify(self, event: _Event) -> Tuple[str, int]:
        node, where = event.node, event.where
        if event.clock:
            return "", NONE
        if event.truth:
            return ("sync", NONE) if self.devices.value(node, where) else ("", NONE)
        if isinstance(node, cst.FormattedStringExpression):
            return ("sync", NONE) if self.devices.value(node.expression, where) else ("", NONE)
        if isinstance(node, cst.BinaryOperation):
            return "work", max(self.devices.value(node.left, where), self.devices.value(node.right, where))
        if isinstance(node, cst.AugAssign):
            return "work", max(self.devices.value(node.target, where), self.devices.value(node.value, where))
        assert isinstance(node, cst.Call)
        if self._is_sync(node, where):
            return "sync", NONE
        return "work", self._work_level(node, where)

    def _is_sync(self, call: cst.Call, where: Where) -> bool:
        func = call.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in SYNC_NAMES:
                return True
            if method == "to" and self.devices.move_level(call, where) == NONE:
                blocking = argument(call, None, "non_blocking")
                return blocking is None or is_name(blocking.value, "False")  # `.to("cpu")` waits
        name = self.analysis.qualified_name(func, where)
        if name in _SYNC_FUNCTIONS or _is_torch_sync(name):
            return True
        if "synchron" in _called_name(func).lower():
            return True
        function = self.analysis.values.local_function(func, where)
        if function is not None and self._synchronizes(function):
            return True
        if is_builtin_call(self.analysis, call, _FORMATTING_BUILTINS, where):
            return any(self.devices.value(e, where) for a in call.args for e in _values_in(a.value))
        return False

    def _synchronizes(self, function: cst.FunctionDef) -> bool:
        """A helper of this file that waits for the GPU itself (`torch.cuda.synchronize()` in it)."""
        key = id(function)
        if key not in self._syncing_functions:
            self._syncing_functions[key] = False  # recursion adds nothing
            info = self.analysis.index.statements[key]
            inner = (self.analysis.index.scopes[key], info)
            self._syncing_functions[key] = any(
                isinstance(node, cst.Call) and self._is_sync(node, inner) for node in _calls_in(function.body)
            )
        return self._syncing_functions[key]

    def _work_level(self, call: cst.Call, where: Where) -> int:
        """How surely a call runs work on CUDA: a move, a module on CUDA called, a method of a
        CUDA tensor, or a function given CUDA values. A method of another object (`list.append`)
        given a CUDA tensor does no device work."""
        func = call.func
        name = self.analysis.qualified_name(func, where)
        if name and (name.startswith("torch.cuda.") or name.startswith("time.")):
            return NONE
        if is_builtin_call(self.analysis, call, _HOST_BUILTINS | _FORMATTING_BUILTINS, where):
            return NONE
        if isinstance(func, cst.Attribute) and name is None and not is_self_attribute(func):
            if func.attr.value in _NO_WORK_METHODS:
                return NONE
            move = self.devices.move_level(call, where)
            receiver = self.devices.value(func.value, where)
            return receiver if move is None else max(move, receiver)
        # A function call (`torch.matmul`, `F.relu`, `criterion`, `self.model`, a local function).
        levels = [self.devices.call(call, where), self.devices.value(func, where, called=True)]
        levels += [self.devices.value(a.value, where) for a in call.args]
        return max(levels)

    # ------------------------------------------------------------------ the fix
    def _fix(self, end: _Event, unsynced: List[Tuple[_Event, _Event]], guard: bool) -> Optional[Fix]:
        if not self._insertable(end.line):
            return None
        if any(work.line is end.line for _, work in unsynced):
            return None  # the work shares the read's line: no statement to put in between
        lines = [end.line]
        for start, _ in unsynced:
            if (self._insertable(start.line) and start.line is not end.line
                    and not self._synced_before(start) and all(start.line is not l for l in lines)):
                lines.insert(0, start.line)
        torch = self._torch_name(lines)
        if torch is None:
            return None
        code = f"{torch}.cuda.synchronize()\n"
        if guard:
            code = f"if {torch}.cuda.is_available():\n    {code}"
        edits = tuple(Edit(line, insert_before(line, statement_of(code))) for line in lines)
        where = "before both clock reads" if len(lines) > 1 else "before the second clock read"
        return Fix(SAFE, f"Insert `{torch}.cuda.synchronize()` {where}", edits)

    def _insertable(self, line: Optional[cst.CSTNode]) -> bool:
        """A statement of a statement list, so another can be inserted before it."""
        return line is not None and self.analysis.index.statements[id(line)].listed

    def _synced_before(self, start: _Event) -> bool:
        """The GPU was already waited for after the last CUDA work written before `start`."""
        for event in reversed(self._events[: start.index]):
            if event.where[0] is not start.where[0]:
                continue
            kind, level = self._kind(event)
            if kind == "sync":
                return True
            if kind == "work" and level != NONE:
                return False
        return False

    def _torch_name(self, lines: List[cst.CSTNode]) -> Optional[str]:
        """The name `torch` is imported under, valid at every line that gets a sync."""
        names = ["torch"] + sorted({
            binding.name
            for scope in self.analysis.index.scopes.values()
            for bindings in scope.bindings.values()
            for binding in bindings
            if binding.kind == "import" and binding.qualified == "torch"
        })
        for name in names:
            if all(self.analysis.qualified_name(cst.Name(name), _where_of(self.analysis, line)) == "torch"
                   for line in lines):
                return name
        return None


def _always_runs_with(event: _Event, end: _Event) -> bool:
    """`event` runs whenever the statement of `end` does: no branch of its own around it. Only
    then does work that needs CUDA (`.cuda()`) prove the code cannot run without a GPU."""
    if event.conditional:
        return False
    shared = {id(c) for c in end.where[1].enclosing}
    return not any(
        isinstance(c, (cst.If, cst.Try, cst.TryStar, cst.Match)) and id(c) not in shared
        for c in event.where[1].enclosing
    )


def _where_of(analysis, line: cst.CSTNode) -> Where:
    info = analysis.index.statements[id(line)]
    return info.scope, info


def _values_in(expr: cst.BaseExpression):
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


def _is_torch_sync(name: Optional[str]) -> bool:
    """`torch.cuda.synchronize`, `torch.nonzero`, ... under any import form."""
    return bool(name) and name.startswith("torch.") and name.rsplit(".", 1)[-1] in SYNC_NAMES


def _called_name(func: cst.BaseExpression) -> str:
    """`helper` for `helper(...)` and `obj.helper(...)`; empty for other callees."""
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else ""


def _calls_in(node: cst.CSTNode):
    """Every call under `node`, nested function bodies excluded."""
    stack = list(node.children)
    while stack:
        child = stack.pop()
        if isinstance(child, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(child, cst.Call):
            yield child
        stack.extend(child.children)


