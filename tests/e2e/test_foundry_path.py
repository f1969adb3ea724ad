"""Both of Azure's deployment paths from one spec, through the real CLI against the emulator: a hub
serverless endpoint and a deployment on a Foundry resource, from validate to destroy; the Foundry
deployment answers the clients users configure from the secrets file; Foundry's checks refuse
before writing and their fixes work."""
from __future__ import annotations

import json

from .helpers import SUB_GENAI, spec_text

SUB_EA = "0d6e4c3b-7a2f-4e8d-9b1c-5a4f3e2d1c03"
MEDIUM = {"name": "medium-chat", "model": "mistral-medium-2505"}
CODESTRAL = {"name": "codestral", "target": "foundry", "account": "contoso-foundry", "model": "Codestral-2501", "secrets": {"openai_url": "CODESTRAL_OPENAI_URL"}}
CS_DEPLOYMENTS = "/providers/microsoft.cognitiveservices/accounts/contoso-foundry/deployments/"


def _foundry_writes(cli) -> list[str]:
    return [f"{w['method']} {w['path'].rsplit('/', 1)[-1]}" for w in cli.writes() if "/deployments/" in w["path"].lower() and "cognitiveservices" in w["path"].lower()]


def test_one_spec_both_paths_from_validate_to_destroy(cli, emu):
    cli.spec(spec_text(MEDIUM, CODESTRAL))
    assert cli("validate").code == 0
    plan = cli("plan")
    assert plan.code == 0, plan
    assert "  + codestral (Foundry resource contoso-foundry, East US 2 (eastus2))" in plan.stdout
    assert "      + create deployment codestral (Codestral-2501 on contoso-foundry)" in plan.stdout
    applied = cli("apply", "--yes")
    assert applied.code == 0, applied
    values = cli.secrets_file()
    assert values["CODESTRAL_URL"] == "https://contoso-foundry.services.ai.azure.com/models"
    assert values["CODESTRAL_OPENAI_URL"] == "https://contoso-foundry.services.ai.azure.com/openai/v1"
    assert values["CODESTRAL_MODEL"] == "codestral"
    [deployment] = cli.resources("foundryDeployments")
    assert deployment["tags"] == {"provision:managed": "true", "provision:deployment": "codestral"}
    assert cli("plan", "--detailed-exitcode").code == 0  # nothing left to do
    assert cli("probe").code == 0
    audit = cli("audit")
    assert audit.code == 0 and audit.stdout.startswith("No findings"), audit
    rotated = cli("keys", "rotate", "codestral", "--yes", "--grace", "0")
    assert rotated.code == 0, rotated
    assert "shared by codestral" in rotated.stderr + rotated.stdout
    assert cli.secrets_file()["CODESTRAL_KEY"] != values["CODESTRAL_KEY"]
    assert cli("probe").code == 0
    destroyed = cli("destroy", "--yes")
    assert destroyed.code == 0, destroyed
    assert cli.resources("foundryDeployments") == [] and cli.resources("serverlessEndpoints") == []
    assert not any(k.startswith("CODESTRAL_") for k in cli.secrets_file())


def test_the_foundry_deployment_answers_clients_configured_from_the_secrets_file(cli, emu, monkeypatch):
    cli.spec(spec_text(CODESTRAL))
    assert cli("apply", "--yes").code == 0
    values = cli.secrets_file()
    for key, value in emu.env.items():
        monkeypatch.setenv(key, value)
    import openai
    from azure.ai.inference import ChatCompletionsClient
    from azure.core.credentials import AzureKeyCredential

    client = openai.OpenAI(base_url=values["CODESTRAL_OPENAI_URL"], api_key=values["CODESTRAL_KEY"])
    answer = client.chat.completions.create(model=values["CODESTRAL_MODEL"], messages=[{"role": "user", "content": "hello"}])
    assert answer.choices[0].message.content
    inference = ChatCompletionsClient(endpoint=values["CODESTRAL_URL"], credential=AzureKeyCredential(values["CODESTRAL_KEY"]))
    reply = inference.complete(model=values["CODESTRAL_MODEL"], messages=[{"role": "user", "content": "hello"}])
    assert reply.choices[0].message.content


def test_foundry_checks_refuse_before_writing_and_their_fixes_work(cli, emu):
    wrong = {**CODESTRAL, "model": "Codestrall-2501", "version": "7"}
    cli.spec(spec_text(wrong))
    refused = cli("plan", "--output", "json")
    assert refused.code == 1
    failed = {c["check"]: c for c in json.loads(refused.stdout)["checks"] if not c["ok"]}
    assert set(failed) == {"model"} and failed["model"]["remedy"] == "set `model: Codestral-2501`"
    cli.spec(spec_text({**CODESTRAL, "version": "7"}))
    failed = {c["check"]: c for c in json.loads(cli("plan", "--output", "json").stdout)["checks"] if not c["ok"]}
    assert failed["model"]["remedy"] == "set `version` to one of: 1, 2"
    cli.spec(spec_text({**CODESTRAL, "version": "2"}))
    assert cli("plan").code == 0 and cli.writes() == []


def test_azure_ai_developer_alone_cannot_deploy_on_a_foundry_resource(cli, emu):
    cli.principal = "ai-developer-only"
    cli.spec(spec_text(CODESTRAL))
    refused = cli("apply", "--yes", "--output", "json")
    assert refused.code == 1 and cli.writes() == []
    failed = {c["check"] for c in json.loads(refused.stdout)["checks"] if not c["ok"]}
    assert {"role", "permissions"} <= failed


def test_a_purchase_refused_at_the_end_leaves_nothing_behind(cli, emu):
    """Contoso EA forbids Marketplace purchases: Azure accepts the deployment, then fails it when the
    purchase is refused. apply reports it with its fix and removes the failed deployment."""
    spec = {**CODESTRAL, "account": "ea-foundry"}
    cli.spec(spec_text(spec, defaults={"subscription": SUB_EA}))
    applied = cli("apply", "--yes")
    assert applied.code == 1
    assert "MarketplaceSubscriptionCannotBeCompleted" in applied.stdout + applied.stderr
    assert "the failed deployment codestral was removed again" in applied.stdout + applied.stderr
    assert cli.resources("foundryDeployments") == []
    assert "CODESTRAL_KEY" not in (cli.secrets_file() if (cli.dir / ".secrets/deployments.env").exists() else {})


def test_fields_of_the_other_target_are_named_with_the_fix(cli, emu):
    cli.spec(spec_text({**CODESTRAL, "content_safety": "enabled"}, {**MEDIUM, "sku": "GlobalStandard"}))
    run = cli("validate")
    assert run.code == 2
    lines = run.stderr.splitlines()
    assert any(line.endswith("deployments[0].content_safety: applies to target: serverless only (a Foundry deployment's filtering is its "
                             "`content_filter`); remove it, or set target: serverless") for line in lines), lines
    assert any(line.endswith("deployments[1].sku: applies to target: foundry only; remove it, or set target: foundry") for line in lines), lines


def test_following_the_role_fix_lets_an_ai_developer_deploy_on_foundry(cli, emu):
    """The role finding's fix is an `az role assignment create` for an owner to run: done here as az
    does it (one roleAssignments PUT, by an Owner of the subscription), then the plan passes."""
    import re
    import uuid
    from azure.identity import ClientSecretCredential
    from azure.mgmt.authorization import AuthorizationManagementClient

    from .helpers import world_with

    def with_an_owner(world):
        world["principals"].append({"name": "subscription-owner", "client_id": "2f3e4d5c-6b7a-4899-8a1b-d2e3f4a5b6c7", "secret": "emulator-secret-owner"})
        world["role_assignments"].append({"principal": "subscription-owner", "role": "Owner", "subscription": "Contoso GenAI"})

    emu.control.load_world(world_with(with_an_owner))
    cli.principal = "ai-developer-only"
    cli.spec(spec_text(CODESTRAL))
    refused = json.loads(cli("plan", "--output", "json").stdout)
    [role] = [c for c in refused["checks"] if c["check"] == "role" and not c["ok"]]
    command = role["remedy"].removeprefix("ask an owner to run: ")
    assignee = re.search(r"--assignee-object-id (\S+)", command).group(1)
    wanted = re.search(r'--role "([^"]+)"', command).group(1)
    scope = re.search(r"--scope (\S+)", command).group(1)
    owner = ClientSecretCredential(emu.env["AZURE_TENANT_ID"], "2f3e4d5c-6b7a-4899-8a1b-d2e3f4a5b6c7", "emulator-secret-owner")
    authz = AuthorizationManagementClient(owner, SUB_GENAI)
    [definition] = list(authz.role_definitions.list(scope, filter=f"roleName eq '{wanted}'"))
    authz.role_assignments.create(scope, str(uuid.uuid4()), {"role_definition_id": definition.id, "principal_id": assignee, "principal_type": "ServicePrincipal"})
    # then the partner model's Marketplace offer: its fix asks for Contributor at the subscription
    after = json.loads(cli("plan", "--output", "json").stdout)
    assert [c["check"] for c in after["checks"] if not c["ok"]] == ["permissions"]
    [market] = [c for c in after["checks"] if not c["ok"]]
    at = re.search(r"ask for Owner or Contributor at (/subscriptions/[0-9a-f-]+)", market["remedy"]).group(1)
    [contributor] = list(authz.role_definitions.list(at, filter="roleName eq 'Contributor'"))
    authz.role_assignments.create(at, str(uuid.uuid4()), {"role_definition_id": contributor.id, "principal_id": assignee, "principal_type": "ServicePrincipal"})
    run = cli("plan")
    assert run.code == 0, run.stdout + run.stderr
    assert cli("apply", "--yes").code == 0


def test_following_the_account_and_region_fixes(cli, emu):
    """A Foundry resource that does not exist: its fix creates it (here: the world gains it, as the
    printed `az cognitiveservices account create` would); one in a region the policy does not
    allow: its fix is another resource (or the region allowed)."""
    from .helpers import world_with

    cli.spec(spec_text({**CODESTRAL, "account": "team-foundry"}))
    [account] = [c for c in json.loads(cli("plan", "--output", "json").stdout)["checks"] if c["check"] == "account"]
    assert not account["ok"] and account["remedy"].startswith("create it (az cognitiveservices account create -n team-foundry -g rg-genai --kind AIServices")

    def with_the_account(world):
        world["subscriptions"][0]["resource_groups"][0]["foundry_accounts"].append({"name": "team-foundry", "location": "westus3"})

    emu.control.load_world(world_with(with_the_account))
    refused = json.loads(cli("plan", "--output", "json").stdout)
    [region] = [c for c in refused["checks"] if not c["ok"]]
    assert region["check"] == "region" and region["remedy"].startswith("use a Foundry resource in an allowed region, or add the region to `allowed_regions`")
    cli.spec(spec_text({**CODESTRAL, "account": "team-foundry", "allowed_regions": ["eastus2", "westus3"]}))
    run = cli("plan")
    assert run.code == 0, run.stdout + run.stderr


def test_no_foundry_key_is_printed_in_any_mode(cli, emu, tmp_path):
    """Every command in text, JSON and --debug modes, and under GitHub Actions (where the only line
    holding a key is the mask command the runner consumes), with a Foundry deployment's shared key
    rotated along the way: no key the resource ever had appears in any output."""
    cli.spec(spec_text(CODESTRAL))
    runs, keys = [], set()

    def run(*args):
        runs.append(cli(*args))
        keys.update(k for both in emu.control.state()["accountKeys"].values() for k in both.values())

    for mode in ([], ["--output", "json"], ["--debug"], ["--output", "json", "--debug"]):
        for command in (["plan"], ["apply", "--yes"], ["probe"], ["audit", "--probe"], ["keys", "rotate", "codestral", "--yes", "--grace", "0"]):
            run(*mode, *command)
    cli.extra_env.update({"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "github-output")})
    for command in (["apply", "--yes"], ["keys", "rotate", "codestral", "--yes", "--grace", "0"], ["probe", "--debug"], ["destroy", "--yes", "--debug"]):
        run(*command)
    assert len(keys) >= 6 and all(r.code == 0 for r in runs), [str(r) for r in runs if r.code]
    leaked = sorted({" ".join(r.args) for r in runs for key in keys for line in (r.stdout + r.stderr).splitlines()
                     if key in line and not line.startswith("::add-mask::")})
    assert leaked == [], f"keys leaked in: {leaked}"
    assert not any(key in (tmp_path / "github-output").read_text() for key in keys)
