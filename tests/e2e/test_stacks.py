"""Two specs sharing a project, each with its own stack: neither calls the other's resources
orphans, neither's destroy touches the other's, and a forged mark is never enough to delete."""
from __future__ import annotations

import json

from .helpers import spec_text

MODEL = "azureml://registries/azureml-mistral/models/"
CHAT = {"name": "team-a-chat", "model": "mistral-medium-2505"}
CODE = {"name": "team-b-code", "model": "Codestral-2501"}


def _spec(cli, name, stack, *deployments):
    text = f"stack: {stack}\n" + spec_text(*deployments, secrets={"path": f".secrets/{stack}.env"})
    (cli.dir / name).write_text(text)


def _audit(cli, spec, *extra):
    run = cli("-f", spec, "audit", "--output", "json", *extra)
    assert run.code == 0, run
    return json.loads(run.stdout)["findings"]


def test_two_specs_share_a_project_without_touching_each_other(cli, emu):
    _spec(cli, "a.yaml", "team-a", CHAT)
    _spec(cli, "b.yaml", "team-b", CODE)
    assert cli("-f", "a.yaml", "apply", "--yes").code == 0
    assert cli("-f", "b.yaml", "apply", "--yes").code == 0
    subs = sorted(r["name"] for r in cli.resources("marketplaceSubscriptions"))
    assert subs == ["Codestral-2501-team-b-provision", "mistral-medium-2505-team-a-provision"]
    tags = {r["name"]: r["tags"] for r in cli.resources("serverlessEndpoints")}
    assert tags["team-a-chat"]["provision:stack"] == "team-a" and tags["team-b-code"]["provision:stack"] == "team-b"
    # each audit is clean; with --all, the other's endpoint is named as the other spec's, never an orphan
    assert _audit(cli, "a.yaml") == [] and _audit(cli, "b.yaml") == []
    [other] = _audit(cli, "a.yaml", "--all")
    assert (other["kind"], other["subject"]) == ("other-stack", "team-b-code") and "stack 'team-b'" in other["message"]
    # destroy --orphans of one spec finds nothing of the other's
    emu.control.clear_requests()
    run = cli("-f", "a.yaml", "destroy", "--yes", "--orphans")
    assert run.code == 0 and [w for w in cli.writes() if w["method"] == "DELETE"] == [], run
    # each destroy leaves the other's endpoint and subscription alone
    assert cli("-f", "a.yaml", "destroy", "--yes").code == 0
    assert [r["name"] for r in cli.resources("serverlessEndpoints")] == ["team-b-code"]
    assert [r["name"] for r in cli.resources("marketplaceSubscriptions")] == ["Codestral-2501-team-b-provision"]
    assert _audit(cli, "b.yaml") == []


def test_a_spec_may_not_take_or_delete_another_stacks_endpoint(cli, emu):
    _spec(cli, "b.yaml", "team-b", CODE)
    assert cli("-f", "b.yaml", "apply", "--yes").code == 0
    _spec(cli, "a.yaml", "team-a", CODE)  # the same name, another spec
    plan = cli("-f", "a.yaml", "plan")
    assert plan.code == 1 and "endpoint team-b-code exists but is not this spec's: made by the spec of stack 'team-b'" in plan.stdout
    emu.control.clear_requests()
    run = cli("-f", "a.yaml", "destroy", "--yes")
    assert run.code == 1 and "is not this spec's: made by the spec of stack 'team-b'" in run.stdout
    assert cli.writes() == []


def test_a_forged_mark_is_never_enough_to_delete(cli, emu):
    emu.control.seed(kind="marketplaceSubscriptions", workspace="contoso-chat", name="finance-provision", model_id=MODEL + "mistral-medium-2505")
    emu.control.seed(kind="serverlessEndpoints", workspace="contoso-chat", name="team-a-chat", model_id=MODEL + "mistral-medium-2505",
                     tags={"provision:managed": "TRUE", "provision:deployment": "someone-else"})
    _spec(cli, "a.yaml", "default", CHAT)
    emu.control.clear_requests()
    run = cli("-f", "a.yaml", "destroy", "--yes")
    assert run.code == 1, run
    assert cli.writes() == []
    orphans = cli("-f", "a.yaml", "destroy", "--yes", "--orphans")
    assert orphans.code == 0 and cli.writes() == [], orphans


def test_after_a_replacement_the_audit_is_clean(cli):
    _spec(cli, "a.yaml", "team-a", CHAT)
    assert cli("-f", "a.yaml", "apply", "--yes").code == 0
    _spec(cli, "a.yaml", "team-a", dict(CHAT, model="mistral-small-2503"))
    run = cli("-f", "a.yaml", "apply", "--yes", "--allow-replace")
    assert run.code == 0, run
    assert "unsubscribe marketplace subscription mistral-medium-2505-team-a-provision" in run.stdout
    assert [r["name"] for r in cli.resources("marketplaceSubscriptions")] == ["mistral-small-2503-team-a-provision"]
    assert _audit(cli, "a.yaml", "--all") == []
