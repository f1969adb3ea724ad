"""The control API at its door: every body is checked (400 naming the field and what is allowed,
nothing changed), world files are read with bounds, only the run's own clients are answered, and
reset goes back to how the emulator started. Real HTTP requests to the running emulator."""
from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from azure_emulator import ControlClient, Emulator
from azure_emulator.control import TOKEN_HEADER
from azure_emulator.world import MAX_WORLD_BYTES, WorldError, load_world

from tests.conftest import clean_environ
from .clients import MISTRAL_MEDIUM

ROOT = Path(__file__).resolve().parents[2]
ALIAS_BOMB = (  # under 1 KB; 9**9 strings (about 3 GB of Python objects) once expanded
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))
)
DEEP_FLOW = "tenant: " + "[" * 50_000 + "]" * 50_000 + "\n"
DEEP_BLOCK = "".join(" " * i + f"k{i}:\n" for i in range(200)) + " " * 200 + "x\n"


@pytest.fixture
def http():
    session = requests.Session()
    session.trust_env = False  # the emulator is on loopback: no proxy
    yield session
    session.close()


@contextlib.contextmanager
def hang_guard(seconds: int = 60):
    """Fail the test, rather than hang the run, if a parse never ends (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(*_):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def call(http, emu, method, path, token=True, headers=None, **kwargs):
    headers = dict(headers or {})
    if token:
        headers[TOKEN_HEADER] = emu.control_token
    return http.request(method, f"{emu.url}/_emulator{path}", headers=headers, timeout=30, **kwargs)


def snapshot(emu):
    state = emu.control.state()
    return {k: state[k] for k in ("faults", "config", "resources", "providers", "role_assignments", "operations")}


# -- 1. bodies checked at the door ------------------------------------------------------------

BAD_BODIES = [
    # (path, body, field, what the error says)
    ("/faults", {"error_rate": "high"}, "error_rate", "must be a number from 0 to 1, not 'high'"),
    ("/faults", {"latency_ms": -5}, "latency_ms", "must be a number from 0 to 60000, not -5"),
    ("/faults", {"latency_ms": "5"}, "latency_ms", "must be a number"),
    ("/faults", {"drop_rate": 1.5}, "drop_rate", "from 0 to 1"),
    ("/faults", {"error_rate": True}, "error_rate", "not True"),
    ("/faults", {"eror_rate": 0.1}, "eror_rate", "unknown field (did you mean 'error_rate'?)"),
    ("/faults", {"error_statuses": "500"}, "error_statuses", "must be a list"),
    ("/faults", {"error_statuses": [500, 200]}, "error_statuses[1]", "must be an integer from 400 to 599, not 200"),
    ("/faults", {"routes": {"path": "x"}}, "routes", "must be a list"),
    ("/faults", {"routes": ["GET"]}, "routes[0]", "must be a JSON object"),
    ("/faults", {"routes": [{"path": "(", "status": 500}]}, "routes[0].path", "is not a regular expression"),
    ("/faults", {"routes": [{"status": "500"}]}, "routes[0].status", "must be 0 (drop the connection) or an integer from 400 to 599"),
    ("/faults", {"routes": [{"methd": "GET"}]}, "routes[0].methd", "did you mean 'method'?"),
    ("/faults", {"routes": [{"method": "FETCH"}]}, "routes[0].method", "must be one of GET, PUT, POST, PATCH, DELETE, HEAD"),
    ("/faults", {"routes": [{"times": -1}]}, "routes[0].times", "must be an integer from 0"),
    ("/faults", {"lro_failures": [{"resource_type": "serverlessEndpoint"}]}, "lro_failures[0].resource_type", "did you mean 'serverlessEndpoints'?"),
    ("/faults", {"lro_failures": [{"kind": "remove"}]}, "lro_failures[0].kind", "must be one of create, update, delete"),
    ("/faults", {"lro_failures": [{"name": 5}]}, "lro_failures[0].name", "must be a name"),
    ("/faults", {"hosts": ["example.com"]}, "hosts[0]", "is not an emulated host"),
    ("/faults", {"hosts": "management.azure.com"}, "hosts", "must be a list"),
    ("/faults", {"seed": "7"}, "seed", "must be an integer"),
    ("/config", {"pace": {"serverlessEndpoints": {"polls": "x"}}}, "pace.serverlessEndpoints.polls", "must be an integer from 0 to 1000, not 'x'"),
    ("/config", {"pace": {"default": {"polls": 1, "secs": 1}}}, "pace.default.secs", "did you mean 'seconds'?"),
    ("/config", {"pace": {"serverlessEndpoint": {"polls": 1}}}, "pace.serverlessEndpoint", "did you mean 'serverlessEndpoints'?"),
    ("/config", {"pace": [{"polls": 1}]}, "pace", "must be a JSON object"),
    ("/config", {"pace": {"default": {"seconds": -1}}}, "pace.default.seconds", "from 0 to 3600"),
    ("/config", {"pase": {}}, "pase", "did you mean 'pace'?"),
    ("/config", {"preset": "slow"}, "preset", "must be one of instant, fast, arm"),
    ("/config", {"retry_after": 0}, "retry_after", "must be an integer from 1 to 3600"),
    ("/config", {"retry_after_ms": 1.5}, "retry_after_ms", "must be an integer"),
    ("/config", {"throttle_reads": [1]}, "throttle_reads", "must be [bucket size, refill per second]"),
    ("/config", {"throttle_writes": [10, 0]}, "throttle_writes[1]", "must be a number from 0.001"),
    ("/config", {"throttle_writes": {"bucket": 1}}, "throttle_writes", "must be a list"),
    ("/config", {"inference_rpm": "many"}, "inference_rpm", "must be an integer"),
    ("/config", {"content_filter_trigger": 5}, "content_filter_trigger", "must be a string"),
    ("/resources", {}, "kind", "is required"),
    ("/resources", {"kind": "endpoint", "name": "x"}, "kind", "must be one of saas, marketplaceSubscriptions, serverlessEndpoints"),
    ("/resources", {"kind": "serverlessEndpoints", "name": "x", "model_id": MISTRAL_MEDIUM}, "workspace", "is required"),
    ("/resources", {"kind": "serverlessEndpoints", "name": "a/b", "workspace": "contoso-chat", "model_id": MISTRAL_MEDIUM}, "name", "must be a name of"),
    ("/resources", {"kind": "serverlessEndpoints", "name": "e", "workspace": "contoso-chat", "model_id": MISTRAL_MEDIUM, "tags": {"a": 1}},
     "tags.a", "must be a string"),
    ("/resources", {"kind": "serverlessEndpoints", "name": "e", "workspace": "contoso-chat", "model_id": MISTRAL_MEDIUM, "endpoint_state": "Up"},
     "endpoint_state", "must be one of Online"),
    ("/resources", {"kind": "serverlessEndpoints", "name": "e", "workspace": "contoso-chat", "model_id": MISTRAL_MEDIUM, "modelid": "x"},
     "modelid", "did you mean 'model_id'?"),
    ("/resources", {"kind": "serverlessEndpoints", "name": "e", "workspace": "contoso-chatt", "model_id": MISTRAL_MEDIUM},
     "workspace", "no project 'contoso-chatt'"),
    ("/resources", {"kind": "saas", "name": "s", "subscription": "00000000-0000-0000-0000-000000000000"},
     "subscription", "is not a subscription of this world"),
    ("/resources", {"kind": "saas", "name": "s", "workspace": "contoso-chat"}, "workspace", "unknown field"),
]


@pytest.mark.parametrize("path,body,field,says", BAD_BODIES, ids=[f"{p}:{f}" for p, _, f, _ in BAD_BODIES])
def test_an_ill_typed_body_is_400_naming_the_field_and_nothing_changes(emu, http, path, body, field, says):
    emu.control.seed(kind="serverlessEndpoints", workspace="contoso-chat", name="before", model_id=MISTRAL_MEDIUM)
    emu.control.faults(error_rate=0.0, latency_ms=1)
    before = snapshot(emu)
    response = call(http, emu, "POST" if path == "/resources" else "PUT", path, json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["field"] == field, error
    assert error["error"].startswith(f"bad control request: {field}: ") and says in error["error"], error
    assert snapshot(emu) == before


@pytest.mark.parametrize("raw,says", [
    (b"[1, 2]", "the body must be a JSON object, not list"),
    (b"error_rate=high", "the body is not JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
], ids=["list", "not-json", "not-utf8", "deep"])
def test_a_body_that_is_not_a_json_object_is_400(emu, http, raw, says):
    before = snapshot(emu)
    for path in ("/faults", "/config", "/resources"):
        response = call(http, emu, "PUT", path, data=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (path, response.text)
        assert says in response.json()["error"] and response.json()["field"] is None
    assert snapshot(emu) == before


def test_patch_is_checked_against_the_record(emu, http):
    rid = emu.control.seed(kind="serverlessEndpoints", workspace="contoso-chat", name="patched", model_id=MISTRAL_MEDIUM)["id"]
    before = snapshot(emu)
    for body, field, says in [
        ({"set": {"endpointState": "Suspended"}}, "id", "is required"),
        ({"id": rid, "set": ["endpointState"]}, "set", "must be a JSON object"),
        ({"id": rid, "set": {"id": "/elsewhere"}}, "set.id", "cannot be changed"),
        ({"id": rid, "set": {"workspace": "contoso-search"}}, "set.workspace", "cannot be changed"),
        ({"id": rid, "set": {"endpointstate": "Online"}}, "set.endpointstate", "did you mean 'endpointState'?"),
        ({"id": rid, "set": {"endpointState": "Up"}}, "set.endpointState", "must be one of Online"),
        ({"id": rid, "set": {"tags": ["team"]}}, "set.tags", "must be a JSON object"),
        ({"id": rid, "set": {"modelId": 7}}, "set.modelId", "must be a string"),
        ({"id": rid, "set": {"keys": {"primaryKey": "k"}}}, "set.keys.secondaryKey", "is required"),
        ({"id": rid, "set": {"endpointState": "Suspended"}, "sett": {}}, "sett", "did you mean 'set'?"),
    ]:
        response = call(http, emu, "PATCH", "/resources", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["field"] == field and says in response.json()["error"], (body, response.json())
    assert snapshot(emu) == before
    response = call(http, emu, "PATCH", "/resources", json={"id": rid.upper(), "set": {"endpointState": "Suspended", "tags": {"team": "x"}}})
    assert response.status_code == 200 and response.json()["endpointState"] == "Suspended" and response.json()["tags"] == {"team": "x"}
    assert call(http, emu, "PATCH", "/resources", json={"id": rid + "-gone", "set": {}}).status_code == 404


def test_good_bodies_are_taken_and_the_emulator_keeps_serving(emu, http):
    """After every refusal above the emulator still answers; the accepted forms still work."""
    faults = {"latency_ms": 0, "error_rate": 0, "error_statuses": [503], "drop_rate": 0, "seed": 3, "hosts": ["Management.Azure.com"],
              "routes": [{"method": "get", "path": "/workspaces/nothing$", "status": 0, "times": 2}],
              "lro_failures": [{"resource_type": "serverlessEndpoints", "kind": "create", "code": "X", "message": "y"}]}
    response = call(http, emu, "PUT", "/faults", json=faults)
    assert response.status_code == 200, response.text
    assert response.json()["hosts"] == ["management.azure.com"] and response.json()["routes"][0] == {"method": "GET", "path": "/workspaces/nothing$", "status": 0, "times": 2}
    config = {"pace": {"default": {"polls": 1}, "serverlessEndpoints": {"polls": 0, "seconds": 0.5}}, "retry_after": 2, "retry_after_ms": None,
              "throttle_reads": [10, 0.5], "throttle_writes": [5, 1], "inference_rpm": 0, "inference_tpm": 10, "content_filter_trigger": "",
              "registry_page_size": 3}
    assert call(http, emu, "PUT", "/config", json=config).status_code == 200
    assert emu.control.state()["config"] == {**config, "pace": {"default": {"polls": 1, "seconds": 0.0}, "serverlessEndpoints": {"polls": 0, "seconds": 0.5}},
                                             "throttle_reads": [10.0, 0.5], "throttle_writes": [5.0, 1.0]}
    assert call(http, emu, "PUT", "/config", json={"preset": "arm", "retry_after": 3}).status_code == 200
    assert emu.control.state()["config"]["pace"] == {"default": {"polls": 2, "seconds": 0}} and emu.control.state()["config"]["retry_after"] == 3
    assert call(http, emu, "GET", "/health").json() == {"ok": True}
    assert call(http, emu, "GET", "/requests?since=x").status_code == 400
    assert call(http, emu, "POST", "/state").status_code == 405


# -- 2. world files: bounded, no anchors, no duplicates --------------------------------------

@pytest.mark.parametrize("text,says", [
    (ALIAS_BOMB, "<control API world>:1: anchors and aliases (&name, *name) are not allowed in a world file"),
    (DEEP_FLOW, "<control API world>:1: "),
    (DEEP_BLOCK, "<control API world>:21: nested more than 20 levels deep"),
    ("tenant: {id: t}\ntenant: {id: u}\n", "<control API world>:2: tenant: duplicate key (also on line 1); keep one"),
    ("principals:\n  - name: a\n    name: b\n", "<control API world>:3: principals[0].name: duplicate key (also on line 2)"),
    ("tenant: !!python/object:os.system {}\n", "<control API world>:1: the tag tag:yaml.org,2002:python/object:os.system is not allowed"),
    ("<<: {tenant: {id: t}}\n", "<control API world>:1: merge keys (<<) are not allowed"),
    ("tenant: {id: t}\n---\ntenant: {id: u}\n", "<control API world>:2: holds more than one YAML document"),
    ("tenant:\n  id: \x07\n", "<control API world>:2: holds the control character U+0007"),
    ("# " + "x" * MAX_WORLD_BYTES + "\n", "<control API world>: the world file is larger than 1,048,576 bytes (1 MiB)"),
], ids=["alias-bomb", "deep-flow", "deep-block", "duplicate-top", "duplicate-nested", "python-tag", "merge-key", "two-documents", "control-char", "too-big"])
def test_a_hostile_world_is_400_with_the_line_and_the_world_stays(emu, http, text, says):
    before = snapshot(emu)
    with hang_guard():
        response = call(http, emu, "PUT", "/world", data=text.encode(), headers={"Content-Type": "application/yaml"})
    assert response.status_code == 400, response.text[:300]
    errors = response.json()["errors"]
    assert any(e.startswith(says) for e in errors), errors
    assert response.json()["error"] == errors[0]
    assert snapshot(emu) == before
    assert emu.control.seed(kind="serverlessEndpoints", workspace="contoso-chat", name="still-there", model_id=MISTRAL_MEDIUM)["name"] == "still-there"


def test_a_world_body_that_is_not_utf8_is_400(emu, http):
    response = call(http, emu, "PUT", "/world", data=b"tenant:\n  id: \xff\n", headers={"Content-Type": "application/yaml"})
    assert response.status_code == 400
    assert response.json()["errors"] == ["<control API world>:2: the world file is not UTF-8 text (at byte offset 14)"]


def test_world_files_keep_their_line_numbers_and_read_the_same_values():
    text = "tenant: {id: t, domain: 'x.example'}\nsubscriptions:\n  - id: 6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11\n    payment_method: no\n" \
           "    billing_country: FR\nprincipals:\n  - {name: ci, secret: '0123'}\nmodels:\n  - {name: M, regions: [East US 2], microsoft: true}\n"
    world = load_world(path="w.yaml", text=text)
    sub = world.subscriptions["6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11"]
    assert (world.tenant_id, world.tenant_domain, sub.payment_method, sub.billing_country) == ("t", "x.example", False, "FR")
    assert world.default_principal().secret == "0123" and world.model("azureml://registries/azureml/models/M").regions == ["eastus2"]
    with pytest.raises(WorldError) as err:
        load_world(path="w.yaml", text=text.replace("billing_country", "billing_contry"))
    assert err.value.problems == ["w.yaml:5: subscriptions[0].billing_contry: unknown key (did you mean 'billing_country'?)"]


def test_a_world_file_is_read_with_a_bound(tmp_path):
    with hang_guard():
        with pytest.raises(WorldError) as err:
            load_world("/dev/zero")
    assert err.value.problems == ["/dev/zero: the world file is larger than 1,048,576 bytes (1 MiB), the most allowed"]
    binary = tmp_path / "w.yaml"
    binary.write_bytes(b"tenant: {id: t}\n\x89PNG\xff\n")
    with pytest.raises(WorldError) as err:
        load_world(str(binary))
    assert err.value.problems == [f"{binary}:2: the world file is not UTF-8 text (at byte offset 16)"]


@pytest.mark.parametrize("text,says", [(ALIAS_BOMB, ":1: anchors and aliases"), (DEEP_BLOCK, ":21: nested more than 20 levels deep")], ids=["alias-bomb", "deep"])
def test_serve_with_a_hostile_world_exits_2_with_one_line(tmp_path, text, says):
    world = tmp_path / "world.yaml"
    world.write_text(text)
    result = subprocess.run([sys.executable, "-m", "azure_emulator", "serve", "--world", str(world), "--ready-file", str(tmp_path / "r.json")],
                            capture_output=True, text=True, timeout=60, cwd=ROOT, env=clean_environ())
    assert result.returncode == 2, result
    assert result.stderr.startswith(f"error: {world}{says}") and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "r.json").exists()


# -- 3. only the run's own clients -----------------------------------------------------------

def test_a_cross_site_reset_is_refused_logged_and_the_state_survives(emu, http, capfd):
    emu.control.seed(kind="serverlessEndpoints", workspace="contoso-chat", name="survivor", model_id=MISTRAL_MEDIUM)
    emu.control.faults(latency_ms=1)
    before = snapshot(emu)
    page = {"Origin": "https://evil.example", "Content-Type": "text/plain"}
    response = call(http, emu, "POST", "/reset", token=False, headers=page, data="{}")
    assert response.status_code == 403
    assert response.json() == {"error": "azure-emulator: control request refused: it came from a web page (https://evil.example) without the control token"}
    assert "Access-Control-Allow-Origin" not in response.headers
    assert snapshot(emu) == before
    [entry] = [e for e in emu.control.requests() if e["kind"] == "control"]
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/_emulator/reset", 403)
    assert "azure-emulator: refused POST /_emulator/reset from 127.0.0.1 (Origin https://evil.example)" in capfd.readouterr().err
    # the same page, whatever else it tries
    for method, path, headers, data in [
        ("POST", "/reset", {"Origin": "https://evil.example", "Content-Type": "application/json"}, "{}"),  # would need a preflight, but refuse anyway
        ("OPTIONS", "/reset", {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, None),  # the preflight
        ("PUT", "/faults", {"Origin": "null", "Content-Type": "text/plain"}, '{"drop_rate": 1}'),  # a sandboxed frame
        ("PUT", "/world", {"Content-Type": "application/x-www-form-urlencoded"}, "tenant=x"),  # a form
        ("POST", "/reset", {"Content-Type": "multipart/form-data; boundary=x"}, "--x--"),
        ("POST", "/reset", {}, None),  # a simple POST with no body
        ("DELETE", "/resources?id=x", {"Sec-Fetch-Site": "cross-site"}, None),
        ("GET", "/state", {"Sec-Fetch-Site": "cross-site"}, None),  # <img src=...>: no Origin on a GET
        ("GET", "/state", {"Host": "evil.example"}, None),  # DNS rebinding: evil.example resolving to 127.0.0.1
    ]:
        response = call(http, emu, method, path, token=False, headers=headers, data=data)
        assert response.status_code == 403, (method, path, headers, response.text)
        assert "Access-Control-Allow-Origin" not in response.headers
    assert snapshot(emu) == before


def test_a_wrong_token_is_refused_even_when_everything_else_is_right(emu, http):
    response = call(http, emu, "POST", "/reset", token=False, headers={TOKEN_HEADER: "guessed", "Content-Type": "application/json"})
    assert response.status_code == 403
    assert "X-Azure-Emulator-Token header is not this run's control token" in response.json()["error"]


def test_local_tools_without_the_token_still_work(emu, http):
    """curl from the terminal, scripts/demo's log read: loopback, no web origin, JSON when it changes anything."""
    assert call(http, emu, "GET", "/requests", token=False).status_code == 200
    assert call(http, emu, "GET", "/state", token=False, headers={"Origin": emu.url}).status_code == 200  # the emulator's own origin
    assert call(http, emu, "PUT", "/config", token=False, json={"inference_rpm": 7}).status_code == 200
    assert emu.control.state()["config"]["inference_rpm"] == 7
    assert call(http, emu, "POST", "/reset", token=False, headers={"Content-Type": "application/json"}).status_code == 200
    assert emu.control.state()["config"]["inference_rpm"] == 1000


def test_the_token_is_given_to_the_clients_that_need_it(emu):
    assert emu.env["AZURE_EMULATOR_CONTROL_TOKEN"] == emu.control_token and emu.env["AZURE_EMULATOR_CONTROL_URL"] == emu.url + "/_emulator"
    assert emu.ready_info()["control_token"] == emu.control_token
    assert ControlClient(emu.url + "/_emulator").state()["resources"] == []  # the token from the environment (the emu fixture set it)
    with pytest.raises(RuntimeError, match="403"):
        ControlClient(emu.url + "/_emulator", token="stale").reset()
    other = Emulator().start()
    try:
        assert other.control_token != emu.control_token  # one per run
    finally:
        other.stop()


# -- 4. reset goes back to how the emulator started ------------------------------------------

def test_reset_restores_the_pace_the_emulator_started_with(tmp_path):
    with Emulator(pace="arm", directory=str(tmp_path)) as emu:
        started = emu.control.state()["config"]
        emu.control.configure(preset="instant", retry_after=5, inference_rpm=3)
        emu.control.faults(latency_ms=2)
        emu.control.reset()
        assert emu.control.state()["config"] == started
        assert started["pace"] == {"default": {"polls": 2, "seconds": 0}} and started["retry_after_ms"] is None
        assert emu.control.state()["faults"]["latency_ms"] == 0


def test_reset_restores_the_world_file_as_it_was_read_at_start(tmp_path):
    world = tmp_path / "world.yaml"
    world.write_text((ROOT / "azure_emulator" / "default_world.yaml").read_text())
    with Emulator(world_file=str(world), directory=str(tmp_path)) as emu:
        world.write_text("tenant: [broken\n")  # changed (and broken) after the start: reset does not read it again
        emu.control.reset()
        assert emu.control.seed(kind="serverlessEndpoints", workspace="contoso-chat", name="e", model_id=MISTRAL_MEDIUM)["name"] == "e"


def test_serve_fast_then_reset_is_still_fast_through_the_ready_file(tmp_path):
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen([sys.executable, "-m", "azure_emulator", "serve", "--ready-file", str(ready), "--pace", "fast"],
                            env=clean_environ(), stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        printed = subprocess.run([sys.executable, "-m", "azure_emulator", "env", "--ready-file", str(ready)],
                                 capture_output=True, text=True, check=True, timeout=60).stdout.splitlines()
        assert f"export AZURE_EMULATOR_CONTROL_TOKEN={info['control_token']}" in printed
        assert f"export AZURE_EMULATOR_CONTROL_URL={info['control_url']}" in printed
        control = ControlClient.from_ready_file(str(ready))
        fast = control.state()["config"]
        assert fast["pace"] == {"default": {"polls": 2, "seconds": 0}}
        control.configure(preset="instant")
        control.reset()
        assert control.state()["config"] == fast
        refused = requests.post(info["control_url"] + "/reset", headers={"Origin": "https://evil.example", "Content-Type": "text/plain"},
                                data="{}", proxies={"http": None}, timeout=10)
        assert refused.status_code == 403
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "azure-emulator: refused POST /_emulator/reset from 127.0.0.1 (Origin https://evil.example)" in err


def test_a_body_over_the_limit_is_413_without_being_read(emu):
    import socket

    before = snapshot(emu)
    port = int(emu.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"PUT /_emulator/world HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/yaml\r\n"
                     + TOKEN_HEADER.encode() + b": " + emu.control_token.encode() + b"\r\nContent-Length: 100000000000\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert snapshot(emu) == before
