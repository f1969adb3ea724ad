"""apply through the CLI against the emulator: the happy path, idempotence, secrets, CI use."""
from __future__ import annotations

import json
import os
import signal
import time


from .helpers import arrived, logged, spec_text

LARGE = {"name": "mistral-large-chat", "model": "mistral-medium-2505", "content_safety": "enabled", "tags": {"team": "chat"},
         "secrets": {"url": "MISTRAL_LARGE_URL", "key": "MISTRAL_LARGE_KEY"}}
SMALL = {"name": "mistral-small-chat", "model": "mistral-small-2503", "secrets": {"url": "MISTRAL_SMALL_URL", "key": "MISTRAL_SMALL_KEY"}}


def test_happy_path_subscribes_then_deploys_and_writes_url_and_key(cli):
    cli.spec(spec_text(LARGE))
    run = cli("apply", "--yes")
    assert run.code == 0, run
    primary, secondary = cli.keys_of("mistral-large-chat")
    assert cli.secrets_file() == {"MISTRAL_LARGE_URL": "https://mistral-large-chat.eastus2.models.ai.azure.com", "MISTRAL_LARGE_KEY": primary}
    # the subscription was written (and finished) before the endpoint was
    puts = [r["path"] for r in cli.writes() if r["method"] == "PUT"]
    assert [p.split("/")[-2] for p in puts] == ["marketplaceSubscriptions", "serverlessEndpoints"], puts
    [endpoint] = cli.resources("serverlessEndpoints")
    assert endpoint["tags"] == {"team": "chat", "provision:managed": "true", "provision:deployment": "mistral-large-chat"}
    assert endpoint["contentSafety"] == "Enabled"
    [sub] = cli.resources("marketplaceSubscriptions")
    assert sub["name"] == "mistral-medium-2505-provision" and sub["status"] == "Subscribed"
    assert "1 of 1 deployment ready" in run.stdout
    for text in (run.stdout, run.stderr):
        assert primary not in text and secondary not in text


def test_second_apply_makes_no_writes(cli, emu):
    cli.spec(spec_text(LARGE, SMALL))
    assert cli("apply", "--yes").code == 0
    emu.control.clear_requests()
    run = cli("apply", "--yes")
    assert run.code == 0, run
    assert cli.writes() == []
    assert "Plan: no changes" in run.stdout
    plan = cli("plan", "--detailed-exitcode")
    assert plan.code == 0, plan


def test_plan_is_read_only_and_detailed_exitcode_reports_changes(cli, emu):
    cli.spec(spec_text(LARGE))
    run = cli("plan", "--detailed-exitcode")
    assert run.code == 3, run
    assert "+ subscribe marketplace subscription mistral-medium-2505-provision" in run.stdout
    assert "+ create endpoint mistral-large-chat" in run.stdout
    assert cli.writes() == []
    assert cli("plan").code == 0


def test_update_in_place_content_safety_and_tags(cli):
    cli.spec(spec_text(LARGE))
    assert cli("apply", "--yes").code == 0
    changed = dict(LARGE, content_safety="disabled", tags={"team": "search"})
    cli.spec(spec_text(changed))
    plan = cli("plan", "--output", "json")
    steps = json.loads(plan.stdout)["plan"]["deployments"][0]["steps"]
    assert [(s["action"], s["detail"]) for s in steps] == [("update", "content safety disabled, tags")]
    assert cli("apply", "--yes").code == 0
    [endpoint] = cli.resources("serverlessEndpoints")
    assert endpoint["contentSafety"] == "Disabled" and endpoint["tags"]["team"] == "search"
    cli.spec(spec_text(dict(changed, tags={"team": "other"})))
    plan = json.loads(cli("plan", "--output", "json").stdout)
    assert [s["action"] for s in plan["plan"]["deployments"][0]["steps"]] == ["retag"]


def test_model_change_needs_allow_replace(cli):
    cli.spec(spec_text(LARGE))
    assert cli("apply", "--yes").code == 0
    old_key, _ = cli.keys_of("mistral-large-chat")
    cli.spec(spec_text(dict(LARGE, model="mistral-small-2503")))
    run = cli("apply", "--yes")
    assert run.code == 1, run
    assert "--allow-replace" in run.stdout
    run = cli("apply", "--yes", "--allow-replace")
    assert run.code == 0, run
    [endpoint] = cli.resources("serverlessEndpoints")
    assert endpoint["modelId"].endswith("/mistral-small-2503")
    assert cli.secrets_file()["MISTRAL_LARGE_KEY"] != old_key


def test_secrets_file_keeps_unrelated_lines_and_other_entries(cli):
    (cli.dir / ".secrets").mkdir(mode=0o755)
    (cli.dir / ".secrets/deployments.env").write_text("# team settings\nOTHER=1\nMISTRAL_LARGE_URL=stale\n")
    os.chmod(cli.dir / ".secrets/deployments.env", 0o644)
    cli.spec(spec_text(LARGE))
    assert cli("apply", "--yes").code == 0
    text = (cli.dir / ".secrets/deployments.env").read_text().splitlines()
    assert text[:2] == ["# team settings", "OTHER=1"]
    assert text[2] == "MISTRAL_LARGE_URL=https://mistral-large-chat.eastus2.models.ai.azure.com"
    assert text[3].startswith("MISTRAL_LARGE_KEY=")
    os.chmod(cli.dir / ".secrets", 0o700)  # an existing directory is not re-moded; the file is
    cli.secrets_file()


def test_json_secrets_format(cli):
    cli.spec(spec_text(LARGE, SMALL, secrets={"path": "out/keys.json", "format": "json"}))
    run = cli("apply", "--yes", "--output", "json")
    assert run.code == 0, run
    report = json.loads(run.stdout)
    assert report["ok"] is True
    assert report["secrets"]["variables"] == ["MISTRAL_LARGE_KEY", "MISTRAL_LARGE_URL", "MISTRAL_SMALL_KEY", "MISTRAL_SMALL_URL"]
    data = json.loads((cli.dir / "out/keys.json").read_text())
    assert data["MISTRAL_SMALL_KEY"] == cli.keys_of("mistral-small-chat")[0]
    assert oct((cli.dir / "out/keys.json").stat().st_mode & 0o777) == "0o600"
    assert cli.keys_of("mistral-small-chat")[0] not in run.stdout + run.stderr


def test_github_actions_masks_the_key_and_outputs_the_url(cli):
    output = cli.dir / "github_output"
    cli.extra_env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output)}
    cli.spec(spec_text(LARGE))
    run = cli("apply", "--yes")
    assert run.code == 0, run
    primary, _ = cli.keys_of("mistral-large-chat")
    lines_with_key = [line for line in run.stderr.splitlines() if primary in line]
    assert lines_with_key == [f"::add-mask::{primary}"], "the key must appear only in the mask command (which the runner consumes, on stderr too)"
    assert primary not in run.stdout
    assert output.read_text() == "MISTRAL_LARGE_URL=https://mistral-large-chat.eastus2.models.ai.azure.com\n"


def test_apply_without_a_terminal_needs_yes(cli):
    cli.spec(spec_text(LARGE))
    run = cli("apply")
    assert run.code == 1, run
    assert "pass --yes" in run.stderr
    assert cli.writes() == []


def test_interrupted_apply_is_finished_by_the_next(cli, emu):
    emu.control.configure(pace={"serverlessEndpoints": {"polls": 0, "seconds": 30}, "default": {"polls": 0, "seconds": 0}})
    cli.spec(spec_text(LARGE))
    proc = cli.popen("apply", "--yes")
    deadline = time.monotonic() + 60
    while not any(r["method"] == "PUT" and "serverlessEndpoints" in r["path"] for r in cli.writes()):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, (out, err)
    assert "run the command again" in err and "Traceback" not in err
    assert not (cli.dir / ".secrets/deployments.env").exists()
    [endpoint] = cli.resources("serverlessEndpoints")
    assert endpoint["provisioningState"] == "Creating"
    emu.control.configure(pace={"default": {"polls": 0, "seconds": 0}})
    plan = json.loads(cli("plan", "--output", "json").stdout)
    assert [s["action"] for s in plan["plan"]["deployments"][0]["steps"]] == ["resume"]
    run = cli("apply", "--yes")
    assert run.code == 0, run
    assert cli.secrets_file()["MISTRAL_LARGE_KEY"] == cli.keys_of("mistral-large-chat")[0]
    assert len(cli.resources("marketplaceSubscriptions")) == 1


def test_twenty_deployments_across_ten_projects(cli, emu):
    from .helpers import many_projects_world

    emu.control.load_world(many_projects_world(10))
    # every endpoint operation stays in progress for 1 s of the server's clock, polled at Retry-After
    # (1 s; no retry-after-ms, so 20 operations do not spend ARM's read quota), so that the
    # deployments' operations can be seen side by side in the server's record below
    emu.control.configure(pace={"serverlessEndpoints": {"polls": 0, "seconds": 1}, "default": {"polls": 0, "seconds": 0}}, retry_after_ms=None)
    deployments = []
    for i in range(10):
        for model in ("mistral-medium-2505", "mistral-small-2503"):
            short = model.split("-")[1]
            deployments.append({"name": f"p{i:02d}-{short}", "model": model, "project": f"proj-{i:02d}"})
    cli.spec(spec_text(*deployments))
    run = cli("apply", "--yes")
    assert run.code == 0, run
    secrets = cli.secrets_file()
    assert len(secrets) == 40
    for d in deployments:
        assert secrets[f"{d['name'].upper().replace('-', '_')}_KEY"] == cli.keys_of(d["name"])[0]
    assert len(cli.resources("serverlessEndpoints")) == 20
    assert len(cli.resources("marketplaceSubscriptions")) == 20
    # the deployments ran side by side: some endpoint's PUT reached the server while another
    # deployment's endpoint operation was still in progress. The server's own record of each
    # operation: `started` when its PUT was handled, `ended` at the poll that finished it, one
    # monotonic clock. Order only: one after the other, no two overlap, however fast the machine.
    ops = [op for op in emu.control.state()["operations"] if op["resource_type"] == "serverlessEndpoints" and op["kind"] == "create"]
    assert len(ops) == 20 and all(op["ended"] is not None for op in ops), ops
    in_progress_at_start = [sum(o["started"] <= op["started"] < o["ended"] for o in ops) for op in ops]
    assert max(in_progress_at_start) >= 2, f"endpoint operations ran one after another: {sorted((o['started'], o['ended']) for o in ops)}"


def test_unregistered_provider_is_registered_by_apply_when_allowed(cli, emu):
    from .helpers import world_with

    def saas_not_registered(data):
        data["subscriptions"][0]["providers"] = {"Microsoft.SaaS": "NotRegistered"}

    emu.control.load_world(world_with(saas_not_registered))
    cli.spec(spec_text(LARGE))
    plan = cli("plan")
    assert plan.code == 0, plan
    assert "+ register provider Microsoft.SaaS on subscription Contoso GenAI" in plan.stdout
    assert "ok   providers   subscription Contoso GenAI: Microsoft.SaaS is not registered; the caller may register it (apply will)" in cli("plan", "--verbose").stdout
    run = cli("apply", "--yes")
    assert run.code == 0, run
    registers = [r for r in cli.writes() if r["path"].lower().endswith("/providers/microsoft.saas/register")]
    assert len(registers) == 1
    # someone without the right is told who must register it, and nothing is written
    emu.control.load_world(world_with(saas_not_registered))
    cli.principal = "ai-developer-only"
    run = cli("apply", "--yes")
    assert run.code == 1, run
    assert "ask an owner to run: az provider register --namespace Microsoft.SaaS --subscription 6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11" in run.stdout


def test_no_output_mode_shows_a_key(cli, emu):
    cli.extra_env = {"GITHUB_ACTIONS": "false"}
    cli.spec(spec_text(LARGE, SMALL))
    runs = [cli("apply", "--yes", "--debug"), cli("apply", "--yes", "--output", "json", "--debug"), cli("plan", "--debug"),
            cli("plan", "--output", "json"), cli("whoami", "--debug"), cli("validate", "--debug")]
    keys = [k for name in ("mistral-large-chat", "mistral-small-chat") for k in cli.keys_of(name)]
    assert all(len(k) == 32 for k in keys)
    for run in runs:
        assert run.code == 0, run
        for key in keys:
            assert key not in run.stdout and key not in run.stderr, f"a key leaked in: provision {' '.join(run.args)}"


def test_custom_cloud_from_arm_cloud_metadata_url(cli, emu):
    """ARM_CLOUD_METADATA_URL (sovereign or custom clouds): no proxy at all; the Resource Manager
    endpoint, token audience and login authority of every client come from the cloud's metadata."""
    proxied = cli.env()
    direct = {k: v for k, v in proxied.items() if k not in ("HTTPS_PROXY", "https_proxy")}
    # azure-ai-ml's variable for the registry discovery service of a cloud other than the public one
    cli.env = lambda: {**direct, "ARM_CLOUD_METADATA_URL": emu.ready_info()["metadata_url"],
                       "REGISTRY_DISCOVERY_ENDPOINT_URL": emu.ready_info()["registry_discovery_url"]}
    cli.spec(spec_text(LARGE))
    run = cli("apply", "--yes")
    assert run.code == 0, run
    hosts = {r["host"] for r in emu.control.requests()}
    assert hosts == {"127.0.0.1"}, hosts
    assert cli.secrets_file()["MISTRAL_LARGE_URL"] == "https://mistral-large-chat.eastus2.models.ai.azure.com"
    assert cli.secrets_file()["MISTRAL_LARGE_KEY"] == cli.keys_of("mistral-large-chat")[0]


def _on_a_terminal(cli, args, answer):
    """Runs provision with a pseudo-terminal as stdin and stderr; answers the prompt."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "provision", *args], cwd=cli.dir, env=cli.env(), stdin=slave, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen, answered = b"", False
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if not answered and b"[y/N]" in seen:
            os.write(master, answer + b"\n")
            answered = True
    proc.wait(timeout=60)
    os.close(master)
    return proc.returncode, proc.stdout.read().decode(), seen.decode(errors="replace")


def test_on_a_terminal_apply_asks_and_animates(cli):
    cli.spec(spec_text(LARGE))
    code, out, terminal = _on_a_terminal(cli, ["apply"], b"n")
    assert code == 1 and "Apply these changes? [y/N]" in terminal and "declined: nothing was changed" in terminal
    assert cli.writes() == []
    code, out, terminal = _on_a_terminal(cli, ["apply"], b"y")
    assert code == 0, terminal
    assert "\x1b[?25l" in terminal, "a live view on a terminal (it hides the cursor while it runs)"
    assert "1 of 1 deployment ready" in out


def test_a_microsoft_sold_model_needs_no_marketplace_subscription_nor_rights(cli):
    cli.principal = "ai-developer-only"  # Azure AI Developer alone, no Marketplace rights
    cli.spec(spec_text({"name": "phi-chat", "model": "azureml://registries/azureml/models/Phi-3.5-mini-instruct"}))
    run = cli("apply", "--yes")
    assert run.code == 0, run
    assert "subscribe" not in run.stdout and "Microsoft.SaaS is" not in run.stdout
    assert cli.resources("marketplaceSubscriptions") == [] and len(cli.resources("serverlessEndpoints")) == 1
    assert cli.secrets_file()["PHI_CHAT_KEY"] == cli.keys_of("phi-chat")[0]


def test_many_deployments_count_the_passed_checks_instead_of_listing_them(cli, emu):
    from .helpers import many_projects_world

    emu.control.load_world(many_projects_world(6))
    cli.spec(spec_text(*[{"name": f"p{i}-large", "model": "mistral-medium-2505", "project": f"proj-{i:02d}"} for i in range(6)]))
    run = cli("plan")
    assert run.code == 0, run
    assert "  ok   role        6 deployments: 'Azure AI Developer' assigned at subscription Contoso GenAI / rg-genai\n" in run.stdout
    assert "ok   region      p0-large" not in run.stdout and "ok   identity" in run.stdout
    assert len(json.loads(cli("plan", "--output", "json").stdout)["checks"]) == 46  # identity, secrets, providers x2, and 7 per deployment


def test_waits_follow_retry_after(cli, emu):
    """ARM-like pacing: polls are spaced by Retry-After, never faster, and stop when done. Retry-After
    is 2 s here, not the gateway's own 1 s fallback interval, so the spacing can only come from it."""
    emu.control.configure(pace={"marketplaceSubscriptions": {"polls": 2, "seconds": 2}, "default": {"polls": 0, "seconds": 0}}, retry_after=2, retry_after_ms=None)
    cli.spec(spec_text(LARGE))
    assert cli("apply", "--yes").code == 0
    state = emu.control.state()
    retry_after = state["config"]["retry_after"]  # what every answer about the operation says (no retry-after-ms)
    assert retry_after == 2 and state["config"]["retry_after_ms"] is None
    [op] = [o["id"] for o in state["operations"] if o["resource_type"] == "marketplaceSubscriptions"]
    polls = [r for r in logged(emu, lambda log: sum(r["path"].endswith("/mfeOperationsStatus/" + op) for r in log) >= 2)
             if r["path"].endswith("/mfeOperationsStatus/" + op)]
    # The first poll follows the PUT at once (azure-core); the next waits Retry-After. The operation
    # ends at the first poll that is both its 2nd and 2 s after its start: for a client that waits
    # Retry-After (2 s), its 2nd poll. More polls: it polled too soon or went on after the end.
    assert len(polls) == 2, polls
    # Arrivals as the server recorded them: the client sent the 2nd poll at least Retry-After after
    # it read the answer to the 1st, which was written after the 1st arrived. 0.999: clock
    # granularity only. No upper bound (how much longer is the machine's speed).
    gap = arrived(polls[1]) - arrived(polls[0])
    assert gap >= 0.999 * retry_after, gap


def test_only_applies_the_named_deployments_and_keeps_the_other_entries(cli):
    cli.spec(spec_text(LARGE, SMALL))
    run = cli("apply", "--yes", "--only", "mistral-small-chat")
    assert run.code == 0, run
    assert [r["name"] for r in cli.resources("serverlessEndpoints")] == ["mistral-small-chat"]
    assert set(cli.secrets_file()) == {"MISTRAL_SMALL_URL", "MISTRAL_SMALL_KEY"}
    assert cli("apply", "--yes", "--only", "mistral-large-chat").code == 0
    assert set(cli.secrets_file()) == {"MISTRAL_SMALL_URL", "MISTRAL_SMALL_KEY", "MISTRAL_LARGE_URL", "MISTRAL_LARGE_KEY"}
    run = cli("plan", "--only", "nope")
    assert run.code == 2 and "no deployment 'nope' in deployments.yaml (it has: mistral-large-chat, mistral-small-chat)" in run.stderr


def test_openai_compatible_base_url_works_with_the_openai_sdk(cli):
    import openai

    cli.spec(spec_text(dict(LARGE, secrets={"url": "MISTRAL_LARGE_URL", "key": "MISTRAL_LARGE_KEY", "openai_url": "MISTRAL_LARGE_OPENAI_BASE_URL"})))
    assert cli("apply", "--yes").code == 0
    values = cli.secrets_file()
    assert values["MISTRAL_LARGE_OPENAI_BASE_URL"] == "https://mistral-large-chat.eastus2.models.ai.azure.com/v1"
    # this test process already has the emulator's environment (proxy, CA) from the `emu` fixture
    client = openai.OpenAI(base_url=values["MISTRAL_LARGE_OPENAI_BASE_URL"], api_key=values["MISTRAL_LARGE_KEY"])
    reply = client.chat.completions.create(model="mistral-large", messages=[{"role": "user", "content": "hello"}], max_tokens=5)
    assert reply.choices[0].message.content
    assert cli("audit", "--detailed-exitcode").code == 0
    assert cli("destroy", "--yes").code == 0
    assert not (cli.dir / ".secrets/deployments.env").read_text().strip(), "every entry of the deployment is removed"


def test_a_cloud_whose_registry_is_unknown_warns_and_the_fix_checks_the_model(cli, emu):
    """A custom cloud without REGISTRY_DISCOVERY_ENDPOINT_URL: the model is not checked (a warning,
    never a block); setting the variable, as the fix says, makes the model check run."""
    direct = {k: v for k, v in cli.env().items() if k not in ("HTTPS_PROXY", "https_proxy")}
    cli.env = lambda: {**direct, "ARM_CLOUD_METADATA_URL": emu.ready_info()["metadata_url"]}
    cli.spec(spec_text(LARGE))
    run = cli("plan", "--output", "json")
    assert run.code == 0, run
    [model] = [c for c in json.loads(run.stdout)["checks"] if c["check"] == "model"]
    assert model["ok"] and model["warning"] and model["message"].startswith("mistral-medium-2505 was not checked: the model registry of the cloud at https://127.0.0.1:")
    assert model["remedy"] == "set REGISTRY_DISCOVERY_ENDPOINT_URL to this cloud's registry discovery host"
    cli.env = lambda: {**direct, "ARM_CLOUD_METADATA_URL": emu.ready_info()["metadata_url"],
                       "REGISTRY_DISCOVERY_ENDPOINT_URL": emu.ready_info()["registry_discovery_url"]}
    [model] = [c for c in json.loads(cli("plan", "--output", "json").stdout)["checks"] if c["check"] == "model"]
    assert (model["ok"], model["warning"], model["message"]) == (True, False, "mistral-medium-2505 (version 1) is in the azureml-mistral registry")
