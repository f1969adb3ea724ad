"""Azure Machine Learning registries, read-only: the discovery service and a registry's model API.

azure-ai-ml's `MLClient(credential, registry_name=...)` first asks the discovery service
(eastus.api.azureml.ms) where the registry lives, then reads models from the registry's front end
(MFE, cert-<region>.experiments.azureml.net) under the registry's own subscription and resource
group. Both take an ARM token. The models are the world's catalog, grouped by the registry in
their ids; a model's lifecycle dates are in each version's tags, as Azure's registries carry them.
"""
from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any, Optional

from .store import State
from .wire import Request, Response, user_error
from .worldmodel import LIFECYCLE_STAGES, Model

# Hosts of the registry APIs (AzureCloud): the discovery service, and the registry's home-region
# front end (MFE) that the discovery answer points at.
DISCOVERY_HOST = "eastus.api.azureml.ms"
MFE_HOST = "cert-eastus.experiments.azureml.net"  # the primary region's; every region's answers the same

PRIMARY_REGION = "eastus"
# The registries' owner: system registries live in a Microsoft subscription no caller sees. Both
# GUIDs are fixed so that ids can be written down; the subscription is invented.
REGISTRY_SUBSCRIPTION = "5c1d7b3e-9a2f-4e6d-8b0c-3f4a5e6d7c8b"
REGISTRY_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"  # Microsoft's tenant
LIFECYCLE_TAGS = {"legacy": "InferenceLegacyDate", "deprecated": "InferenceDeprecationDate", "retired": "InferenceRetirementDate"}
LIST_VIEWS = ("ActiveOnly", "All", "ArchivedOnly")
ORDERS = {"createdtime desc": True, "createdtime asc": False, "createdtime": False}  # -> newest first
_FIRST_CREATED = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)  # invented: version v is created v - 1 days later


def resource_group(registry: str) -> str:
    return f"registry-builtin-{registry}-{PRIMARY_REGION}"


def _registry(state: State, name: str) -> str:
    """The registry's own spelling of its name, or 404."""
    for registry in state.world.registries():
        if registry.lower() == name.lower():
            return registry
    raise user_error(f"Registry '{name}' was not found.", "RegistryNotFound", 404)


# --- discovery ---------------------------------------------------------------------------------

def discover(state: State, req: Request, registry: str) -> Response:
    with state.lock:
        name = _registry(state, registry)
        regions = sorted({PRIMARY_REGION} | {r for m in state.world.registry_models(name) for r in m.regions})
    return Response(200, {
        "registryName": name,
        "tenantId": REGISTRY_TENANT,
        "primaryRegion": PRIMARY_REGION,
        "regions": regions,
        "subscriptionId": REGISTRY_SUBSCRIPTION,
        "resourceGroup": resource_group(name),
        "workspaceName": None,
        # In custom-cloud mode (a request to the emulator's own address) the front end is there too.
        "primaryRegionResourceProviderUri": f"https://{MFE_HOST}/" if req.host == DISCOVERY_HOST else f"{req.base_url()}/",
        "registryFqdns": {region: {"api": f"https://{region}.api.azureml.ms", "mfe": f"https://cert-{region}.experiments.azureml.net"} for region in regions},
    })


# --- the registry's models (MFE) ------------------------------------------------------------------

def _scope(state: State, sub: str, rg: str, registry: str) -> str:
    """The registry of an MFE path, once the path names its subscription and resource group."""
    name = _registry(state, registry)
    if sub.lower() != REGISTRY_SUBSCRIPTION or rg.lower() != resource_group(name).lower():
        raise user_error(f"Registry '{registry}' was not found in resource group '{rg}' of subscription '{sub}'. "
                                         "Ask the discovery service where it is.", "RegistryNotFound", 404)
    return name


def _model(state: State, registry: str, name: str) -> Model:
    """A registry's model by name, case-insensitively (as ARM paths match), or 404."""
    for model in state.world.registry_models(registry):
        if model.name.lower() == name.lower():
            return model
    raise user_error(f"Model container '{name}' was not found in registry '{registry}'.", "NotFound", 404)


def _version(model: Model, version: str) -> int:
    if version.isascii() and version.isdigit() and 1 <= int(version) <= model.version:
        return int(version)
    raise user_error(f"Version '{version}' of model '{model.name}' was not found in registry '{model.registry}'.", "NotFound", 404)


def _created(version: int) -> str:
    return (_FIRST_CREATED + dt.timedelta(days=version - 1)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00"


def _system_data(created: str, modified: str) -> dict[str, Any]:
    return {"createdAt": created, "createdBy": "azureml", "createdByType": "Application",
            "lastModifiedAt": modified, "lastModifiedBy": "azureml", "lastModifiedByType": "Application"}


def _author(model: Model) -> str:
    return "Microsoft" if model.microsoft else "Mistral AI"


def container_body(model: Model) -> dict[str, Any]:
    return {
        "id": f"azureml://registries/{model.registry}/models/{model.name}",
        "name": model.name,
        "type": "Microsoft.MachineLearningServices/registries/models",
        "systemData": _system_data(_created(1), _created(model.version)),
        "properties": {
            "description": f"{model.display_name}, by {_author(model)}.",
            "properties": {},
            "tags": {},
            "isArchived": False,
            "latestVersion": str(model.version),
            "nextVersion": str(model.version + 1),
            "provisioningState": "Succeeded",
        },
    }


def version_body(model: Model, version: int) -> dict[str, Any]:
    tags = {"author": _author(model), "displayName": model.display_name}
    for stage in LIFECYCLE_STAGES:
        day = getattr(model.lifecycle, stage)
        if day is not None:
            tags[LIFECYCLE_TAGS[stage]] = f"{day.isoformat()}T00:00:00.000000Z"
    ref = f"azureml://registries/{model.registry}/models/{model.name}/versions/{version}"
    return {
        "id": ref,
        "name": str(version),
        "type": "Microsoft.MachineLearningServices/registries/models/versions",
        "systemData": _system_data(_created(version), _created(version)),
        "properties": {
            "description": f"{model.display_name}, by {_author(model)}.",
            "properties": {},
            "tags": tags,
            "isAnonymous": False,
            "isArchived": False,
            "flavors": {},
            "jobName": None,
            "modelType": "custom_model",
            "modelUri": ref,
            "provisioningState": "Succeeded",
            "stage": None,
            "datasets": [],
        },
    }


def _list_view(req: Request) -> str:
    asked = req.query.get("listviewtype", "ActiveOnly")
    # azure-ai-ml 1.35.2 sends the Python name of its enum member (listViewType=ListViewType.ACTIVE_ONLY)
    # where earlier releases sent the value; both are read (how Azure reads the former is not known).
    member = asked.lower().removeprefix("listviewtype.").replace("_", "")
    for view in LIST_VIEWS:
        if view.lower() == member:
            return view
    raise user_error(f"listViewType '{asked}' is not one of {', '.join(LIST_VIEWS)}.", "BadArgument")


def _whole(req: Request, key: str, name: str, low: int) -> Optional[int]:
    value = req.query.get(key)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) < low:
        raise user_error(f"{name} '{value}' must be a whole number of at least {low}.", "BadArgument")
    return int(value)


def _page(state: State, req: Request, items: list[Any], query: dict[str, str]) -> dict[str, Any]:
    """One page of `items` (at most `$top` in all), with nextLink while more remain."""
    top = _whole(req, "$top", "$top", 1)
    if top is not None:
        items = items[:top]
    skip = _whole(req, "$skiptoken", "$skipToken", 0) or 0
    size = state.config.registry_page_size
    body: dict[str, Any] = {"value": items[skip : skip + size]}
    if skip + size < len(items):
        following = {"api-version": req.api_version or "", **query, **({"$top": str(top)} if top is not None else {}), "$skipToken": str(skip + size)}
        body["nextLink"] = f"{req.base_url()}{req.path}?" + "&".join(f"{k}={urllib.parse.quote(v, safe='')}" for k, v in following.items())
    return body



def list_models(state: State, req: Request, sub: str, rg: str, registry: str) -> Response:
    view = _list_view(req)
    with state.lock:
        name = _scope(state, sub, rg, registry)
        # Retired models stay in the registry, not archived: nothing is archived.
        items = [] if view == "ArchivedOnly" else [container_body(m) for m in state.world.registry_models(name)]
        return Response(200, _page(state, req, items, {"listViewType": view}))


def get_model(state: State, req: Request, sub: str, rg: str, registry: str, model: str) -> Response:
    with state.lock:
        return Response(200, container_body(_model(state, _scope(state, sub, rg, registry), model)))


def list_versions(state: State, req: Request, sub: str, rg: str, registry: str, model: str) -> Response:
    order = req.query.get("$orderby", "createdtime desc")
    if " ".join(order.lower().split()) not in ORDERS:
        raise user_error(f"$orderBy '{order}' is not supported: use 'createdtime desc' or 'createdtime asc'.", "BadArgument")
    view = _list_view(req)
    query = {"$orderBy": order, **({"listViewType": view} if "listviewtype" in req.query else {})}
    with state.lock:
        name = _scope(state, sub, rg, registry)
        found = next((m for m in state.world.registry_models(name) if m.name.lower() == model.lower()), None)
        # A collection: the versions of a model the registry does not hold are none (azure-ai-ml then
        # says "Asset <name> does not exist in registry <registry>."), unlike GET of the model itself.
        versions = list(range(1, found.version + 1)) if found is not None and view != "ArchivedOnly" else []
        if ORDERS[" ".join(order.lower().split())]:
            versions.reverse()
        items = [version_body(found, v) for v in versions] if found is not None else []
        return Response(200, _page(state, req, items, query))


def get_version(state: State, req: Request, sub: str, rg: str, registry: str, model: str, version: str) -> Response:
    with state.lock:
        found = _model(state, _scope(state, sub, rg, registry), model)
        return Response(200, version_body(found, _version(found, version)))

