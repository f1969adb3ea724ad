"""Moving a deployment between Azure's two paths (changing its `target`) without downtime: apply
makes and proves the new one, switches the secrets entry, waits --grace, then deletes the old one
(and its Marketplace subscription). A client that re-reads the secrets file for every call sees
no failed call throughout."""
from __future__ import annotations

import json
import threading
import time

from .helpers import spec_text

MEDIUM = {"name": "medium", "model": "mistral-medium-2505"}
HOMES = {"account": "contoso-foundry"}  # the defaults hold both homes: the project (from spec_text) and the account


def _client(cli, stop: threading.Event, calls: list[tuple[str, int]]) -> None:
    import requests

    session = requests.Session()
    while not stop.is_set():
        values = cli.secrets_file()
        body = {"messages": [{"role": "user", "content": "still there?"}], "max_tokens": 4}
        if "MEDIUM_MODEL" in values:
            body["model"] = values["MEDIUM_MODEL"]
        answer = session.post(values["MEDIUM_URL"] + "/chat/completions", json=body, timeout=30,
                              headers={"Authorization": f"Bearer {values['MEDIUM_KEY']}"})
        calls.append((values["MEDIUM_URL"], answer.status_code))


def _wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_moving_to_foundry_and_back_under_a_calling_client_fails_no_call(cli, emu, monkeypatch):
    for key, value in emu.env.items():
        monkeypatch.setenv(key, value)
    cli.spec(spec_text(MEDIUM, defaults=HOMES))
    assert cli("apply", "--yes").code == 0
    stop, calls = threading.Event(), []
    client = threading.Thread(target=_client, args=(cli, stop, calls), daemon=True)
    client.start()
    try:
        _wait_for(lambda: len(calls) >= 3)
        cli.spec(spec_text({**MEDIUM, "target": "foundry"}, defaults=HOMES))
        refused = cli("apply", "--yes")
        assert refused.code == 1 and "re-run with --allow-replace" in refused.stdout
        moved = cli("apply", "--yes", "--allow-replace", "--grace", "1")
        assert moved.code == 0, moved
        foundry = "https://contoso-foundry.services.ai.azure.com/models"
        _wait_for(lambda: sum(url == foundry for url, _ in calls) >= 3)
        assert cli.resources("serverlessEndpoints") == [] and cli.resources("marketplaceSubscriptions") == []
        assert [d["name"] for d in cli.resources("foundryDeployments")] == ["medium"]
        assert cli("audit").stdout.startswith("No findings")
        cli.spec(spec_text(MEDIUM, defaults=HOMES))  # and back
        back = cli("apply", "--yes", "--allow-replace", "--grace", "1")
        assert back.code == 0, back
        _wait_for(lambda: calls[-1][0] != foundry and sum(url != foundry for url, _ in calls[-3:]) == 3)
    finally:
        stop.set()
        client.join(timeout=60)
    assert [c for c in calls if c[1] != 200] == []
    urls = [url for url, _ in calls]
    assert urls[0] == urls[-1] == "https://medium.eastus2.models.ai.azure.com" and foundry in urls
    assert cli.resources("foundryDeployments") == [] and "MEDIUM_MODEL" not in cli.secrets_file()


def test_an_unfinished_move_is_audited_and_its_fix_finishes_it(cli, emu):
    cli.spec(spec_text(MEDIUM, defaults=HOMES))
    assert cli("apply", "--yes").code == 0
    cli.spec(spec_text({**MEDIUM, "target": "foundry"}, defaults=HOMES))
    found = json.loads(cli("audit", "--output", "json").stdout)["findings"]
    moves = [f for f in found if "its move to foundry is not done" in f["message"]]
    assert len(moves) == 1 and moves[0]["remedy"].startswith("`provision apply --allow-replace`")
    assert not any(f["kind"] == "orphan" for f in found)  # the old endpoint is the move's, not an orphan
    assert cli("apply", "--yes", "--allow-replace", "--grace", "0").code == 0
    assert cli("audit").stdout.startswith("No findings")
