"""Microsoft Graph as az and the role-assignment tools use it, and Azure's 409 on a duplicate role
assignment, through requests and azure-mgmt-authorization (no az needed)."""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential
from azure.mgmt.authorization import AuthorizationManagementClient

from azure_emulator.graph import matcher

from .clients import SUB_GENAI, credential

GRAPH = "https://graph.microsoft.com/v1.0"
PROVISION_CI = {"id": "3c5e8a1d-2b4f-4c6e-9d8a-7f1e2d3c4b5a", "appId": "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"}
ALICE = {"id": "6f8b2d4a-5e7c-4f9b-8a2d-3c4d5e6f7a8b", "upn": "alice@contoso.onmicrosoft.com"}
DEPLOY_IDENTITY = "7a9c3e5b-6f8d-4a1c-9b3e-4d5e6f7a8b9c"
DEVELOPERS = "8b1d4f6c-7a9e-4b2d-8c4f-5e6f7a8b9c1d"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
AZ_WORLD = Path(__file__).resolve().parent / "scripts" / "az_world.yaml"


def graph(method: str, path: str, token: str | None = "default", **kwargs: Any) -> requests.Response:
    headers = {}
    if token is not None:
        headers["Authorization"] = "Bearer " + credential("provision-ci").get_token("https://graph.microsoft.com/.default").token
    return requests.request(method, GRAPH + path, headers=headers, timeout=30, **kwargs)


def test_service_principal_by_app_id_has_what_az_reads(emu):
    answer = graph("GET", "/servicePrincipals", params={"$filter": f"servicePrincipalNames/any(c:c eq '{PROVISION_CI['appId']}')"})
    assert answer.status_code == 200
    [sp] = answer.json()["value"]
    assert sp["id"] == PROVISION_CI["id"] and sp["appId"] == PROVISION_CI["appId"] and sp["displayName"] == "provision-ci"
    assert sp["servicePrincipalNames"][0] == PROVISION_CI["appId"]  # what az shows as the principal's name
    assert "userPrincipalName" not in sp  # az would show that (empty) instead
    assert graph("GET", "/servicePrincipals", params={"$filter": f"appId eq '{PROVISION_CI['appId']}'"}).json()["value"] == [sp]
    assert graph("GET", f"/servicePrincipals/{PROVISION_CI['id']}").json()["appId"] == PROVISION_CI["appId"]


def test_user_by_upn(emu):
    [user] = graph("GET", "/users", params={"$filter": f"userPrincipalName eq '{ALICE['upn']}'"}).json()["value"]
    assert user["id"] == ALICE["id"] and user["userPrincipalName"] == ALICE["upn"]
    assert graph("GET", f"/users/{ALICE['upn']}").json()["id"] == ALICE["id"]
    assert graph("GET", "/users", params={"$filter": "userPrincipalName eq 'nobody@contoso.onmicrosoft.com'"}).json()["value"] == []
    missing = graph("GET", "/users/nobody@contoso.onmicrosoft.com")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "Request_ResourceNotFound"


def test_get_by_ids_names_every_kind(emu):
    ids = [PROVISION_CI["id"], ALICE["id"], DEVELOPERS, DEPLOY_IDENTITY, str(uuid.uuid4())]
    found = {o["id"]: o for o in graph("POST", "/directoryObjects/getByIds", json={"ids": ids}).json()["value"]}
    assert set(found) == set(ids[:4])
    assert found[PROVISION_CI["id"]]["@odata.type"] == "#microsoft.graph.servicePrincipal"
    assert found[ALICE["id"]]["userPrincipalName"] == ALICE["upn"]
    assert found[DEVELOPERS]["@odata.type"] == "#microsoft.graph.group" and found[DEVELOPERS]["displayName"] == "genai-developers"
    assert found[DEPLOY_IDENTITY]["servicePrincipalType"] == "ManagedIdentity"
    only_users = graph("POST", "/directoryObjects/getByIds", json={"ids": ids, "types": ["user"]}).json()["value"]
    assert [o["id"] for o in only_users] == [ALICE["id"]]


def test_groups_and_membership(emu):
    [group] = graph("GET", "/groups", params={"$filter": "displayName eq 'genai-developers'"}).json()["value"]
    assert group["id"] == DEVELOPERS and group["securityEnabled"] is True
    member_of = graph("POST", f"/users/{ALICE['id']}/getMemberGroups", json={"securityEnabledOnly": False}).json()["value"]
    assert member_of == [DEVELOPERS]
    assert graph("POST", f"/servicePrincipals/{PROVISION_CI['id']}/getMemberGroups", json={}).json()["value"] == []


def test_graph_errors_are_graphs(emu):
    unsupported = graph("GET", "/servicePrincipals", params={"$filter": "tags/any(t: t eq 'x') or whatever"})
    assert unsupported.status_code == 400 and unsupported.json()["error"]["code"] == "BadRequest"
    anonymous = graph("GET", "/servicePrincipals", token=None)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "InvalidAuthenticationToken"
    me = graph("GET", "/me")  # an application's token has no /me
    assert me.status_code == 400 and "delegated" in me.json()["error"]["message"]
    write = graph("POST", "/servicePrincipals", json={"appId": str(uuid.uuid4())})
    assert write.status_code == 403 and write.json()["error"]["code"] == "Authorization_RequestDenied"


def test_filter_language():
    sp = {"appId": "A", "displayName": "Pipe O'Neil", "servicePrincipalNames": ["A", "api://x"]}
    assert matcher("servicePrincipalNames/any(c:c eq 'api://x')")(sp)
    assert matcher("displayName eq 'pipe o''neil'")(sp)
    assert matcher("startswith(displayName,'Pipe') and appId eq 'A'")(sp)
    assert matcher("appId eq 'B' or appId eq 'a'")(sp)
    assert not matcher("appId eq 'B' and startswith(displayName,'P')")(sp)


def test_a_duplicate_role_assignment_is_409_role_assignment_exists(emu):
    emu.control.load_world(AZ_WORLD.read_text())  # pipeline-admin: Owner of the subscription
    admin = ClientSecretCredential(os.environ["AZURE_TENANT_ID"], "2f3e4d5c-6b7a-4899-8a1b-d2e3f4a5b6c7", "emulator-secret-pipeline-admin")
    client = AuthorizationManagementClient(admin, SUB_GENAI)
    scope = f"/subscriptions/{SUB_GENAI}/resourceGroups/rg-genai"
    params = {"properties": {"roleDefinitionId": f"/subscriptions/{SUB_GENAI}/providers/Microsoft.Authorization/roleDefinitions/{READER}",
                             "principalId": ALICE["id"], "principalType": "User"}}
    created = client.role_assignments.create(scope, str(uuid.uuid4()), params)
    assert created.principal_id == ALICE["id"]
    with pytest.raises(HttpResponseError) as err:
        client.role_assignments.create(scope, str(uuid.uuid4()), params)  # same principal, role and scope: another name
    assert err.value.status_code == 409 and err.value.error.code == "RoleAssignmentExists"
    mine = [a for a in client.role_assignments.list_for_scope(scope, filter=f"assignedTo('{ALICE['id']}')") if a.principal_id == ALICE["id"]]
    assert [a.name for a in mine] == [created.name]
