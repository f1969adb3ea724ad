"""ARM front door: authentication, api-version checks, throttling, then the URL table."""
from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from typing import Any, Optional, Union

from . import identity
from .routes import Route, router, supported_versions, well_formed
from .store import State
from .wire import ArmError, Request, Response, missing_registration, resource_group_not_found, resource_not_found, subscription_not_found, throttled
from .world import Hub, Principal, Project


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def handle(state: State, req: Request) -> Response:
    route, params, known = router.match(req.method, req.path)
    if route is None:
        if known:
            return ArmError(405, "MethodNotAllowed", f"The requested resource does not support http method '{req.method}'.").response()
        return ArmError(404, "NoRegisteredProviderFound" if "/providers/" in req.path else "InvalidResourceType", f"The emulator does not implement '{req.method} {req.path}'. (local Azure emulator: not emulated)").response()
    try:
        require_api_version(req, route)
        req.principal = identity.authenticate_arm(state, req)
        remaining_headers = _throttle(state, req, params.get("sub", ""))
        response = route.handler(state, req, **params)
        response.headers.update(remaining_headers)
        return response
    except ArmError as err:
        return err.response()


def require_api_version(req: Request, route: Route) -> None:
    """ARM's answer to a missing, malformed or unsupported api-version (the registry hosts use it too)."""
    version = req.api_version
    if not version:
        raise ArmError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
    allowed = supported_versions(route.family)
    if not (well_formed(version) or version in (allowed or ())):
        raise ArmError(400, "InvalidApiVersionParameter", f"The api-version '{version}' is invalid. The supported versions are '{', '.join(sorted(allowed or []))}'.")
    if allowed is not None and version not in allowed:
        raise ArmError(
            400,
            "NoRegisteredProviderFound",
            f"No registered resource provider found for location 'global' and API version '{version}' for type '{route.action}'. "
            f"The supported api-versions are '{', '.join(sorted(allowed or []))}'.",
        )


def _throttle(state: State, req: Request, sub: str) -> dict[str, str]:
    """ARM's token buckets, per subscription and principal, for reads and writes."""
    kind = "reads" if req.method in ("GET", "HEAD") else "writes"
    size, refill = state.config.throttle_reads if kind == "reads" else state.config.throttle_writes
    key = (sub.lower(), req.principal.object_id, kind)
    now = time.monotonic()
    with state.lock:
        tokens, last = state.throttle.get(key, (size, now))
        tokens = min(size, tokens + (now - last) * refill)
        if tokens < 1:
            state.throttle[key] = (tokens, now)
            wait = max(1, math.ceil((1 - tokens) / refill))
            err = throttled("read" if kind == "reads" else "write", sub, req.principal.object_id, wait)
            err.headers[f"x-ms-ratelimit-remaining-subscription-{kind}"] = "0"
            raise err
        tokens -= 1
        state.throttle[key] = (tokens, now)
    remaining = str(int(tokens))
    return {f"x-ms-ratelimit-remaining-subscription-{kind}": remaining, f"x-ms-ratelimit-remaining-tenant-{kind}": remaining}


# --- lookups shared by the handlers ----------------------------------------------------------

def require_subscription(state: State, sub: str) -> None:
    if sub.lower() not in state.world.subscriptions:
        raise subscription_not_found(sub)


def require_resource_group(state: State, sub: str, rg: str) -> None:
    require_subscription(state, sub)
    if (sub.lower(), rg.lower()) not in state.world.resource_groups:
        raise resource_group_not_found(rg)


def require_workspace(state: State, sub: str, rg: str, ws: str) -> Union[Project, Hub]:
    require_resource_group(state, sub, rg)
    key = (sub.lower(), rg.lower(), ws.lower())
    found = state.world.projects.get(key) or state.world.hubs.get(key)
    if found is None:
        raise resource_not_found("Microsoft.MachineLearningServices/workspaces", ws, rg)
    return found


def require_project(state: State, sub: str, rg: str, ws: str) -> Project:
    found = require_workspace(state, sub, rg, ws)
    if isinstance(found, Hub):
        raise ArmError(400, "UserError", f"Workspace '{found.name}' is a hub. Serverless endpoints and Marketplace subscriptions belong to a project of the hub.", inner_code="WorkspaceKindNotSupported")
    return found


def require_registered(state: State, sub: str, namespace: str) -> None:
    if state.providers.get((sub.lower(), namespace.lower()), "NotRegistered") != "Registered":
        raise missing_registration(namespace)


def arm_base(req: Request) -> str:
    return "https://management.azure.com" if req.host == "management.azure.com" else req.base_url()


def system_data(principal: Principal, created_at: str, created_by: Optional[dict[str, str]] = None) -> dict[str, Any]:
    who = {"by": principal.display, "type": "User" if principal.kind == "user" else "Application"}
    first = created_by or who
    return {
        "createdAt": created_at,
        "createdBy": first["by"],
        "createdByType": first["type"],
        "lastModifiedAt": now_iso(),
        "lastModifiedBy": who["by"],
        "lastModifiedByType": who["type"],
    }


def paged(items: list[Any], req: Request, page_size: int = 100) -> dict[str, Any]:
    """A page of a collection, with ARM's nextLink ($skipToken) when more remain."""
    skip = int(req.query.get("$skiptoken") or req.query.get("$skip") or 0)
    page = items[skip : skip + page_size]
    body: dict[str, Any] = {"value": page}
    if skip + page_size < len(items):
        body["nextLink"] = f"{arm_base(req)}{req.path}?api-version={req.api_version}&$skipToken={skip + page_size}"
    return body


# Register the handlers with the URL table.
from . import authz, mls, resources  # noqa: E402,F401
