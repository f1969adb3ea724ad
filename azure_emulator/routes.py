"""The URL tables, one per emulated API host: (methods, path pattern, api-version family) -> handler.

`router` is ARM's (management.azure.com); `registry_discovery` and `registry_mfe` are the Azure
Machine Learning registry hosts azure-ai-ml reads models from. Paths match case-insensitively,
as ARM's do. Anything not in a table answers loudly (404 with the route that was asked for),
never with a silent success.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Optional

SUB = r"/subscriptions/(?P<sub>[^/]+)"
RG = SUB + r"/resourcegroups/(?P<rg>[^/]+)"
MLS = RG + r"/providers/microsoft\.machinelearningservices"
WS = MLS + r"/workspaces/(?P<ws>[^/]+)"

# api-versions each family answers (the ones the SDKs send, and the stable ones)
MLS_VERSIONS = {
    "2022-10-01", "2023-04-01", "2023-06-01-preview", "2023-08-01-preview", "2023-10-01", "2024-01-01-preview",
    "2024-04-01", "2024-04-01-preview", "2024-07-01-preview", "2024-10-01", "2024-10-01-preview",
    "2025-01-01-preview", "2025-04-01", "2025-04-01-preview", "2025-06-01", "2025-07-01-preview",
    "2025-09-01", "2025-10-01-preview", "2025-12-01",
}
SERVERLESS_VERSIONS = {v for v in MLS_VERSIONS if v >= "2023-08-01"}
AUTHZ_VERSIONS = {
    "2015-07-01", "2018-01-01-preview", "2018-09-01-preview", "2020-04-01-preview", "2020-10-01-preview",
    "2022-04-01", "2022-05-01-preview", "2022-05-01", "2024-04-01",
}
REGISTRY_DISCOVERY_VERSIONS = {"v1.0"}
REGISTRY_VERSIONS = {"2021-10-01-dataplanepreview"}  # what azure-ai-ml pins for registry reads
_DATE = re.compile(r"^(20\d\d)-(\d\d)-(\d\d)(-preview|-beta|-alpha|-privatepreview)?$")

Handler = Callable[..., Any]


@dataclass
class Route:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    family: str
    handler: Handler
    action: str  # a short name for logs


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, methods: str, pattern: str, family: str, action: str = "") -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.routes.append(
                Route(frozenset(methods.split()), re.compile("^" + pattern + "$", re.IGNORECASE), family, fn, action or fn.__name__)
            )
            return fn

        return register

    def match(self, method: str, path: str) -> tuple[Optional[Route], dict[str, str], bool]:
        """(route, params, path_known): path_known with no route means the method is not allowed."""
        known = False
        for route in self.routes:
            m = route.pattern.match(path)
            if not m:
                continue
            known = True
            if method in route.methods:
                return route, {k: v for k, v in m.groupdict().items() if v is not None}, True
        return None, {}, known


def supported_versions(family: str) -> Optional[set[str]]:
    return {"mls": MLS_VERSIONS, "serverless": SERVERLESS_VERSIONS, "authz": AUTHZ_VERSIONS,
            "registry-discovery": REGISTRY_DISCOVERY_VERSIONS, "registry": REGISTRY_VERSIONS}.get(family)


def well_formed(version: str) -> bool:
    return bool(_DATE.match(version))


# Hosts of the registry APIs (AzureCloud): the discovery service, and the registry's home-region
# front end (MFE) that the discovery answer points at.
DISCOVERY_HOST = "eastus.api.azureml.ms"
MFE_HOST = "cert-eastus.experiments.azureml.net"  # the primary region's; every region's answers the same
MFE_HOSTS = re.compile(r"^cert-[a-z0-9]+\.experiments\.azureml\.net$")
MFE_PREFIX = "/mferp/managementfrontend"
REGISTRY = (MFE_PREFIX + r"/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)"
            r"/providers/microsoft\.machinelearningservices/registries/(?P<registry>[^/]+)")

router = Router()  # management.azure.com
registry_discovery = Router()  # DISCOVERY_HOST
registry_mfe = Router()  # MFE_HOSTS
