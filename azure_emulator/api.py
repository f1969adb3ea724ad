"""Run the emulator in this process (tests) and talk to its control API."""
from __future__ import annotations

import json
import os
import tempfile
import threading
import urllib.request
from typing import Any, Optional

from .certs import Certificates
from .server import EmulatorServer, make_server  # before .control: the server module imports the API modules in order
from .control import TOKEN_HEADER, new_token  # noqa: I001
from .operations import finish_interrupted
from .store import State, preset
from .world import World, load_world, read_world_file

CONTROL_URL_VARIABLE = "AZURE_EMULATOR_CONTROL_URL"
CONTROL_TOKEN_VARIABLE = "AZURE_EMULATOR_CONTROL_TOKEN"


# Variables that could point a client at real Azure, authenticate it there, or make it trust
# another CA: a client of the emulator starts from an environment without them.
_UNSAFE_PREFIXES = ("AZURE_", "ARM_", "AZUREML_", "IDENTITY_", "MSI_")
_UNSAFE = frozenset({
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
})


def reaches_outside(name: str) -> bool:
    """Whether an environment variable could lead a client to real Azure (see scrubbed_environ)."""
    return name in _UNSAFE or name.startswith(_UNSAFE_PREFIXES)


def scrubbed_environ(environ: Optional[dict[str, str]] = None) -> dict[str, str]:
    """This environment without Azure credentials, cloud settings, proxies or CA bundles;
    add the emulator's `env` to it for a client that can only reach the emulator."""
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items() if not reaches_outside(k)}


def client_env(proxy_url: str, ca_path: str, world: World, identity_endpoint: str, identity_header: str,
               control_token: Optional[str] = None) -> dict[str, str]:
    """The environment a client needs: proxy mode, this run's CA, the default principal (and,
    with control_token, where the control API is and its token)."""
    p = world.default_principal()
    env = {
        "HTTPS_PROXY": proxy_url,
        "https_proxy": proxy_url,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "REQUESTS_CA_BUNDLE": ca_path,
        "SSL_CERT_FILE": ca_path,  # httpx (openai) and az's urllib read this one
        "CURL_CA_BUNDLE": ca_path,  # curl, and requests when REQUESTS_CA_BUNDLE is unset
        "NODE_EXTRA_CA_CERTS": ca_path,  # Node.js adds it to its built-in roots
        "AZURE_TENANT_ID": world.tenant_id,
        "AZURE_SUBSCRIPTION_ID": next(iter(world.subscriptions)),
        "AZURE_CLIENT_ID": p.client_id,
        "AZURE_EMULATOR_IDENTITY_ENDPOINT": identity_endpoint,
        "AZURE_EMULATOR_IDENTITY_HEADER": identity_header,
    }
    if p.secret:
        env["AZURE_CLIENT_SECRET"] = p.secret
    if control_token:
        env[CONTROL_URL_VARIABLE] = proxy_url + "/_emulator"
        env[CONTROL_TOKEN_VARIABLE] = control_token
    return env


class ControlClient:
    """The control API, with the run's control token (default: $AZURE_EMULATOR_CONTROL_TOKEN)."""

    def __init__(self, url: str, token: Optional[str] = None) -> None:
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get(CONTROL_TOKEN_VARIABLE)
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @classmethod
    def from_ready_file(cls, path: str) -> "ControlClient":
        """The control API of the emulator `azure-emulator serve --ready-file PATH` runs."""
        with open(path, encoding="utf-8") as fh:
            info = json.load(fh)
        return cls(info["control_url"], info["control_token"])

    def call(self, method: str, path: str, body: Any = None, raw: Optional[bytes] = None) -> Any:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/yaml" if raw is not None else "application/json")
        if self.token:
            req.add_header(TOKEN_HEADER, self.token)
        try:
            with self._opener.open(req, timeout=30) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")
            raise RuntimeError(f"control API {method} {path}: {err.code} {detail}") from None

    def _object(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """A call whose answer is a JSON object."""
        answer = self.call(method, path, body)
        if not isinstance(answer, dict):
            raise RuntimeError(f"control API {method} {path}: expected a JSON object, got {type(answer).__name__}")
        return answer

    def _items(self, path: str, key: str) -> list[dict[str, Any]]:
        """The list under `key` of a GET's answer."""
        items = self._object("GET", path).get(key)
        if not isinstance(items, list):
            raise RuntimeError(f"control API GET {path}: no '{key}' list in the answer")
        return items

    def reset(self) -> None:
        self.call("POST", "/reset")

    def state(self) -> dict[str, Any]:
        return self._object("GET", "/state")

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return self._items(f"/requests?since={since}", "requests")

    def clear_requests(self) -> None:
        self.call("DELETE", "/requests")

    def egress(self) -> list[dict[str, Any]]:
        return self._items("/egress", "egress")

    def load_world(self, yaml_text: str) -> None:
        self.call("PUT", "/world", raw=yaml_text.encode())

    def faults(self, **faults: Any) -> dict[str, Any]:
        return self._object("PUT", "/faults", faults)

    def clear_faults(self) -> None:
        self.call("DELETE", "/faults")

    def configure(self, **config: Any) -> None:
        self.call("PUT", "/config", config)

    def seed(self, **resource: Any) -> dict[str, Any]:
        return self._object("POST", "/resources", resource)

    def patch(self, resource_id: str, **fields: Any) -> dict[str, Any]:
        return self._object("PATCH", "/resources", {"id": resource_id, "set": fields})

    def remove(self, resource_id: str) -> None:
        import urllib.parse

        self.call("DELETE", "/resources?id=" + urllib.parse.quote(resource_id, safe=""))

    def resources(self) -> list[dict[str, Any]]:
        return self._items("/resources", "resources")

    def models(self) -> list[dict[str, Any]]:
        return self._items("/models", "models")

    def set_lifecycle(self, model: str, **dates: Optional[str]) -> dict[str, Any]:
        """Replace a model's lifecycle dates (legacy=, deprecated=, retired= as YYYY-MM-DD; resources stay)."""
        return self._object("PATCH", "/models", {"model": model, "lifecycle": dates})


class Emulator:
    """`with Emulator() as emu:` runs the emulator on a free loopback port in a thread.

    `emu.env` is the client environment; `emu.control` the control API.
    """

    def __init__(self, world_file: Optional[str] = None, world_text: Optional[str] = None, pace: str = "instant",
                 state_file: Optional[str] = None, directory: Optional[str] = None, port: int = 0) -> None:
        self.world_file = world_file
        self.world_text = world_text
        self.pace = pace
        self.state_file = state_file
        self.directory = directory or tempfile.mkdtemp(prefix="azure-emulator-")
        self.port = port
        self.server: Optional[EmulatorServer] = None
        self._thread: Optional[threading.Thread] = None
        self.control_token = new_token()  # this run's: the control API answers it from anywhere a client can reach
        self._text = world_text

    def _load(self) -> World:
        """The world the emulator started with (the file is read once, at start)."""
        return load_world(path=self.world_file, text=self._text)

    def start(self) -> "Emulator":
        if self._text is None and self.world_file is not None:
            self._text = read_world_file(self.world_file)
        world = self._load()
        self.state = State(world, state_file=self.state_file)
        finish_interrupted(self.state)
        self.state.config = preset(self.pace)
        self.state.initial_config = preset(self.pace)  # what /_emulator/reset restores
        self.certs = Certificates(self.directory)
        self.server = make_server(self.state, self.certs, port=self.port, reload_world=self._load, control_token=self.control_token)
        self._thread = threading.Thread(target=self.server.serve_forever, name="azure-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def control(self) -> ControlClient:
        return ControlClient(self.url + "/_emulator", self.control_token)

    @property
    def env(self) -> dict[str, str]:
        assert self.server is not None
        return client_env(self.url, self.certs.ca_path, self.state.world, self.url + "/msi/token", self.server.identity_header, self.control_token)

    def ready_info(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "proxy_url": self.url,
            "https_url": f"https://127.0.0.1:{self.server.server_address[1]}" if self.server else None,
            "control_url": self.url + "/_emulator",
            "control_token": self.control_token,
            "ca_bundle": self.certs.ca_path,
            "metadata_url": f"https://127.0.0.1:{self.server.server_address[1]}/metadata/endpoints?api-version=2019-05-01" if self.server else None,
            # custom-cloud mode: where azure-ai-ml (REGISTRY_DISCOVERY_ENDPOINT_URL) finds the registry discovery service
            "registry_discovery_url": f"https://127.0.0.1:{self.server.server_address[1]}/" if self.server else None,
            "env": self.env,
        }
