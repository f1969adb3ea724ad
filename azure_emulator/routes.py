"""How a URL table matches: (methods, path pattern, api-version family) -> handler. The tables
themselves are in urls.py. Paths match case-insensitively, as ARM's do."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Optional

SUB = r"/subscriptions/(?P<sub>[^/]+)"
RG = SUB + r"/resourcegroups/(?P<rg>[^/]+)"
MLS = RG + r"/providers/microsoft\.machinelearningservices"
WS = MLS + r"/workspaces/(?P<ws>[^/]+)"
MLS_LOCATION = SUB + r"/providers/microsoft\.machinelearningservices/locations/(?P<loc>[^/]+)"
SCOPE = r"(?P<scope>(/subscriptions/[^/]+(/resourcegroups/[^/]+(/providers/[^/]+/[^/]+/[^/]+(/[^/]+/[^/]+)*)?)?)?)"
AUTHZ = SCOPE + r"/providers/microsoft\.authorization"
MFE_PREFIX = "/mferp/managementfrontend"
REGISTRY = (MFE_PREFIX + r"/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)"
            r"/providers/microsoft\.machinelearningservices/registries/(?P<registry>[^/]+)")

Handler = Callable[..., Any]


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    family: str  # of api-versions (versions.FAMILIES)
    handler: Handler
    action: str  # the resource type, for logs and errors


def route(methods: str, pattern: str, family: str, handler: Handler, action: str) -> Route:
    return Route(frozenset(methods.split()), re.compile("^" + pattern + "$", re.IGNORECASE), family, handler, action)


class Table:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    def match(self, method: str, path: str) -> tuple[Optional[Route], dict[str, str], bool]:
        """(route, params, path_known): path_known with no route means the method is not allowed."""
        known = False
        for r in self.routes:
            m = r.pattern.match(path)
            if not m:
                continue
            known = True
            if method in r.methods:
                return r, {k: v for k, v in m.groupdict().items() if v is not None}, True
        return None, {}, known
