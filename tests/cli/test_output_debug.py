"""--debug's HTTP trace, end to end: the real CLI in a subprocess against the emulator prints one
line per request (method, URL, status, duration, x-ms-request-id) on stderr, and never a key, a
token or the client secret."""
from __future__ import annotations

import re

from tests.e2e.helpers import PRINCIPALS, Cli, spec_text

TRACE = re.compile(r"^http: (GET|PUT|POST|PATCH|DELETE) https://\S+ -> (\d{3}|failed \(\w+\)) in \d+ ms, x-ms-request-id \S+$")


def test_debug_traces_every_request_and_no_secret(emu, tmp_path):
    cli = Cli(emu, tmp_path)
    cli.spec(spec_text({"name": "mistral-small-chat", "model": "mistral-small-2503"}))
    runs = [cli("apply", "--yes", "--debug"), cli("probe", "--debug"), cli("keys", "rotate", "mistral-small-chat", "--yes", "--grace", "0", "--debug")]
    for run in runs:
        assert run.code == 0, run
    apply = runs[0]
    trace = [line for line in apply.stderr.splitlines() if line.startswith("http: ")]
    assert trace and all(TRACE.match(line) for line in trace), trace
    assert any(re.match(r"http: PUT https://management\.azure\.com/subscriptions/.*/serverlessEndpoints/mistral-small-chat\?api-version=\S+ -> 20[01] ", line)
               for line in trace), trace
    assert any("/listKeys?" in line for line in trace) and any("/oauth2/v2.0/token" in line for line in trace), trace
    assert any(not line.endswith("x-ms-request-id -") for line in trace if "management.azure.com" in line)
    assert not [line for line in apply.stdout.splitlines() if line.startswith("http: ")], "the trace goes to stderr only"
    assert any(line.startswith("http: POST https://mistral-small-chat.") for line in runs[1].stderr.splitlines()), "the chat call is traced too"
    client_id, client_secret = PRINCIPALS[cli.principal]
    keys = cli.keys_of("mistral-small-chat")
    everything = "".join(r.stdout + r.stderr for r in runs)
    for secret in (*keys, client_secret):
        assert secret not in everything
    assert "Bearer" not in everything and "eyJ" not in everything, "no token, no Authorization header"
    assert "client_secret=" not in everything and "client_assertion=" not in everything
    quiet = cli("plan")
    assert quiet.code == 0 and "http: " not in quiet.stderr, "no trace without --debug"
