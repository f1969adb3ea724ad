"""Microsoft.MachineLearningServices/workspaces/serverlessEndpoints: the handlers.

Azure's rules for creating one: one endpoint name per region (across tenants), one deployment
per model per project, the model's regions, and the Marketplace subscription the endpoint needs.
"""
from __future__ import annotations

import re
from typing import Any, Optional

from . import operations, rbac, rules
from .common import accepted_headers, json_body, modified, now_iso, object_of, paged, require_project, require_registered, system_data, tags_of
from .models import ML, ServerlessEndpoint, new_key, workspace_id
from .regions import display
from .store import State
from .wire import Request, Response, arm_error, operation_in_progress, required_field, resource_not_found, user_error
from .worldmodel import Model, Project

SE_TYPE = f"{ML}/workspaces/serverlessEndpoints"
PUT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,51}$")
VERSIONED = re.compile(r"^azureml://registries/([^/]+)/models/([^/]+)/versions/([^/]+)$", re.IGNORECASE)
AUTH_MODES = ("Key", "AAD", "KeyAndAAD")


def render(req: Optional[Request], ep: ServerlessEndpoint) -> dict[str, Any]:
    props: dict[str, Any] = {
        "authMode": ep.auth_mode,
        "modelSettings": {"modelId": ep.model_id},
        "inferenceEndpoint": {"uri": ep.uri, "headers": {}},
        "provisioningState": ep.provisioning_state,
        "endpointState": ep.endpoint_state,
        "marketplaceSubscriptionId": ep.marketplace_subscription_id,
        "contentSafety": {"contentSafetyStatus": ep.content_safety},
    }
    if req is not None and req.api_version and req.api_version < "2024-04-01":
        props.pop("contentSafety")  # 2024-01-01-preview has no contentSafety
    return {"id": ep.id, "name": ep.name, "type": SE_TYPE, "location": ep.location, "tags": dict(ep.tags), "sku": {"name": "Consumption"},
            "systemData": dict(ep.system_data), "properties": props}


def project_for(state: State, req: Request, sub: str, rg: str, ws: str, action: str) -> Project:
    """The project a child-resource request is for, once it exists, its provider is registered
    and the caller may do `action` on it."""
    p = require_project(state, sub, rg, ws)
    require_registered(state, sub, ML)
    rbac.require(state.world, req.principal, [(action, workspace_id(p.subscription, p.resource_group, p.name))])
    return p


def _endpoint(state: State, req: Request, sub: str, rg: str, ws: str, name: str, verb: str) -> ServerlessEndpoint:
    """The endpoint after its running operations had their poll (a finished delete removes it), or 404."""
    p = project_for(state, req, sub, rg, ws, f"{SE_TYPE}/{verb}")
    rid = f"{workspace_id(p.subscription, p.resource_group, p.name)}/serverlessEndpoints/{name}"
    operations.observe_resource(state, rid)
    found = rules.find(state, ServerlessEndpoint, rid)
    if found is None:
        raise resource_not_found(f"{ML}/workspaces/{p.name}/serverlessEndpoints", name, p.resource_group)
    return found


def list_endpoints(state: State, req: Request, sub: str, rg: str, ws: str) -> Response:
    with state.lock:
        p = project_for(state, req, sub, rg, ws, f"{SE_TYPE}/read")
        found = operations.observed_children(state, ServerlessEndpoint, p.subscription, p.resource_group, p.name)
        return Response(200, paged([render(req, ep) for ep in found], req))


def get_endpoint(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    with state.lock:
        return Response(200, render(req, _endpoint(state, req, sub, rg, ws, name, "read")))


def catalog_model(state: State, model_id: str) -> Model:
    if VERSIONED.match(model_id):
        raise user_error(f"The model id {model_id} pins a version. Serverless API endpoints always deploy the latest version: remove "
                         "'/versions/...'.", "ServerlessModelVersionNotSupported")
    model = state.world.model(model_id)
    if model is None:
        raise user_error(f"The model {model_id} was not found in the model catalog.", "ServerlessModelNotFound")
    return model


def _checked_put(name: str, body: dict[str, Any]) -> tuple[str, str, str, Optional[str]]:
    """(location, model id, auth mode, content safety) of a PUT body, or Azure's 400."""
    props = object_of(body.get("properties"), "properties")
    if not PUT_NAME.match(name):
        raise user_error(f"Serverless endpoint name '{name}' is invalid: it must start with a letter and contain only letters, digits and "
                         "hyphens, at most 52 characters (^[a-zA-Z][a-zA-Z0-9-]{0,51}$).", "InvalidServerlessEndpointName")
    location = str(body.get("location") or "").replace(" ", "").lower()
    if not location:
        raise arm_error("LocationRequired")
    model_id = str(object_of(props.get("modelSettings"), "properties.modelSettings").get("modelId") or "").strip()
    if not model_id:
        offer = props.get("offer")
        if offer:
            raise user_error(f"Serverless offer '{offer.get('offerName')}' not found in service namespace '{offer.get('publisher')}'.", "ServerlessOfferNotFound", 404)
        raise required_field("properties.modelSettings.modelId")
    auth_mode = props.get("authMode") or "Key"
    if auth_mode not in AUTH_MODES:
        raise user_error(f"authMode '{auth_mode}' is not one of Key, AAD, KeyAndAAD.", "InvalidAuthMode")
    safety = object_of(props.get("contentSafety"), "properties.contentSafety").get("contentSafetyStatus") or None
    if safety is not None and safety not in ("Enabled", "Disabled"):
        raise user_error(f"contentSafetyStatus '{safety}' is not one of Enabled, Disabled.", "InvalidContentSafetyStatus")
    return location, model_id, auth_mode, safety


def put_endpoint(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    body = json_body(req)
    with state.lock:
        p = project_for(state, req, sub, rg, ws, f"{SE_TYPE}/write")
        location, model_id, auth_mode, safety = _checked_put(name, body)
        tags = None if body.get("tags") is None else tags_of(body["tags"])
        existing = rules.find(state, ServerlessEndpoint, f"{workspace_id(p.subscription, p.resource_group, p.name)}/serverlessEndpoints/{name}")
        if existing is not None:
            return _update(state, req, existing, model_id, location, tags, safety, auth_mode)
        if location != p.location:
            raise user_error(f"The serverless endpoint location '{location}' must be the location of workspace '{p.name}' ({p.location}).", "LocationMismatch")
        model = catalog_model(state, model_id)
        rules.require_deployable(model)
        _require_available(state, p, model, location, name)
        msub_id = None
        if not model.microsoft:
            msub = rules.subscription_for(state, p.subscription, p.resource_group, p.name, model.id)
            if msub is None:
                raise user_error(f"Project '{p.name}' has no Marketplace subscription to the offer '{model.offer}' of {model.id}. Create the "
                                 "workspaces/marketplaceSubscriptions resource for this model first.", "MarketplaceSubscriptionNotFound")
            msub_id = msub.id
        ep = ServerlessEndpoint.new(
            p.subscription, p.resource_group, p.name, location, name, model.id if model.id.lower() == model_id.lower() else model_id,
            system_data(req.principal, now_iso()), tags=tags or {}, auth_mode=auth_mode, content_safety=safety or "Enabled",
            marketplace_subscription_id=msub_id,
        )
        state.resources[ep.id.lower()] = ep
        op = operations.start(state, "create", ep, location)
        state.save()
        return Response(201, render(req, ep), accepted_headers(state, req, op))


def _require_available(state: State, p: Project, model: Model, location: str, name: str) -> None:
    # Names are unique per region, across every tenant: taken by an endpoint here, or by one of
    # another tenant (the world's reserved names), the answer is the same.
    taken = state.world.name_reserved(location, name) or any(
        isinstance(other, ServerlessEndpoint) and other.name.lower() == name.lower() and other.location == location
        for other in state.resources.values()
    )
    if taken:
        raise user_error(f"Serverless endpoint name '{name}' is not available. Please select a different name.", "ServerlessEndpointNameNotAvailable")
    if location not in model.regions:
        raise user_error(f"The requested model {model.id} is not available in region {display(location)}.", "ServerlessModelNotAvailableInRegion")
    for other in rules.children(state, ServerlessEndpoint, p.subscription, p.resource_group, p.name):
        if other.model_id.lower() == model.id.lower() and other.provisioning_state != "Deleting":
            raise user_error(f"Only one deployment per model per project is supported: serverless endpoint '{other.name}' already deploys "
                             f"{model.id} in project '{p.name}'.", "ServerlessEndpointModelAlreadyDeployed", 409)


def _update(state: State, req: Request, ep: ServerlessEndpoint, model_id: str, location: str, tags: Optional[dict[str, str]], safety: Optional[str], auth_mode: str) -> Response:
    if ep.model_id.lower() != model_id.lower():
        raise user_error(f"The model of serverless endpoint '{ep.name}' is {ep.model_id}; it cannot be changed. Delete the endpoint and create it again.",
                         "ServerlessEndpointModelImmutable")
    if location != ep.location:
        raise user_error(f"The location of serverless endpoint '{ep.name}' is {ep.location}; it cannot be changed.", "LocationMismatch")
    rules.not_deleting(ep, "Serverless endpoint")
    running = operations.running(state, ep.id)
    if tags is not None:
        ep.tags = tags
    if safety is not None:
        ep.content_safety = safety
    ep.auth_mode = auth_mode
    ep.system_data = modified(req.principal, ep.system_data)
    if running is not None:
        return Response(201, render(req, ep), accepted_headers(state, req, running))
    if ep.provisioning_state == "Failed":
        ep.provisioning_state = ep.endpoint_state = "Creating"
        op = operations.start(state, "create", ep, ep.location)
        status = 201
    else:
        ep.provisioning_state = "Updating"
        op = operations.start(state, "update", ep, ep.location)
        status = 200
    state.save()
    return Response(status, render(req, ep), accepted_headers(state, req, op))


def patch_endpoint(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    body = json_body(req)
    with state.lock:
        ep = _endpoint(state, req, sub, rg, ws, name, "write")
        if ep.provisioning_state in ("Creating", "Updating", "Deleting"):
            raise operation_in_progress("Serverless endpoint", ep.name, ep.provisioning_state)
        if body.get("tags") is not None:
            ep.tags = tags_of(body["tags"])
        ep.system_data = modified(req.principal, ep.system_data)
        ep.provisioning_state = "Updating"
        op = operations.start(state, "update", ep, ep.location)
        state.save()
        return Response(202, None, accepted_headers(state, req, op, with_location=True))


def delete_endpoint(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    with state.lock:
        p = project_for(state, req, sub, rg, ws, f"{SE_TYPE}/delete")
        ep = rules.find(state, ServerlessEndpoint, f"{workspace_id(p.subscription, p.resource_group, p.name)}/serverlessEndpoints/{name}")
        if ep is None:
            return Response(204)
        op = operations.running(state, ep.id)
        if op is None or op.kind != "delete":
            ep.provisioning_state = ep.endpoint_state = "Deleting"
            op = operations.start(state, "delete", ep, ep.location)
            state.save()
        return Response(202, None, accepted_headers(state, req, op, with_location=True))


def list_keys(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    with state.lock:
        return Response(200, dict(_endpoint(state, req, sub, rg, ws, name, "listKeys/action").keys))


def regenerate_keys(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    body = json_body(req)
    with state.lock:
        ep = _endpoint(state, req, sub, rg, ws, name, "regenerateKeys/action")
        key_type = str(body.get("keyType") or "")
        if key_type.lower() not in ("primary", "secondary"):
            raise user_error(f"keyType '{key_type}' is not one of Primary, Secondary.", "InvalidKeyType")
        field = "primaryKey" if key_type.lower() == "primary" else "secondaryKey"
        value = body.get("keyValue")
        # The SDK sends the *current* key as keyValue; a value equal to the current key asks for a fresh one.
        ep.keys[field] = value if value and value != ep.keys[field] else new_key()
        state.save()
        return Response(200, dict(ep.keys))
