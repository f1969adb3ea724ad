"""Progress without a terminal (heartbeats, failures) and --debug's HTTP trace: lines, never timings
(a fake clock drives the heartbeat), and never a secret."""
from __future__ import annotations

import io
import threading
from types import SimpleNamespace

from provision import httptrace
from provision.progress import ProgressLine, ongoing


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_a_running_wait_gets_a_heartbeat_line_every_interval_and_a_failed_step_a_line():
    clock, out = Clock(), io.StringIO()
    progress = ProgressLine(out, animate=False, interval=15, clock=clock)
    progress("medium-chat", "create endpoint medium-chat ...")
    progress("small-chat", "update endpoint small-chat ...")
    clock.now += 14
    progress.beat()
    progress("small-chat", "update endpoint small-chat done (14.0 s)")
    clock.now += 1
    progress.beat()
    progress.beat()
    clock.now += 15
    progress.beat()
    progress.fail("medium-chat", "ServerlessEndpointNameNotAvailable: choose another name")
    progress.fail("medium-chat", "said once")
    progress.fail("edge", "Microsoft.SaaS is still Registering after 600 s; run apply again later")
    clock.now += 30
    progress.beat()
    assert lines(out) == [
        "[   0.0 s] medium-chat: create endpoint medium-chat ...",
        "[   0.0 s] small-chat: update endpoint small-chat ...",
        "[  14.0 s] small-chat: update endpoint small-chat done (14.0 s)",
        "[  15.0 s] medium-chat: still creating endpoint medium-chat [15s elapsed]",
        "[  30.0 s] medium-chat: still creating endpoint medium-chat [30s elapsed]",
        "[  30.0 s] medium-chat: create endpoint medium-chat failed after 30s: ServerlessEndpointNameNotAvailable: choose another name",
        "[  30.0 s] edge: failed: Microsoft.SaaS is still Registering after 600 s; run apply again later",
    ]


def test_the_timer_thread_beats_with_a_short_interval_and_stops():
    out = io.StringIO()
    with ProgressLine(out, animate=False, interval=0.01) as progress:
        progress("d", "deleting endpoint d ...")
        seen = threading.Event()
        for _ in range(500):
            if "still deleting endpoint d [" in out.getvalue():
                seen.set()
                break
            threading.Event().wait(0.01)
        assert seen.is_set(), out.getvalue()
        thread = progress._thread
    assert thread is not None and thread.daemon and not thread.is_alive()


def test_what_a_wait_is_doing():
    assert [ongoing(m) for m in ("create endpoint x", "subscribe marketplace subscription s", "retag endpoint x", "update endpoint x",
                                 "deleting endpoint x", "adopt endpoint x", "x failed: undoing y")] == [
        "creating endpoint x", "subscribing marketplace subscription s", "retagging endpoint x", "updating endpoint x",
        "deleting endpoint x", "adopting endpoint x", "running: x failed: undoing y"]


def test_trace_urls_never_carry_a_credential():
    assert httptrace.redact_url("https://u:pw@host.example/p?api-version=2024-10-01&sig=abc&code=xyz&client_secret=s&api-key=k&key=k2&sv=1") == \
        "https://host.example/p?api-version=2024-10-01&sig=REDACTED&code=REDACTED&client_secret=REDACTED&api-key=REDACTED&key=REDACTED&sv=1"
    assert httptrace.trace_line("POST", "https://management.azure.com/x/listKeys?api-version=1", 200, 0.0123, "abc-123") == \
        "http: POST https://management.azure.com/x/listKeys?api-version=1 -> 200 in 12 ms, x-ms-request-id abc-123"
    assert httptrace.trace_line("GET", "https://h/", None, 1.5, None, "ConnectionError") == "http: GET https://h/ -> failed (ConnectionError) in 1500 ms, x-ms-request-id -"


def test_the_policy_traces_each_attempt_and_nothing_of_the_request_or_answer_but_the_request_id():
    out = io.StringIO()
    httptrace.enable(out)
    try:
        [policy] = httptrace.policies()
        answer = SimpleNamespace(status_code=200, headers={"x-ms-request-id": "rid-1", "Set-Cookie": "secret-cookie"})
        policy.next = SimpleNamespace(send=lambda request: SimpleNamespace(http_response=answer))
        request = SimpleNamespace(http_request=SimpleNamespace(method="POST", url="https://management.azure.com/e/listKeys?api-version=1&key=k",
                                                               headers={"Authorization": "Bearer token-value"}, body=b'{"primaryKey": "key-value"}'))
        policy.send(request)
    finally:
        httptrace.disable()
    [line] = lines(out)
    assert line.startswith("http: POST https://management.azure.com/e/listKeys?api-version=1&key=REDACTED -> 200 in ") and line.endswith(" ms, x-ms-request-id rid-1")
    assert not any(secret in line for secret in ("token-value", "key-value", "secret-cookie", "Bearer"))
    assert httptrace.policies() == [] and httptrace.credential_options() == {}, "off unless --debug"


def test_a_step_apply_reports_failed_is_said_once():
    clock, out = Clock(), io.StringIO()
    progress = ProgressLine(out, animate=False, interval=15, clock=clock)
    progress("code-ci", "create endpoint code-ci ...")
    clock.now += 20
    progress("code-ci", "create endpoint code-ci failed (20.0 s): InternalServerError")
    progress.fail("code-ci", "InternalServerError")
    clock.now += 20
    progress.beat()
    assert lines(out) == ["[   0.0 s] code-ci: create endpoint code-ci ...",
                          "[  20.0 s] code-ci: create endpoint code-ci failed (20.0 s): InternalServerError"]


def test_the_live_view_is_a_line_per_deployment_cut_to_the_terminal():
    from rich.console import Console

    clock = Clock()
    progress = ProgressLine(io.StringIO(), animate=False, clock=clock)
    progress("mistral-small-chat", "subscribe marketplace subscription mistral-small-2503-provision ...")
    progress("codestral-ci", "create endpoint codestral-ci ...")
    clock.now += 2
    progress("codestral-ci", "create endpoint codestral-ci done (2.0 s)")
    progress.fail("edge", "Microsoft.SaaS is still Registering")
    clock.now += 43
    console = Console(width=72, file=io.StringIO(), color_system=None)
    console.print(progress._table(clock(), 72))
    assert console.file.getvalue().splitlines() == [
        "✓ codestral-ci        create endpoint codestral-ci done              2s",
        "✗ edge                failed                                         0s",
        "… mistral-small-chat  subscribe marketplace subscription mistra…    45s",
    ]


def test_a_failure_during_a_wait_that_is_not_a_step_is_not_blamed_on_it():
    clock, out = Clock(), io.StringIO()
    progress = ProgressLine(out, animate=False, interval=15, clock=clock)
    progress("code-ci", "code-ci failed: undoing its Marketplace subscription s ...")
    progress.fail("code-ci", "InternalServerError: the operation failed; the subscription s was removed again")
    assert lines(out)[-1] == "[   0.0 s] code-ci: failed: InternalServerError: the operation failed; the subscription s was removed again"
