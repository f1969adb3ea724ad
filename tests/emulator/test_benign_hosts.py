"""az's own hosts (version check, telemetry) are answered locally, not refused as egress; the client
environment trusts the run's CA for curl and Node too."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import requests

from azure_emulator.benign import BENIGN_HOSTS, is_benign


def test_the_version_check_finds_no_newer_version(emu):
    assert requests.head("https://azcliprod.blob.core.windows.net/cli", timeout=30).status_code == 200
    setup = requests.get("https://azcliprod.blob.core.windows.net/cli/azure-cli-core/setup.py", timeout=30)
    assert setup.status_code == 404 and "<Code>BlobNotFound</Code>" in setup.text
    assert emu.control.egress() == []


def test_telemetry_is_accepted_and_dropped(emu):
    items = [{"name": "Microsoft.ApplicationInsights.Event", "data": {}}] * 3
    answer = requests.post("https://dc.services.visualstudio.com/v2/track", data=json.dumps(items), timeout=30)
    assert answer.status_code == 200 and answer.json() == {"itemsReceived": 3, "itemsAccepted": 3, "errors": []}
    assert [r["kind"] for r in emu.control.requests()][-1] == "benign"
    assert emu.control.egress() == []


def test_only_azs_own_hosts_are_benign():
    assert BENIGN_HOSTS == {"azcliprod.blob.core.windows.net", "dc.services.visualstudio.com"}
    assert is_benign("DC.services.visualstudio.com.")
    assert not is_benign("blob.core.windows.net") and not is_benign("evil.visualstudio.com")


def test_client_env_trusts_the_ca_for_curl_and_node(emu):
    assert emu.env["CURL_CA_BUNDLE"] == emu.env["NODE_EXTRA_CA_CERTS"] == emu.env["REQUESTS_CA_BUNDLE"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_reaches_arm_through_the_proxy(emu):
    done = subprocess.run(["curl", "-sS", "https://management.azure.com/subscriptions?api-version=2022-12-01"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr  # TLS verified with the run's CA (CURL_CA_BUNDLE), through HTTPS_PROXY
    assert json.loads(done.stdout)["error"]["code"] == "AuthenticationFailed"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_reaches_arm_through_the_proxy(emu):
    # Node's https module ignores HTTPS_PROXY: connect to the proxy and CONNECT by hand, then verify
    # management.azure.com's certificate against Node's roots plus NODE_EXTRA_CA_CERTS.
    script = """
const http = require('http'), tls = require('tls');
const proxy = new URL(process.env.HTTPS_PROXY);
http.request({host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: 'management.azure.com:443'}).on('connect', (res, socket) => {
  const s = tls.connect({socket, servername: 'management.azure.com'}, () => {
    s.write('GET /subscriptions?api-version=2022-12-01 HTTP/1.1\\r\\nHost: management.azure.com\\r\\nConnection: close\\r\\n\\r\\n');
  });
  let out = ''; s.on('data', d => out += d); s.on('end', () => { console.log(out.split('\\r\\n')[0]); });
  s.on('error', e => { console.error(e.message); process.exit(1); });
}).end();
"""
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("HTTP/1.1 401")
