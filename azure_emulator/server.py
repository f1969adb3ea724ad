"""The listener: one loopback port that is an HTTPS proxy, a direct HTTPS server and a plain
HTTP server for the control API and managed identity.

* `CONNECT host:443` for an emulated host: answered 200, then TLS is terminated here with a
  leaf certificate for that host signed by this run's CA, and requests on the tunnel are
  served as if by that host. Nothing is ever forwarded; any other host is refused (403) and
  recorded as an egress attempt.
* A TLS ClientHello on the port directly: served as https://127.0.0.1:PORT (custom-cloud
  mode through ARM_CLOUD_METADATA_URL).
* Plain HTTP: the control API (/_emulator), the managed-identity endpoints, and (as a proxy)
  plain-http requests with absolute URLs, which are refused and recorded like CONNECTs.
"""
from __future__ import annotations

import re
import socket
import socketserver
import ssl
import sys
import time
import urllib.parse
import uuid
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

from . import arm, control, faults, operations, urls
from .certs import Certificates
from .store import State
from .hosts import DIRECT, emulated
from .wire import ArmError, Request, Response, arm_error, plain_error

MAX_BODY = 16 * 1024 * 1024  # no request the emulated APIs or the control API take is near this


class BodyTooLarge(Exception):
    pass


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: State, certs: Certificates, identity_header: str, reload_world: Callable[[], Any],
                 control_token: str) -> None:
        super().__init__(address, Handler)
        self.state = state
        self.certs = certs
        self.control_token = control_token
        self.identity_header = identity_header
        self.context = urls.Context(self.server_address[1], identity_header, reload_world)
        state.arm_call = lambda req: arm.handle(state, req, urls.ARM)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "azure-emulator"
    sys_version = ""
    server: EmulatorServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection.settimeout(120)
        self.tunnel_host: Optional[str] = None
        self.tunnel_port = 443
        self.tls = False
        try:
            first = self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            first = b""
        if first == b"\x16":
            self._start_tls("127.0.0.1")

    def _start_tls(self, host: str) -> None:
        ctx = self.server.certs.context_for(host)
        self.rfile.close()
        self.connection = ctx.wrap_socket(self.connection, server_side=True)
        self.rfile = self.connection.makefile("rb", -1)
        self.wfile = socketserver._SocketWriter(self.connection)  # type: ignore[attr-defined]
        self.tls = True

    def handle(self) -> None:
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, socket.timeout, OSError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base signature
        pass

    # -- proxy ------------------------------------------------------------------------------
    def do_CONNECT(self) -> None:
        host, _, port = self.path.rpartition(":")
        host = host.strip("[]").lower()
        if not emulated(host):
            self._refuse_egress(host, int(port or 443), "CONNECT", "")
            return
        self.send_response(200, "Connection Established")
        self.end_headers()
        self.wfile.flush()
        self._start_tls(host)
        self.tunnel_host, self.tunnel_port = host, int(port or 443)
        # Python clients send CONNECT as HTTP/1.0; the tunnel itself stays open.
        self.close_connection = False

    def _refuse_egress(self, host: str, port: int, method: str, path: str) -> None:
        state = self.server.state
        with state.lock:
            state.egress.append({"time": time.time(), "host": host, "port": port, "method": method, "path": path})
        self._write(plain_error(403, f"azure-emulator: egress to '{host}' refused (not an emulated host)"), method)
        self.close_connection = True

    # -- requests ---------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        """The body, at most MAX_BODY bytes (BodyTooLarge past that; ValueError if malformed)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline(64).split(b";")[0].strip() or b"0", 16)
                if size < 0:
                    raise ValueError(size)
                if size == 0:
                    self.rfile.readline()
                    break
                total += size
                if total > MAX_BODY:
                    raise BodyTooLarge()
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError(length)
        if length > MAX_BODY:
            raise BodyTooLarge()
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        started = time.perf_counter()
        try:
            body = self._read_body()
        except (BodyTooLarge, ValueError) as exc:
            status = 413 if isinstance(exc, BodyTooLarge) else 400
            message = f"the body is larger than {MAX_BODY:,} bytes" if status == 413 else "malformed Content-Length or chunked body"
            self.close_connection = True
            self._write(plain_error(status, f"azure-emulator: {message}"), self.command)
            return
        raw = self.path
        if self.tunnel_host:
            host, port, scheme = self.tunnel_host, self.tunnel_port, "https"
        elif raw.startswith(("http://", "https://")):
            parts = urllib.parse.urlsplit(raw)
            host = (parts.hostname or "").lower()
            if host not in DIRECT:
                self._refuse_egress(host, parts.port or 80, self.command, parts.path)
                return
            raw = urllib.parse.urlunsplit(("", "", parts.path, parts.query, ""))
            port, scheme = self.server.server_address[1], "http"
        else:
            host = "127.0.0.1"
            port = self.server.server_address[1]
            scheme = "https" if self.tls else "http"
        split = urllib.parse.urlsplit(raw)
        path = re.sub(r"/+", "/", urllib.parse.unquote(split.path)).rstrip("/") or "/"
        query = {k.lower(): v for k, v in urllib.parse.parse_qsl(split.query, keep_blank_values=True)}
        headers = Message()
        for k, v in self.headers.items():
            headers[k] = v
        req = Request(self.command, host, path, query, headers, body, scheme=scheme, port=port)
        service = urls.resolve(req)
        if service is None:
            self._write(plain_error(404, f"azure-emulator: nothing is emulated at {req.method} {scheme}://{host}{path}"), req.method)
            self._log(req, 404, started, "unknown")
            return
        if service.kind == "control":
            if self._refused_control(req, started):
                return
        elif self._faulted(req, service.kind, started):
            return
        response = self._answer(service, req)
        self._write(response, req.method)
        if service.kind != "control":
            self._log(req, response.status, started, service.kind)

    def _answer(self, service: urls.Service, req: Request) -> Response:
        state = self.server.state
        try:
            with state.lock:
                operations.tick(state)  # operations end on the clock, before anyone looks
            response = service.answer(state, req, self.server.context)
        except ArmError as err:
            response = err.response()
        except Exception as exc:  # the emulator must answer, loudly, whatever went wrong inside it
            response = arm_error("InternalServerError", why=f"{type(exc).__name__}: {exc}").response()
        if service.kind in ("registry", "arm"):
            rid = str(uuid.uuid4())
            response.headers.setdefault("x-ms-request-id", rid)
        if service.kind == "arm":
            response.headers.setdefault("x-ms-correlation-request-id", req.header("x-ms-client-request-id") or rid)
            response.headers.setdefault("x-ms-routing-request-id", f"EASTUS2:{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}:{rid}")
        return response

    def _refused_control(self, req: Request, started: float) -> bool:
        why = control.refusal(req, self.client_address[0], self.server.control_token, self.server.server_address[1])
        if why is None:
            return False
        self._write(plain_error(403, f"azure-emulator: control request refused: {why}"), req.method)
        self._log(req, 403, started, "control")
        origin = req.header("Origin")
        print(f"azure-emulator: refused {req.method} {req.path} from {self.client_address[0]}" + (f" (Origin {origin})" if origin else "")
              + f": {why}", file=sys.stderr, flush=True)
        return True

    def _faulted(self, req: Request, kind: str, started: float) -> bool:
        fault = faults.injected(self.server.state, req, kind)
        if fault is None:
            return False
        if isinstance(fault, Response):
            self._write(fault, req.method)
            self._log(req, fault.status, started, kind)
            return True
        self._log(req, 0, started, kind)
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return True

    def _write(self, response: Response, method: str) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for k, v in response.headers.items():
            self.send_header(k, v)
        if response.stream is not None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in response.stream:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        payload = response.encoded()
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if method != "HEAD" and payload:
            self.wfile.write(payload)

    def _log(self, req: Request, status: int, started: float, kind: str) -> None:
        principal = req.principal.name if req.principal is not None else None
        self.server.state.record(
            {
                "time": time.time(),
                "kind": kind,
                "method": req.method,
                "host": req.host,
                "path": req.path,
                "query": dict(req.query),
                "status": status,
                "principal": principal,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "write": kind == "arm" and req.method not in ("GET", "HEAD") and not req.path.lower().endswith("/listkeys"),
            }
        )


def make_server(state: State, certs: Certificates, port: int = 0, host: str = "127.0.0.1", identity_header: Optional[str] = None,
                reload_world: Optional[Callable[[], Any]] = None, control_token: Optional[str] = None) -> EmulatorServer:
    return EmulatorServer((host, port), state, certs, identity_header or uuid.uuid4().hex, reload_world or (lambda: state.world),
                          control_token or control.new_token())

