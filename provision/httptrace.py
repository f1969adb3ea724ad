"""--debug's HTTP trace: one line per HTTP request on stderr (method, URL, status, duration,
x-ms-request-id), so a run that succeeded can still be followed and a support case quoted.

Nothing secret is printed: no header but the request id (Authorization never), no body (listKeys and
regenerateKeys answers hold keys, token answers hold tokens), and the values of query parameters
that carry credentials (sig, code, client_secret, api-key, key, tokens, passwords) and any
user:password in a URL are redacted.

The gateway installs it (it alone imports Azure SDKs, so nothing here does): `policies()` in every
azure-core pipeline (duck-typed: azure-core chains any object with `send` and `next`), `watch()` on
the shared requests session (the calls made without a pipeline), `credential_options()` on the
credential (token requests). Each returns nothing when the trace is off.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, Optional, TextIO
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

SECRET_PARAMS = {"sig", "signature", "code", "client_secret", "client_assertion", "assertion", "api-key", "apikey", "key", "subscription-key",
                 "access_token", "refresh_token", "id_token", "token", "password", "secret"}
SECRET_WORDS = ("key", "secret", "token", "password", "sig")
REDACTED = "REDACTED"

_stream: Optional[TextIO] = None
_lock = threading.Lock()
_inside = threading.local()  # depth of traced pipeline calls on this thread: their transport's own hook stays quiet
_STARTED = "provision.httptrace.started"


def enable(stream: Optional[TextIO] = None) -> None:
    global _stream
    _stream = stream if stream is not None else sys.stderr


def disable() -> None:
    global _stream
    _stream = None


def enabled() -> bool:
    return _stream is not None


def _secret(name: str) -> bool:
    name = name.lower()
    return name in SECRET_PARAMS or any(word in name for word in SECRET_WORDS)


def redact_url(url: str) -> str:
    """The URL with credentials taken out: user:password@ and the values of secret query parameters."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    query = "&".join(f"{quote(k, safe='-_.~')}={REDACTED if _secret(k) else quote(v, safe='-_.~:/,')}" for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def trace_line(method: str, url: str, status: Optional[int], seconds: float, request_id: Optional[str], error: str = "") -> str:
    answer = str(status) if status is not None else f"failed ({error or 'no answer'})"
    return f"http: {method} {redact_url(url)} -> {answer} in {seconds * 1000:.0f} ms, x-ms-request-id {request_id or '-'}"


def emit(method: str, url: str, status: Optional[int], seconds: float, request_id: Optional[str], error: str = "") -> None:
    stream = _stream
    if stream is None:
        return
    text = trace_line(method, url, status, seconds, request_id, error)
    with _lock:
        try:
            stream.write(text + "\n")
            stream.flush()
        except (OSError, ValueError):
            pass  # a trace that cannot be written must not fail the run


def _header(headers: Any, name: str) -> Optional[str]:
    try:
        value = headers.get(name)
    except AttributeError:
        return None
    return str(value) if value else None


class TracePolicy:
    """An azure-core HTTPPolicy (per retry: every attempt is a line)."""

    next: Any = None

    def send(self, request: Any) -> Any:
        http = request.http_request
        started = time.perf_counter()
        _inside.depth = getattr(_inside, "depth", 0) + 1
        try:
            response = self.next.send(request)
        except Exception as exc:
            emit(http.method, http.url, None, time.perf_counter() - started, None, type(exc).__name__)
            raise
        finally:
            _inside.depth -= 1
        answer = response.http_response
        emit(http.method, http.url, answer.status_code, time.perf_counter() - started, _header(answer.headers, "x-ms-request-id"))
        return response


def policies() -> list[Any]:
    """[the trace policy] for a pipeline's per-retry policies, or [] when the trace is off."""
    return [TracePolicy()] if enabled() else []


def watch(session: Any) -> None:
    """Trace the requests a requests.Session makes outside any traced pipeline (chat calls, cloud metadata)."""
    if enabled():
        session.hooks.setdefault("response", []).append(_on_response)


def _on_response(response: Any, *args: Any, **kwargs: Any) -> Any:
    if getattr(_inside, "depth", 0) == 0:
        request = response.request
        emit(request.method, request.url, response.status_code, response.elapsed.total_seconds(), _header(response.headers, "x-ms-request-id"))
    return response


def credential_options() -> dict[str, Callable[[Any], None]]:
    """azure-identity keyword arguments that trace the credential's own requests (tokens), or {}."""
    if not enabled():
        return {}

    def on_request(request: Any) -> None:
        request.context[_STARTED] = time.perf_counter()

    def on_response(response: Any) -> None:
        http, answer = response.http_request, response.http_response
        started = response.context.get(_STARTED) or time.perf_counter()
        emit(http.method, http.url, answer.status_code, time.perf_counter() - started, _header(answer.headers, "x-ms-request-id"))

    return {"raw_request_hook": on_request, "raw_response_hook": on_response}
