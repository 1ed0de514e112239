"""Running one file's parse and rules with enough stack, so deep code never kills the process.

LibCST's parser, its code generation and CPython's own parser recurse once per nesting level.
On the main thread's 8 MB stack with the default recursion limit, deeply nested code raises
RecursionError or overflows the C stack (a segmentation fault, no message). `with_deep_stack`
runs the work on a thread with a large stack (one per process, kept) and a recursion limit to
match, and hands back its result or its exception.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Callable, List, Optional, Tuple, TypeVar, cast

try:
    from _queue import SimpleQueue  # what `queue.SimpleQueue` is, without importing `queue` (1 ms)
except ImportError:  # pragma: no cover  (another Python than CPython)
    from queue import SimpleQueue

T = TypeVar("T")

STACK_BYTES = 512 * 1024 * 1024  # virtual: only the pages a deep file touches are used
RECURSION_LIMIT = 200_000  # frames; far below what STACK_BYTES holds

_lock = threading.Lock()
_active = 0  # guarded calls in progress; the last one out restores the recursion limit
_saved_limit = 0


def _raise_limit() -> None:
    global _active, _saved_limit
    with _lock:
        if _active == 0:
            _saved_limit = sys.getrecursionlimit()
            if _saved_limit < RECURSION_LIMIT:
                sys.setrecursionlimit(RECURSION_LIMIT)
        _active += 1


def _restore_limit() -> None:
    global _active
    with _lock:
        _active -= 1
        if _active == 0:
            sys.setrecursionlimit(_saved_limit)


class _DeepWorker:
    """One long-lived thread with a large stack that runs the guarded work, one call at a time:
    a thread per file would map a fresh stack for every file and fault its pages in again (about
    a millisecond a file)."""

    def __init__(self) -> None:
        self.pid = os.getpid()  # a forked worker process inherits the object, not the thread
        self.busy = threading.Lock()
        self._tasks: "SimpleQueue[Tuple[Callable[[], object], List[object], threading.Event]]" = SimpleQueue()
        with _lock:  # stack_size is process-wide: set it only for the thread made here
            previous = threading.stack_size(STACK_BYTES)
            try:
                self.thread = threading.Thread(target=self._serve, name="torchlint-deep-stack", daemon=True)
                self.thread.start()
            finally:
                threading.stack_size(previous)

    def _serve(self) -> None:
        while True:
            work, outcome, done = self._tasks.get()
            try:
                outcome.append((True, work()))
            except BaseException as exception:  # handed to the caller, whatever it is
                outcome.append((False, exception))
            done.set()

    def run(self, work: Callable[[], T]) -> T:
        outcome: List[object] = []
        done = threading.Event()
        self._tasks.put((work, outcome, done))
        done.wait()
        succeeded, value = cast(Tuple[bool, object], outcome[0])
        if not succeeded:
            raise cast(BaseException, value)
        return cast(T, value)


_worker: Optional[_DeepWorker] = None


def _deep_worker() -> Optional[_DeepWorker]:
    """The process's deep-stack thread, started on first use (None where none can be made)."""
    global _worker
    if _worker is None or _worker.pid != os.getpid():
        try:
            _worker = _DeepWorker()
        except (RuntimeError, ValueError, MemoryError):  # no such thread here (address-space limits)
            return None
    return _worker


def with_deep_stack(work: Callable[[], T]) -> T:
    """`work()` on a thread with a large stack; its exception, if any, is raised here."""
    _raise_limit()
    try:
        worker = _deep_worker()
        if worker is None or threading.current_thread() is worker.thread:
            return work()  # no big thread to be had, or already on it
        with worker.busy:
            return worker.run(work)
    finally:
        _restore_limit()
