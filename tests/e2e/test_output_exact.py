"""The whole output, designed not incidental: plan, apply, destroy and audit, text and JSON, in a
few representative situations, compared in full (durations aside) against the real CLI talking
to the emulator. A change of wording fails here first, on purpose."""
from __future__ import annotations

import json
import re

from .helpers import REPO, SUB_GENAI, spec_text

MEDIUM = {"name": "mistral-medium-chat", "model": "mistral-medium-2505", "content_safety": "enabled", "tags": {"team": "chat"}}
SMALL = {"name": "mistral-small-chat", "model": "mistral-small-2503"}

CHECKS_FRESH = """\
Checks:
  ok   identity    caller: service principal 9a1b2c3d… (object id 3c5e8a1d…, tenant 72f988bf…)
  ok   project     2 deployments: project contoso-chat in hub contoso-hub
  ok   region      2 deployments: hub contoso-hub is in East US 2 (eastus2) (allowed: East US 2 (eastus2), France …
  ok   model       2 deployments: mistral-medium-2505 (version 1) is in the azureml-mistral registry; 1 more (--verbose)
  ok   offer       2 deployments: 2 different results, all passed (--verbose lists them)
  ok   name        2 deployments: name '<deployment>' is free among the 4 other projects in East US 2 (eastus2) the …
  ok   role        2 deployments: 'Azure AI Developer' assigned at subscription Contoso GenAI / rg-genai
  ok   permissions 2 deployments: the caller may read the endpoint, read its keys, create or update the endpoint …
  ok   providers   subscription Contoso GenAI: Microsoft.MachineLearningServices is Registered; 1 more (--verbose)
  ok   secrets     .secrets/deployments.env: dotenv file, readable and writable
Plan: 4 to add, 0 to change, 0 to destroy
  + mistral-medium-chat (contoso-chat, East US 2 (eastus2))
      + subscribe marketplace subscription mistral-medium-2505-provision (accepts the terms of mistral-medium-2505's Marketplace offer; pay-as-you-go billing)
      + create endpoint mistral-medium-chat (mistral-medium-2505)
  + mistral-small-chat (contoso-chat, East US 2 (eastus2))
      + subscribe marketplace subscription mistral-small-2503-provision (accepts the terms of mistral-small-2503's Marketplace offer; pay-as-you-go billing)
      + create endpoint mistral-small-chat (mistral-small-2503)
"""


def timeless(text: str) -> str:
    """Durations vary from run to run; everything else is compared as printed."""
    return re.sub(r"\d+\.\d s\b", "<t> s", text)


def fresh(cli):
    cli.extra_env["NO_COLOR"] = "1"
    cli.spec(spec_text(MEDIUM, SMALL))


def test_plan_then_apply_of_two_new_deployments(cli):
    fresh(cli)
    plan = cli("plan")
    assert (plan.code, plan.stdout, plan.stderr) == (0, CHECKS_FRESH, "")
    apply = cli("apply", "--yes")
    assert apply.code == 0, apply
    assert timeless(apply.stdout) == CHECKS_FRESH + """\
Result:
  ok   mistral-medium-chat: https://mistral-medium-chat.eastus2.models.ai.azure.com (subscribe marketplace subscription mistral-medium-2505-provision; create endpoint mistral-medium-chat; <t> s)
  ok   mistral-small-chat: https://mistral-small-chat.eastus2.models.ai.azure.com (subscribe marketplace subscription mistral-small-2503-provision; create endpoint mistral-small-chat; <t> s)
2 of 2 deployments ready; URL and key of each in .secrets/deployments.env
"""
    # progress goes to stderr, one line per step start and end, in whatever order the two run
    assert sorted(re.sub(r"^\[ *<t> s\] ", "", line) for line in timeless(apply.stderr).splitlines()) == sorted([
        "mistral-medium-chat: subscribe marketplace subscription mistral-medium-2505-provision ...",
        "mistral-medium-chat: subscribe marketplace subscription mistral-medium-2505-provision done (<t> s)",
        "mistral-medium-chat: create endpoint mistral-medium-chat ...",
        "mistral-medium-chat: create endpoint mistral-medium-chat done (<t> s)",
        "mistral-small-chat: subscribe marketplace subscription mistral-small-2503-provision ...",
        "mistral-small-chat: subscribe marketplace subscription mistral-small-2503-provision done (<t> s)",
        "mistral-small-chat: create endpoint mistral-small-chat ...",
        "mistral-small-chat: create endpoint mistral-small-chat done (<t> s)",
    ])


def test_drift_plans_an_update_in_place_with_its_values_and_audit_reports_it_with_lifecycle(cli, emu):
    fresh(cli)
    assert cli("apply", "--yes").code == 0
    cli.spec(spec_text({**MEDIUM, "content_safety": "disabled", "tags": {"team": "search", "cost": "ai"}}, SMALL))
    plan = cli("plan")
    assert plan.code == 0, plan
    assert plan.stdout.split("Plan:", 1)[1] == """ 0 to add, 1 to change, 0 to destroy
  ~ mistral-medium-chat (contoso-chat, East US 2 (eastus2))
      ~ update endpoint mistral-medium-chat
          content_safety: Enabled → Disabled
          tags.cost: (none) → "ai"
          tags.team: "chat" → "search"
  = mistral-small-chat (contoso-chat, East US 2 (eastus2)): no changes
"""
    doc = json.loads(cli("plan", "--output", "json").stdout)["plan"]
    assert doc["summary"] == {"add": 0, "change": 1, "destroy": 0}
    assert doc["deployments"][0]["steps"] == [{
        "action": "update", "effect": "change", "kind": "endpoint", "name": "mistral-medium-chat", "detail": "content safety disabled, tags",
        "changes": [{"field": "content_safety", "old": "Enabled", "new": "Disabled"}, {"field": "tags.cost", "old": None, "new": "ai"},
                    {"field": "tags.team", "old": "chat", "new": "search"}]}]
    assert doc["deployments"][1] == {"name": "mistral-small-chat", "target": "serverless", "project": "contoso-chat", "account": None, "region": "eastus2", "effect": None,
                                     "blocked": None, "stale_secrets": [], "steps": []}

    emu.control.set_lifecycle("mistral-small-2503", legacy="2026-11-01", deprecated="2099-01-01", retired="2099-04-01")
    audit = cli("audit")
    assert (audit.code, audit.stdout) == (0, """\
  KIND         SUBJECT              FINDING
  lifecycle    mistral-small-chat   endpoint mistral-small-chat serves mistral-small-2503, legacy (deprecated 2099-01-01, retires 2099-04-01; per the registry)
                                      fix: move to a current model (per the catalog of 2026-11-25: mistral-medium-2505, Ministral-3B, Codestral-2501, mistral-document-ai-2505) with `provision apply --allow-replace`
  drift        mistral-medium-chat  endpoint mistral-medium-chat differs from the spec in content_safety, tags.cost, tags.team
                                      content_safety: Enabled → Disabled
                                      tags.cost: (none) → "ai"
                                      tags.team: "chat" → "search"
                                      fix: run `provision apply`
2 findings for 2 deployments
""")
    doc = json.loads(cli("audit", "--output", "json").stdout)
    assert doc == {
        "ok": True, "deployments": ["mistral-medium-chat", "mistral-small-chat"], "all": False, "probe": False,
        "findings": [
            {"kind": "lifecycle", "subject": "mistral-small-chat",
             "message": "endpoint mistral-small-chat serves mistral-small-2503, legacy (deprecated 2099-01-01, retires 2099-04-01; per the registry)",
             "remedy": "move to a current model (per the catalog of 2026-11-25: mistral-medium-2505, Ministral-3B, Codestral-2501, mistral-document-ai-2505) "
                       "with `provision apply --allow-replace`"},
            {"kind": "drift", "subject": "mistral-medium-chat",
             "message": "endpoint mistral-medium-chat differs from the spec in content_safety, tags.cost, tags.team", "remedy": "run `provision apply`"}],
        "changes": {"mistral-medium-chat": [
            {"field": "content_safety", "old": "Enabled", "new": "Disabled"}, {"field": "tags.cost", "old": None, "new": "ai"},
            {"field": "tags.team", "old": "chat", "new": "search"}]},
    }


def test_destroy_deletes_endpoints_then_their_subscriptions(cli):
    fresh(cli)
    assert cli("apply", "--yes").code == 0
    destroy = cli("destroy", "--yes")
    assert destroy.code == 0, destroy
    assert destroy.stdout == """\
Checks:
  ok   identity    caller: service principal 9a1b2c3d… (object id 3c5e8a1d…, tenant 72f988bf…)
  ok   permissions 2 deployments: the caller may delete what the plan deletes
  ok   secrets     .secrets/deployments.env: dotenv file, readable and writable
Plan: 0 to add, 0 to change, 4 to destroy
  - delete endpoint mistral-medium-chat (contoso-chat)
  - delete marketplace subscription mistral-medium-2505-provision (contoso-chat)
  - delete endpoint mistral-small-chat (contoso-chat)
  - delete marketplace subscription mistral-small-2503-provision (contoso-chat)
Result:
  ok   mistral-medium-chat: deleted endpoint mistral-medium-chat; deleted marketplace subscription mistral-medium-2505-provision
  ok   mistral-small-chat: deleted endpoint mistral-small-chat; deleted marketplace subscription mistral-small-2503-provision
"""
    assert cli.resources("serverlessEndpoints") == [] and cli.resources("marketplaceSubscriptions") == []


def test_the_first_time_mistakes_fail_plan_with_every_fix_and_nothing_else(cli):
    cli.extra_env.update(NO_COLOR="1", AZURE_SUBSCRIPTION_ID=SUB_GENAI)
    cli.spec((REPO / "examples/first-time-mistakes.yaml").read_text())
    plan = cli("plan")
    assert (plan.code, plan.stderr) == (1, "error: 3 checks failed; nothing was changed (each FAIL above says how to fix it)\n")
    assert plan.stdout == """\
Checks:
  ok   identity    caller: service principal 9a1b2c3d… (object id 3c5e8a1d…, tenant 72f988bf…)
  ok   project     3 deployments: project contoso-chat in hub contoso-hub; project contoso-chat-fr in hub contoso-hub-fr
  ok   region      3 deployments: 2 different results, all passed (--verbose lists them)
  ok   model       medium-in-france: mistral-medium-2505 (version 1) is in the azureml-mistral registry
  FAIL model       small-typo: model 'Mistral-smal' is not in the azureml-mistral registry; did you mean 'mistral-small-2503'?
       fix: set `model: mistral-small-2503`
  FAIL model       large-retired: Mistral-large was retired on 2025-04-15 (per the registry): Azure no longer deploys it and its endpoints answer 404
       fix: set `model: mistral-medium-2505` (its replacement, per the catalog of 2026-11-25)
  FAIL offer       medium-in-france: mistral-medium-2505 is not offered as a serverless API in France Central (francecentral) (per the catalog of 2026-11-25); it is in: East US (eastus), East US 2 (eastus2), North Central US (northcentralus), South Central US (southcentralus), Sweden Central (swedencentral), West US (westus), West US 3 (westus3)
       fix: point `project` at a project whose hub is in East US 2 (eastus2)
  ok   name        3 deployments: name '<deployment>' is free among the …
  ok   role        3 deployments: 'Azure AI Developer' assigned at subscription Contoso GenAI / rg-genai
  ok   permissions 3 deployments: the caller may read the endpoint, read its keys, create or update the endpoint …
  ok   providers   subscription Contoso GenAI: Microsoft.MachineLearningServices is Registered; 1 more (--verbose)
  ok   secrets     .secrets/mistakes.env: dotenv file, readable and writable
Plan: 6 to add, 0 to change, 0 to destroy
  + small-typo (contoso-chat, East US 2 (eastus2))  [blocked: model]
      + subscribe marketplace subscription Mistral-smal-provision (accepts the terms of Mistral-smal's Marketplace offer; pay-as-you-go billing)
      + create endpoint small-typo (Mistral-smal)
  + large-retired (contoso-chat, East US 2 (eastus2))  [blocked: model]
      + subscribe marketplace subscription Mistral-large-provision (accepts the terms of Mistral-large's Marketplace offer; pay-as-you-go billing)
      + create endpoint large-retired (Mistral-large)
  + medium-in-france (contoso-chat-fr, France Central (francecentral))  [blocked: offer]
      + subscribe marketplace subscription mistral-medium-2505-provision (accepts the terms of mistral-medium-2505's Marketplace offer; pay-as-you-go billing)
      + create endpoint medium-in-france (mistral-medium-2505)
"""
    doc = json.loads(cli("plan", "--output", "json").stdout)
    assert {d["name"]: d["blocked"] for d in doc["plan"]["deployments"]} == {
        "small-typo": [{"check": "model", "message": "model 'Mistral-smal' is not in the azureml-mistral registry; did you mean 'mistral-small-2503'?"}],
        "large-retired": [{"check": "model", "message": "Mistral-large was retired on 2025-04-15 (per the registry): Azure no longer deploys it and its endpoints answer 404"}],
        "medium-in-france": [{"check": "offer", "message": doc["plan"]["deployments"][2]["blocked"][0]["message"]}],
    }
    assert doc["ok"] is False and doc["exit_code"] == 1
