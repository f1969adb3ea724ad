"""Microsoft.CognitiveServices for Foundry resources: the handlers.

Accounts (kind AIServices) come from the world and are read-only here; their model deployments
are made, changed and deleted through long-running operations (Azure-AsyncOperation, polled at
the region's operationResults). Azure refuses a write while another write on the same account
is running (RequestConflict); a partner model's Marketplace purchase is refused only when the
deployment's operation ends. The rules are foundry.py's.
"""
from __future__ import annotations

from typing import Any, Optional

from . import foundry, operations, rbac
from .common import arm_base, json_body, modified, now_iso, paged, poll_headers, require_registered, require_subscription, system_data
from .foundry import ACCOUNT_TYPE, CS, DEPLOYMENT_TYPE
from .models import FoundryDeployment, Operation, new_key
from .store import State
from .wire import Request, Response, arm_error, resource_not_found
from .worldmodel import FoundryAccount, FoundryModel, gen_id

_CREATED = {"createdAt": "2025-06-01T09:00:00.000Z", "createdBy": "admin@contoso.onmicrosoft.com", "createdByType": "User",
            "lastModifiedAt": "2025-06-01T09:00:00.000Z", "lastModifiedBy": "admin@contoso.onmicrosoft.com", "lastModifiedByType": "User"}


def render_account(state: State, a: FoundryAccount) -> dict[str, Any]:
    services, openai, cognitive = (f"https://{a.subdomain}.{host}.azure.com/" for host in ("services.ai", "openai", "cognitiveservices"))
    endpoints = {"AI Foundry API": services, "Azure AI Model Inference API": services, "OpenAI Language Model Instance API": openai,
                 "Content Safety": cognitive, "Token Service API": f"https://{a.subdomain}.cognitiveservices.azure.com/sts/v1.0/"}
    props: dict[str, Any] = {
        "provisioningState": "Succeeded", "customSubDomainName": a.subdomain, "endpoint": cognitive, "endpoints": endpoints,
        "internalId": gen_id(a.id.lower()).replace("-", ""), "dateCreated": _CREATED["createdAt"], "allowProjectManagement": True,
        "publicNetworkAccess": "Enabled", "disableLocalAuth": a.disable_local_auth, "networkAcls": {"defaultAction": "Allow", "ipRules": [], "virtualNetworkRules": []},
    }
    return {"id": a.id, "name": a.name, "type": ACCOUNT_TYPE, "location": a.location, "kind": "AIServices", "sku": {"name": "S0"}, "tags": {},
            "etag": f'"{gen_id(a.id.lower(), "etag")}"', "systemData": dict(_CREATED), "properties": props,
            "identity": {"type": "SystemAssigned", "principalId": gen_id(a.id.lower(), "identity"), "tenantId": state.world.tenant_id}}


def render_deployment(state: State, req: Optional[Request], d: FoundryDeployment) -> dict[str, Any]:
    model = foundry.entry(state, d.model_format, d.model_name, d.model_version)
    props: dict[str, Any] = {
        "model": {"format": d.model_format, "name": d.model_name, "version": d.model_version}, "provisioningState": d.provisioning_state,
        "versionUpgradeOption": d.version_upgrade_option, "raiPolicyName": d.rai_policy_name, "currentCapacity": d.capacity,
        "capabilities": dict(model.capabilities) if model else {},
        "rateLimits": [{"key": "request", "renewalPeriod": 60, "count": state.config.inference_rpm},
                       {"key": "token", "renewalPeriod": 60, "count": state.config.inference_tpm}],
    }
    if req is not None and (req.api_version or "") >= "2025-10":
        props.update(deploymentState="Running", serviceTier="Default")
    return {"id": d.id, "name": d.name, "type": DEPLOYMENT_TYPE, "sku": {"name": d.sku_name, "capacity": d.capacity}, "tags": dict(d.tags),
            "systemData": dict(d.system_data), "etag": f'"{gen_id(d.id.lower(), d.system_data["lastModifiedAt"])}"', "properties": props}


def render_model(m: FoundryModel, location: str) -> dict[str, Any]:
    """An entry of an account's or a region's model list (the skus offered in that region only)."""
    default, minimum, maximum = m.capacity
    skus = [{"name": sku, "usageName": m.usage_name(sku), "capacity": {"default": default, "minimum": minimum, "maximum": maximum, "step": 1},
             "rateLimits": []} for sku, regions in m.skus.items() if location in regions]
    return {"format": m.format, "name": m.name, "version": m.version, "publisher": m.publisher, "isDefaultVersion": m.default,
            "lifecycleStatus": m.lifecycle, "maxCapacity": maximum, "capabilities": dict(m.capabilities), "skus": skus,
            "modelCatalogAssetId": f"azureml://registries/azureml-mistral/models/{m.name}/versions/{m.version}",
            "deprecation": {"inference": "2099-12-31T00:00:00Z"}, "systemData": dict(_CREATED)}


def _account(state: State, req: Request, sub: str, rg: str, name: str, action: str, scope_suffix: str = "") -> FoundryAccount:
    """The account, once it exists, its provider is registered and the caller may do `action` on it
    (or on `scope_suffix` beneath it)."""
    account = foundry.require_account(state, sub, rg, name)
    require_registered(state, sub, CS)
    rbac.require(state.world, req.principal, [(f"{CS}/{action}", account.id + scope_suffix)])
    return account


def list_accounts(state: State, req: Request, sub: str, rg: Optional[str] = None) -> Response:
    with state.lock:
        require_subscription(state, sub)
        require_registered(state, sub, CS)
        found = [a for (s, r, _), a in sorted(state.world.accounts.items()) if s == sub.lower() and (rg is None or r == rg.lower())
                 and rbac.allowed(state.world, req.principal.object_id, f"{ACCOUNT_TYPE}/read", a.id)]
        return Response(200, paged([render_account(state, a) for a in found], req))


def get_account(state: State, req: Request, sub: str, rg: str, account: str) -> Response:
    with state.lock:
        return Response(200, render_account(state, _account(state, req, sub, rg, account, "accounts/read")))


def list_keys(state: State, req: Request, sub: str, rg: str, account: str) -> Response:
    with state.lock:
        a = _account(state, req, sub, rg, account, "accounts/listKeys/action")
        if a.disable_local_auth:
            raise arm_error("LocalAuthDisabled")
        return Response(200, dict(foundry.keys(state, a)))


def regenerate_key(state: State, req: Request, sub: str, rg: str, account: str) -> Response:
    body = json_body(req)
    with state.lock:
        a = _account(state, req, sub, rg, account, "accounts/regenerateKey/action")
        name = body.get("keyName")
        if not isinstance(name, str) or name.lower() not in ("key1", "key2"):
            raise arm_error("InvalidKeyName", name=str(name)[:100])
        if a.disable_local_auth:
            raise arm_error("LocalAuthDisabled")
        keys = foundry.keys(state, a)
        keys[name.lower()] = new_key()
        state.save()
        return Response(200, dict(keys))


def list_account_models(state: State, req: Request, sub: str, rg: str, account: str) -> Response:
    with state.lock:
        a = _account(state, req, sub, rg, account, "accounts/models/read")
        return Response(200, paged([render_model(m, a.location) for m in state.world.foundry_catalog(a.location)], req))


def list_location_models(state: State, req: Request, sub: str, loc: str) -> Response:
    with state.lock:
        require_subscription(state, sub)
        require_registered(state, sub, CS)
        rbac.require(state.world, req.principal, [(f"{CS}/locations/models/read", f"/subscriptions/{sub.lower()}")])
        location = loc.replace(" ", "").lower()
        items = [{"kind": "AIServices", "skuName": "S0", "model": render_model(m, location)} for m in state.world.foundry_catalog(location)]
        return Response(200, paged(items, req))


# --- deployments -------------------------------------------------------------------------------

def _deployment(state: State, req: Request, a: FoundryAccount, name: str) -> FoundryDeployment:
    """The deployment after its running operations had their poll (a finished delete removes it), or 404."""
    operations.observe_resource(state, f"{a.id}/deployments/{name}")
    found = foundry.deployment(state, a, name)
    if found is None:
        raise resource_not_found(f"{ACCOUNT_TYPE}/{a.name}/deployments", name, a.resource_group)
    return found


def _no_conflict(state: State, a: FoundryAccount) -> None:
    """Azure takes one write at a time per account: another one while it runs is a 409."""
    if operations.running_under(state, a.id) is not None:
        raise arm_error("RequestConflict", parent=a.id)


def _headers(state: State, req: Request, op: Operation, location: Optional[str] = None) -> dict[str, str]:
    base = f"{arm_base(req)}/subscriptions/{op.subscription}/providers/{CS}/locations/{op.location}"
    headers = {"Azure-AsyncOperation": f"{base}/operationResults/{op.id}?api-version={req.api_version}", **poll_headers(state)}
    if location:
        headers["Location"] = location
    return headers


def list_deployments(state: State, req: Request, sub: str, rg: str, account: str) -> Response:
    with state.lock:
        a = _account(state, req, sub, rg, account, "accounts/deployments/read", "/deployments")
        for d in foundry.deployments(state, a):
            operations.observe_resource(state, d.id)
        found = sorted(foundry.deployments(state, a), key=lambda d: d.name.lower())
        return Response(200, paged([render_deployment(state, req, d) for d in found], req, page_size=state.config.registry_page_size))


def get_deployment(state: State, req: Request, sub: str, rg: str, account: str, name: str) -> Response:
    with state.lock:
        a = _account(state, req, sub, rg, account, "accounts/deployments/read", f"/deployments/{name}")
        return Response(200, render_deployment(state, req, _deployment(state, req, a, name)))


def put_deployment(state: State, req: Request, sub: str, rg: str, account: str, name: str) -> Response:
    body = json_body(req)
    with state.lock:
        a = _account(state, req, sub, rg, account, "accounts/deployments/write", f"/deployments/{name}")
        existing = foundry.deployment(state, a, name)
        put = foundry.checked_put(state, a, name, body, existing)
        _no_conflict(state, a)
        foundry.require_quota(state, a, name, put.model, put.sku, put.capacity)
        model = (put.model.format, put.model.name, put.model.version)
        if existing is None:
            d = FoundryDeployment.new(a.subscription, a.resource_group, a.name, a.location, name, model, (put.sku, put.capacity),
                                      system_data(req.principal, now_iso()), tags=put.tags or {}, provisioning_state="Accepted",
                                      rai_policy_name=put.rai_policy or "Microsoft.DefaultV2",
                                      version_upgrade_option=put.upgrade or "OnceNewDefaultVersionAvailable")
            state.resources[d.id.lower()] = d
        else:
            d = existing
            d.model_version, d.sku_name, d.capacity = put.model.version, put.sku, put.capacity
            d.tags = put.tags if put.tags is not None else d.tags
            d.rai_policy_name = put.rai_policy or d.rai_policy_name
            d.version_upgrade_option = put.upgrade or d.version_upgrade_option
            d.system_data = modified(req.principal, d.system_data)
        # A deployment that failed is made again, Marketplace purchase and all.
        kind = "create" if existing is None or existing.provisioning_state == "Failed" else "update"
        d.provisioning_state = "Accepted"
        op = operations.start(state, kind, d, a.location)
        state.save()
        return Response(201 if existing is None else 200, render_deployment(state, req, d), _headers(state, req, op))


def patch_deployment(state: State, req: Request, sub: str, rg: str, account: str, name: str) -> Response:
    """Only `sku` and `tags` change; anything else in the body is not read."""
    body = json_body(req)
    with state.lock:
        a = _account(state, req, sub, rg, account, "accounts/deployments/write", f"/deployments/{name}")
        d = _deployment(state, req, a, name)
        sku, capacity = foundry.sku_of(body["sku"]) if body.get("sku") is not None else (d.sku_name, None)
        tags = foundry.tags_of(body.get("tags"))
        model = foundry.entry(state, d.model_format, d.model_name, d.model_version)
        if model is not None:
            put = foundry.checked_put(state, a, name, {"sku": {"name": sku, "capacity": d.capacity if capacity is None else capacity},
                                                       "properties": {"model": {"format": d.model_format, "name": d.model_name,
                                                                                "version": d.model_version}}}, d)
            sku, capacity = put.sku, put.capacity
        _no_conflict(state, a)
        if model is not None:
            foundry.require_quota(state, a, name, model, sku, capacity or d.capacity)
        d.sku_name, d.capacity = sku, capacity or d.capacity
        d.tags = tags if tags is not None else d.tags
        d.system_data = modified(req.principal, d.system_data)
        d.provisioning_state = "Accepted"
        op = operations.start(state, "update", d, a.location)
        state.save()
        location = f"{arm_base(req)}{d.id}?api-version={req.api_version}"
        return Response(202, render_deployment(state, req, d), _headers(state, req, op, location))


def delete_deployment(state: State, req: Request, sub: str, rg: str, account: str, name: str) -> Response:
    with state.lock:
        a = _account(state, req, sub, rg, account, "accounts/deployments/delete", f"/deployments/{name}")
        d = foundry.deployment(state, a, name)
        if d is None:
            return Response(204)
        op = operations.running(state, d.id)
        if op is None or op.kind != "delete":
            _no_conflict(state, a)
            d.provisioning_state = "Deleting"
            op = operations.start(state, "delete", d, a.location)
            state.save()
        return Response(202, None, _headers(state, req, op))


def operation_result(state: State, req: Request, sub: str, loc: str, op: str) -> Response:
    """The status monitor of a deployment's operation: 200 with its status while it runs and after it
    ended (a failure is the body's `error`, not the HTTP status)."""
    with state.lock:
        operation = state.operations.get(op.lower())
        if operation is None or operation.subscription != sub.lower():
            raise arm_error("NotFound", message=f"Operation '{op}' was not found.")
        operations.observe(state, operation)
        body: dict[str, Any] = {"id": f"/subscriptions/{operation.subscription}/providers/{CS}/locations/{operation.location}/operationResults/{operation.id}",
                                "name": operation.id, "status": operation.status, "startTime": operation.start_time}
        if operation.status != operations.RUNNING:
            body["endTime"] = operation.end_time
        if operation.status == "Failed":
            body["error"] = dict(operation.error or {})
        return Response(200, body, poll_headers(state))
