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

from . import arm, control, identity, inference, registry
from .certs import Certificates
from .routes import DISCOVERY_HOST, MFE_HOSTS
from .store import State
from .wire import ArmError, Request, Response

ARM_HOST = "management.azure.com"
GRAPH_HOST = "graph.microsoft.com"
INFERENCE = re.compile(r"^[a-z0-9-]+\.[a-z0-9]+\.(models|inference)\.ai\.azure\.com$")
EMULATED = (ARM_HOST, identity.LOGIN_HOST, GRAPH_HOST, DISCOVERY_HOST)
DIRECT = ("127.0.0.1", "localhost", "::1")
MAX_BODY = 16 * 1024 * 1024  # no request the emulated APIs or the control API take is near this


class BodyTooLarge(Exception):
    pass


def emulated(host: str) -> bool:
    return host in EMULATED or bool(INFERENCE.match(host)) or bool(MFE_HOSTS.match(host))


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: State, certs: Certificates, identity_header: str, reload_world: Callable[[], Any],
                 control_token: str) -> None:
        super().__init__(address, Handler)
        self.state = state
        self.certs = certs
        self.identity_header = identity_header
        self.reload_world = reload_world
        self.control_token = control_token


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
        self._write(Response(403, {"error": f"azure-emulator: egress to '{host}' refused (not an emulated host)"}), method)
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
            self._write(Response(status, {"error": f"azure-emulator: {message}"}), self.command)
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
        kind, target = self._route(req)
        if kind is None:
            self._write(Response(404, {"error": f"azure-emulator: nothing is emulated at {req.method} {scheme}://{host}{path}"}), req.method)
            self._log(req, 404, started, "unknown")
            return
        if kind == "control":
            why = control.refusal(req, self.client_address[0], self.server.control_token, self.server.server_address[1])
            if why is not None:
                self._write(Response(403, {"error": f"azure-emulator: control request refused: {why}"}), req.method)
                self._log(req, 403, started, kind)
                origin = req.header("Origin")
                print(f"azure-emulator: refused {req.method} {req.path} from {self.client_address[0]}" + (f" (Origin {origin})" if origin else "")
                      + f": {why}", file=sys.stderr, flush=True)
                return
        else:
            fault = self._fault(req, kind)
            if fault == "drop":
                self._log(req, 0, started, kind)
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if fault is not None:
                self._write(fault, req.method)
                self._log(req, fault.status, started, kind)
                return
        try:
            response = target(req)
        except ArmError as err:
            response = err.response()
        except Exception as exc:  # the emulator must answer, loudly, whatever went wrong inside it
            response = ArmError(500, "InternalServerError", f"azure-emulator internal error: {type(exc).__name__}: {exc}").response()
        if kind == "registry":
            response.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        if kind == "arm":
            rid = str(uuid.uuid4())
            response.headers.setdefault("x-ms-request-id", rid)
            response.headers.setdefault("x-ms-correlation-request-id", req.header("x-ms-client-request-id") or rid)
            response.headers.setdefault("x-ms-routing-request-id", f"EASTUS2:{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}:{rid}")
        self._write(response, req.method)
        if kind != "control":
            self._log(req, response.status, started, kind)

    def _route(self, req: Request) -> tuple[Optional[str], Any]:
        state = self.server.state
        host, path = req.host, req.path
        if host == ARM_HOST:
            if path.startswith("/metadata/endpoints"):
                return "metadata", self._metadata
            return "arm", lambda r: arm.handle(state, r)
        if host == identity.LOGIN_HOST:
            return "identity", self._identity
        if host == GRAPH_HOST:
            return "graph", self._graph
        if INFERENCE.match(host):
            return "inference", lambda r: inference.handle(state, r)
        if host == DISCOVERY_HOST or MFE_HOSTS.match(host):
            return "registry", lambda r: registry.handle(state, r)
        if host in DIRECT:
            if path.startswith("/_emulator"):
                if req.scheme != "http":
                    return None, None
                return "control", lambda r: control.handle(state, r, self.server.reload_world)
            if path == "/msi/token":
                return "identity", lambda r: identity.app_service_msi(state, r, self.server.identity_header)
            if path == "/metadata/identity/oauth2/token":
                return "identity", lambda r: identity.imds(state, r)
            if path.startswith("/metadata/endpoints"):
                return "metadata", self._metadata
            if re.match(r"^/(registrymanagement|mferp/managementfrontend)/", path, re.IGNORECASE):
                return "registry", lambda r: registry.handle(state, r, direct=True)
            if re.match(r"^/(subscriptions|tenants|providers)(/|$)", path, re.IGNORECASE):
                return "arm", lambda r: arm.handle(state, r)
            if re.match(r"^/v1\.0/", path):
                return "graph", self._graph
            if re.match(r"^/[^/]+/(oauth2|v2\.0|discovery)/", path) or path == "/common/discovery/instance":
                return "identity", self._identity
        return None, None

    def _identity(self, req: Request) -> Response:
        state = self.server.state
        parts = req.path.strip("/").split("/")
        if req.path.endswith("/discovery/instance"):
            return identity.instance_discovery(req)
        if len(parts) >= 2 and parts[1] == "v2.0" and req.path.endswith("/.well-known/openid-configuration"):
            return identity.openid_configuration(state, req, parts[0])
        if req.path.endswith("/oauth2/v2.0/token") or req.path.endswith("/oauth2/token"):
            if req.method != "POST":
                return Response(405, {"error": "invalid_request", "error_description": "Use POST."})
            return identity.token(state, req, parts[0])
        return Response(404, {"error": "not_found", "error_description": f"azure-emulator: {req.path} is not emulated"})

    def _graph(self, req: Request) -> Response:
        """Just enough of Microsoft Graph for `az role assignment list`."""
        state = self.server.state
        if req.path == "/v1.0/directoryObjects/getByIds" and req.method == "POST":
            ids = {i.lower() for i in ((req.json() or {}).get("ids") or [])}
            found = []
            for p in state.world.principals.values():
                if p.object_id in ids:
                    odata = "#microsoft.graph.user" if p.kind == "user" else "#microsoft.graph.servicePrincipal"
                    found.append({"@odata.type": odata, "id": p.object_id, "displayName": p.name, "appId": p.client_id,
                                  "userPrincipalName": p.upn, "servicePrincipalNames": [p.client_id]})
            for g in state.world.groups.values():
                if g.object_id in ids:
                    found.append({"@odata.type": "#microsoft.graph.group", "id": g.object_id, "displayName": g.name})
            return Response(200, {"value": found})
        if req.path in ("/v1.0/servicePrincipals", "/v1.0/users", "/v1.0/groups"):
            return Response(200, {"value": []})
        return Response(404, {"error": {"code": "Request_ResourceNotFound", "message": f"{req.path} is not emulated"}})

    def _metadata(self, req: Request) -> Response:
        base = f"https://{req.host}" if req.host == ARM_HOST else f"https://127.0.0.1:{self.server.server_address[1]}"
        cloud = {
            "name": "AzureEmulator",
            "portal": "https://portal.azure-emulator.test",
            "resourceManager": base + "/",
            "authentication": {"loginEndpoint": base + "/", "audiences": [base + "/", base], "tenant": "common", "identityProvider": "AAD"},
            "media": "https://media.azure-emulator.test",
            "graphAudience": "https://graph.windows.net/",
            "graph": "https://graph.windows.net/",
            "microsoftGraphResourceId": base + "/",
            "sqlManagement": "https://management.core.windows.net:8443/",
            "gallery": "https://gallery.azure-emulator.test/",
            "batch": "https://batch.core.windows.net/",
            "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/quickstart-templates/aliases.json",
            "activeDirectoryDataLake": "https://datalake.azure.net/",
            "suffixes": {"storage": "core.windows.net", "keyVaultDns": "vault.azure.net", "acrLoginServer": "azurecr.io",
                         "sqlServerHostname": "database.windows.net", "storageSyncEndpointSuffix": "afs.azure.net"},
        }
        if req.api_version and req.api_version >= "2022-09-01":
            return Response(200, cloud)
        return Response(200, [cloud])

    def _fault(self, req: Request, kind: str) -> Optional[Any]:
        state = self.server.state
        with state.lock:
            faults = state.faults
            hosts = {h.lower() for h in faults.hosts}
            host = ARM_HOST if kind == "arm" else req.host
            if host not in hosts:
                return None
            latency = faults.latency_ms
            for rule in faults.routes:
                if rule.get("method", req.method).upper() != req.method:
                    continue
                if not re.search(rule.get("path", ".*"), req.path, re.IGNORECASE):
                    continue
                if rule.get("times", 1) <= 0:
                    continue
                rule["times"] = rule.get("times", 1) - 1
                status = int(rule.get("status", 500))
                if status == 0:
                    return "drop"
                headers = {"Retry-After": "1"} if status in (429, 503) else {}
                return ArmError(status, rule.get("code", "InjectedFault"), rule.get("message", "Injected by the emulator's fault rule."), headers=headers).response()
            roll = state.rng.random()
            drop = roll < faults.drop_rate
            error = not drop and roll < faults.drop_rate + faults.error_rate
            status = state.rng.choice(faults.error_statuses) if error and faults.error_statuses else None
        if latency:
            time.sleep(latency / 1000)
        if drop:
            return "drop"
        if status is None:
            return None
        if status == 429:
            return ArmError(429, "TooManyRequests", "Too many requests (injected by the emulator). Retry after the interval in Retry-After.", headers={"Retry-After": "1"}).response()
        code = {500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}.get(status, "InjectedFault")
        return ArmError(status, code, f"Injected transient failure ({status}).").response()

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

