"""Refusals: every check that fails says why and how to fix it, exits 1, and writes nothing.
Azure's own refusals during apply become one line that says what to do."""
from __future__ import annotations

import json

import pytest

from .helpers import SUB_GENAI, SUB_JAPAN, spec_text

LARGE = {"name": "mistral-large-chat", "model": "mistral-medium-2505"}


def refused(cli, *args):
    run = cli(*args)
    assert run.code == 1, run
    assert "Traceback" not in run.stderr
    assert cli.writes() == [], "a refused check must leave zero writes"
    return run


@pytest.mark.parametrize("command", [("plan",), ("apply", "--yes")])
def test_wrong_region(cli, command):
    cli.spec(spec_text(dict(LARGE, project="contoso-we", resource_group="rg-westeurope")))
    run = refused(cli, *command)
    assert "FAIL region      mistral-large-chat: hub contoso-hub-we is in West Europe (westeurope), which is not allowed (allowed: East US 2 (eastus2), France Central (francecentral))" in run.stdout
    assert "fix: use a project whose hub is in an allowed region" in run.stdout
    # and the catalog: no serverless Mistral model in West Europe
    assert "FAIL offer       mistral-large-chat: mistral-medium-2505 is not offered as a serverless API in West Europe (westeurope)" in run.stdout
    assert "2 checks failed; nothing was changed" in run.stderr


def test_missing_role(cli):
    cli.principal = "reader-only"
    cli.spec(spec_text(LARGE))
    run = refused(cli, "apply", "--yes")
    assert "FAIL role        mistral-large-chat: the caller does not hold 'Azure AI Developer' on resource group rg-genai" in run.stdout
    assert ('az role assignment create --assignee-object-id 5e7a1c3f-4d6b-4e8a-9f1c-2b3c4d5e6f7a --assignee-principal-type ServicePrincipal '
            f'--role "Azure AI Developer" --scope /subscriptions/{SUB_GENAI}/resourceGroups/rg-genai') in run.stdout
    assert "FAIL permissions" in run.stdout
    whoami = cli("whoami")
    assert whoami.code == 1 and "FAIL role" in whoami.stdout


def test_role_through_group_is_named(cli, emu):
    cli.spec(spec_text(LARGE))
    run = cli("whoami", "--output", "json")
    assert run.code == 0, run
    data = json.loads(run.stdout)
    assert data["identity"]["object_id"] == "3c5e8a1d-2b4f-4c6e-9d8a-7f1e2d3c4b5a"
    assert data["identity"]["kind"] == "service principal"
    [role] = [c for c in data["checks"] if c["check"] == "role"]
    assert role["ok"] and role["message"].endswith(f"at /subscriptions/{SUB_GENAI}/resourceGroups/rg-genai")
    assert data["assignments"] == [
        {"role": "Marketplace Model Subscriber", "scope": f"/subscriptions/{SUB_GENAI}", "through": None},
        {"role": "Reader", "scope": f"/subscriptions/{SUB_GENAI}", "through": None},
        {"role": "Cognitive Services Contributor", "scope": f"/subscriptions/{SUB_GENAI}/resourceGroups/rg-genai", "through": None},
        {"role": "Azure AI Developer", "scope": f"/subscriptions/{SUB_GENAI}/resourceGroups/rg-genai", "through": None},
    ]


def test_whoami_says_when_role_names_cannot_be_read(cli, emu):
    cli.spec(spec_text(LARGE))
    emu.control.faults(routes=[{"method": "GET", "path": "/roleDefinitions/[0-9a-f-]+$", "status": 403, "code": "AuthorizationFailed",
                                "message": "The client may not read role definitions.", "times": 100}])
    run = cli("whoami")
    assert run.code == 1, run
    assert (f"  FAIL role        caller: could not read the names of the caller's roles in subscription {SUB_GENAI[:8]}… "
            "(AuthorizationFailed: The client may not read role definitions.)\n"
            "       fix: grant the caller Microsoft.Authorization/roleDefinitions/read (every built-in role has it); meanwhile the roles are shown by id\n") in run.stdout
    assert "  64702f94-c441-49e6-a78b-ef80e0188fee  " in run.stdout, "the role's id stands in for its name"
    assert run.stderr.strip().splitlines()[-1] == "error: some of what whoami shows could not be read (each FAIL above says what, and how to fix it)"


def test_missing_marketplace_rights_then_an_admin_subscribes_once(cli):
    cli.principal = "ai-developer-only"
    cli.spec(spec_text(LARGE))
    run = refused(cli, "apply", "--yes")
    assert "needs Marketplace rights the caller lacks: Microsoft.MarketplaceOrdering/agreements/offers/plans/read" in run.stdout
    assert "Azure AI Developer alone does not include them" in run.stdout
    assert "FAIL role" not in run.stdout
    # an admin (provision-ci holds the Marketplace role) subscribes the project once...
    cli.principal = "provision-ci"
    assert cli("apply", "--yes").code == 0
    # ...after which the AI Developer alone can run apply (no subscription step is planned)
    cli.principal = "ai-developer-only"
    cli.spec(spec_text(dict(LARGE, tags={"owner": "dev"})))
    run = cli("apply", "--yes")
    assert run.code == 0, run


def test_one_model_twice_in_a_project_is_a_conflict(cli, emu):
    emu.control.seed(kind="marketplaceSubscriptions", workspace="contoso-chat", name="large-sub", model_id="azureml://registries/azureml-mistral/models/mistral-medium-2505")
    emu.control.seed(kind="serverlessEndpoints", workspace="contoso-chat", name="someone-elses-large", model_id="azureml://registries/azureml-mistral/models/mistral-medium-2505")
    cli.spec(spec_text(LARGE))
    run = refused(cli, "apply", "--yes")
    assert "FAIL conflict    mistral-large-chat: endpoint 'someone-elses-large' already serves mistral-medium-2505 in project contoso-chat (Azure allows one deployment per model per project)" in run.stdout
    assert "name the deployment 'someone-elses-large'" in run.stdout


def test_the_same_model_twice_in_the_spec_is_invalid(cli):
    cli.spec(spec_text(LARGE, dict(LARGE, name="large-two")))
    run = cli("plan")
    assert run.code == 2, run
    assert "Traceback" not in run.stderr and cli.writes() == []


def test_unmanaged_endpoint_of_the_same_name_needs_adopt(cli, emu):
    emu.control.seed(kind="marketplaceSubscriptions", workspace="contoso-chat", name="large-sub", model_id="azureml://registries/azureml-mistral/models/mistral-medium-2505")
    emu.control.seed(kind="serverlessEndpoints", workspace="contoso-chat", name="mistral-large-chat", model_id="azureml://registries/azureml-mistral/models/mistral-medium-2505")
    cli.spec(spec_text(LARGE))
    run = refused(cli, "apply", "--yes")
    assert "re-run with --adopt" in run.stdout
    run = cli("apply", "--yes", "--adopt")
    assert run.code == 0, run
    [endpoint] = cli.resources("serverlessEndpoints")
    assert endpoint["tags"]["provision:managed"] == "true"
    assert len(cli.resources("marketplaceSubscriptions")) == 1, "the existing subscription to the offer is used"


def test_name_taken_in_the_region(cli):
    cli.spec(spec_text(dict(LARGE, name="shared-name", project="contoso-search", model="mistral-small-2503")))
    assert cli("apply", "--yes").code == 0
    cli.spec(spec_text(dict(LARGE, name="shared-name")))
    cli.emu.control.clear_requests()
    run = refused(cli, "apply", "--yes")  # an endpoint the caller can see: the preflight refuses it
    assert "FAIL name        shared-name: endpoint name 'shared-name' is already used in East US 2 (eastus2) by project contoso-search" in run.stdout


def test_name_taken_in_another_tenant(cli):
    """A name another tenant's endpoint holds (the world's reserved names): only Azure's PUT can say so."""
    cli.spec(spec_text(dict(LARGE, name="mistral-chat")))
    run = cli("apply", "--yes")
    assert run.code == 1, run
    assert ("FAIL mistral-chat: ServerlessEndpointNameNotAvailable/UserError: Serverless endpoint name 'mistral-chat' is not available. "
            "Please select a different name. (fix: endpoint names are unique per region across all of Azure: choose another `name` for this deployment)") in run.stdout
    assert "1 deployment failed" in run.stderr and "Traceback" not in run.stderr
    assert cli.resources() == [], "no endpoint, and no Marketplace subscription left behind"


def test_model_not_in_region(cli):
    cli.spec(spec_text(dict(LARGE, name="phi-fr", model="azureml://registries/azureml/models/Phi-3.5-mini-instruct", project="contoso-chat-fr")))
    run = cli("apply", "--yes")
    assert run.code == 1, run
    assert "ServerlessModelNotAvailableInRegion/UserError" in run.stdout and "fix: this model is not offered in the hub's region" in run.stdout


def test_purchase_refused(cli):
    cli.spec(spec_text(dict(LARGE, subscription=SUB_JAPAN, project="jp-chat", required_role="Contributor")))
    run = cli("apply", "--yes")
    assert run.code == 1, run
    assert "AvailabilityNotInRegion: Product is not available in region: JP" in run.stdout
    assert "fix: the Marketplace purchase was refused for this Azure subscription" in run.stdout
    assert not (cli.dir / ".secrets/deployments.env").exists()
    assert cli.resources("serverlessEndpoints") == []


def test_no_credential(cli):
    cli.extra_env = {"AZURE_CLIENT_SECRET": "wrong"}
    cli.spec(spec_text(LARGE))
    run = refused(cli, "plan")
    assert "FAIL identity    caller: CredentialRejected: Microsoft Entra ID refused the credential: AADSTS7000215: Invalid client secret provided." in run.stdout
    assert "Attempted credentials" not in run.stderr, "the SDK's multi-line log is shown only with --debug"
    assert "wrong" not in run.stdout + run.stderr


def test_github_actions_annotates_failures(cli):
    cli.extra_env = {"GITHUB_ACTIONS": "true"}
    cli.spec(spec_text(dict(LARGE, project="contoso-we", resource_group="rg-westeurope")))
    run = refused(cli, "plan")
    assert "::error title=provision::2 checks failed; nothing was changed (each FAIL above says how to fix it)" in run.stdout  # region, offer
    cli.spec(spec_text(dict(LARGE, regions_allowed=["eastus2"])))
    run = cli("validate")
    assert run.code == 2, run
    [annotation] = [line for line in run.stdout.splitlines() if line.startswith("::error ")]
    assert annotation.startswith("::error file=deployments.yaml,line=") and "regions_allowed" in annotation
    run = cli("validate", "--output", "json")
    assert json.loads(run.stdout)["valid"] is False, "under --output json the annotations go to stderr"
    assert "::error file=deployments.yaml" in run.stderr


def test_a_managed_identity_holding_the_role_through_a_group(cli, emu):
    """deploy-identity (an App Service managed identity) is in genai-developers, which holds the roles."""
    env = cli.env()
    managed = {k: v for k, v in env.items() if k not in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")}
    managed.update({"IDENTITY_ENDPOINT": env["AZURE_EMULATOR_IDENTITY_ENDPOINT"], "IDENTITY_HEADER": env["AZURE_EMULATOR_IDENTITY_HEADER"],
                    "AZURE_CLIENT_ID": "6d4e5f6a-7b8c-4d9e-8f1a-3b4c5d6e7f8a", "AZURE_TOKEN_CREDENTIALS": "ManagedIdentityCredential"})
    cli.env = lambda: managed
    cli.spec(spec_text(LARGE))
    run = cli("whoami", "--output", "json")
    assert run.code == 0, run
    data = json.loads(run.stdout)
    assert data["identity"]["object_id"] == "7a9c3e5b-6f8d-4a1c-9b3e-4d5e6f7a8b9c"
    assert data["identity"]["kind"] == "managed identity"
    group = "8b1d4f6c-7a9e-4b2d-8c4f-5e6f7a8b9c1d"
    assert {"role": "Azure AI Developer", "scope": f"/subscriptions/{SUB_GENAI}/resourceGroups/rg-genai", "through": group} in data["assignments"]
    [role] = [c for c in data["checks"] if c["check"] == "role"]
    assert role["ok"] and f"through group {group}" in role["message"]
    assert cli("apply", "--yes").code == 0


def test_github_oidc_workload_identity_signs_in_without_a_secret(cli, tmp_path):
    """What azure/login's OIDC leaves behind for DefaultAzureCredential: a federated token file."""
    import base64

    def jwt(subject):
        part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
        return f"{part({'alg': 'RS256'})}.{part({'sub': subject, 'aud': 'api://AzureADTokenExchange'})}.sig"

    token = tmp_path / "federated-token"
    env = {k: v for k, v in cli.env().items() if k != "AZURE_CLIENT_SECRET"}
    env.update({"AZURE_FEDERATED_TOKEN_FILE": str(token), "AZURE_TOKEN_CREDENTIALS": "WorkloadIdentityCredential"})
    cli.env = lambda: env
    cli.spec(spec_text(LARGE))
    token.write_text(jwt("repo:contoso/genai:ref:refs/heads/main"))
    run = cli("apply", "--yes")
    assert run.code == 0, run
    token.write_text(jwt("repo:someone/fork:pull_request"))  # a subject the app does not trust
    cli.emu.control.clear_requests()
    run = refused(cli, "plan")
    assert "FAIL identity    caller: CredentialRejected: Microsoft Entra ID refused the credential: AADSTS70021" in run.stdout


def test_azure_refusals_during_apply_become_one_line_with_the_fix(cli, emu):
    """Rights or registrations that change between the checks and the write (Azure's answer wins)."""
    cli.spec(spec_text(LARGE))
    emu.control.faults(routes=[{"method": "PUT", "path": "/serverlessEndpoints/", "status": 403, "code": "AuthorizationFailed",
                                "message": "The client does not have authorization to perform action 'Microsoft.MachineLearningServices/workspaces/serverlessEndpoints/write'.", "times": 1}])
    run = cli("apply", "--yes")
    assert run.code == 1, run
    assert ("FAIL mistral-large-chat: AuthorizationFailed: The client does not have authorization to perform action "
            "'Microsoft.MachineLearningServices/workspaces/serverlessEndpoints/write'. (fix: the caller lacks a role for this action: "
            "run `provision whoami` to see what is missing)") in run.stdout
    emu.control.faults(routes=[{"method": "PUT", "path": "/serverlessEndpoints/", "status": 409, "code": "MissingSubscriptionRegistration",
                                "message": "The subscription is not registered to use namespace 'Microsoft.MachineLearningServices'.", "times": 1}])
    run = cli("apply", "--yes")
    assert run.code == 1, run
    assert "MissingSubscriptionRegistration: The subscription is not registered to use namespace 'Microsoft.MachineLearningServices'. (fix: a resource provider is not registered: `az provider register --namespace Microsoft.MachineLearningServices`" in run.stdout
    assert "Traceback" not in run.stderr
    assert cli("apply", "--yes").code == 0, "the next apply finishes the job"


def test_an_unreadable_secrets_file_stops_apply_before_azure_is_touched(cli, emu):
    cli.spec(spec_text(LARGE, secrets={"path": "out/keys.json", "format": "json"}))
    (cli.dir / "out").mkdir()
    (cli.dir / "out/keys.json").write_text('{"OTHER": "1",\n  oops\n}')
    emu.control.clear_requests()
    run = cli("apply", "--yes")
    assert run.code == 2, run
    assert "out/keys.json:2: is not valid JSON; fix it or remove the file" in run.stderr and "Traceback" not in run.stderr
    assert [r for r in emu.control.requests() if r["kind"] == "arm"] == [], "not even a read"
    (cli.dir / "out/keys.json").write_text('{"OTHER": "1"}')
    assert cli("apply", "--yes").code == 0
    assert json.loads((cli.dir / "out/keys.json").read_text())["OTHER"] == "1"
