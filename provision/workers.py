"""Worker threads that leave signals to the main thread.

The kernel delivers a process signal (Ctrl-C, a cancelled CI job's SIGTERM) to any thread that
does not block it, and Python runs handlers only in the main thread: a signal that lands on a
worker waiting for Azure leaves the main thread asleep until that wait ends (tens of seconds for
a real operation). Workers therefore block SIGINT and SIGTERM, so both reach the main thread and
stop the run at once.
"""
from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor

_MAIN_THREAD_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def leave_signals_to_the_main_thread() -> None:
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, _MAIN_THREAD_SIGNALS)


def worker_pool(max_workers: int, name: str) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix=name, initializer=leave_signals_to_the_main_thread)
