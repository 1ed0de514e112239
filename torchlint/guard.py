"""Running one file's parse and rules with enough stack, so deep code never kills the process.

LibCST's parser, its code generation and CPython's own parser recurse once per nesting level.
On the main thread's 8 MB stack with the default recursion limit, deeply nested code raises
RecursionError or overflows the C stack (a segmentation fault, no message). `with_deep_stack`
runs the work on a thread with a large stack and a recursion limit to match, and hands back its
result or its exception.
"""

from __future__ import annotations

import sys
import threading
from typing import Callable, List, TypeVar

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


def with_deep_stack(work: Callable[[], T]) -> T:
    """`work()` on a thread with a large stack; its exception, if any, is raised here."""
    result: List[T] = []
    error: List[BaseException] = []

    def target() -> None:
        try:
            result.append(work())
        except BaseException as exception:  # handed to the caller, whatever it is
            error.append(exception)

    _raise_limit()
    try:
        try:
            with _lock:  # stack_size is process-wide: set it only for the thread made here
                previous = threading.stack_size(STACK_BYTES)
                try:
                    thread = threading.Thread(target=target, name="torchlint-deep-stack", daemon=True)
                    thread.start()
                finally:
                    threading.stack_size(previous)
        except (RuntimeError, ValueError, MemoryError):  # no such thread here (address-space limits)
            return work()
        thread.join()
    finally:
        _restore_limit()
    if error:
        raise error[0]
    return result[0]
