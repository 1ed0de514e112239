"""The timing analysis (analysis/timing.py) queried directly: which calls wait for the GPU,
which queue CUDA work, the measured intervals, and the work in them that nothing waits for."""

import textwrap
from typing import List

import libcst as cst
import pytest

from torchlint.analysis import ModuleAnalysis
from torchlint.analysis.devices import DeviceLevel
from torchlint.analysis.timing import Effect, Event

HEADER = "import time\nimport timeit\nimport torch\nfrom torch import nn\n"


def analyse(source: str) -> ModuleAnalysis:
    return ModuleAnalysis(cst.parse_module(HEADER + textwrap.dedent(source)))


def calls(analysis: ModuleAnalysis, scope: cst.CSTNode) -> List[Event]:
    return [e for e in analysis.timing.events(scope) if isinstance(e.node, cst.Call)]


def effect_of_last_call(source: str) -> Effect:
    analysis = analyse("x = torch.ones(2, device='cuda')\n" + textwrap.dedent(source))
    return analysis.timing.effect(calls(analysis, analysis.module)[-1])[0]


@pytest.mark.parametrize("statement", [
    "x.item()", "x.sum().tolist()", "x.cpu()", "float(x.sum())", "int(x[0])", "print(x)",
    "print('loss %f' % x)", "'{}'.format(x)", "x.to('cpu')", "torch.cuda.synchronize()",
    "torch.save(x, 'x.pt')", "torch.distributed.barrier()", "x.nonzero()",
    "y = torch.ones(2)\ny.to(x.device)",  # a host tensor copied to the GPU without non_blocking
    "from utils import time_synchronized\ntime_synchronized()",
    "def wait():\n    torch.cuda.synchronize()\nwait()",
    "scaler = torch.cuda.amp.GradScaler()\nopt = torch.optim.SGD([x], lr=1)\nscaler.step(opt)",
    "import math\nmath.isnan(x.sum())",
    "opt = torch.optim.SGD([x], lr=1)\nplateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)\nplateau.step(x.sum())",
])
def test_waits_for_gpu(statement):
    assert effect_of_last_call(statement) == Effect.WAIT


@pytest.mark.parametrize("statement, expected", [
    ("x.cuda()", Effect.WORK),  # already on CUDA: no copy
    ("torch.relu(x)", Effect.WORK),
    ("x.exp()", Effect.WORK),
    ("nn.Linear(2, 2).cuda()(x)", Effect.WORK),
    ("y = torch.ones(2)\ny.to(x.device, non_blocking=True)", Effect.WORK),
    ("out = []\nout.append(x)", Effect.NONE),  # a list of this file does no device work
    ("len(x)", Effect.NONE),
    ("x.size(0)", Effect.NONE),
    ("from metrics import update\nupdate(x)", Effect.OPAQUE),  # may queue work, may wait
    ("from metrics import make_meter\nmeter = make_meter()\nmeter.update(x)", Effect.OPAQUE),
    ("from data import loader\nnext(loader)", Effect.NONE),
    ("torch.ones(2).cuda()", Effect.WAIT),  # a blocking copy from host memory
])
def test_effects(statement, expected):
    assert effect_of_last_call(statement) == expected


def test_waits_for_gpu_query_at_a_call():
    analysis = analyse("x = torch.ones(2).cuda()\nv = x.sum().item()\ny = x.exp()\n")
    events = calls(analysis, analysis.module)
    item = next(e for e in events if isinstance(e.node.func, cst.Attribute) and e.node.func.attr.value == "item")
    assert analysis.timing.waits_for_gpu(item.node, item.where)
    assert analysis.timing.cuda_work(events[-1].node, events[-1].where) == DeviceLevel.SURE
    assert analysis.timing.cuda_work(item.node, item.where) == DeviceLevel.NONE


def unwaited(source: str) -> List[List[int]]:
    """For each interval: the lines of the CUDA work nothing measured waits for."""
    analysis = analyse(source)
    lines = HEADER.count("\n")
    code_lines = (HEADER + textwrap.dedent(source)).splitlines()
    result = []
    for interval in analysis.timing.intervals():
        found = analysis.timing.unwaited_work(interval)
        result.append(sorted({_line_of(code_lines, analysis, e) - lines for e in found}))
    return result


def _line_of(code_lines: List[str], analysis: ModuleAnalysis, event: Event) -> int:
    from libcst.metadata import MetadataWrapper, PositionProvider

    wrapper = MetadataWrapper(analysis.module, unsafe_skip_copy=True)
    return wrapper.resolve(PositionProvider)[event.node].start.line


def test_straight_line_interval():
    assert unwaited("""\
        x = torch.ones(2).cuda()
        s = time.time()
        y = x @ x
        d = time.time() - s
    """) == [[3]]


def test_work_before_a_wait_is_measured():
    assert unwaited("""\
        x = torch.ones(2).cuda()
        s = time.time()
        y = x @ x
        v = y.sum().item()
        d = time.time() - s
    """) == [[]]


def test_meter_whose_next_pass_waits():
    # the step after `.item()` is waited for by the next pass's `.item()`, inside the next interval
    assert unwaited("""\
        def train(loader, opt):
            model = nn.Linear(2, 2).cuda()
            end = time.time()
            for x in loader:
                loss = model(x.cuda(non_blocking=True)).sum()
                print(loss.item())
                loss.backward()
                opt.step()
                batch = time.time() - end
                end = time.time()
    """) == [[]]


def test_meter_whose_wait_falls_between_intervals():
    # the wait comes after the stop and before the next start: no interval measures the work
    assert unwaited("""\
        def train(loader, log):
            model = nn.Linear(2, 2).cuda()
            for x in loader:
                start = time.time()
                loss = model(x.cuda(non_blocking=True)).sum()
                log.append(time.time() - start)
                print(loss.item())
    """) == [[5]]


def test_clock_around_a_loop_with_waits():
    assert unwaited("""\
        def run(loader):
            model = nn.Linear(2, 2).cuda()
            start = time.time()
            for x in loader:
                y = model(x.cuda(non_blocking=True)).sum()
                total = y.item()
                y.backward()
            return time.time() - start
    """) == [[]]


def test_eta_from_before_the_loop():
    assert unwaited("""\
        def run(loader):
            model = nn.Linear(2, 2).cuda()
            start = time.time()
            for i, x in enumerate(loader):
                y = model(x.cuda(non_blocking=True)).sum()
                eta = (time.time() - start) / (i + 1)
                print(y.item(), eta)
    """) == [[]]


def test_wait_after_the_loop_of_the_reads_measures_nothing():
    assert unwaited("""\
        def run(loader, log):
            model = nn.Linear(2, 2).cuda()
            start = time.time()
            for x in loader:
                y = model(x.cuda(non_blocking=True))
                log.append(time.time() - start)
            torch.cuda.synchronize()
    """) == [[5]]


def test_deadlines_are_not_intervals():
    analysis = analyse("""\
        x = torch.ones(2).cuda()
        s = time.time()
        while time.time() - s < 1:
            y = x @ x
        late = time.time() - s > 5
    """)
    assert analysis.timing.intervals() == []


def test_timer_class_reading_a_wall_clock():
    analysis = analyse("""\
        class Timer:
            def tic(self):
                self.start = time.perf_counter()
            def toc(self):
                return time.perf_counter() - self.start
        class Counter:
            def tic(self):
                self.start = 0
            def toc(self):
                return 1 - self.start
        x = torch.ones(2).cuda()
        t, c = Timer(), Counter()
        timer = Timer()
        counter = Counter()
        timer.tic()
        counter.tic()
        y = x @ x
        counter.toc()
        timer.toc()
    """)
    intervals = analysis.timing.intervals()
    assert len(intervals) == 1
    end = intervals[0].end.node
    assert isinstance(end, cst.Call) and analysis.module.code_for_node(end) == "timer.toc()"
    assert analysis.timing.unwaited_work(intervals[0])


@pytest.mark.parametrize("statement, unwaited_work", [
    ("timeit.timeit(lambda: x @ x, number=3)", True),
    ("timeit.repeat('y = x @ x', number=3, globals=globals())", True),
    ("timeit.Timer(lambda: x @ x).timeit(3)", True),
    ("timeit.timeit(lambda: (x @ x).sum().item(), number=3)", False),
    ("timeit.timeit(lambda: len([1]), number=3)", False),
])
def test_timed_statements(statement, unwaited_work):
    analysis = analyse("x = torch.ones(2).cuda()\n" + statement + "\n")
    timed = analysis.timing.timed_statements()
    assert len(timed) == 1
    assert (analysis.timing.statement_work(timed[0]) is not None) == unwaited_work


def test_waited_before_a_start():
    analysis = analyse("""\
        x = torch.ones(2).cuda()
        y = x * 2
        torch.cuda.synchronize()
        s = time.time()
        z = x * 3
        t = time.time()
    """)
    clocks = [e for e in analysis.timing.events(analysis.module) if e.clock]
    assert analysis.timing.waited_before(clocks[0])
    assert not analysis.timing.waited_before(clocks[1])
