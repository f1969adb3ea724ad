"""Microsoft.MachineLearningServices/workspaces/marketplaceSubscriptions: the handlers.

Subscribing a project to a model's offer accepts the offer's terms (MarketplaceOrdering, at the
subscription) and makes a SaaS resource in the project's resource group; one subscription per
offer per project; Microsoft-sold models need none.
"""
from __future__ import annotations

import re
from typing import Any

from . import operations, rbac, rules
from .common import accepted_headers, json_body, now_iso, object_of, paged, require_registered, system_data
from .models import ML, MarketplaceSubscription, workspace_id
from .serverless import catalog_model, project_for
from .store import State
from .wire import Request, Response, arm_error, required_field, resource_not_found, user_error

MS_TYPE = f"{ML}/workspaces/marketplaceSubscriptions"
SUB_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$")


def render(state: State, req: Request | None, msub: MarketplaceSubscription) -> dict[str, Any]:
    model = state.world.model(msub.model_id)
    plan = {"publisherId": model.publisher if model else "", "offerId": model.offer if model else "", "planId": model.plan if model else ""}
    return {
        "id": msub.id,
        "name": msub.name,
        "type": MS_TYPE,
        "systemData": dict(msub.system_data),
        "properties": {"modelId": msub.model_id, "marketplacePlan": plan, "marketplaceSubscriptionStatus": msub.status,
                       "provisioningState": msub.provisioning_state},
    }


def _rid(sub: str, rg: str, ws: str, name: str) -> str:
    return f"{workspace_id(sub, rg, ws)}/marketplaceSubscriptions/{name}"


def list_subscriptions(state: State, req: Request, sub: str, rg: str, ws: str) -> Response:
    with state.lock:
        p = project_for(state, req, sub, rg, ws, f"{MS_TYPE}/read")
        found = operations.observed_children(state, MarketplaceSubscription, p.subscription, p.resource_group, p.name)
        return Response(200, paged([render(state, req, m) for m in found], req))


def get_subscription(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    with state.lock:
        p = project_for(state, req, sub, rg, ws, f"{MS_TYPE}/read")
        rid = _rid(p.subscription, p.resource_group, p.name, name)
        operations.observe_resource(state, rid)
        msub = rules.find(state, MarketplaceSubscription, rid)
        if msub is None:
            raise resource_not_found(f"{ML}/workspaces/{p.name}/marketplaceSubscriptions", name, p.resource_group)
        return Response(200, render(state, req, msub))


def put_subscription(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    body = json_body(req)
    with state.lock:
        p = project_for(state, req, sub, rg, ws, f"{MS_TYPE}/write")
        wid = workspace_id(p.subscription, p.resource_group, p.name)
        if not SUB_NAME.match(name):
            raise user_error(f"Marketplace subscription name '{name}' is invalid: it must match ^[a-zA-Z0-9][a-zA-Z0-9\\-_]{{0,254}}$.",
                             "InvalidMarketplaceSubscriptionName")
        model_id = str(object_of(body.get("properties"), "properties").get("modelId") or "").strip()
        if not model_id:
            raise required_field("properties.modelId")
        model = catalog_model(state, model_id)
        if model.microsoft:
            raise user_error(f"The model {model_id} is sold by Microsoft and does not need a Marketplace subscription.", "MarketplaceSubscriptionNotRequired")
        existing = rules.find(state, MarketplaceSubscription, _rid(p.subscription, p.resource_group, p.name, name))
        if existing is None or existing.provisioning_state == "Failed":  # a new purchase (a failed one is retried)
            rules.require_deployable(model)
        if existing is not None and existing.model_id.lower() != model_id.lower():
            raise user_error(f"Marketplace subscription '{existing.name}' is for model {existing.model_id}; its modelId cannot be changed.",
                             "MarketplaceSubscriptionModelImmutable")
        if existing is not None:
            rules.not_deleting(existing, "Marketplace subscription")
        else:
            for other in rules.children(state, MarketplaceSubscription, p.subscription, p.resource_group, p.name):
                if rules.offer_of(state, other.model_id) == model.offer.lower() and other.provisioning_state != "Failed":
                    raise user_error(f"Project '{p.name}' is already subscribed to the offer of {model_id} through Marketplace subscription "
                                     f"'{other.name}'.", "MarketplaceSubscriptionAlreadyExists")
        _require_linked(state, req, f"{MS_TYPE}/write", wid, [
            ("Microsoft.MarketplaceOrdering/agreements/offers/plans/sign/action", f"/subscriptions/{p.subscription}"),
            ("Microsoft.SaaS/resources/write", f"/subscriptions/{p.subscription}/resourceGroups/{p.resource_group}"),
        ])
        require_registered(state, sub, "Microsoft.SaaS")
        if existing is not None and existing.provisioning_state == "Succeeded":
            return Response(200, render(state, req, existing))
        running = operations.running(state, existing.id) if existing is not None else None
        if existing is not None and running is not None and existing.provisioning_state in ("Creating", "Updating"):
            return Response(201, render(state, req, existing), accepted_headers(state, req, running))
        created = existing.system_data["createdAt"] if existing else now_iso()
        msub = MarketplaceSubscription.new(p.subscription, p.resource_group, p.name, name, model.id if model_id.lower() == model.id.lower() else model_id,
                                           model.offer, system_data(req.principal, created))
        state.resources[msub.id.lower()] = msub
        op = operations.start(state, "create", msub, p.location)
        state.save()
        return Response(201, render(state, req, msub), accepted_headers(state, req, op))


def delete_subscription(state: State, req: Request, sub: str, rg: str, ws: str, name: str) -> Response:
    with state.lock:
        p = project_for(state, req, sub, rg, ws, f"{MS_TYPE}/delete")
        msub = rules.find(state, MarketplaceSubscription, _rid(p.subscription, p.resource_group, p.name, name))
        if msub is None:
            return Response(204)
        op = operations.running(state, msub.id)
        if op is None or op.kind != "delete":
            msub.provisioning_state = "Deleting"
            op = operations.start(state, "delete", msub, p.location)
            state.save()
        return Response(202, None, accepted_headers(state, req, op, with_location=True))


def _require_linked(state: State, req: Request, action: str, scope: str, linked: list[tuple[str, str]]) -> None:
    """ARM's linked authorization: the actions the write makes elsewhere need the caller's rights there too."""
    for linked_action, linked_scope in linked:
        if not rbac.allowed(state.world, req.principal.object_id, linked_action, linked_scope):
            raise arm_error("LinkedAuthorizationFailed", client=req.principal.display, object_id=req.principal.object_id, action=action,
                            scope=scope, linked_action=linked_action, linked_scope=linked_scope)
