"""The one URL table: every host the emulator answers for, and every route under it.

`SERVICES` says which service answers a request, by host (as the real clients address Azure
through the proxy) or, on the emulator's own address (custom-cloud mode and the control API),
by path. The ARM and registry services then find their handler in `ARM` and `REGISTRY_*`.
Anything in no table answers loudly (404 naming what was asked), never a silent success.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Optional

from . import arm, authz, benign, cognitiveservices, control, deployments, foundry_inference, graph, groups, hosts, identity, inference, lro, marketplace, metadata, registry, resources, serverless, workspaces
from .routes import AUTHZ, MLS_LOCATION, REGISTRY, RG, SUB, WS, Table, route
from .store import State
from .wire import Request, Response

_SES = WS + r"/serverlessendpoints"
_MSUBS = WS + r"/marketplacesubscriptions"
_MODELS = REGISTRY + r"/models"
_CS = r"/providers/microsoft\.cognitiveservices"
_ACCOUNT = RG + _CS + r"/accounts/(?P<account>[^/]+)"
_CS_DEPLOYMENTS = _ACCOUNT + r"/deployments"
_CS_LOCATION = SUB + _CS + r"/locations/(?P<loc>[^/]+)"
_CSD = "cognitiveservices-deployments"

ARM = Table([
    route("GET", r"/subscriptions", "resources", resources.list_subscriptions, "subscriptions"),
    route("GET", SUB, "resources", resources.get_subscription, "subscriptions"),
    route("GET", r"/tenants", "resources", resources.list_tenants, "tenants"),
    route("GET", SUB + r"/resourcegroups", "resources", groups.list_resource_groups, "resourceGroups"),
    route("GET HEAD", RG, "resources", groups.get_resource_group, "resourceGroups"),
    route("PUT", RG, "resources", groups.put_resource_group, "resourceGroups"),
    route("PATCH", RG, "resources", groups.patch_resource_group, "resourceGroups"),
    route("DELETE", RG, "resources", groups.delete_resource_group, "resourceGroups"),
    route("GET", SUB + r"/operationresults/(?P<token>[^/]+)", "operation-results", groups.deletion_result, "operationResults"),
    route("GET", SUB + r"/providers", "resources", resources.list_providers, "providers"),
    route("GET", SUB + r"/providers/(?P<ns>[^/]+)", "resources", resources.get_provider, "providers"),
    route("POST", SUB + r"/providers/(?P<ns>[^/]+)/(?P<verb>register|unregister)", "resources", resources.register_provider, "providers"),
    route("GET", SUB + r"/resources", "resources", resources.list_subscription_resources, "resources"),
    route("GET", RG + r"/resources", "resources", resources.list_group_resources, "resources"),
    route("GET DELETE", RG + r"/providers/microsoft\.saas/resources/(?P<name>[^/]+)", "saas", resources.saas_resource, "Microsoft.SaaS/resources"),
    route("GET", AUTHZ + r"/permissions", "authz", authz.permissions, "permissions"),
    route("GET", AUTHZ + r"/roleassignments", "authz", authz.list_role_assignments, "roleAssignments"),
    route("GET PUT DELETE", AUTHZ + r"/roleassignments/(?P<name>[^/]+)", "authz", authz.role_assignment, "roleAssignments"),
    route("GET", AUTHZ + r"/roledefinitions", "authz", authz.list_role_definitions, "roleDefinitions"),
    route("GET", AUTHZ + r"/roledefinitions/(?P<rid>[^/]+)", "authz", authz.get_role_definition, "roleDefinitions"),
    route("GET", WS, "mls", workspaces.get_workspace, "workspaces"),
    route("GET", RG + r"/providers/microsoft\.machinelearningservices/workspaces", "mls", workspaces.list_workspaces, "workspaces"),
    route("GET", SUB + r"/providers/microsoft\.machinelearningservices/workspaces", "mls", workspaces.list_subscription_workspaces, "workspaces"),
    route("GET", MLS_LOCATION + r"/mfeoperationsstatus/(?P<op>[^/]+)", "mls", lro.operation_status, "mfeOperationsStatus"),
    route("GET", MLS_LOCATION + r"/mfeoperationresults/(?P<op>[^/]+)", "mls", lro.operation_result, "mfeOperationResults"),
    route("GET", _MSUBS, "serverless", marketplace.list_subscriptions, "marketplaceSubscriptions"),
    route("GET", _MSUBS + r"/(?P<name>[^/]+)", "serverless", marketplace.get_subscription, "marketplaceSubscriptions"),
    route("PUT", _MSUBS + r"/(?P<name>[^/]+)", "serverless", marketplace.put_subscription, "marketplaceSubscriptions"),
    route("DELETE", _MSUBS + r"/(?P<name>[^/]+)", "serverless", marketplace.delete_subscription, "marketplaceSubscriptions"),
    route("GET", _SES, "serverless", serverless.list_endpoints, "serverlessEndpoints"),
    route("GET", _SES + r"/(?P<name>[^/]+)", "serverless", serverless.get_endpoint, "serverlessEndpoints"),
    route("PUT", _SES + r"/(?P<name>[^/]+)", "serverless", serverless.put_endpoint, "serverlessEndpoints"),
    route("PATCH", _SES + r"/(?P<name>[^/]+)", "serverless", serverless.patch_endpoint, "serverlessEndpoints"),
    route("DELETE", _SES + r"/(?P<name>[^/]+)", "serverless", serverless.delete_endpoint, "serverlessEndpoints"),
    route("POST", _SES + r"/(?P<name>[^/]+)/listkeys", "serverless", serverless.list_keys, "listKeys"),
    route("POST", _SES + r"/(?P<name>[^/]+)/regeneratekeys", "serverless", serverless.regenerate_keys, "regenerateKeys"),
    *(route(methods, path, family, handler, "Microsoft.Resources/deployments") for methods, path, family, handler in deployments.ROUTES),
    route("GET", SUB + _CS + r"/accounts", "cognitiveservices", cognitiveservices.list_accounts, "accounts"),
    route("GET", RG + _CS + r"/accounts", "cognitiveservices", cognitiveservices.list_accounts, "accounts"),
    route("GET", _ACCOUNT, "cognitiveservices", cognitiveservices.get_account, "accounts"),
    route("POST", _ACCOUNT + r"/listkeys", "cognitiveservices", cognitiveservices.list_keys, "accounts/listKeys"),
    route("POST", _ACCOUNT + r"/regeneratekey", "cognitiveservices", cognitiveservices.regenerate_key, "accounts/regenerateKey"),
    route("GET", _ACCOUNT + r"/models", _CSD, cognitiveservices.list_account_models, "accounts/models"),
    route("GET", _CS_LOCATION + r"/models", _CSD, cognitiveservices.list_location_models, "locations/models"),
    route("GET", _CS_LOCATION + r"/operationresults/(?P<op>[^/]+)", _CSD, cognitiveservices.operation_result, "locations/operationResults"),
    route("GET", _CS_DEPLOYMENTS, _CSD, cognitiveservices.list_deployments, "accounts/deployments"),
    route("GET", _CS_DEPLOYMENTS + r"/(?P<name>[^/]+)", _CSD, cognitiveservices.get_deployment, "accounts/deployments"),
    route("PUT", _CS_DEPLOYMENTS + r"/(?P<name>[^/]+)", _CSD, cognitiveservices.put_deployment, "accounts/deployments"),
    route("PATCH", _CS_DEPLOYMENTS + r"/(?P<name>[^/]+)", _CSD, cognitiveservices.patch_deployment, "accounts/deployments"),
    route("DELETE", _CS_DEPLOYMENTS + r"/(?P<name>[^/]+)", _CSD, cognitiveservices.delete_deployment, "accounts/deployments"),
])
# A Foundry resource's inference routes (on its custom subdomain's hosts); `action` is the data action
# an Entra-token caller needs.
FOUNDRY = Table([
    route("POST", r"/models/chat/completions", "foundry", foundry_inference.models_chat, foundry_inference.MAAS_ACTION),
    route("POST", r"/openai/v1/chat/completions", "foundry", foundry_inference.v1_chat, foundry_inference.OPENAI_ACTION),
    route("POST", r"/openai/deployments/(?P<name>[^/]+)/chat/completions", "foundry", foundry_inference.deployment_chat, foundry_inference.OPENAI_ACTION),
])
REGISTRY_DISCOVERY = Table([
    route("GET", r"/registrymanagement/v1\.0/registries/(?P<registry>[^/]+)/discovery", "registry-discovery", registry.discover, "registryDiscovery"),
])
REGISTRY_MFE = Table([
    route("GET", _MODELS, "registry", registry.list_models, "models"),
    route("GET", _MODELS + r"/(?P<model>[^/]+)", "registry", registry.get_model, "models"),
    route("GET", _MODELS + r"/(?P<model>[^/]+)/versions", "registry", registry.list_versions, "modelVersions"),
    route("GET", _MODELS + r"/(?P<model>[^/]+)/versions/(?P<version>[^/]+)", "registry", registry.get_version, "modelVersions"),
])


@dataclass(frozen=True)
class Context:
    """What some services need of the listener that received the request."""

    port: int
    identity_header: str
    reload_world: Callable[[], Any]


Answer = Callable[[State, Request, Context], Response]


@dataclass(frozen=True)
class Service:
    kind: str  # the request log's name for it
    answer: Answer
    hosts: Optional[re.Pattern[str]] = None  # the public host names it answers for
    direct: Optional[re.Pattern[str]] = None  # the paths it answers for on the emulator's own address
    host_paths: Optional[re.Pattern[str]] = None  # on its hosts, only these paths


def _p(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _arm(state: State, req: Request, ctx: Context) -> Response:
    return arm.handle(state, req, ARM)


def _registry(state: State, req: Request, ctx: Context) -> Response:
    direct = req.host in hosts.DIRECT
    discovery = req.path.lower().startswith("/registrymanagement/") if direct else req.host == registry.DISCOVERY_HOST
    table, component = (REGISTRY_DISCOVERY, "registrymanagement") if discovery else (REGISTRY_MFE, "managementfrontend")
    return arm.handle_registry(state, req, table, component, direct)


SERVICES = [
    Service("metadata", lambda s, r, c: metadata.handle(r, c.port), hosts.ARM, _p(r"^/metadata/endpoints"),
            _p(r"^/metadata/endpoints")),
    Service("arm", _arm, hosts.ARM, _p(r"^/(subscriptions|tenants|providers)(/|$)")),
    Service("identity", lambda s, r, c: identity.handle(s, r), hosts.LOGIN,
            _p(r"^(/[^/]+/(oauth2|v2\.0|discovery)/|/common/discovery/instance$)")),
    Service("identity", lambda s, r, c: identity.app_service_msi(s, r, c.identity_header), None, _p(r"^/msi/token$")),
    Service("identity", lambda s, r, c: identity.imds(s, r), None, _p(r"^/metadata/identity/oauth2/token$")),
    Service("graph", lambda s, r, c: graph.handle(s, r), hosts.GRAPH, _p(r"^/v1\.0/")),
    Service("inference", lambda s, r, c: inference.handle(s, r), hosts.INFERENCE),
    Service("inference", lambda s, r, c: foundry_inference.handle(s, r, FOUNDRY), hosts.FOUNDRY),
    Service("registry", _registry, hosts.REGISTRY,
            _p(r"^/(registrymanagement|mferp/managementfrontend)/")),
    Service("control", lambda s, r, c: control.handle(s, r, c.reload_world), None, _p(r"^/_emulator(/|$)")),
    Service("benign", lambda s, r, c: benign.handle(r), hosts.BENIGN),
]


def resolve(req: Request) -> Optional[Service]:
    """The service that answers a request; the control API only on the plain-HTTP loopback listener."""
    direct = req.host in hosts.DIRECT
    for service in SERVICES:
        if direct:
            if service.direct is not None and service.direct.match(req.path):
                return None if service.kind == "control" and req.scheme != "http" else service
        elif service.hosts is not None and service.hosts.match(req.host):
            if service.host_paths is None or service.host_paths.match(req.path):
                return service
    return None
