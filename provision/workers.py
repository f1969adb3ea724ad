"""Worker threads that leave signals to the main thread.

The kernel delivers a process signal (Ctrl-C, a cancelled CI job's SIGTERM) to any thread that
does not block it, and Python runs handlers only in the main thread: a signal that lands on a
worker waiting for Azure leaves the main thread asleep until that wait ends (tens of seconds for
a real operation). Workers therefore block SIGINT and SIGTERM, so both reach the main thread and
stop the run at once.
"""
from __future__ import annotations

import signal
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")
WAKE_S = 0.2  # how often the main thread wakes while it waits (to run a pending signal's handler)

_MAIN_THREAD_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def leave_signals_to_the_main_thread() -> None:
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, _MAIN_THREAD_SIGNALS)


def worker_pool(max_workers: int, name: str) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix=name, initializer=leave_signals_to_the_main_thread)


def run_all(pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """fn over items on the pool, results in order. The main thread waits in short slices, not in
    one uninterruptible wait: a signal some library thread received still reaches its handler
    (Ctrl-C, a cancelled job) within WAKE_S. On any exception (KeyboardInterrupt included) the pool
    is left without waiting for the work still in flight (the next run resumes it)."""
    futures = [pool.submit(fn, item) for item in items]
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=WAKE_S, return_when=FIRST_EXCEPTION)
            for f in done:
                if f.exception() is not None:
                    raise f.exception()  # type: ignore[misc]
        return [f.result() for f in futures]
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
