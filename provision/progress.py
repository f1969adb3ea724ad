"""Progress of long waits, on stderr, from the (subject, message) calls apply, destroy and keys
rotate make: "create endpoint X ..." starts a wait, any other message about the subject ends it.

Without a terminal (CI): one line per event, a heartbeat line for every wait still running at least
every HEARTBEAT_S (`still creating endpoint X [45s elapsed]`, so a job never looks hung), and a line
for every step that fails. On a terminal: the same event lines, under a live view of every
subject's step and elapsed time (rich, imported only then; without rich a one-line status).

The timer thread is a daemon and leaves SIGINT and SIGTERM to the main thread (workers.py).
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, TextIO

from .workers import leave_signals_to_the_main_thread

HEARTBEAT_S = 15.0  # the longest a running wait goes without a line when there is no terminal
LIVE_REFRESH_S = 0.2
STARTED = "..."  # a message ending so starts a wait
FAILED = " failed"  # a message that ends a wait with this in it ends it failed (and is the failure's line)
IRREGULAR = {"retag": "retagging", "stop": "stopping"}
VERBS = {"subscribe", "create", "update", "retag", "resume", "replace", "adopt", "unsubscribe", "register", "delete", "undo", "wait",
         "read", "regenerate", "rotate", "probe", "write", "stop"}


def ongoing(message: str) -> str:
    """'create endpoint X' -> 'creating endpoint X'; a message in -ing form stays; anything else is 'running: …'."""
    verb, _, rest = message.partition(" ")
    if verb.endswith("ing"):
        return message
    if verb not in VERBS:
        return f"running: {message}"
    ing = IRREGULAR.get(verb) or (verb[:-1] + "ing" if verb.endswith("e") else verb + "ing")
    return f"{ing} {rest}".rstrip()


@dataclass
class Wait:
    message: str  # what is being waited for, without the "..."
    started: float
    said: float  # when a line last said so
    ended: Optional[float] = None
    outcome: str = "running"  # running | done | failed


class ProgressLine:
    """The progress callable (subject, message) -> None, and a context manager that runs its timer."""

    def __init__(self, stream: Optional[TextIO] = None, animate: Optional[bool] = None, interval: Optional[float] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.animate = _isatty(self.stream) if animate is None else animate
        self.interval = HEARTBEAT_S if interval is None else interval
        self.clock = clock
        self.started = clock()
        self.lock = threading.Lock()
        self.waits: dict[str, Wait] = {}  # subject -> its current (or last) wait
        self.failed: set[str] = set()  # subjects whose failure has been said
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._live: Any = None  # rich.live.Live on a terminal
        self._frame = 0

    # --- the context: the timer ------------------------------------------------------------
    def __enter__(self) -> "ProgressLine":
        if self.animate:
            self._live = _rich_live(self.stream)
        self._thread = threading.Thread(target=self._tick, name="progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self.lock:
            if self._live is not None:
                self._live.stop()
                self._live = None
            elif self.animate:
                self._write("\r\033[K")

    def _tick(self) -> None:
        leave_signals_to_the_main_thread()
        pause = LIVE_REFRESH_S if self.animate else max(0.01, min(1.0, self.interval / 3))
        while not self._stop.wait(pause):
            if self.animate:
                self.redraw()
            else:
                self.beat()

    # --- events ----------------------------------------------------------------------------
    def __call__(self, subject: str, message: str) -> None:
        now = self.clock()
        with self.lock:
            if message.endswith(STARTED):
                self.waits[subject] = Wait(message[: -len(STARTED)].rstrip(), now, now)
            else:
                failed = FAILED in message
                if failed:
                    self.failed.add(subject)  # said now: the end of the run does not say it again
                wait = self.waits.get(subject)
                if wait is not None and wait.outcome == "running":
                    wait.ended, wait.outcome = now, "failed" if failed else "done"
            self._say(now, subject, message)

    def fail(self, subject: str, error: str) -> None:
        """A step (or a deployment that never started one) failed: one line, said once."""
        now = self.clock()
        with self.lock:
            if subject in self.failed:
                return
            self.failed.add(subject)
            wait = self.waits.get(subject)
            if wait is not None and wait.outcome == "running":
                wait.ended, wait.outcome = now, "failed"
                step = wait.message.partition(" ")[0] in VERBS  # a step ("create endpoint x"), not some other wait
                text = f"{wait.message} failed after {now - wait.started:.0f}s: {error}" if step else f"failed: {error}"
            else:
                text = f"failed: {error}"
                self.waits[subject] = Wait("failed", now, now, now, "failed")
            self._say(now, subject, text)

    def beat(self) -> None:
        """A heartbeat line for every wait that has gone `interval` without one."""
        now = self.clock()
        with self.lock:
            for subject, wait in sorted(self.waits.items()):
                if wait.outcome == "running" and now - wait.said >= self.interval:
                    wait.said = now
                    self._say(now, subject, f"still {ongoing(wait.message)} [{now - wait.started:.0f}s elapsed]")

    def redraw(self) -> None:
        now = self.clock()
        with self.lock:
            if self._live is not None:
                self._live.update(self._table(now, self._live.console.width), refresh=True)
            elif any(w.outcome == "running" for w in self.waits.values()):
                self._frame += 1
                names = ", ".join(sorted(s for s, w in self.waits.items() if w.outcome == "running"))
                self._write(f"\r\033[K{'|/-'[self._frame % 3]} {now - self.started:5.1f} s  working on {names}"[:200])

    # --- output ----------------------------------------------------------------------------
    def line(self, now: float, subject: str, message: str) -> str:
        return f"[{now - self.started:6.1f} s] {subject}: {message}"

    def _say(self, now: float, subject: str, message: str) -> None:
        text = self.line(now, subject, message)
        if self._live is not None:
            self._live.console.print(text, markup=False, highlight=False, soft_wrap=True)
            return
        if self.animate:
            text = "\r\033[K" + text
        self._write(text + "\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # progress is a courtesy: a closed stderr must not fail the run

    def _table(self, now: float, width: int = 80) -> Any:
        """One line per subject, cut to the terminal's width: mark, subject, step, elapsed."""
        from rich.console import Group
        from rich.text import Text

        marks = {"running": ("…", "yellow"), "done": ("✓", "green"), "failed": ("✗", "red")}
        names = min(max([len(s) for s in self.waits] + [4]), 30)
        rows = []
        for subject, wait in sorted(self.waits.items()):
            end = wait.ended if wait.ended is not None else now
            mark, colour = marks[wait.outcome]
            elapsed = f"{end - wait.started:5.0f}s"
            step = wait.message if wait.outcome != "done" else f"{wait.message} done"
            room = max(8, width - names - len(elapsed) - 6)
            shown = subject if len(subject) <= names else subject[: names - 1] + "…"
            step = step if len(step) <= room else step[: room - 1] + "…"
            row = Text(mark, style=colour)
            row.append(f" {shown:<{names}}  {step:<{room}} {elapsed}")
            rows.append(row)
        return Group(*rows)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _rich_live(stream: TextIO) -> Any:
    """A started live view on `stream` (rich, imported only now), or None without rich."""
    try:
        from rich.console import Console
        from rich.live import Live
    except ImportError:
        return None
    live = Live(console=Console(file=stream), auto_refresh=False, transient=True, redirect_stdout=False, redirect_stderr=False)
    live.start()
    return live
