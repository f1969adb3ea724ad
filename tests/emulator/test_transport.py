"""Proxy mode, custom-cloud mode, egress tripwire, concurrency, the world file, the CLI."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from azure_emulator.world import WorldError, load_world
from tests.conftest import clean_environ

from .clients import SUB_GENAI, credential, project_path

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.egress
def test_egress_is_refused_and_logged(emu):
    with pytest.raises(requests.exceptions.ProxyError):
        requests.get("https://pypi.org/simple/", timeout=5)
    plain = requests.get("http://example.com/x", proxies={"http": emu.url}, timeout=5)
    assert plain.status_code == 403
    hosts = [(e["host"], e["method"]) for e in emu.control.egress()]
    assert hosts == [("pypi.org", "CONNECT"), ("example.com", "GET")]


def test_fifty_concurrent_clients(emu):
    emu.control.configure(throttle_reads=[100_000, 100_000])  # measure the server, not ARM's read quota
    token = credential().get_token("https://management.azure.com/.default").token
    url = f"https://management.azure.com{project_path()}?api-version=2024-10-01-preview"

    def client(_):
        with requests.Session() as s:
            return [s.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code for _ in range(10)]

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = [code for codes in pool.map(client, range(50)) for code in codes]
    assert statuses == [200] * 500


def test_custom_cloud_mode_with_managed_identity(emu):
    """Recipe A: ARM_CLOUD_METADATA_URL + App Service managed identity, azure-ai-ml unchanged."""
    port = emu.url.rsplit(":", 1)[1]
    env = clean_environ()
    env.update({
        "REQUESTS_CA_BUNDLE": emu.env["REQUESTS_CA_BUNDLE"],
        "ARM_CLOUD_METADATA_URL": f"https://127.0.0.1:{port}/metadata/endpoints?api-version=2019-05-01",
        "AZUREML_CURRENT_CLOUD": "AzureEmulator",
        "IDENTITY_ENDPOINT": emu.env["AZURE_EMULATOR_IDENTITY_ENDPOINT"],
        "IDENTITY_HEADER": emu.env["AZURE_EMULATOR_IDENTITY_HEADER"],
        "AZURE_TOKEN_CREDENTIALS": "ManagedIdentityCredential",
    })
    code = (
        "from azure.ai.ml import MLClient\n"
        "from azure.identity import DefaultAzureCredential\n"
        f"ml = MLClient(DefaultAzureCredential(), '{SUB_GENAI}', 'rg-genai', 'contoso-chat')\n"
        "w = ml.workspaces.get('contoso-chat')\n"
        "print(w.name, w.location)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "contoso-chat eastus2"
    arm = [e for e in emu.control.requests() if e["kind"] == "arm"]
    assert arm and all(e["host"] == "127.0.0.1" for e in arm)
    assert all(e["principal"] == "deploy-identity" for e in arm)


def test_world_file_mistakes_are_reported_with_lines(tmp_path):
    bad = tmp_path / "world.yaml"
    bad.write_text(
        "tenant: {id: t}\n"
        "subscriptions:\n"
        "  - id: not-a-guid\n"
        "    billing_contry: US\n"
        "principals:\n"
        "  - name: ci\n"
        "    kind: robot\n"
        "role_assignments:\n"
        "  - {principal: cj, role: Owner}\n"
    )
    with pytest.raises(WorldError) as err:
        load_world(str(bad))
    problems = err.value.problems
    assert f"{bad}:3: subscriptions[0].id: 'not-a-guid' is not a GUID (Azure subscription ids are GUIDs)" in problems
    assert f"{bad}:4: subscriptions[0].billing_contry: unknown key (did you mean 'billing_country'?)" in problems
    assert any(p.startswith(f"{bad}:7: principals[0].kind: 'robot' is not one of") for p in problems)
    assert any(p.startswith(f"{bad}:9: role_assignments[0].principal: 'cj' is not a principal") and "did you mean 'ci'" in p for p in problems)


def _serve(tmp_path, *extra):
    ready = tmp_path / "ready.json"
    env = clean_environ()
    proc = subprocess.Popen([sys.executable, "-m", "azure_emulator", "serve", "--ready-file", str(ready), "--pace", "instant", *extra],
                            env=env, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return proc, ready


def test_cli_serve_env_and_state_file(tmp_path):
    state = tmp_path / "state.json"
    proc, ready = _serve(tmp_path, "--state", str(state))
    try:
        info = json.loads(ready.read_text())
        assert set(info["env"]) >= {"HTTPS_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID"}
        printed = subprocess.run([sys.executable, "-m", "azure_emulator", "env", "--ready-file", str(ready)], capture_output=True, text=True, check=True).stdout
        assert f"export HTTPS_PROXY={info['proxy_url']}" in printed.splitlines()
        env = clean_environ()
        env.update(info["env"])
        code = (
            "from azure.ai.ml import MLClient\nfrom azure.ai.ml.entities import MarketplaceSubscription\n"
            "from azure.identity import DefaultAzureCredential\nimport os\n"
            "ml = MLClient(DefaultAzureCredential(), os.environ['AZURE_SUBSCRIPTION_ID'], 'rg-genai', 'contoso-chat')\n"
            "ml.marketplace_subscriptions.begin_create_or_update(MarketplaceSubscription(name='kept', model_id='azureml://registries/azureml-mistral/models/mistral-medium-2505')).result()\n"
        )
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, timeout=120)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert not ready.exists()
    assert state.stat().st_mode & 0o777 == 0o600  # it holds the endpoints' keys
    proc, ready = _serve(tmp_path, "--state", str(state))
    try:
        info = json.loads(ready.read_text())
        names = [r["name"] for r in json.loads(requests.get(info["control_url"] + "/resources", proxies={"http": None}, timeout=5).text)["resources"]]
        assert "kept" in names
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def test_cli_bad_world_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "w.yaml"
    bad.write_text("principals: [\n")
    result = subprocess.run([sys.executable, "-m", "azure_emulator", "serve", "--world", str(bad), "--ready-file", str(tmp_path / "r.json")],
                            capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {bad}:") and "not valid YAML" in result.stderr
    assert "Traceback" not in result.stderr


def test_env_without_a_running_emulator(tmp_path):
    result = subprocess.run([sys.executable, "-m", "azure_emulator", "env", "--ready-file", str(tmp_path / "none.json")], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "no running emulator found" in result.stderr
