"""The text and JSON renderers on hand-made plans and findings: whole outputs, compared exactly."""
from __future__ import annotations

from types import SimpleNamespace

from provision.findings import Check, Finding
from provision.live import Endpoint, Identity, LiveState, MarketplaceSubscription, ProjectState, SubscriptionState, Workspace
from provision.plan import Plan, Registration, plan_changes
from provision.render import (PLAIN, Names, Style, audit_changes, audit_dict, audit_text, blocking, destroy_result_text, findings_text,
                              plan_dict, plan_summary, plan_text, result_text, use_colour, whoami_text)
from provision.spec import parse_spec

SUB = "6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-genai"
WS = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces"
MISTRAL = "azureml://registries/azureml-mistral/models/"
ME = Identity("3c5e8a1d-2b4f-4c6e-9d8a-7f1e2d3c4b5a", "72f988bf-86f1-41af-91ab-2d7cd011db47", "service principal", "9a1b2c3d-0000-4000-8000-000000000001")

SPEC = parse_spec(f"""
defaults: {{subscription: {SUB}, resource_group: rg-genai, project: contoso-chat}}
deployments:
  - {{name: medium-chat, model: mistral-medium-2505, tags: {{team: chat}}}}
  - {{name: small-chat, model: mistral-small-2503, content_safety: enabled, tags: {{team: chat, env: prod}}}}
  - {{name: code-ci, model: Codestral-2501}}
  - {{name: edge, model: Ministral-3B, secrets: {{url: EDGE_URL, key: EDGE_KEY}}}}
""", "deployments.yaml", {})


def mine(name: str, **tags: str) -> dict[str, str]:
    return {"provision:managed": "true", "provision:deployment": name, **tags}


def endpoint(name: str, model: str, tags: dict[str, str], safety=None) -> Endpoint:
    return Endpoint(f"{WS}/contoso-chat/serverlessEndpoints/{name}", name, MISTRAL + model, "eastus2", tags, "Succeeded", "Online", safety,
                    f"https://{name}.eastus2.models.ai.azure.com", None)


def subscription(model: str) -> MarketplaceSubscription:
    return MarketplaceSubscription(f"{WS}/contoso-chat/marketplaceSubscriptions/{model}-provision", f"{model}-provision", MISTRAL + model, "Subscribed", "Succeeded")


def live() -> LiveState:
    endpoints = (endpoint("small-chat", "mistral-small-2503", mine("small-chat", team="x", old="1"), False),
                 endpoint("code-ci", "Codestral-2405", mine("code-ci")),
                 endpoint("edge", "Ministral-3B", mine("edge")))
    subs = tuple(subscription(m) for m in ("mistral-small-2503", "Codestral-2405", "Codestral-2501", "Ministral-3B"))
    project = ProjectState(SUB, "rg-genai", "contoso-chat", Workspace(f"{WS}/contoso-chat", "contoso-chat", "Project", "eastus2", f"{WS}/contoso-hub"),
                           Workspace(f"{WS}/contoso-hub", "contoso-hub", "Hub", "eastus2", None), endpoints, subs, assignments=(), permissions=())
    return LiveState(ME, None, {(SUB, "rg-genai", "contoso-chat"): project}, {SUB: SubscriptionState(SUB)})


def the_plan() -> Plan:
    plan = plan_changes(SPEC, live())
    return Plan((Registration(SUB, "Microsoft.SaaS"),), plan.deployments)


def findings() -> list[Finding]:
    out = [Finding(Check.IDENTITY, "caller", True, f"service principal {ME.name} (object id {ME.object_id}, tenant {ME.tenant_id})")]
    for d in SPEC.deployments:
        out += [Finding(Check.PROJECT, d.name, True, "project contoso-chat in hub contoso-hub"),
                Finding(Check.ROLE, d.name, True, f"'Azure AI Developer' assigned at {RG}")]
        if d.name != "edge":
            out.append(Finding(Check.PERMISSIONS, d.name, True, "the caller may read the endpoint, read its keys, create or update the endpoint"))
    out += [Finding(Check.PERMISSIONS, "edge", False, "the caller may not read its keys (…/listKeys/action)", "ask for 'Azure AI Developer' on resource group rg-genai"),
            Finding(Check.MODEL, "code-ci", True, "Codestral-2501 is legacy: retired on 2026-07-31", "move to its replacement before then", warning=True),
            Finding(Check.PROVIDERS, SUB, True, "Microsoft.MachineLearningServices is Registered"),
            Finding(Check.PROVIDERS, SUB, True, "Microsoft.SaaS is not registered; the caller may register it (apply will)"),
            Finding(Check.SECRETS, ".secrets/deployments.env", True, "dotenv file, readable and writable")]
    return out


def test_plan_symbols_values_and_headline_as_terraform_shows_them():
    plan, found = the_plan(), findings()
    lines = [plan_summary(SimpleNamespace(live=live(), plan=plan))] + plan_text(plan, blocked=blocking(plan, found), stale={"edge": ("EDGE_URL",)})
    assert "\n".join(lines) == """\
Plan: 4 to add, 1 to change, 2 to destroy
  + register provider Microsoft.SaaS on subscription 6b0f5e5a…
  + medium-chat (contoso-chat, East US 2 (eastus2))
      + subscribe marketplace subscription mistral-medium-2505-provision (accepts the terms of mistral-medium-2505's Marketplace offer; pay-as-you-go billing)
      + create endpoint medium-chat (mistral-medium-2505)
  ~ small-chat (contoso-chat, East US 2 (eastus2))
      ~ update endpoint small-chat
          content_safety: Disabled → Enabled
          tags.env: (none) → "prod"
          tags.old: "1" → (none)
          tags.team: "x" → "chat"
-/+ code-ci (contoso-chat, East US 2 (eastus2))
    -/+ replace endpoint code-ci
          model: Codestral-2405 → Codestral-2501
      - unsubscribe marketplace subscription Codestral-2405-provision (the old model's (Codestral-2405); nothing else uses it)
  = edge (contoso-chat, East US 2 (eastus2)): no changes; apply rewrites its stale secrets entry (EDGE_URL)  [blocked: permissions]"""


def test_headlines_never_hide_what_could_not_be_planned():
    plan = plan_changes(SPEC, live())
    nothing = Plan((), tuple(dp.__class__(dp.deployment, (), dp.subscription_name, dp.location, dp.endpoint_tags, dp.live_endpoint) for dp in plan.deployments))
    assert plan_summary(SimpleNamespace(live=live(), plan=nothing)) == "Plan: no changes"
    one_down = Plan((), (nothing.deployments[0].__class__(SPEC.deployments[0], (), None, None, blocked="the project could not be read"),) + nothing.deployments[1:])
    assert plan_summary(SimpleNamespace(live=live(), plan=one_down)) == "Plan: not complete: 1 deployment could not be planned (below); no changes for the others"
    assert plan_text(one_down)[0] == "  ? medium-chat (contoso-chat): cannot plan: the project could not be read"
    assert plan_summary(SimpleNamespace(live=LiveState(None, None, {}, {}), plan=one_down)) == \
        "Plan: not made: nothing could be read from Azure (the identity check above says why)"


def test_checks_are_one_line_per_kind_with_every_failure_and_warning_expanded():
    assert "\n".join(findings_text(findings())) == """\
  ok   identity    caller: service principal 9a1b2c3d… (object id 3c5e8a1d…, tenant 72f988bf…)
  ok   project     4 deployments: project contoso-chat in hub contoso-hub
  warn model       code-ci: Codestral-2501 is legacy: retired on 2026-07-31
       fix: move to its replacement before then
  ok   role        4 deployments: 'Azure AI Developer' assigned at subscription 6b0f5e5a… / rg-genai
  ok   permissions 3 deployments: the caller may read the endpoint, read its keys, create or update the endpoint
  FAIL permissions edge: the caller may not read its keys (…/listKeys/action)
       fix: ask for 'Azure AI Developer' on resource group rg-genai
  ok   providers   subscription 6b0f5e5a…: Microsoft.MachineLearningServices is Registered; 1 more (--verbose)
  ok   secrets     .secrets/deployments.env: dotenv file, readable and writable"""


def test_verbose_lists_every_check():
    verbose = findings_text(findings(), verbose=True)
    assert len([line for line in verbose if not line.startswith("       fix:")]) == len(findings())
    assert verbose[1:4] == ["  ok   project     medium-chat: project contoso-chat in hub contoso-hub",
                            "  ok   role        medium-chat: 'Azure AI Developer' assigned at subscription 6b0f5e5a… / rg-genai",
                            "  ok   permissions medium-chat: the caller may read the endpoint, read its keys, create or update the endpoint"]


def test_a_summary_fits_in_a_line():
    long = [Finding(Check.PERMISSIONS, f"d{i}", True, "the caller may read the endpoint, read its keys" + ", create or update the endpoint" * i) for i in range(3)]
    assert findings_text(long) == ["  ok   permissions 3 deployments: the caller may read the endpoint, read its keys …"]
    one = [Finding(Check.REGION, "d", True, "hub h is in East US 2 (eastus2) " + "(allowed: East US 2 (eastus2), France Central (francecentral)) " * 2)]
    [line] = findings_text(one)
    assert line == "  ok   region      d: hub h is in East US 2 (eastus2) (allowed: East US 2 (eastus2), France Central (francecentral)) …"
    assert len(line) <= 120


def test_names_instead_of_guids():
    names = Names({SUB: "Contoso GenAI"})
    assert names.scope(RG) == "subscription Contoso GenAI / rg-genai"
    assert names.scope(f"{WS}/contoso-chat") == "subscription Contoso GenAI / rg-genai / contoso-chat"
    assert names.scope(f"/subscriptions/{SUB}") == "subscription Contoso GenAI"
    assert names.scope("/providers/Microsoft.Management/managementGroups/platform") == "management group platform"
    assert names.scope("/") == "root (/)"
    assert Names().scope(RG) == "subscription 6b0f5e5a… / rg-genai"
    assert Names().text(f"through group {ME.object_id} at {RG}") == "through group 3c5e8a1d… at subscription 6b0f5e5a… / rg-genai"


def test_plan_json_has_effects_values_blocked_and_stale_secrets():
    plan, found = the_plan(), findings()
    data = plan_dict(plan, found, {"edge": ("EDGE_URL",)})
    assert data["summary"] == {"add": 4, "change": 1, "destroy": 2}
    small, code, edge = data["deployments"][1:]
    assert (small["effect"], small["blocked"], small["stale_secrets"]) == ("change", None, [])
    assert small["steps"][0]["changes"][:2] == [{"field": "content_safety", "old": "Disabled", "new": "Enabled"}, {"field": "tags.env", "old": None, "new": "prod"}]
    assert [(s["action"], s["effect"]) for s in code["steps"]] == [("replace", "replace"), ("unsubscribe", "destroy")]
    assert (edge["effect"], edge["steps"], edge["stale_secrets"]) == (None, [], ["EDGE_URL"])
    assert edge["blocked"] == [{"check": "permissions", "message": "the caller may not read its keys (…/listKeys/action)"}]


def test_a_failure_about_no_deployment_blocks_them_all_and_an_unplanned_one_says_why():
    plan = plan_changes(SPEC, live())
    unplanned = Plan((), (plan.deployments[0].__class__(SPEC.deployments[0], (), None, None, blocked="the project could not be read"),))
    secrets = Finding(Check.SECRETS, ".secrets/x.env", False, "cannot write the secrets file", "fix it")
    [medium] = plan_dict(unplanned, [secrets])["deployments"]
    assert medium["blocked"] == [{"check": "plan", "message": "cannot plan: the project could not be read"},
                                 {"check": "secrets", "message": "cannot write the secrets file"}]


def test_audit_shows_drift_values_and_verbose_lists_the_clean_deployments():
    from provision.audit import AuditFinding, Kind

    changes = audit_changes(SPEC, live())
    assert list(changes) == ["small-chat"]
    found = [AuditFinding(Kind.DRIFT, "code-ci", "model is Codestral-2405, the spec says Codestral-2501", "`provision apply --allow-replace` (new URL and keys)"),
             AuditFinding(Kind.DRIFT, "small-chat", "endpoint small-chat differs from the spec in content_safety, tags.env, tags.old, tags.team", "run `provision apply`")]
    names = [d.name for d in SPEC.deployments]
    assert "\n".join(audit_text(found, names, verbose=True, changes=changes)) == """\
  KIND         SUBJECT      FINDING
  drift        code-ci      model is Codestral-2405, the spec says Codestral-2501
                              fix: `provision apply --allow-replace` (new URL and keys)
  drift        small-chat   endpoint small-chat differs from the spec in content_safety, tags.env, tags.old, tags.team
                              content_safety: Disabled → Enabled
                              tags.env: (none) → "prod"
                              tags.old: "1" → (none)
                              tags.team: "x" → "chat"
                              fix: run `provision apply`
  ok           medium-chat  matches the spec
  ok           edge         matches the spec
2 findings for 4 deployments"""
    assert audit_dict(found, names, False, False, changes)["changes"]["small-chat"][3] == {"field": "tags.team", "old": "x", "new": "chat"}
    assert audit_text([], ["a"]) == ["No findings: 1 deployment matches the spec (a)."]


def test_whoami_names_scopes_not_guids():
    roles = [SimpleNamespace(role="Reader", scope=f"/subscriptions/{SUB}", through=None),
             SimpleNamespace(role="Azure AI Developer", scope=RG, through="0c1d2e3f-0000-4000-8000-000000000002")]
    report = SimpleNamespace(roles=roles, findings=findings()[:3])
    assert "\n".join(whoami_text(report)) == """\
  ok   identity    caller: service principal 9a1b2c3d… (object id 3c5e8a1d…, tenant 72f988bf…)
Role assignments (2, at, above or below the spec's resource groups):
  Reader              subscription 6b0f5e5a…
  Azure AI Developer  subscription 6b0f5e5a… / rg-genai  (through group 0c1d2e3f…)
Checks:
  ok   project     medium-chat: project contoso-chat in hub contoso-hub
  ok   role        medium-chat: 'Azure AI Developer' assigned at subscription 6b0f5e5a… / rg-genai"""


def test_results_of_apply_and_destroy():
    from provision.apply import ApplyResult, DeploymentResult
    from provision.destroy import DestroyResult

    result = ApplyResult([DeploymentResult("medium-chat", True, ["create endpoint medium-chat"], "https://m", None, 3.14),
                          DeploymentResult("edge", False, [], None, "endpoint edge is Failed, not Succeeded; run apply again")], [])
    assert result_text(result, ".secrets/deployments.env") == [
        "  ok   medium-chat: https://m (create endpoint medium-chat; 3.1 s)",
        "  FAIL edge: endpoint edge is Failed, not Succeeded; run apply again",
        "1 of 2 deployments ready"]
    assert destroy_result_text([DestroyResult("edge", True, ["deleted endpoint edge"])]) == ["Result:", "  ok   edge: deleted endpoint edge"]


def test_colour_only_when_asked_for_and_never_by_default():
    assert use_colour(True, {}) and not use_colour(False, {})
    assert not use_colour(True, {"NO_COLOR": ""}), "NO_COLOR with any value, even empty, turns colour off"
    assert use_colour(False, {"FORCE_COLOR": "1"}) and not use_colour(False, {"FORCE_COLOR": "0"})
    assert not use_colour(False, {"FORCE_COLOR": "1", "NO_COLOR": "1"})
    plain, coloured = plan_text(the_plan()), plan_text(the_plan(), Style(True))
    assert not any("\x1b[" in line for line in plain) and PLAIN.paint("x", "red") == "x"
    assert coloured[0] == "\x1b[32m  +\x1b[0m register provider Microsoft.SaaS on subscription 6b0f5e5a…"
    assert findings_text(findings()[:1], style=Style(True))[0].startswith("  \x1b[32mok  \x1b[0m identity")


def readme_example() -> str:
    plan, found = plan_changes(SPEC, live()), findings()
    shown = [f for f in found if f.check in (Check.IDENTITY, Check.PROJECT, Check.ROLE, Check.SECRETS) or not f.ok]
    return "\n".join(["Checks:"] + findings_text(shown) + [plan_summary(SimpleNamespace(live=live(), plan=plan))]
                     + plan_text(plan, blocked=blocking(plan, shown), stale={"edge": ("EDGE_URL",)}))


def test_the_readme_shows_what_plan_prints():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"```\n{readme_example()}\n```" in readme


def test_a_deployments_own_name_in_its_check_is_one_message_for_all():
    found = [Finding(Check.NAME, n, True, f"name '{n}' is free in East US 2 (eastus2); project contoso-chat") for n in ("chat", "code")]
    assert findings_text(found) == ["  ok   name        2 deployments: name '<deployment>' is free in East US 2 (eastus2); project contoso-chat"]
    differ = [Finding(Check.PROJECT, f"d{i}", True, f"project p{i} in hub contoso-hub, which is in East US 2 (eastus2) and which has a long message") for i in range(3)]
    assert findings_text(differ) == ["  ok   project     3 deployments: 3 different results, all passed (--verbose lists them)"]
