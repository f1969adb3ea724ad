"""Microsoft.MachineLearningServices: workspaces, marketplaceSubscriptions, serverlessEndpoints, operations.

Azure's rules for serverless (MaaS) deployments live here: one endpoint name per region,
one deployment per model per project, the model's regions, the Marketplace subscription an
endpoint needs, Marketplace purchase eligibility, and what deleting a subscription does.
"""
from __future__ import annotations

import re
import secrets
import time
from typing import Any, Optional

from . import rbac
from .arm import arm_base, now_iso, paged, require_project, require_registered, require_workspace, system_data
from .regions import display
from .routes import WS, SUB, router
from .store import Operation, State
from .wire import ArmError, Request, Response, resource_not_found, user_error
from .world import Hub, Model, Project, gen_id

NS = "Microsoft.MachineLearningServices"
SE_TYPE = f"{NS}/workspaces/serverlessEndpoints"
MS_TYPE = f"{NS}/workspaces/marketplaceSubscriptions"
SAAS_TYPE = "Microsoft.SaaS/resources"
PUT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,51}$")
SUB_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$")
VERSIONED = re.compile(r"^azureml://registries/([^/]+)/models/([^/]+)/versions/([^/]+)$", re.IGNORECASE)


def ws_id(sub: str, rg: str, ws: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{NS}/workspaces/{ws}"


def _key() -> str:
    return secrets.token_hex(16)  # "a 32-character string", as the docs describe the keys


# --- workspaces --------------------------------------------------------------------------------

def workspace_body(state: State, w: Project | Hub) -> dict[str, Any]:
    wid = ws_id(w.subscription, w.resource_group, w.name)
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
        props["hubResourceId"] = ws_id(w.subscription, w.resource_group, w.hub)
    else:
        kind = "Hub"
        props["associatedWorkspaces"] = [ws_id(w.subscription, w.resource_group, p) for p in w.projects]
        props["workspaceHubConfig"] = {"defaultWorkspaceResourceGroup": f"/subscriptions/{w.subscription}/resourceGroups/{w.resource_group}"}
        props["storageAccount"] = f"/subscriptions/{w.subscription}/resourceGroups/{w.resource_group}/providers/Microsoft.Storage/storageAccounts/st{w.name.replace('-', '')[:20]}"
        props["keyVault"] = f"/subscriptions/{w.subscription}/resourceGroups/{w.resource_group}/providers/Microsoft.KeyVault/vaults/kv-{w.name[:18]}"
    return {
        "id": wid,
        "name": w.name,
        "type": f"{NS}/workspaces",
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


@router.add("GET", WS, "mls", "workspaces")
def get_workspace(state: State, req: Request, sub: str, rg: str, ws: str) -> Response:
    with state.lock:
        w = require_workspace(state, sub, rg, ws)
        require_registered(state, sub, NS)
        rbac.require(state.world, req.principal, [(f"{NS}/workspaces/read", ws_id(w.subscription, w.resource_group, w.name))])
        return Response(200, workspace_body(state, w))


@router.add("GET", r"/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.machinelearningservices/workspaces", "mls", "workspaces")
def list_workspaces(state: State, req: Request, sub: str, rg: str) -> Response:
    from .arm import require_resource_group

    with state.lock:
        require_resource_group(state, sub, rg)
        require_registered(state, sub, NS)
        items = [
            workspace_body(state, w)
            for table in (state.world.hubs, state.world.projects)
            for (s, r, _), w in table.items()
            if s == sub.lower() and r == rg.lower() and rbac.allowed(state.world, req.principal.object_id, f"{NS}/workspaces/read", ws_id(s, w.resource_group, w.name))
        ]
        return Response(200, paged(items, req))


@router.add("GET", SUB + r"/providers/microsoft\.machinelearningservices/workspaces", "mls", "workspaces")
def list_subscription_workspaces(state: State, req: Request, sub: str) -> Response:
    """Every hub and project of the subscription the caller may read (as the resource-group list filters)."""
    from .arm import require_subscription

    with state.lock:
        require_subscription(state, sub)
        require_registered(state, sub, NS)
        items = [
            workspace_body(state, w)
            for table in (state.world.hubs, state.world.projects)
            for (s, _, _), w in table.items()
            if s == sub.lower() and rbac.allowed(state.world, req.principal.object_id, f"{NS}/workspaces/read", ws_id(s, w.resource_group, w.name))
        ]
        items.sort(key=lambda body: body["id"].lower())
        return Response(200, paged(items, req))


# --- shared record helpers -----------------------------------------------------------------

def _children(state: State, kind: str, sub: str, rg: str, ws: str) -> list[dict[str, Any]]:
    prefix = ws_id(sub, rg, ws).lower() + "/"
    return [r for rid, r in state.resources.items() if r["kind"] == kind and rid.startswith(prefix)]


def _find(state: State, kind: str, sub: str, rg: str, ws: str, name: str) -> Optional[dict[str, Any]]:
    type_seg = "serverlessEndpoints" if kind == "serverlessEndpoints" else "marketplaceSubscriptions"
    return state.resources.get(f"{ws_id(sub, rg, ws)}/{type_seg}/{name}".lower())


def _op_headers(state: State, req: Request, op: Operation, with_location: bool = False) -> dict[str, str]:
    base = arm_base(req)
    api = req.api_version
    headers = {
        "Azure-AsyncOperation": f"{base}/subscriptions/{op.subscription}/providers/{NS}/locations/{op.location}/mfeOperationsStatus/{op.id}?api-version={api}",
        "x-ms-async-operation-timeout": "PT1H",
        **_poll_headers(state),
    }
    if with_location:
        headers["Location"] = f"{base}/subscriptions/{op.subscription}/providers/{NS}/locations/{op.location}/mfeOperationResults/{op.id}?api-version={api}"
    return headers


def settle(state: State, op: Operation) -> None:
    """Apply the effect of an operation that has reached its end. Caller holds the lock."""
    if op.status != "InProgress" or not state.ready(op):
        return
    op.ended = time.monotonic()
    record = state.resources.get(op.resource_id)
    if op.kind in ("create", "update") and record is not None and record["kind"] == "marketplaceSubscriptions" and op.error is None:
        op.error = _purchase_refusal(state, record)
    if op.error is not None:
        op.status = "Failed"
        if record is not None:
            record["provisioningState"] = "Failed"
            if record["kind"] == "serverlessEndpoints":
                record["endpointState"] = "CreationFailed" if op.kind == "create" else ("DeletionFailed" if op.kind == "delete" else record["endpointState"])
            if record["kind"] == "marketplaceSubscriptions" and op.kind == "create":
                record["status"] = "Unsubscribed"
        state.save()
        return
    op.status = "Succeeded"
    if record is None:
        return
    if op.kind == "delete":
        del state.resources[op.resource_id]
        if record["kind"] == "marketplaceSubscriptions":
            after_unsubscribe(state, record)
    elif record["kind"] == "serverlessEndpoints":
        record["provisioningState"] = "Succeeded"
        record["endpointState"] = "Online" if _subscription_for(state, record) is not None or _model_is_microsoft(state, record) else "Suspended"
    elif record["kind"] == "marketplaceSubscriptions":
        record["provisioningState"] = "Succeeded"
        record["status"] = "Subscribed"
        _after_subscribe(state, record)
    state.save()


def advance(state: State, resource_id: str) -> None:
    """A read of the resource counts as a poll of its running operations (so an abandoned
    operation still finishes, as Azure's would)."""
    for op in list(state.operations.values()):
        if op.resource_id == resource_id.lower() and op.status == "InProgress":
            op.polls += 1
            settle(state, op)


def _project_for(state: State, req: Request, sub: str, rg: str, ws: str, action: str) -> tuple[Project, str]:
    """The project a child-resource request is for, once it exists, its provider is registered
    and the caller may do `action` on it; with the project's ARM id."""
    p = require_project(state, sub, rg, ws)
    require_registered(state, sub, NS)
    wid = ws_id(p.subscription, p.resource_group, p.name)
    rbac.require(state.world, req.principal, [(action, wid)])
    return p, wid


def _settled_children(state: State, kind: str, p: Project) -> list[dict[str, Any]]:
    """The project's resources of a kind, by name, after their running operations had their poll."""
    for r in _children(state, kind, p.subscription, p.resource_group, p.name):
        advance(state, r["id"])
    return sorted(_children(state, kind, p.subscription, p.resource_group, p.name), key=lambda r: r["name"].lower())


def _settled_record(state: State, kind: str, p: Project, name: str) -> dict[str, Any]:
    """One resource after its running operations had their poll (a finished delete removes it), or 404."""
    record = _find(state, kind, p.subscription, p.resource_group, p.name, name)
    if record is not None:
        advance(state, record["id"])
        record = _find(state, kind, p.subscription, p.resource_group, p.name, name)
    if record is None:
        raise resource_not_found(f"{NS}/workspaces/{p.name}/{kind}", name, p.resource_group)
    return record


def _model_is_microsoft(state: State, record: dict[str, Any]) -> bool:
    model = state.world.model(record["modelId"])
    return bool(model and model.microsoft)


def _offer_of(state: State, model_id: str) -> Optional[str]:
    model = state.world.model(model_id)
    return model.offer.lower() if model else None


def _subscription_for(state: State, endpoint: dict[str, Any]) -> Optional[dict[str, Any]]:
    offer = _offer_of(state, endpoint["modelId"])
    for sub in _children(state, "marketplaceSubscriptions", endpoint["subscription"], endpoint["resourceGroup"], endpoint["workspace"]):
        if _offer_of(state, sub["modelId"]) == offer and sub["provisioningState"] == "Succeeded" and sub["status"] == "Subscribed":
            return sub
    return None


def _purchase_refusal(state: State, record: dict[str, Any]) -> Optional[dict[str, str]]:
    sub = state.world.subscriptions[record["subscription"]]
    model = state.world.model(record["modelId"])
    prefix = "Error occurred when subscribing to Marketplace: "
    if sub.billing_country not in state.world.eligible_countries:
        return {
            "code": "UserError",
            "message": prefix + f"Cannot fetch offer information for offer '{model.offer if model else ''}'. "
            f"AvailabilityNotInRegion: Product is not available in region: {sub.billing_country}",
        }
    if not sub.payment_method:
        return {
            "code": "UserError",
            "message": prefix + "Marketplace Subscription purchase eligibility check failed, error message [Purchase failed because "
            "there is no valid payment method associated with this Azure subscription. Add a valid payment method and try again.]",
        }
    if sub.marketplace_purchases == "forbidden":
        return {
            "code": "UserError",
            "message": prefix + "Marketplace Subscription purchase eligibility check failed, error message [The enrollment for this "
            "subscription doesn't allow purchase of marketplace products. Ask your enrollment administrator to enable Azure Marketplace purchases.]",
        }
    return None


def _saas_id(record: dict[str, Any]) -> str:
    return f"/subscriptions/{record['subscription']}/resourceGroups/{record['resourceGroup']}/providers/{SAAS_TYPE}/{record['saasName']}"


def _after_subscribe(state: State, record: dict[str, Any]) -> None:
    model = state.world.model(record["modelId"])
    sid = _saas_id(record)
    state.resources[sid.lower()] = {
        "kind": "saas",
        "id": sid,
        "name": record["saasName"],
        "subscription": record["subscription"],
        "resourceGroup": record["resourceGroup"],
        "publisherId": model.publisher if model else "",
        "offerId": model.offer if model else "",
        "planId": model.plan if model else "",
        "status": "Subscribed",
        "createdAt": now_iso(),
        "tags": {},
        "linked": record["id"],
    }
    # An endpoint that was suspended because its subscription had gone comes back.
    for ep in _children(state, "serverlessEndpoints", record["subscription"], record["resourceGroup"], record["workspace"]):
        if ep["endpointState"] == "Suspended" and _offer_of(state, ep["modelId"]) == _offer_of(state, record["modelId"]):
            ep["endpointState"] = "Online"


def after_unsubscribe(state: State, record: dict[str, Any]) -> None:
    state.resources.pop(_saas_id(record).lower(), None)
    # The docs: deleting a model subscription makes its endpoints Unhealthy and unusable.
    for ep in _children(state, "serverlessEndpoints", record["subscription"], record["resourceGroup"], record["workspace"]):
        if _offer_of(state, ep["modelId"]) == _offer_of(state, record["modelId"]) and _subscription_for(state, ep) is None:
            ep["endpointState"] = "Suspended"


# --- operation status monitors -------------------------------------------------------------

_LOC = SUB + r"/providers/microsoft\.machinelearningservices/locations/(?P<loc>[^/]+)"


@router.add("GET", _LOC + r"/mfeoperationsstatus/(?P<op>[^/]+)", "mls", "mfeOperationsStatus")
def operation_status(state: State, req: Request, sub: str, loc: str, op: str) -> Response:
    with state.lock:
        operation = state.operations.get(op.lower())
        if operation is None or operation.subscription != sub.lower():
            raise ArmError(404, "NotFound", f"Operation '{op}' was not found.")
        operation.polls += 1
        settle(state, operation)
        body: dict[str, Any] = {
            "id": f"/subscriptions/{operation.subscription}/providers/{NS}/locations/{operation.location}/mfeOperationsStatus/{operation.id}",
            "name": operation.id,
            "status": operation.status,
            "startTime": now_iso(),
        }
        if operation.status != "InProgress":
            body["endTime"] = now_iso()
        if operation.status == "Failed":
            body["error"] = dict(operation.error or {})
        return Response(200, body, _poll_headers(state))


@router.add("GET", _LOC + r"/mfeoperationresults/(?P<op>[^/]+)", "mls", "mfeOperationResults")
def operation_result(state: State, req: Request, sub: str, loc: str, op: str) -> Response:
    with state.lock:
        operation = state.operations.get(op.lower())
        if operation is None or operation.subscription != sub.lower():
            raise ArmError(404, "NotFound", f"Operation '{op}' was not found.")
        operation.polls += 1
        settle(state, operation)
        if operation.status == "InProgress":
            headers = _poll_headers(state)
            headers["Location"] = f"{arm_base(req)}{req.path}?api-version={req.api_version}"
            return Response(202, None, headers)
        if operation.status == "Failed":
            err = operation.error or {}
            raise ArmError(400, err.get("code", "UserError"), err.get("message", "The operation failed."))
        record = state.resources.get(operation.resource_id)
        if operation.kind == "delete" or record is None:
            return Response(204)
        return Response(200, render(state, req, record))


def _poll_headers(state: State) -> dict[str, str]:
    headers = {"Retry-After": str(state.config.retry_after)}
    if state.config.retry_after_ms is not None:
        headers["retry-after-ms"] = str(state.config.retry_after_ms)
    return headers


# --- rendering -------------------------------------------------------------------------------

def render(state: State, req: Optional[Request], record: dict[str, Any]) -> dict[str, Any]:
    if record["kind"] == "serverlessEndpoints":
        body: dict[str, Any] = {
            "id": record["id"],
            "name": record["name"],
            "type": SE_TYPE,
            "location": record["location"],
            "tags": dict(record["tags"]),
            "sku": {"name": "Consumption"},
            "systemData": record["systemData"],
            "properties": {
                "authMode": record["authMode"],
                "modelSettings": {"modelId": record["modelId"]},
                "inferenceEndpoint": {"uri": record["uri"], "headers": {}},
                "provisioningState": record["provisioningState"],
                "endpointState": record["endpointState"],
                "marketplaceSubscriptionId": record.get("marketplaceSubscriptionId"),
                "contentSafety": {"contentSafetyStatus": record["contentSafety"]},
            },
        }
        if req is not None and req.api_version and req.api_version < "2024-04-01":
            body["properties"].pop("contentSafety")  # 2024-01-01-preview has no contentSafety
        return body
    if record["kind"] == "marketplaceSubscriptions":
        model = state.world.model(record["modelId"])
        return {
            "id": record["id"],
            "name": record["name"],
            "type": MS_TYPE,
            "systemData": record["systemData"],
            "properties": {
                "modelId": record["modelId"],
                "marketplacePlan": {
                    "publisherId": model.publisher if model else "",
                    "offerId": model.offer if model else "",
                    "planId": model.plan if model else "",
                },
                "marketplaceSubscriptionStatus": record["status"],
                "provisioningState": record["provisioningState"],
            },
        }
    raise AssertionError(record["kind"])


# --- marketplace subscriptions -----------------------------------------------------------

_MSUBS = WS + r"/marketplacesubscriptions"


@router.add("GET", _MSUBS, "serverless", "marketplaceSubscriptions")
def list_marketplace_subscriptions(state: State, req: Request, sub: str, rg: str, ws: str) -> Response:
    with state.lock:
        p, _ = _project_for(state, req, sub, rg, ws, f"{MS_TYPE}/read")
        return Response(200, paged([render(state, req, r) for r in _settled_children(state, "marketplaceSubscriptions", p)], req))


@router.add("GET", _MSUBS + r"/(?P<name>[^/]+)", "serverless", "marketplaceSubscriptions")
def get_marketplace_subscription(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    with state.lock:
        p, _ = _project_for(state, req, sub, rg, ws, f"{MS_TYPE}/read")
        return Response(200, render(state, req, _settled_record(state, "marketplaceSubscriptions", p, name)))


@router.add("PUT", _MSUBS + r"/(?P<name>[^/]+)", "serverless", "marketplaceSubscriptions")
def put_marketplace_subscription(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    body = _json_body(req)
    with state.lock:
        p, wid = _project_for(state, req, sub, rg, ws, f"{MS_TYPE}/write")
        if not SUB_NAME.match(name):
            raise user_error(f"Marketplace subscription name '{name}' is invalid: it must match ^[a-zA-Z0-9][a-zA-Z0-9\\-_]{{0,254}}$.", "InvalidMarketplaceSubscriptionName")
        model_id = ((body.get("properties") or {}).get("modelId") or "").strip()
        if not model_id:
            raise ArmError(400, "UserError", "The field properties.modelId is required.", inner_code="RequiredFieldMissing", target="properties.modelId")
        model = _catalog_model(state, model_id)
        if model.microsoft:
            raise user_error(f"The model {model_id} is sold by Microsoft and does not need a Marketplace subscription.", "MarketplaceSubscriptionNotRequired")
        existing = _find(state, "marketplaceSubscriptions", p.subscription, p.resource_group, p.name, name)
        if existing is None or existing["provisioningState"] == "Failed":  # a new purchase (a failed one is retried)
            _require_deployable(model)
        if existing is not None and existing["modelId"].lower() != model_id.lower():
            raise user_error(f"Marketplace subscription '{existing['name']}' is for model {existing['modelId']}; its modelId cannot be changed.", "MarketplaceSubscriptionModelImmutable")
        if existing is not None and existing["provisioningState"] == "Deleting":
            raise ArmError(409, "Conflict", f"Marketplace subscription '{existing['name']}' is being deleted; retry when the deletion has finished.")
        if existing is None:
            for other in _children(state, "marketplaceSubscriptions", p.subscription, p.resource_group, p.name):
                if _offer_of(state, other["modelId"]) == model.offer.lower() and other["provisioningState"] != "Failed":
                    raise user_error(
                        f"Project '{p.name}' is already subscribed to the offer of {model_id} through Marketplace subscription '{other['name']}'.",
                        "MarketplaceSubscriptionAlreadyExists",
                    )
        # Subscribing accepts the offer's terms (MarketplaceOrdering) and creates a SaaS resource.
        _require_linked(state, req, f"{MS_TYPE}/write", wid, [
            ("Microsoft.MarketplaceOrdering/agreements/offers/plans/sign/action", f"/subscriptions/{p.subscription}"),
            ("Microsoft.SaaS/resources/write", f"/subscriptions/{p.subscription}/resourceGroups/{p.resource_group}"),
        ])
        require_registered(state, sub, "Microsoft.SaaS")
        if existing is not None and existing["provisioningState"] in ("Succeeded", "Creating", "Updating"):
            if existing["provisioningState"] == "Succeeded":
                return Response(200, render(state, req, existing))
            op = _running_op(state, existing["id"])
            if op is not None:
                return Response(201, render(state, req, existing), _op_headers(state, req, op))
        rid = f"{wid}/marketplaceSubscriptions/{name}"
        created = existing["systemData"]["createdAt"] if existing else now_iso()
        record = {
            "kind": "marketplaceSubscriptions",
            "id": rid,
            "name": name,
            "subscription": p.subscription,
            "resourceGroup": p.resource_group,
            "workspace": p.name,
            "modelId": model.id if model_id.lower() == model.id.lower() else model_id,
            "status": "PendingFulfillmentStart",
            "provisioningState": "Creating",
            "saasName": f"{model.offer}-{p.name}".lower()[:64],
            "systemData": system_data(req.principal, created),
        }
        state.resources[rid.lower()] = record
        op = state.new_operation("create", rid, "marketplaceSubscriptions", p.location, p.subscription)
        state.save()
        return Response(201, render(state, req, record), _op_headers(state, req, op))


@router.add("DELETE", _MSUBS + r"/(?P<name>[^/]+)", "serverless", "marketplaceSubscriptions")
def delete_marketplace_subscription(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    with state.lock:
        p, _ = _project_for(state, req, sub, rg, ws, f"{MS_TYPE}/delete")
        record = _find(state, "marketplaceSubscriptions", p.subscription, p.resource_group, p.name, name)
        if record is None:
            return Response(204)
        op = _running_op(state, record["id"])
        if op is None or op.kind != "delete":
            record["provisioningState"] = "Deleting"
            op = state.new_operation("delete", record["id"], "marketplaceSubscriptions", p.location, p.subscription)
            state.save()
        return Response(202, None, _op_headers(state, req, op, with_location=True))


def _require_linked(state: State, req: Request, action: str, scope: str, linked: list[tuple[str, str]]) -> None:
    for linked_action, linked_scope in linked:
        if not rbac.allowed(state.world, req.principal.object_id, linked_action, linked_scope):
            raise ArmError(
                403,
                "LinkedAuthorizationFailed",
                f"The client '{req.principal.display}' with object id '{req.principal.object_id}' has permission to perform action "
                f"'{action}' on scope '{scope}'; however, it does not have permission to perform action(s) '{linked_action}' on the "
                f"linked scope(s) '{linked_scope}' (respectively) or the linked scope(s) are invalid.",
            )


def _running_op(state: State, resource_id: str) -> Optional[Operation]:
    for op in state.operations.values():
        if op.resource_id == resource_id.lower() and op.status == "InProgress":
            return op
    return None


def _catalog_model(state: State, model_id: str) -> Model:
    if VERSIONED.match(model_id):
        raise user_error(
            f"The model id {model_id} pins a version. Serverless API endpoints always deploy the latest version: remove '/versions/...'.",
            "ServerlessModelVersionNotSupported",
        )
    model = state.world.model(model_id)
    if model is None:
        raise user_error(f"The model {model_id} was not found in the model catalog.", "ServerlessModelNotFound")
    return model


def _require_deployable(model: Model) -> None:
    """A deprecated or retired model takes no new deployments or subscriptions (a legacy one still does).
    Azure's message is known; its inner code is not: ServerlessModelDeprecated/-Retired are ours."""
    status = model.status()
    if status in ("deprecated", "retired"):
        raise user_error(f"The requested model {model.id} is not available.", "ServerlessModelRetired" if status == "retired" else "ServerlessModelDeprecated")


def _json_body(req: Request) -> dict[str, Any]:
    try:
        body = req.json()
    except (ValueError, UnicodeDecodeError):
        raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: expected an object.")
    return body


# --- serverless endpoints ----------------------------------------------------------------

_SES = WS + r"/serverlessendpoints"


@router.add("GET", _SES, "serverless", "serverlessEndpoints")
def list_endpoints(state: State, req: Request, sub: str, rg: str, ws: str) -> Response:
    with state.lock:
        p, _ = _project_for(state, req, sub, rg, ws, f"{SE_TYPE}/read")
        return Response(200, paged([render(state, req, r) for r in _settled_children(state, "serverlessEndpoints", p)], req))


@router.add("GET", _SES + r"/(?P<name>[^/]+)", "serverless", "serverlessEndpoints")
def get_endpoint(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    with state.lock:
        record = _endpoint(state, req, sub, rg, ws, name, "read")
        return Response(200, render(state, req, record))


def _endpoint(state: State, req: Request, sub: str, rg: str, ws: str, name: str, verb: str) -> dict[str, Any]:
    p, _ = _project_for(state, req, sub, rg, ws, f"{SE_TYPE}/{verb}")
    return _settled_record(state, "serverlessEndpoints", p, name)


@router.add("PUT", _SES + r"/(?P<name>[^/]+)", "serverless", "serverlessEndpoints")
def put_endpoint(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    body = _json_body(req)
    with state.lock:
        p, wid = _project_for(state, req, sub, rg, ws, f"{SE_TYPE}/write")
        props = body.get("properties") or {}
        if not PUT_NAME.match(name):
            raise user_error(
                f"Serverless endpoint name '{name}' is invalid: it must start with a letter and contain only letters, digits and "
                "hyphens, at most 52 characters (^[a-zA-Z][a-zA-Z0-9-]{0,51}$).",
                "InvalidServerlessEndpointName",
            )
        location = str(body.get("location") or "").replace(" ", "").lower()
        if not location:
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        model_id = str(((props.get("modelSettings") or {}).get("modelId")) or "").strip()
        if not model_id:
            if props.get("offer"):
                offer = props["offer"]
                raise user_error(f"Serverless offer '{offer.get('offerName')}' not found in service namespace '{offer.get('publisher')}'.", "ServerlessOfferNotFound", 404)
            raise ArmError(400, "UserError", "The field properties.modelSettings.modelId is required.", inner_code="RequiredFieldMissing", target="properties.modelSettings.modelId")
        auth_mode = props.get("authMode") or "Key"
        if auth_mode not in ("Key", "AAD", "KeyAndAAD"):
            raise user_error(f"authMode '{auth_mode}' is not one of Key, AAD, KeyAndAAD.", "InvalidAuthMode")
        safety = ((props.get("contentSafety") or {}).get("contentSafetyStatus")) or None
        if safety is not None and safety not in ("Enabled", "Disabled"):
            raise user_error(f"contentSafetyStatus '{safety}' is not one of Enabled, Disabled.", "InvalidContentSafetyStatus")
        tags = body.get("tags")
        existing = _find(state, "serverlessEndpoints", p.subscription, p.resource_group, p.name, name)
        if existing is not None:
            return _update_endpoint(state, req, existing, model_id, location, tags, safety, auth_mode)
        if location != p.location:
            raise user_error(f"The serverless endpoint location '{location}' must be the location of workspace '{p.name}' ({p.location}).", "LocationMismatch")
        model = _catalog_model(state, model_id)
        _require_deployable(model)
        # Names are unique per region, across every tenant: taken by an endpoint here, or by one of
        # another tenant (the world's reserved names), the answer is the same.
        taken = state.world.name_reserved(location, name) or any(
            other["kind"] == "serverlessEndpoints" and other["name"].lower() == name.lower() and other["location"] == location
            for other in state.resources.values()
        )
        if taken:
            raise user_error(f"Serverless endpoint name '{name}' is not available. Please select a different name.", "ServerlessEndpointNameNotAvailable")
        if location not in model.regions:
            raise user_error(f"The requested model {model.id} is not available in region {display(location)}.", "ServerlessModelNotAvailableInRegion")
        for other in _children(state, "serverlessEndpoints", p.subscription, p.resource_group, p.name):
            if other["modelId"].lower() == model.id.lower() and other["provisioningState"] != "Deleting":
                raise user_error(
                    f"Only one deployment per model per project is supported: serverless endpoint '{other['name']}' already deploys "
                    f"{model.id} in project '{p.name}'.",
                    "ServerlessEndpointModelAlreadyDeployed",
                    409,
                )
        subscription_id = None
        if not model.microsoft:
            msub = _subscription_for(state, {"modelId": model.id, "subscription": p.subscription, "resourceGroup": p.resource_group, "workspace": p.name})
            if msub is None:
                raise user_error(
                    f"Project '{p.name}' has no Marketplace subscription to the offer '{model.offer}' of {model.id}. Create the "
                    "workspaces/marketplaceSubscriptions resource for this model first.",
                    "MarketplaceSubscriptionNotFound",
                )
            subscription_id = msub["id"]
        rid = f"{wid}/serverlessEndpoints/{name}"
        record = {
            "kind": "serverlessEndpoints",
            "id": rid,
            "name": name,
            "subscription": p.subscription,
            "resourceGroup": p.resource_group,
            "workspace": p.name,
            "location": location,
            "tags": dict(tags or {}),
            "modelId": model.id if model.id.lower() == model_id.lower() else model_id,
            "authMode": auth_mode,
            "contentSafety": safety or "Enabled",
            "provisioningState": "Creating",
            "endpointState": "Creating",
            "marketplaceSubscriptionId": subscription_id,
            "uri": f"https://{name.lower()}.{location}.models.ai.azure.com",
            "keys": {"primaryKey": _key(), "secondaryKey": _key()},
            "systemData": system_data(req.principal, now_iso()),
        }
        state.resources[rid.lower()] = record
        op = state.new_operation("create", rid, "serverlessEndpoints", location, p.subscription)
        state.save()
        return Response(201, render(state, req, record), _op_headers(state, req, op))


def _update_endpoint(state: State, req: Request, record: dict[str, Any], model_id: str, location: str, tags: Any, safety: Optional[str], auth_mode: str) -> Response:
    if record["modelId"].lower() != model_id.lower():
        raise user_error(
            f"The model of serverless endpoint '{record['name']}' is {record['modelId']}; it cannot be changed. Delete the endpoint and create it again.",
            "ServerlessEndpointModelImmutable",
        )
    if location != record["location"]:
        raise user_error(f"The location of serverless endpoint '{record['name']}' is {record['location']}; it cannot be changed.", "LocationMismatch")
    if record["provisioningState"] == "Deleting":
        raise ArmError(409, "Conflict", f"Serverless endpoint '{record['name']}' is being deleted; retry when the deletion has finished.")
    running = _running_op(state, record["id"])
    if tags is not None:
        record["tags"] = dict(tags)
    if safety is not None:
        record["contentSafety"] = safety
    record["authMode"] = auth_mode
    record["systemData"] = system_data(req.principal, record["systemData"]["createdAt"], {"by": record["systemData"]["createdBy"], "type": record["systemData"]["createdByType"]})
    if running is not None:
        return Response(201, render(state, req, record), _op_headers(state, req, running))
    if record["provisioningState"] == "Failed":
        record["provisioningState"] = "Creating"
        record["endpointState"] = "Creating"
        op = state.new_operation("create", record["id"], "serverlessEndpoints", record["location"], record["subscription"])
        state.save()
        return Response(201, render(state, req, record), _op_headers(state, req, op))
    record["provisioningState"] = "Updating"
    op = state.new_operation("update", record["id"], "serverlessEndpoints", record["location"], record["subscription"])
    state.save()
    return Response(200, render(state, req, record), _op_headers(state, req, op))


@router.add("PATCH", _SES + r"/(?P<name>[^/]+)", "serverless", "serverlessEndpoints")
def patch_endpoint(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    body = _json_body(req)
    with state.lock:
        record = _endpoint(state, req, sub, rg, ws, name, "write")
        if record["provisioningState"] in ("Creating", "Updating", "Deleting"):
            raise ArmError(409, "Conflict", f"Serverless endpoint '{record['name']}' has an operation in progress ({record['provisioningState']}); retry when it has finished.")
        if "tags" in body and body["tags"] is not None:
            record["tags"] = dict(body["tags"])
        record["systemData"] = system_data(req.principal, record["systemData"]["createdAt"], {"by": record["systemData"]["createdBy"], "type": record["systemData"]["createdByType"]})
        record["provisioningState"] = "Updating"
        op = state.new_operation("update", record["id"], "serverlessEndpoints", record["location"], record["subscription"])
        state.save()
        return Response(202, None, _op_headers(state, req, op, with_location=True))


@router.add("DELETE", _SES + r"/(?P<name>[^/]+)", "serverless", "serverlessEndpoints")
def delete_endpoint(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    with state.lock:
        p, _ = _project_for(state, req, sub, rg, ws, f"{SE_TYPE}/delete")
        record = _find(state, "serverlessEndpoints", p.subscription, p.resource_group, p.name, name)
        if record is None:
            return Response(204)
        op = _running_op(state, record["id"])
        if op is None or op.kind != "delete":
            record["provisioningState"] = "Deleting"
            record["endpointState"] = "Deleting"
            op = state.new_operation("delete", record["id"], "serverlessEndpoints", record["location"], p.subscription)
            state.save()
        return Response(202, None, _op_headers(state, req, op, with_location=True))


@router.add("POST", _SES + r"/(?P<name>[^/]+)/listkeys", "serverless", "listKeys")
def list_keys(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    with state.lock:
        record = _endpoint(state, req, sub, rg, ws, name, "listKeys/action")
        return Response(200, dict(record["keys"]))


@router.add("POST", _SES + r"/(?P<name>[^/]+)/regeneratekeys", "serverless", "regenerateKeys")
def regenerate_keys(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    body = _json_body(req)
    with state.lock:
        record = _endpoint(state, req, sub, rg, ws, name, "regenerateKeys/action")
        key_type = str(body.get("keyType") or "")
        if key_type.lower() not in ("primary", "secondary"):
            raise ArmError(400, "UserError", f"keyType '{key_type}' is not one of Primary, Secondary.", inner_code="InvalidKeyType", target="keyType")
        field = "primaryKey" if key_type.lower() == "primary" else "secondaryKey"
        value = body.get("keyValue")
        # The SDK sends the *current* key as keyValue; a value equal to the
        # current key asks for a fresh one.
        record["keys"][field] = value if value and value != record["keys"][field] else _key()
        state.save()
        return Response(200, dict(record["keys"]))
