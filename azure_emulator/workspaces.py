"""Microsoft.MachineLearningServices/workspaces: the world's hubs and projects, read-only."""
from __future__ import annotations

from typing import Any

from . import rbac
from .common import paged, require_registered, require_resource_group, require_subscription, require_workspace
from .models import ML, workspace_id
from .store import State
from .wire import Request, Response
from .worldmodel import Hub, Project, gen_id


def workspace_body(state: State, w: Project | Hub) -> dict[str, Any]:
    wid = workspace_id(w.subscription, w.resource_group, w.name)
    region = w.location
    props: dict[str, Any] = {
        "friendlyName": w.name,
        "workspaceId": _stable_guid(wid),
        "provisioningState": "Succeeded",
        "discoveryUrl": f"https://{region}.api.azureml.ms/discovery",
        "mlFlowTrackingUri": f"azureml://{region}.api.azureml.ms/mlflow/v1.0{wid}",
        "publicNetworkAccess": "Enabled",
        "hbiWorkspace": False,
        "v1LegacyMode": False,
        "enableDataIsolation": True,
    }
    if isinstance(w, Project):
        kind = "Project"
        props["hubResourceId"] = workspace_id(w.subscription, w.resource_group, w.hub)
    else:
        kind = "Hub"
        props["associatedWorkspaces"] = [workspace_id(w.subscription, w.resource_group, p) for p in w.projects]
        props["workspaceHubConfig"] = {"defaultWorkspaceResourceGroup": f"/subscriptions/{w.subscription}/resourceGroups/{w.resource_group}"}
        props["storageAccount"] = f"/subscriptions/{w.subscription}/resourceGroups/{w.resource_group}/providers/Microsoft.Storage/storageAccounts/st{w.name.replace('-', '')[:20]}"
        props["keyVault"] = f"/subscriptions/{w.subscription}/resourceGroups/{w.resource_group}/providers/Microsoft.KeyVault/vaults/kv-{w.name[:18]}"
    return {
        "id": wid,
        "name": w.name,
        "type": f"{ML}/workspaces",
        "location": region,
        "kind": kind,
        "tags": {},
        "identity": {"type": "SystemAssigned", "principalId": _stable_guid(wid + "/identity"), "tenantId": state.world.tenant_id},
        "sku": {"name": "Basic", "tier": "Basic"},
        "systemData": {
            "createdAt": "2024-03-01T09:00:00.000Z",
            "createdBy": "admin@contoso.onmicrosoft.com",
            "createdByType": "User",
            "lastModifiedAt": "2024-03-01T09:00:00.000Z",
            "lastModifiedBy": "admin@contoso.onmicrosoft.com",
            "lastModifiedByType": "User",
        },
        "properties": props,
    }


def _stable_guid(text: str) -> str:
    return gen_id(text.lower())


def get_workspace(state: State, req: Request, sub: str, rg: str, ws: str) -> Response:
    with state.lock:
        w = require_workspace(state, sub, rg, ws)
        require_registered(state, sub, ML)
        rbac.require(state.world, req.principal, [(f"{ML}/workspaces/read", workspace_id(w.subscription, w.resource_group, w.name))])
        return Response(200, workspace_body(state, w))


def list_workspaces(state: State, req: Request, sub: str, rg: str) -> Response:
    with state.lock:
        require_resource_group(state, sub, rg)
        require_registered(state, sub, ML)
        items = [
            workspace_body(state, w)
            for table in (state.world.hubs, state.world.projects)
            for (s, r, _), w in table.items()
            if s == sub.lower() and r == rg.lower() and rbac.allowed(state.world, req.principal.object_id, f"{ML}/workspaces/read", workspace_id(s, w.resource_group, w.name))
        ]
        return Response(200, paged(items, req))


def list_subscription_workspaces(state: State, req: Request, sub: str) -> Response:
    """Every hub and project of the subscription the caller may read (as the resource-group list filters)."""
    with state.lock:
        require_subscription(state, sub)
        require_registered(state, sub, ML)
        items = [
            workspace_body(state, w)
            for table in (state.world.hubs, state.world.projects)
            for (s, _, _), w in table.items()
            if s == sub.lower() and rbac.allowed(state.world, req.principal.object_id, f"{ML}/workspaces/read", workspace_id(s, w.resource_group, w.name))
        ]
        items.sort(key=lambda body: body["id"].lower())
        return Response(200, paged(items, req))
