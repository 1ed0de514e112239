"""TL401 beyond the fixtures: the spellings of clocks, devices and moves it follows, the
look-alikes it leaves alone, and the fix's choices (the torch alias, the guard, no fix)."""

import textwrap

import pytest

from torchlint.checks.unsynchronized_timing import UnsynchronizedCudaTiming
from torchlint.engine import fix_text, lint_text

RULES = [UnsynchronizedCudaTiming]


def lines(source):
    return [f.line for f in lint_text(textwrap.dedent(source), RULES).findings]


def fixed(source):
    return fix_text(textwrap.dedent(source), RULES).text


HEADER = "import time\nimport torch\nfrom torch import nn\nfrom accelerate import Accelerator\n"


@pytest.mark.parametrize("body", [
    # clocks, in every import form
    "from time import perf_counter as pc\nm = nn.Linear(2, 2).cuda()\nx = torch.ones(2).cuda()\n"
    "s = pc()\nm(x)\ne = pc()\nprint(e - s)",
    "import time as t\nm = nn.Linear(2, 2).cuda()\nx = torch.ones(2).cuda()\ns = t.time()\nm(x)\nd = t.time() - s",
    "from time import time\nx = torch.ones(2).cuda()\ns = time()\ny = x * 2\nd = time() - s",
    "import timeit\nx = torch.ones(2).cuda()\ns = timeit.default_timer()\ny = x @ x\nd = timeit.default_timer() - s",
    "x = torch.ones(2).cuda()\ns = time.monotonic_ns()\nx += 1\nd = time.monotonic_ns() - s",
    # devices
    "x = torch.ones(2, device='cuda:0')\ns = time.time()\ny = x.sum()\nd = time.time() - s",
    "dev = torch.device('cuda', 0)\nx = torch.ones(2).to(dev)\ns = time.time()\ny = x.exp()\nd = time.time() - s",
    "def f(rank):\n    x = torch.ones(2).to(f'cuda:{rank}')\n    s = time.time()\n    y = x.exp()\n"
    "    return time.time() - s",
    "def f(args):\n    x = torch.ones(2, device=args.device)\n    s = time.time()\n    y = x.exp()\n"
    "    return time.time() - s",
    "def f(x, device):\n    m = nn.Linear(2, 2).to(device)\n    s = time.time()\n    m(x)\n"
    "    return time.time() - s",
    "def f(d: torch.device):\n    x = torch.zeros(3).to(d)\n    s = time.time()\n    y = x + 1\n"
    "    return time.time() - s",
    "x = torch.ones(2).cuda()\ny = torch.zeros(2, device=x.device)\ns = time.time()\nz = y * 2\nd = time.time() - s",
    "x = torch.ones(2).to(0)\ns = time.time()\ny = torch.relu(x)\nd = time.time() - s",
    "def f(x, args):\n    x = x.to(args['device'])\n    s = time.time()\n    y = x @ x\n    return time.time() - s",
    "def f(x):\n    acc = Accelerator()\n    s = time.time()\n    y = torch.ones(2, device=acc.device) * 2\n"
    "    return time.time() - s",
    # modules moved in place, called through a local function, held on self
    "def f(model: nn.Module, x):\n    model.cuda()\n    s = time.time()\n    model(x)\n    return time.time() - s",
    "def f(model, x, device):\n    model.eval().to(device)\n    s = time.time()\n    model(x)\n"
    "    return time.time() - s",
    "def run(m, x):\n    return m(x)\nm = nn.Linear(2, 2).cuda()\ns = time.time()\nrun(m, 3)\nd = time.time() - s",
    "class B:\n    def __init__(self):\n        self.model = nn.Linear(2, 2).cuda()\n"
    "    def run(self, x):\n        s = time.time()\n        self.model(x)\n        return time.time() - s",
    # loops: lap times, a per-iteration total
    "x = torch.ones(2).cuda()\nlast = time.time()\nfor _ in range(3):\n    y = x @ x\n"
    "    now = time.time()\n    print(now - last)\n    last = now",
    "x = torch.ones(2).cuda()\ntotal = 0.0\nfor _ in range(3):\n    s = time.time()\n    y = x @ x\n"
    "    total += time.time() - s",
    # a name timed against itself: `t = time.time() - t` after `t = time.time()` in the loop
    "x = torch.ones(2).cuda()\nfor _ in range(3):\n    t = time.time()\n    y = x @ x\n    t = time.time() - t",
    # a wait that comes too early or too late, or is no wait
    "x = torch.ones(2).cuda()\ns = time.time()\nloss = (x @ x).sum()\nv = loss.item()\ny = x * 3\n"
    "d = time.time() - s",
    "x = torch.ones(2).cuda()\ns = time.time()\ny = x @ x\nprint(time.time() - s, y)",  # printed after the read
    "x = torch.ones(2).cuda()\ns = time.time()\ny = x @ x\nif y is not None:\n    pass\nd = time.time() - s",
    "def helper():\n    return 1\nx = torch.ones(2).cuda()\ns = time.time()\ny = x @ x\nhelper()\nd = time.time() - s",
    # a helper under torch's grad-mode decorator runs as written
    "@torch.no_grad()\ndef infer(m, x):\n    return m(x)\nm = nn.Linear(2, 2).cuda()\nx = torch.ones(2).cuda()\n"
    "s = time.time()\ninfer(m, x)\nd = time.time() - s",
])
def test_reported(body):
    source = HEADER + body + "\n"
    assert len(lines(source)) == 1, source


@pytest.mark.parametrize("body", [
    # no CUDA evidence
    "def f(model, x):\n    s = time.time()\n    model(x)\n    return time.time() - s",
    "x = torch.ones(2)\nx.to('cuda')\ns = time.time()\ny = x @ x\nd = time.time() - s",  # a tensor is not moved in place
    "x = torch.ones(2).to(torch.float16)\ns = time.time()\ny = x @ x\nd = time.time() - s",
    "def f(x, dtype: torch.dtype):\n    x = x.to(dtype)\n    s = time.time()\n    y = x @ x\n    return time.time() - s",
    "def f(x, y):\n    x = x.to(y.dtype)\n    s = time.time()\n    y = x @ x\n    return time.time() - s",
    "device = 'cpu'\nx = torch.ones(2, device=device)\ns = time.time()\ny = x @ x\nd = time.time() - s",
    "x = torch.ones(2).to(torch.device('cpu'))\ns = time.time()\ny = x @ x\nd = time.time() - s",
    "x = torch.ones(2).cuda().cpu()\ns = time.time()\ny = x @ x\nd = time.time() - s",
    # waits for the GPU
    "x = torch.ones(2).cuda()\ns = time.time()\ny = x @ x\nif x.numel():\n    torch.cuda.synchronize()\n"
    "d = time.time() - s",
    "x = torch.ones(2).cuda()\ns = time.time()\ny = (x @ x).sum()\nv = float(y)\nd = time.time() - s",
    "x = torch.ones(2).cuda()\ns = time.time()\ny = x @ x\nz = y.to('cpu')\nd = time.time() - s",
    "x = torch.ones(2).cuda()\ns = time.time()\ni = x.nonzero()\nd = time.time() - s",
    "x = torch.ones(2).cuda()\nout = []\ns = time.time()\ny = x @ x\nprint(y)\nout.append(y)\nd = time.time() - s",
    "from torch.cuda import synchronize\nx = torch.ones(2).cuda()\ns = time.time()\ny = x @ x\nsynchronize()\n"
    "d = time.time() - s",
    "from torch.cuda import synchronize as wait\nx = torch.ones(2).cuda()\ns = time.time()\ny = x @ x\nwait()\n"
    "d = time.time() - s",
    "x = torch.ones(2).cuda()\ns = time.time()\ny = x @ x\nprint(y.sum().item(), time.time() - s)",
    "m = nn.Linear(2, 2).cuda()\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
    "sched = torch.optim.lr_scheduler.StepLR(opt, 1)\ns = time.time()\nloss = m(torch.ones(2).cuda()).sum()\n"
    "loss.backward()\nopt.step()\nprint(loss.item())\nsched.step()\nd = time.time() - s",
    "x = torch.ones(2).cuda()\ns = time.time()\ny = x @ x\nif (y > 0).all():\n    pass\nd = time.time() - s",
    "x = torch.ones(2).cuda()\ns = time.time()\nloss = (x @ x).sum()\nwhile loss > 1:\n    loss = loss / 2\n"
    "d = time.time() - s",
    "x = torch.ones(2).cuda()\ns = time.time()\ny = x @ x\nassert torch.isfinite(y).all()\nd = time.time() - s",
    "x = torch.ones(2).cuda()\ns = time.time()\ny = x @ x\ntorch.save(y, 'y.pt')\nd = time.time() - s",
    "import torch.distributed as dist\nx = torch.ones(2).cuda()\ns = time.time()\ny = x @ x\ndist.barrier()\n"
    "d = time.time() - s",
    "from utils import cuda_synchronize\nx = torch.ones(2).cuda()\ns = time.time()\ny = x @ x\n"
    "cuda_synchronize()\nd = time.time() - s",
    # a helper whose decorator the file does not show may wait
    "from utils import profiled\n@profiled\ndef run(m, x):\n    return m(x)\nm = nn.Linear(2, 2).cuda()\n"
    "s = time.time()\nrun(m, torch.ones(2).cuda())\nd = time.time() - s",
    "def wait():\n    if torch.cuda.is_available():\n        torch.cuda.synchronize()\n"
    "x = torch.ones(2).cuda()\ns = time.time()\ny = x @ x\nwait()\nd = time.time() - s",
    "class B:\n    def sync(self):\n        torch.cuda.synchronize()\n    def run(self, x):\n        x = x.cuda()\n"
    "        s = time.time()\n        y = x @ x\n        self.sync()\n        return time.time() - s",
    # not a measurement of the work
    "x = torch.ones(2).cuda()\ny = x @ x\ns = time.time()\nn = len(x)\nd = time.time() - s",
    "x = torch.ones(2).cuda()\ns = time.time()\ny = x @ x\ndone = time.time() - s > 5",
    "x = torch.ones(2).cuda()\ns = time.time()\nwhile time.time() - s < 1:\n    y = x @ x",
    "x = torch.ones(2).cuda()\ns = time.time()\ndef later():\n    return x @ x\nd = time.time() - s",
    "x = torch.ones(2).cuda()\ns = time.time()\nf = lambda: x @ x\nd = time.time() - s",
    "x = torch.ones(2).cuda()\ns = 0 if x.numel() else time.time()\ny = x @ x\nd = time.time() - s",
    "x = torch.ones(2).cuda()\ns = time.time()\ndef f():\n    y = x @ x\n    return time.time() - s",
    "x = torch.ones(2).cuda()\nprint(time.time())\ny = x @ x\nprint(time.time())",
    # CPU tensors and modules of this file lend their (CPU) device
    "m = nn.Linear(8, 4)\nx = torch.randn(4, 8)\nout = m(x)\ns = time.time()\n"
    "y = out * torch.ones(4, device=out.device)\nz = torch.zeros(4, device=x.float().device) + 1\n"
    "d = time.time() - s",
])
def test_not_reported(body):
    source = HEADER + body + "\n"
    assert lines(source) == [], source


def test_fix_uses_the_torch_alias_and_the_guard():
    source = """\
    import time
    import torch as th

    def bench(x, device):
        x = x.to(device, non_blocking=True)
        start = time.time()
        y = x @ x
        return time.time() - start
    """
    assert fixed(source) == textwrap.dedent("""\
    import time
    import torch as th

    def bench(x, device):
        x = x.to(device, non_blocking=True)
        if th.cuda.is_available():
            th.cuda.synchronize()
        start = time.time()
        y = x @ x
        if th.cuda.is_available():
            th.cuda.synchronize()
        return time.time() - start
    """)


def test_cuda_only_code_gets_an_unguarded_sync():
    source = "import time\nimport torch\nx = torch.ones(2).cuda()\ny = x * 2\ns = time.time()\ny = x @ x\nd = time.time() - s\n"
    assert fixed(source) == (
        "import time\nimport torch\nx = torch.ones(2).cuda()\ny = x * 2\ntorch.cuda.synchronize()\ns = time.time()\n"
        "y = x @ x\ntorch.cuda.synchronize()\nd = time.time() - s\n"
    )


def test_no_sync_before_the_start_when_the_gpu_was_waited_for():
    # `.cuda()` of a host tensor without non_blocking=True waits for the copy, and so for the GPU.
    source = "import time\nimport torch\nx = torch.ones(2).cuda()\ns = time.time()\ny = x @ x\nd = time.time() - s\n"
    assert fixed(source) == (
        "import time\nimport torch\nx = torch.ones(2).cuda()\ns = time.time()\n"
        "y = x @ x\ntorch.cuda.synchronize()\nd = time.time() - s\n"
    )


@pytest.mark.parametrize("body", [
    "s = time.time()\nif torch.cuda.is_available():\n    x = x.cuda()\ny = x @ x\nd = time.time() - s",
    "s = time.time()\nx = x.cuda() if torch.cuda.is_available() else x\ny = x @ x\nd = time.time() - s",
    "s = time.time()\nxs = [t.cuda(non_blocking=True) for t in xs]\nd = time.time() - s",
])
def test_cuda_only_work_under_a_condition_keeps_the_guard(body):
    source = "import time\nimport torch\ndef f(x, xs):\n" + textwrap.indent(body, "    ") + "\n"
    assert len(lines(source)) == 1
    assert fixed(source).count("if torch.cuda.is_available():\n        torch.cuda.synchronize()") == 2


@pytest.mark.parametrize("source", [
    # torch is not imported as a module name: nothing to call synchronize on
    "import time\nfrom torch import ones\nx = ones(2).cuda()\ns = time.time()\ny = x @ x\nd = time.time() - s\n",
    # the work shares the second read's line
    "import time\nimport torch\nx = torch.ones(2).cuda()\ns = time.time()\ny = x @ x; d = time.time() - s\n",
    # the second read sits in a one-line suite
    "import time\nimport torch\nx = torch.ones(2).cuda()\ns = time.time()\ny = x @ x\nif x is not None: d = time.time() - s\n",
])
def test_reported_without_a_fix(source):
    findings = lint_text(source, RULES).findings
    assert len(findings) == 1 and findings[0].fix is None


def test_training_loop_with_data_and_batch_times():
    """The ImageNet-example shape. The data time measures no CUDA work. The batch time misses this
    iteration's backward pass and step, queued after `.item()`: but the next iteration's
    `.item()` waits for them inside the next measured interval, so the meter's average is right."""
    source = """\
    import time
    import torch

    def train(loader, model, optimizer, batch_time, data_time):
        model.cuda()
        criterion = torch.nn.CrossEntropyLoss()
        end = time.time()
        for images, target in loader:
            data_time.update(time.time() - end)
            images = images.cuda(non_blocking=True)
            loss = criterion(model(images), target.cuda(non_blocking=True))
            print(loss.item())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            batch_time.update(time.time() - end)
            end = time.time()
    """
    assert lines(source) == []
    # Without any wait in the loop, every interval misses its work.
    unwaited = source.replace("            print(loss.item())\n", "")
    assert lines(unwaited) == [15]
    assert "torch.cuda.synchronize()\n        batch_time" in fixed(unwaited)
