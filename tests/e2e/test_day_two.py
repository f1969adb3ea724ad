"""Day two through the CLI: destroy, audit, keys rotate, probe."""
from __future__ import annotations

import json
import threading
import time

import requests

from .helpers import SUB_GENAI, arrived, spec_text

LARGE = {"name": "mistral-large-chat", "model": "mistral-medium-2505", "content_safety": "enabled", "tags": {"team": "chat"},
         "secrets": {"url": "MISTRAL_LARGE_URL", "key": "MISTRAL_LARGE_KEY"}}
SMALL = {"name": "mistral-small-chat", "model": "mistral-small-2503", "secrets": {"url": "MISTRAL_SMALL_URL", "key": "MISTRAL_SMALL_KEY"}}
NEMO = {"name": "nemo-search", "model": "Ministral-3B", "project": "contoso-search"}  # Mistral-Nemo until its retirement
WS = f"/subscriptions/{SUB_GENAI}/resourceGroups/rg-genai/providers/Microsoft.MachineLearningServices/workspaces"
MODEL = "azureml://registries/azureml-mistral/models/"


def deletes(cli):
    return [r["path"].split("/")[-2] for r in cli.writes() if r["method"] == "DELETE"]


def test_destroy_deletes_the_endpoint_first_waits_then_the_subscription(cli, emu):
    emu.control.configure(pace={"serverlessEndpoints": {"polls": 0, "seconds": 1.0}, "default": {"polls": 0, "seconds": 0}})
    cli.spec(spec_text(LARGE, SMALL))
    assert cli("apply", "--yes").code == 0
    (cli.dir / ".secrets/deployments.env").write_text((cli.dir / ".secrets/deployments.env").read_text() + "UNRELATED=keep\n")
    emu.control.clear_requests()
    run = cli("destroy", "--yes", "--only", "mistral-large-chat")
    assert run.code == 0, run
    assert deletes(cli) == ["serverlessEndpoints", "marketplaceSubscriptions"]
    # the subscription's DELETE came only after the endpoint's deletion had finished: in the server's
    # record of the two operations (one monotonic clock), the endpoint's ended (at the poll that
    # finished it) before the subscription's started (when its DELETE was handled)
    deleted = [op for op in emu.control.state()["operations"] if op["kind"] == "delete"]
    [endpoint_op] = [op for op in deleted if op["resource_type"] == "serverlessEndpoints"]
    [sub_op] = [op for op in deleted if op["resource_type"] == "marketplaceSubscriptions"]
    assert endpoint_op["resource_id"].endswith("/serverlessendpoints/mistral-large-chat") and endpoint_op["status"] == "Succeeded"
    assert endpoint_op["ended"] is not None and endpoint_op["ended"] < sub_op["started"], (endpoint_op, sub_op)
    assert [r["name"] for r in cli.resources("serverlessEndpoints")] == ["mistral-small-chat"]
    assert [r["name"] for r in cli.resources("marketplaceSubscriptions")] == ["mistral-small-2503-provision"]
    assert cli.resources("saas") and all("small" in r["name"] for r in cli.resources("saas"))
    secrets = cli.secrets_file()
    assert set(secrets) == {"MISTRAL_SMALL_URL", "MISTRAL_SMALL_KEY", "UNRELATED"}


def test_destroy_twice_is_done_the_second_time(cli, emu):
    cli.spec(spec_text(LARGE))
    assert cli("apply", "--yes").code == 0
    assert cli("destroy", "--yes").code == 0
    emu.control.clear_requests()
    run = cli("destroy", "--yes")
    assert run.code == 0, run
    assert "already gone" in run.stdout and "Nothing to delete." in run.stdout
    assert cli.writes() == []


def test_destroy_refuses_an_unmanaged_endpoint_of_the_same_name(cli, emu):
    emu.control.seed(kind="marketplaceSubscriptions", workspace="contoso-chat", name="portal-sub", model_id=MODEL + "mistral-medium-2505")
    emu.control.seed(kind="serverlessEndpoints", workspace="contoso-chat", name="mistral-large-chat", model_id=MODEL + "mistral-medium-2505",
                     marketplace_subscription_id=f"{WS}/contoso-chat/marketplaceSubscriptions/portal-sub")
    cli.spec(spec_text(LARGE))
    run = cli("destroy", "--yes")
    assert run.code == 1, run
    assert "FAIL ownership   mistral-large-chat: endpoint mistral-large-chat in contoso-chat is not this spec's: not created by provision" in run.stdout
    assert "pass --include-unmanaged" in run.stdout and cli.writes() == []
    run = cli("destroy", "--yes", "--include-unmanaged")
    assert run.code == 0, run
    assert cli.resources("serverlessEndpoints") == [] and cli.resources("marketplaceSubscriptions") == []


def test_destroy_keeps_a_subscription_another_endpoint_uses(cli, emu):
    cli.spec(spec_text(LARGE))
    assert cli("apply", "--yes").code == 0
    [sub] = cli.resources("marketplaceSubscriptions")
    # an endpoint made outside the spec (say, in the portal) bills through the same subscription
    emu.control.seed(kind="serverlessEndpoints", workspace="contoso-chat", name="portal-large", model_id=MODEL + "mistral-medium-2505", marketplace_subscription_id=sub["id"])
    run = cli("destroy", "--yes")
    assert run.code == 0, run
    assert "= keep marketplace subscription mistral-medium-2505-provision (contoso-chat): endpoint portal-large still uses it" in run.stdout
    assert [r["name"] for r in cli.resources("serverlessEndpoints")] == ["portal-large"]
    assert [r["name"] for r in cli.resources("marketplaceSubscriptions")] == ["mistral-medium-2505-provision"]
    # --keep-subscription keeps it without any other user
    cli.spec(spec_text(SMALL))
    assert cli("apply", "--yes").code == 0
    assert cli("destroy", "--yes", "--keep-subscription").code == 0
    assert "mistral-small-2503-provision" in [r["name"] for r in cli.resources("marketplaceSubscriptions")]


def test_destroy_needs_yes_without_a_terminal_and_dry_run_writes_nothing(cli):
    cli.spec(spec_text(LARGE))
    assert cli("apply", "--yes").code == 0
    run = cli("destroy")
    assert run.code == 1 and "pass --yes" in run.stderr
    run = cli("destroy", "--dry-run", "--output", "json")
    assert run.code == 0, run
    plan = json.loads(run.stdout)["plan"]
    assert plan[0]["endpoint"]["action"] == "delete" and plan[0]["subscription"]["action"] == "delete"
    assert [w for w in cli.writes() if w["method"] == "DELETE"] == []


def _seed_drift(cli, emu):
    """Every kind of finding, made through the control API and the files."""
    cli.spec(spec_text(LARGE, SMALL, NEMO, {"name": "codestral-ci", "model": "Codestral-2501"}))
    assert cli("apply", "--yes").code == 0
    ids = {r["name"]: r["id"] for r in cli.resources()}
    emu.control.patch(ids["mistral-large-chat"], contentSafety="Disabled", tags={"team": "other", "provision:managed": "true", "provision:deployment": "mistral-large-chat"})
    emu.control.patch(ids["mistral-small-chat"], endpointState="Suspended")
    emu.control.patch(ids["mistral-small-2503-provision"], status="Suspended")
    emu.control.patch(ids["nemo-search"], modelId=MODEL + "mistral-document-ai-2505")
    emu.control.remove(ids["Ministral-3B-provision"])  # the endpoint's subscription is gone
    emu.control.remove(ids["codestral-ci"])  # deleted outside provision: missing
    # orphans: a managed endpoint the spec no longer names, a subscription with no endpoint, a SaaS resource with none
    emu.control.seed(kind="marketplaceSubscriptions", workspace="contoso-chat", name="Ministral-3B-provision", model_id=MODEL + "Ministral-3B")
    emu.control.seed(kind="serverlessEndpoints", workspace="contoso-search", name="old-chat", model_id=MODEL + "mistral-medium-2505",
                     tags={"provision:managed": "true", "provision:deployment": "old-chat"})
    emu.control.seed(kind="serverlessEndpoints", workspace="contoso-search", name="portal-endpoint", model_id=MODEL + "Codestral-2501")
    emu.control.seed(kind="saas", name="leftover-saas", offer="mistral-ai-nemo-offer")
    # the secrets file: a stale URL and a key that is not the endpoint's
    path = cli.dir / ".secrets/deployments.env"
    text = path.read_text().replace("https://mistral-small-chat.eastus2", "https://old-name.eastus2")
    text = "\n".join(line if not line.startswith("MISTRAL_LARGE_KEY=") else "MISTRAL_LARGE_KEY=" + "0" * 32
                     for line in text.splitlines() if not line.startswith("NEMO_SEARCH_KEY=")) + "\n"
    path.write_text(text)


def test_audit_finds_every_kind_of_drift_and_orphan(cli, emu):
    _seed_drift(cli, emu)
    emu.control.clear_requests()
    run = cli("audit", "--all", "--detailed-exitcode", "--output", "json")
    assert run.code == 3, run
    assert cli.writes() == []
    found = {(f["kind"], f["subject"], f["message"]) for f in json.loads(run.stdout)["findings"]}
    expected = {
        ("drift", "mistral-large-chat", "endpoint mistral-large-chat differs from the spec in content_safety, tags.team"),
        ("secrets", "mistral-large-chat", "MISTRAL_LARGE_KEY is no longer a valid key of the endpoint"),
        ("unhealthy", "mistral-small-chat", "endpoint mistral-small-chat is Suspended, not Online"),
        ("subscription", "mistral-small-chat", "Marketplace subscription mistral-small-2503-provision is Suspended"),
        ("secrets", "mistral-small-chat", "MISTRAL_SMALL_URL is stale (the endpoint's URL is https://mistral-small-chat.eastus2.models.ai.azure.com)"),
        ("drift", "nemo-search", "model is mistral-document-ai-2505, the spec says Ministral-3B"),
        ("subscription", "nemo-search", "endpoint nemo-search has no Marketplace subscription to Ministral-3B's offer: it cannot serve"),
        ("missing", "codestral-ci", "endpoint codestral-ci does not exist in contoso-chat"),
        ("secrets", "nemo-search", "the secrets file has no NEMO_SEARCH_KEY"),
        ("orphan", "old-chat", "endpoint old-chat in contoso-search was made by this spec (stack 'default') but the spec no longer names it"),
        ("orphan", "Ministral-3B-provision", "Marketplace subscription Ministral-3B-provision in contoso-chat (made by this spec) has no endpoint: a billing relationship left behind"),
        ("unmanaged", "portal-endpoint", "endpoint portal-endpoint in contoso-search (Codestral-2501) is not in the spec and not managed by provision"),
    }
    assert expected <= found, sorted(expected - found)
    assert any(kind == "orphan" and "leftover-saas" in subject for kind, subject, _ in found), found
    assert not any(subject == "Codestral-2501-provision" for _, subject, _ in found), "a spec deployment's subscription is not an orphan"
    # the text report names each with its fix
    text = cli("audit", "--all")
    assert text.code == 0 and "fix: `provision apply --allow-replace`" in text.stdout
    # without --all, only the spec and provision's own resources
    narrow = {(f["kind"], f["subject"]) for f in json.loads(cli("audit", "--output", "json").stdout)["findings"]}
    assert ("unmanaged", "portal-endpoint") not in narrow and ("orphan", "old-chat") in narrow


def test_audit_policy_region_and_a_clean_spec(cli, emu):
    cli.spec(spec_text(LARGE))
    assert cli("apply", "--yes").code == 0
    clean = cli("audit", "--detailed-exitcode", "--probe")
    assert clean.code == 0, clean
    assert "No findings" in clean.stdout
    cli.spec(spec_text(dict(LARGE, allowed_regions=["francecentral"])))
    run = cli("audit", "--detailed-exitcode")
    assert run.code == 3, run
    assert "policy       mistral-large-chat  hub contoso-hub is in East US 2 (eastus2), which allowed_regions no longer allows" in run.stdout
    assert "drift        mistral-large-chat  endpoint region East US 2 (eastus2) is not in allowed_regions" in run.stdout


def test_probe_reports_latency_and_model_and_fails_clearly_for_a_deleted_endpoint(cli, emu):
    cli.spec(spec_text(LARGE, SMALL))
    assert cli("apply", "--yes").code == 0
    run = cli("probe", "mistral-large-chat", "--output", "json")
    assert run.code == 0, run
    [p] = json.loads(run.stdout)["probes"]
    assert p["ok"] and p["model"] == "Mistral-Medium-2505" and p["finish_reason"] in ("stop", "length") and p["latency_ms"] > 0
    [endpoint] = [r for r in cli.resources("serverlessEndpoints") if r["name"] == "mistral-large-chat"]
    emu.control.remove(endpoint["id"])  # deleted behind provision's back
    run = cli("probe")
    assert run.code == 1, run
    assert "ok   mistral-small-chat" in run.stdout
    assert "FAIL mistral-large-chat: HTTP 404 EndpointNotFound: No serverless endpoint is deployed at https://mistral-large-chat.eastus2.models.ai.azure.com." in run.stdout
    assert "fix: no endpoint answers at this URL" in run.stdout
    assert "error: probe failed for mistral-large-chat" in run.stderr and "Traceback" not in run.stderr
    audit = cli("audit", "--probe", "--output", "json")
    kinds = {(f["kind"], f["subject"]) for f in json.loads(audit.stdout)["findings"]}
    assert ("missing", "mistral-large-chat") in kinds and ("probe", "mistral-large-chat") in kinds


def test_rotation_never_breaks_a_client_calling_in_a_loop(cli, emu):
    cli.spec(spec_text(LARGE))
    assert cli("apply", "--yes").code == 0
    path = cli.dir / ".secrets/deployments.env"
    before = cli.keys_of("mistral-large-chat")
    env = cli.env()
    session = requests.Session()
    session.proxies = {"https": env["HTTPS_PROXY"]}
    session.verify = env["REQUESTS_CA_BUNDLE"]
    calls, stop = [], threading.Event()  # calls: (the key the client read from the file, the answer's status), in order

    def client():
        while not stop.is_set():
            values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
            try:  # ?caller=loop tells this client's calls apart from the tool's probes in the request log
                status = session.post(values["MISTRAL_LARGE_URL"] + "/chat/completions", params={"caller": "loop"},
                                      headers={"Authorization": f"Bearer {values['MISTRAL_LARGE_KEY']}"},
                                      json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}, timeout=10).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            calls.append((values["MISTRAL_LARGE_KEY"], status))
            time.sleep(0.01)

    def loop_calls():
        return [r for r in emu.control.requests() if r["kind"] == "inference" and r["query"].get("caller") == "loop"]

    def regenerations():
        return [r for r in emu.control.requests() if r["path"].endswith("/regenerateKeys")]

    def wait_for(condition, what):  # a guard against hanging, not a measure: the condition is about order
        deadline = time.monotonic() + 60
        while not condition():
            assert time.monotonic() < deadline and thread.is_alive(), f"the client never {what}: {[s for _, s in calls[-5:]]}"
            time.sleep(0.02)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        wait_for(lambda: calls, "made a call")  # it is calling before the rotation starts
        run = cli("keys", "rotate", "mistral-large-chat", "--yes", "--grace", "1")
        if run.code == 0:
            # it goes on calling until it has used the key the file now holds, and the server has
            # logged one of its calls arriving after the regenerateKeys answer was written
            new_primary = cli.keys_of("mistral-large-chat")[0]
            wait_for(lambda: any(key == new_primary for key, _ in calls), "used the new key")
            wait_for(lambda: any(arrived(r) > regen["time"] for regen in regenerations() for r in loop_calls()), "called after the regeneration")
    finally:
        stop.set()
        thread.join()
    assert run.code == 0, run
    after = cli.keys_of("mistral-large-chat")
    assert after[0] != before[0] and after[1] == before[1], "the primary key was regenerated, the secondary kept"
    assert cli.secrets_file()["MISTRAL_LARGE_KEY"] == after[0]
    failures = [status for _, status in calls if status != 200]
    assert failures == [], f"{len(failures)} of {len(calls)} calls failed: {failures[:5]}"
    # the client followed the file: the old primary, then the secondary (the grace period, which is
    # what a client gets to re-read the file), then the new primary, never back
    names = {before[0]: "old primary", before[1]: "secondary", after[0]: "new primary"}
    used = [names.get(key, "another key") for key, _ in calls]
    assert [k for i, k in enumerate(used) if i == 0 or k != used[i - 1]] == ["old primary", "secondary", "new primary"]
    # as the server saw it: the client's calls arrived before the regenerateKeys request and after its
    # answer, and the server answered every one of them 200
    regen = regenerations()
    assert len(regen) == 1, regen
    loop = loop_calls()
    assert any(arrived(r) < arrived(regen[0]) for r in loop) and any(arrived(r) > regen[0]["time"] for r in loop)
    assert {r["status"] for r in loop} == {200}, [r["status"] for r in loop]
    # rotating the secondary (which the file does not hold) needs no switch
    run = cli("keys", "rotate", "mistral-large-chat", "--key", "secondary", "--yes", "--output", "json")
    assert run.code == 0, run
    assert json.loads(run.stdout)["secrets_file_holds"] == "secondary"
    for key in before + after + cli.keys_of("mistral-large-chat"):
        assert key not in run.stdout + run.stderr


def test_every_command_in_every_mode_never_prints_a_key(cli, emu):
    """Runs every command in text, JSON and --debug modes (successes and failures), collecting every
    key the emulator has issued along the way (rotation retires some), then scans all outputs."""
    cli.spec(spec_text(LARGE, SMALL))
    runs, keys = [], set()

    def run(*args):
        runs.append(cli(*args))
        keys.update(k for r in cli.resources("serverlessEndpoints") for k in r["keys"].values())

    for mode in ([], ["--output", "json"], ["--debug"], ["--output", "json", "--debug"]):
        for command in (["validate"], ["plan"], ["apply", "--yes"], ["whoami"], ["probe"], ["audit", "--all", "--probe"],
                        ["keys", "rotate", "mistral-small-chat", "--yes", "--grace", "0"], ["destroy", "--dry-run"]):
            run(*mode, *command)
    # failures too: a wrong key in the file, an unknown deployment, then everything destroyed
    path = cli.dir / ".secrets/deployments.env"
    path.write_text(path.read_text().replace("MISTRAL_LARGE_KEY=", "MISTRAL_LARGE_KEY=f"))
    for args in (["probe", "--debug"], ["audit", "--probe", "--debug"], ["keys", "rotate", "nope", "--yes"], ["destroy", "--yes", "--debug"], ["probe", "--debug"]):
        run(*args)
    assert len(keys) >= 8, "the run should have issued and rotated several keys"
    assert [r.code for r in runs].count(2) == 1, [str(r) for r in runs if r.code == 2]  # only the unknown name
    leaked = sorted({" ".join(r.args) for r in runs for key in keys if key in r.stdout or key in r.stderr})
    assert leaked == [], f"keys leaked in: {leaked}"


def test_rotation_retries_transient_failures_and_keeps_its_order(cli, emu):
    """The connection dropping under the regeneration (twice: no SDK retries a POST whose answer was
    lost) does not stop the rotation: the file is on the other key by then, so provision retries,
    then proves and writes the new key."""
    cli.spec(spec_text(LARGE))
    assert cli("apply", "--yes").code == 0
    before = cli.keys_of("mistral-large-chat")
    emu.control.faults(routes=[{"method": "POST", "path": "/regenerateKeys$", "status": 0, "times": 2}])
    run = cli("keys", "rotate", "mistral-large-chat", "--yes", "--grace", "0")
    assert run.code == 0, run
    after = cli.keys_of("mistral-large-chat")
    assert after[0] != before[0] and after[1] == before[1]
    assert cli.secrets_file()["MISTRAL_LARGE_KEY"] == after[0]
    regenerations = [r["status"] for r in emu.control.requests() if r["path"].endswith("/regenerateKeys")]
    assert len(regenerations) == 3 and regenerations[-1] == 200, regenerations  # two dropped, then answered
