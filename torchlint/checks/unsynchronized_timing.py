"""TL401: wall-clock timing of CUDA work that does not wait for the GPU.

The analysis (analysis/timing.py) knows the evaluation order, which calls queue CUDA work and
which wait for the GPU; the rule reports the intervals it says miss queued work, and the
`timeit` statements that never wait.
"""

from __future__ import annotations

from typing import List, Optional

import libcst as cst

from torchlint.analysis.devices import DeviceLevel
from torchlint.analysis.timing import TIMERS, Event, Interval
from torchlint.checks._syntax import insert_before, statement_of
from torchlint.rule import SAFE, Edit, Fix, Rule, register


@register
class UnsynchronizedCudaTiming(Rule):
    """
    ## What it does
    Finds wall-clock timing of CUDA work that nothing waits for: two reads of `time.time()`,
    `time.perf_counter()`, `time.monotonic()`, `time.clock()` (or their `_ns` forms, or
    `timeit.default_timer()`), in any import form, whose difference is taken (`end - start`,
    `time.perf_counter() - t0`); calls of a timer class of the file whose methods visibly read a
    wall clock (`t.tic()` ... `t.toc()`, `start()` ... `stop()`); and `timeit.timeit` /
    `timeit.repeat` / `timeit.Timer(...)` of a statement (a lambda, a function of the file, or
    source text) that queues CUDA work and never waits; and, in notebooks, IPython's `%%time` /
    `%%timeit` cells and `%time` / `%timeit` lines of such work (they read the wall clock and
    never synchronise). It reports the second read (the stop call, the timeit call, the first
    timed statement).

    It reports only when CUDA work is queued in the interval and nothing measured waits for it.
    Work may run on CUDA when it involves a module or tensor moved with `.cuda()`, `.to("cuda")`
    or `.to(device)`, built with `device=...`, or computed from one, followed through
    assignments; a device may be CUDA when it is `"cuda"`, `f"cuda:{rank}"`, `torch.device("cuda"
    if torch.cuda.is_available() else "cpu")`, or a value used as a device whose value the file
    does not show (a parameter passed to `.to(...)` or as `device=`). Waiting for the GPU means
    `torch.cuda.synchronize()`, a stream or CUDA event `.synchronize()`, a helper of the file
    that waits (or any function named like `*synchron*`), a distributed barrier, or an implicit
    sync: `.item()`, `.cpu()`, `.tolist()`, `.numpy()`, `.nonzero()`, `float(t)` / `int(t)` /
    `print(t)` of a CUDA tensor, formatting one, an `if` / `while` / `assert` on one, a copy
    between host and device without `non_blocking=True` (`.to(device)` of a DataLoader batch
    waits for the work queued before it), `GradScaler.step`, `torch.save`, ONNX and TorchScript
    exports. A call the file cannot see that is given CUDA values (a loss or logger from another
    module) may wait, so it counts as waiting.

    In loops, work queued after the last wait of an iteration is waited for by the next
    iteration's wait; when that wait still falls in a measured interval (the next pass of a
    per-batch meter whose start is read again, an ETA measured from before the loop, a wall clock
    around the whole job) the average is right, and nothing is reported.

    Not reported: CPU-only code, timing with CUDA events (`torch.cuda.Event(enable_timing=True)` and
    `elapsed_time`) or `torch.utils.benchmark`, time budgets (`while time.time() - start < limit`),
    values whose device the file does not show (a `model` parameter that is never moved), and work
    done inside functions whose arguments show no CUDA value. A wait on any path, in a branch too,
    counts as waiting.

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
    second read shares its line with the work, or when it sits in a one-line `if x: ...` suite;
    none for `timeit` statements (end the statement with `torch.cuda.synchronize()`, or use
    `torch.utils.benchmark.Timer`).

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
    # Every clock comes from the `time` or `timeit` module (a timer class of the file reads one);
    # "%time": a notebook's `%%time` / `%timeit` magic (the engine adds it when LintOptions.magic_timed).
    triggers = ("time", "timeit", "%time")
    fires_on = TIMERS

    @classmethod
    def could_fire(cls, references) -> bool:
        """Where the file names a clock or a timeit function, or a notebook's magic times code."""
        return "%time" in references.extra or super().could_fire(references)

    def finish(self) -> None:
        timing = self.analysis.timing
        for interval in timing.intervals():
            work = timing.unwaited_work(interval)
            if work:
                self._report(interval, work)
        for magic in timing.magic_timed(self.options.magic_timed):  # a notebook's %%time cell, %time line
            if timing.statement_work(magic) is not None:  # type: ignore[arg-type]
                self.report(magic.first, (
                    "IPython's `%time` / `%%time` / `%timeit` reads the wall clock around CUDA work that nothing "
                    "waits for, so it measures only how long queueing the kernels takes; end the timed code "
                    "with `torch.cuda.synchronize()` or use `torch.utils.benchmark.Timer`"
                ))
        for timed in timing.timed_statements():
            if timing.statement_work(timed) is not None:
                self.report(timed.call, (
                    "the timed statement queues CUDA work and never waits for it, so each run measures "
                    "only how long queueing the kernels takes; end the statement with "
                    "`torch.cuda.synchronize()` or use `torch.utils.benchmark.Timer`"
                ))

    def _report(self, interval: Interval, work: List[Event]) -> None:
        end = interval.end
        timing = self.analysis.timing
        sure = any(timing.effect(w)[1] == DeviceLevel.SURE and timing.always_runs_with(w, end) for w in work)
        call = end.node
        assert isinstance(call, cst.Call)
        reading = self.analysis.module.code_for_node(call.func)
        message = (
            f"`{reading}()` reads the clock while CUDA work queued since the first read may still be running: "
            "kernels run asynchronously, so the time misses them; call `torch.cuda.synchronize()` "
            "before reading the clock"
        )
        self.report(call, message, self._fix(interval, work, guard=not sure))

    def _fix(self, interval: Interval, work: List[Event], guard: bool) -> Optional[Fix]:
        timing = self.analysis.timing
        end = interval.end
        if end.line is None or not timing.can_insert_before(end.line):
            return None
        if any(w.line is end.line for w in work):
            return None  # the work shares the read's line: no statement to put in between
        lines: List[cst.CSTNode] = [end.line]
        for start in interval.starts:
            line = start.line
            if (line is not None and timing.can_insert_before(line) and all(line is not other for other in lines)
                    and not timing.waited_before(start)):
                lines.insert(0, line)
        torch = timing.module_alias("torch", lines)
        if torch is None:
            return None
        code = f"{torch}.cuda.synchronize()\n"
        if guard:
            code = f"if {torch}.cuda.is_available():\n    {code}"
        edits = tuple(Edit(line, insert_before(line, statement_of(code))) for line in lines)  # type: ignore[arg-type]
        place = "before both clock reads" if len(lines) > 1 else "before the second clock read"
        return Fix(SAFE, f"Insert `{torch}.cuda.synchronize()` {place}", edits)
