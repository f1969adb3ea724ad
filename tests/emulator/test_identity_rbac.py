"""Entra ID credentials and Azure RBAC, through azure-identity and azure-mgmt-authorization."""
from __future__ import annotations

import base64
import json
import os

import pytest
from azure.ai.ml.entities import MarketplaceSubscription, ServerlessEndpoint
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import ClientSecretCredential, ManagedIdentityCredential, WorkloadIdentityCredential

from .clients import MISTRAL_MEDIUM, SUB_GENAI, credential, ml_client

ARM = "https://management.azure.com/.default"
AI_DEVELOPER = "64702f94-c441-49e6-a78b-ef80e0188fee"


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_client_secret_token_carries_the_principal(emu):
    token = credential("provision-ci").get_token(ARM).token
    c = claims(token)
    assert c["oid"] == "3c5e8a1d-2b4f-4c6e-9d8a-7f1e2d3c4b5a"
    assert c["tid"] == os.environ["AZURE_TENANT_ID"]
    assert c["appid"] == os.environ["AZURE_CLIENT_ID"]
    assert c["aud"] == "https://management.azure.com"
    assert token.split(".")[0] and json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["alg"] == "RS256"


def test_wrong_secret_gets_entra_error(emu):
    cred = ClientSecretCredential(os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], "not-the-secret")
    with pytest.raises(ClientAuthenticationError) as err:
        cred.get_token(ARM)
    assert "AADSTS7000215: Invalid client secret provided" in str(err.value)


def test_workload_identity_federation(emu, tmp_path):
    assertion = tmp_path / "token"
    header = base64.urlsafe_b64encode(b'{"alg":"RS256"}').decode().rstrip("=")
    payload = base64.urlsafe_b64encode(json.dumps({"sub": "repo:contoso/genai:pull_request", "aud": "api://AzureADTokenExchange"}).encode()).decode().rstrip("=")
    assertion.write_text(f"{header}.{payload}.sig")
    cred = WorkloadIdentityCredential(tenant_id=os.environ["AZURE_TENANT_ID"], client_id=os.environ["AZURE_CLIENT_ID"], token_file_path=str(assertion))
    assert claims(cred.get_token(ARM).token)["oid"] == "3c5e8a1d-2b4f-4c6e-9d8a-7f1e2d3c4b5a"
    payload = base64.urlsafe_b64encode(json.dumps({"sub": "repo:evil/fork:pull_request"}).encode()).decode().rstrip("=")
    assertion.write_text(f"{header}.{payload}.sig")
    wrong = WorkloadIdentityCredential(tenant_id=os.environ["AZURE_TENANT_ID"], client_id=os.environ["AZURE_CLIENT_ID"], token_file_path=str(assertion))
    with pytest.raises(ClientAuthenticationError) as err:
        wrong.get_token(ARM)
    assert "AADSTS70021" in str(err.value)


def test_app_service_managed_identity(emu, monkeypatch):
    monkeypatch.setenv("IDENTITY_ENDPOINT", emu.env["AZURE_EMULATOR_IDENTITY_ENDPOINT"])
    monkeypatch.setenv("IDENTITY_HEADER", emu.env["AZURE_EMULATOR_IDENTITY_HEADER"])
    token = ManagedIdentityCredential().get_token(ARM).token
    assert claims(token)["oid"] == "7a9c3e5b-6f8d-4a1c-9b3e-4d5e6f7a8b9c"
    monkeypatch.setenv("IDENTITY_HEADER", "wrong")
    with pytest.raises(ClientAuthenticationError):
        ManagedIdentityCredential().get_token(ARM)


def test_imds_managed_identity(emu, monkeypatch):
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", emu.url)
    token = ManagedIdentityCredential().get_token(ARM).token
    assert claims(token)["oid"] == "7a9c3e5b-6f8d-4a1c-9b3e-4d5e6f7a8b9c"


def test_reader_cannot_write(emu):
    ml = ml_client(principal="reader-only")
    assert ml.workspaces.get("contoso-chat").name == "contoso-chat"  # reads are fine
    with pytest.raises(HttpResponseError) as err:
        ml.marketplace_subscriptions.begin_create_or_update(MarketplaceSubscription(name="m", model_id=MISTRAL_MEDIUM)).result()
    assert err.value.status_code == 403
    assert err.value.error.code == "AuthorizationFailed"
    assert "Microsoft.MachineLearningServices/workspaces/marketplaceSubscriptions/write" in str(err.value)
    assert "/resourceGroups/rg-genai/providers/Microsoft.MachineLearningServices/workspaces/contoso-chat" in str(err.value)


def test_ai_developer_alone_cannot_subscribe_but_can_deploy(emu):
    dev = ml_client(principal="ai-developer-only")
    with pytest.raises(HttpResponseError) as err:
        dev.marketplace_subscriptions.begin_create_or_update(MarketplaceSubscription(name="m", model_id=MISTRAL_MEDIUM)).result()
    assert err.value.status_code == 403
    assert err.value.error.code == "LinkedAuthorizationFailed"
    assert "Microsoft.MarketplaceOrdering/agreements/offers/plans/sign/action" in str(err.value)
    # Once someone with the Marketplace rights has subscribed the project, the developer deploys.
    ml_client().marketplace_subscriptions.begin_create_or_update(MarketplaceSubscription(name="m", model_id=MISTRAL_MEDIUM)).result()
    endpoint = dev.serverless_endpoints.begin_create_or_update(ServerlessEndpoint(name="dev-medium", model_id=MISTRAL_MEDIUM)).result()
    assert endpoint.provisioning_state == "succeeded"
    assert dev.serverless_endpoints.get_keys("dev-medium").primary_key


def test_rights_through_a_group(emu, monkeypatch):
    """deploy-identity holds no role itself; its group genai-developers does."""
    monkeypatch.setenv("IDENTITY_ENDPOINT", emu.env["AZURE_EMULATOR_IDENTITY_ENDPOINT"])
    monkeypatch.setenv("IDENTITY_HEADER", emu.env["AZURE_EMULATOR_IDENTITY_HEADER"])
    from azure.ai.ml import MLClient

    ml = MLClient(ManagedIdentityCredential(), SUB_GENAI, "rg-genai", "contoso-chat")
    ml.marketplace_subscriptions.begin_create_or_update(MarketplaceSubscription(name="m", model_id=MISTRAL_MEDIUM)).result()
    assert ml.serverless_endpoints.begin_create_or_update(ServerlessEndpoint(name="group-medium", model_id=MISTRAL_MEDIUM)).result().name == "group-medium"


def test_authorization_client_reads_roles_and_permissions(emu):
    from azure.mgmt.authorization import AuthorizationManagementClient

    client = AuthorizationManagementClient(credential("ai-developer-only"), SUB_GENAI)
    perms = list(client.permissions.list_for_resource_group("rg-genai"))
    assert any("Microsoft.MachineLearningServices/workspaces/*/write" in p.actions for p in perms)
    scope = f"/subscriptions/{SUB_GENAI}/resourceGroups/rg-genai"
    oid = "4d6f9b2e-3c5a-4d7f-8e9b-1a2b3c4d5e6f"
    mine = list(client.role_assignments.list_for_scope(scope, filter=f"atScope() and assignedTo('{oid}')"))
    assert [a.role_definition_id.rsplit("/", 1)[-1] for a in mine] == [AI_DEVELOPER]
    role = client.role_definitions.get(scope, AI_DEVELOPER)
    assert role.role_name == "Azure AI Developer"
    assert "Microsoft.MachineLearningServices/workspaces/listKeys/action" in role.permissions[0].not_actions
    by_name = list(client.role_definitions.list(scope, filter="roleName eq 'Azure AI Developer'"))
    assert [r.name for r in by_name] == [AI_DEVELOPER]
    # Group membership counts with assignedTo(); the direct principalId filter does not.
    alice = "6f8b2d4a-5e7c-4f9b-8a2d-3c4d5e6f7a8b"
    via_group = list(client.role_assignments.list_for_scope(scope, filter=f"assignedTo('{alice}')"))
    assert {a.principal_type for a in via_group} == {"Group"}
    reader = AuthorizationManagementClient(credential("provision-ci"), SUB_GENAI)
    assert list(reader.role_assignments.list_for_scope(scope, filter=f"principalId eq '{alice}'")) == []
    # Inherited from the subscription: provision-ci's Marketplace role is assigned there.
    ci = "3c5e8a1d-2b4f-4c6e-9d8a-7f1e2d3c4b5a"
    inherited = list(reader.role_assignments.list_for_scope(scope, filter=f"atScope() and assignedTo('{ci}')"))
    assert {a.scope for a in inherited} == {scope, f"/subscriptions/{SUB_GENAI}"}
