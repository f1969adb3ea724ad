"""Microsoft.Resources and friends: subscriptions, tenants, resource groups, providers,
generic resource listing, and the hidden Microsoft.SaaS resources Marketplace creates."""
from __future__ import annotations

import re
from typing import Any

from . import rbac, rules
from .cognitiveservices import render_account
from .common import paged, require_resource_group, require_subscription
from .models import ML, SAAS_TYPE, SaasResource, ServerlessEndpoint, workspace_id
from .serverless import render as render_endpoint
from .store import State
from .versions import FAMILIES
from .wire import Request, Response, arm_error, resource_not_found
from .workspaces import workspace_body

PROVIDER_TYPES = {
    "microsoft.machinelearningservices": (ML, ["workspaces", "workspaces/serverlessEndpoints", "workspaces/marketplaceSubscriptions", "locations/mfeOperationsStatus", "locations/mfeOperationResults"]),
    "microsoft.cognitiveservices": ("Microsoft.CognitiveServices", ["accounts", "accounts/deployments", "accounts/models", "locations/models",
                                                                     "locations/operationResults"]),
    "microsoft.saas": ("Microsoft.SaaS", ["resources", "saasresources", "operations"]),
    "microsoft.marketplaceordering": ("Microsoft.MarketplaceOrdering", ["agreements", "offerTypes"]),
    "microsoft.authorization": ("Microsoft.Authorization", ["roleAssignments", "roleDefinitions", "permissions"]),
    "microsoft.resources": ("Microsoft.Resources", ["resourceGroups", "deployments", "subscriptions"]),
}
ALWAYS_REGISTERED = {"microsoft.authorization", "microsoft.resources"}


def _subscription_body(state: State, sub_id: str) -> dict[str, Any]:
    s = state.world.subscriptions[sub_id]
    return {
        "id": f"/subscriptions/{s.id}",
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": s.id,
        "tenantId": state.world.tenant_id,
        "displayName": s.name,
        "state": "Enabled",
        "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
    }


def list_subscriptions(state: State, req: Request) -> Response:
    with state.lock:
        visible = [
            _subscription_body(state, sid)
            for sid in state.world.subscriptions
            if any(rbac.scope_covers(f"/subscriptions/{sid}", a.scope) or rbac.scope_covers(a.scope, f"/subscriptions/{sid}")
                   for a in state.world.role_assignments if a.principal_id in rbac.principal_ids(state.world, req.principal.object_id))
        ]
        return Response(200, paged(visible, req))


def get_subscription(state: State, req: Request, sub: str) -> Response:
    with state.lock:
        require_subscription(state, sub)
        return Response(200, _subscription_body(state, sub.lower()))


def list_tenants(state: State, req: Request) -> Response:
    w = state.world
    return Response(
        200,
        {"value": [{"id": f"/tenants/{w.tenant_id}", "tenantId": w.tenant_id, "tenantCategory": "Home", "country": "US", "countryCode": "US",
                    "displayName": w.tenant_domain.split(".")[0].title(), "domains": [w.tenant_domain], "defaultDomain": w.tenant_domain, "tenantType": "AAD"}]},
    )


# Resource groups: groups.py.


# --- providers ---------------------------------------------------------------------------------

def _provider_body(state: State, sub: str, ns_key: str) -> dict[str, Any]:
    namespace, types = PROVIDER_TYPES[ns_key]
    reg = "Registered" if ns_key in ALWAYS_REGISTERED else state.providers.get((sub.lower(), ns_key), "NotRegistered")
    regions = sorted({h.location for h in state.world.hubs.values()} | {"eastus", "eastus2", "francecentral", "swedencentral", "westus3"})
    return {
        "id": f"/subscriptions/{sub}/providers/{namespace}",
        "namespace": namespace,
        "registrationState": reg,
        "registrationPolicy": "RegistrationRequired",
        "resourceTypes": [{"resourceType": t, "locations": regions, "apiVersions": _api_versions(ns_key, t)} for t in types],
    }


# The api-version family each namespace's types answer (az resource show/delete --ids picks from these).
_FAMILY_OF = {"microsoft.machinelearningservices": "mls", "microsoft.cognitiveservices": "cognitiveservices", "microsoft.authorization": "authz",
              "microsoft.resources": "resources"}
_FIXED_VERSIONS = {"microsoft.saas": ["2018-03-01-beta"], "microsoft.marketplaceordering": ["2021-01-01", "2015-06-01"]}


def _api_versions(ns_key: str, resource_type: str) -> list[str]:
    """Newest first, as ARM lists them: what the emulator answers for the type."""
    if ns_key in _FIXED_VERSIONS:
        return list(_FIXED_VERSIONS[ns_key])
    family = _FAMILY_OF[ns_key]
    if ns_key == "microsoft.machinelearningservices" and resource_type.startswith("workspaces/"):
        family = "serverless"
    if resource_type == "accounts/deployments":
        family = "cognitiveservices-deployments"
    return sorted(FAMILIES[family] or (), reverse=True)


def list_providers(state: State, req: Request, sub: str) -> Response:
    with state.lock:
        require_subscription(state, sub)
        return Response(200, paged([_provider_body(state, sub, k) for k in PROVIDER_TYPES], req))


def _ns_key(namespace: str) -> str:
    key = namespace.lower()
    if key not in PROVIDER_TYPES:
        raise arm_error("InvalidResourceNamespace", namespace=namespace)
    return key


def get_provider(state: State, req: Request, sub: str, ns: str) -> Response:
    with state.lock:
        require_subscription(state, sub)
        return Response(200, _provider_body(state, sub, _ns_key(ns)))


def register_provider(state: State, req: Request, sub: str, ns: str, verb: str) -> Response:
    with state.lock:
        require_subscription(state, sub)
        key = _ns_key(ns)
        namespace = PROVIDER_TYPES[key][0]
        rbac.require(state.world, req.principal, [(f"{namespace}/{verb.lower()}/action", f"/subscriptions/{sub.lower()}")])
        if key not in ALWAYS_REGISTERED:
            state.providers[(sub.lower(), key)] = "Registered" if verb.lower() == "register" else "NotRegistered"
            state.save()
        return Response(200, _provider_body(state, sub, key))


# --- generic resource listing and SaaS resources -------------------------------------------

def _saas_body(saas: SaasResource) -> dict[str, Any]:
    return {
        "id": saas.id,
        "name": saas.name,
        "type": SAAS_TYPE,
        "location": "global",
        "tags": dict(saas.tags),
        "properties": {
            "publisherId": saas.publisher_id,
            "offerId": saas.offer_id,
            "skuId": saas.plan_id,
            "saasSubscriptionStatus": saas.status,
            "paymentChannelType": "SubscriptionDelegated",
            "created": saas.created_at,
        },
    }


def _generic(body: dict[str, Any]) -> dict[str, Any]:
    keep: dict[str, Any] = {k: body[k] for k in ("id", "name", "type", "location", "tags", "kind", "sku", "identity") if k in body}
    keep.setdefault("tags", {})
    return keep


_FILTER = re.compile(r"^\s*(resourceType|resourceGroup|location|name|tagName|tagValue)\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)
_SUPPORTED = "resourceType eq, resourceGroup eq, location eq, name eq, tagName eq [and tagValue eq], joined by and"


def _conditions(expr: str) -> dict[str, str]:
    """The generic list's `$filter`: `field eq 'value'` terms joined by `and` (400 for anything else)."""
    conditions: dict[str, str] = {}
    for term in re.split(r"\s+and\s+", expr, flags=re.IGNORECASE) if expr.strip() else []:
        m = _FILTER.match(term)
        if not m:
            raise arm_error("InvalidFilterInQueryString", expr=expr, supported=_SUPPORTED)
        conditions[m.group(1).lower()] = m.group(2)
    if "tagvalue" in conditions and "tagname" not in conditions:
        raise arm_error("InvalidFilterInQueryString", expr=expr, supported="tagValue only with tagName: tagName eq 'k' and tagValue eq 'v'")
    return conditions


def _visible(state: State, req: Request, sub: str, rg: str | None) -> list[dict[str, Any]]:
    """Every resource of the subscription (or group) the caller may read, in the generic shape."""
    def may(action: str, rid: str) -> bool:
        return rbac.allowed(state.world, req.principal.object_id, action, rid)

    items: list[dict[str, Any]] = []
    for table in (state.world.hubs, state.world.projects):
        for (s, r, _), w in table.items():
            if s == sub.lower() and (rg is None or r == rg.lower()) and may(f"{ML}/workspaces/read", workspace_id(s, w.resource_group, w.name)):
                items.append(_generic(workspace_body(state, w)))
    for (s, r, _), account in state.world.accounts.items():  # Foundry resources (their deployments are proxy resources: not listed)
        if s == sub.lower() and (rg is None or r == rg.lower()) and may("Microsoft.CognitiveServices/accounts/read", account.id):
            items.append(_generic(render_account(state, account)))
    for resource in state.resources.values():
        if resource.subscription != sub.lower() or (rg is not None and resource.resource_group.lower() != rg.lower()):
            continue
        if isinstance(resource, SaasResource) and may("Microsoft.SaaS/resources/read", resource.id):
            items.append(_generic(_saas_body(resource)))
        elif isinstance(resource, ServerlessEndpoint) and may(f"{ML}/workspaces/serverlessEndpoints/read", resource.id):
            items.append(_generic(render_endpoint(None, resource)))
    # Marketplace subscriptions and Foundry deployments are proxy resources (no location, no tags): ARM does not list them.
    return items


def _keep(conditions: dict[str, str], item: dict[str, Any]) -> bool:
    """Names, types, groups and locations match case-insensitively; a tag's name too, its value exactly."""
    fields = {"resourcetype": item["type"], "name": item["name"], "resourcegroup": item["id"].split("/")[4], "location": item.get("location", "")}
    for key, value in fields.items():
        if key in conditions and str(value).lower() != conditions[key].lower():
            return False
    if "tagname" in conditions:
        tags = {k.lower(): v for k, v in item.get("tags", {}).items()}
        if conditions["tagname"].lower() not in tags:
            return False
        if "tagvalue" in conditions and tags[conditions["tagname"].lower()] != conditions["tagvalue"]:
            return False
    return True


def _list_resources(state: State, req: Request, sub: str, rg: str | None) -> Response:
    conditions = _conditions(req.query.get("$filter", ""))
    items = [item for item in _visible(state, req, sub, rg) if _keep(conditions, item)]
    return Response(200, paged(sorted(items, key=lambda i: i["id"].lower()), req))


def list_subscription_resources(state: State, req: Request, sub: str) -> Response:
    with state.lock:
        require_subscription(state, sub)
        return _list_resources(state, req, sub, None)


def list_group_resources(state: State, req: Request, sub: str, rg: str) -> Response:
    with state.lock:
        require_resource_group(state, sub, rg)
        return _list_resources(state, req, sub, rg)



def saas_resource(state: State, req: Request, sub: str, rg: str, name: str) -> Response:
    with state.lock:
        require_resource_group(state, sub, rg)
        rid = f"/subscriptions/{sub.lower()}/resourceGroups/{rg}/providers/{SAAS_TYPE}/{name}"
        saas = rules.find(state, SaasResource, rid)
        verb = "read" if req.method == "GET" else "delete"
        rbac.require(state.world, req.principal, [(f"Microsoft.SaaS/resources/{verb}", rid)])
        if req.method == "DELETE":
            if saas is None:
                return Response(204)
            rules.unsubscribe_through_saas(state, saas)
            state.save()
            return Response(200)
        if saas is None:
            raise resource_not_found(SAAS_TYPE, name, rg)
        return Response(200, _saas_body(saas))
