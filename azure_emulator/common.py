"""What the ARM handlers share: lookups that answer Azure's 404s, request bodies, paging,
systemData and the headers of long-running operations."""
from __future__ import annotations

import urllib.parse
import uuid
from datetime import datetime, timezone
from typing import Any, Optional, Union

from .models import ML, Operation
from .store import State
from .wire import Request, arm_error, user_error, missing_registration, resource_group_not_found, resource_not_found, subscription_not_found
from .worldmodel import Hub, Principal, Project

MAX_PAGE = 1000


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def require_subscription(state: State, sub: str) -> None:
    if sub.lower() not in state.world.subscriptions:
        if not is_guid(sub):
            raise arm_error("InvalidSubscriptionId", sub=sub)
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
        raise user_error(f"Workspace '{found.name}' is a hub. Serverless endpoints and Marketplace subscriptions belong to a project of the hub.",
                         "WorkspaceKindNotSupported")
    return found


def require_registered(state: State, sub: str, namespace: str) -> None:
    if state.providers.get((sub.lower(), namespace.lower()), "NotRegistered") != "Registered":
        raise missing_registration(namespace)


def json_body(req: Request) -> dict[str, Any]:
    """The JSON object a PUT, PATCH or POST sent ({} for none): 415 for another media type,
    400 for a body that is not a JSON object."""
    ctype = req.header("Content-Type").split(";")[0].strip().lower()
    if req.body and ctype and ctype != "application/json" and not ctype.endswith("+json"):
        raise arm_error("UnsupportedMediaType", ctype=ctype)
    try:
        body = req.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise arm_error("InvalidRequestContent", why="") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise arm_error("InvalidRequestContent", why=": expected an object")
    return body


def tags_of(value: Any) -> dict[str, str]:
    """ARM's tags: an object of strings (None: none), or 400 InvalidRequestContent."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise arm_error("InvalidRequestContent", why=": tags must be an object of strings")
    return {str(k): v for k, v in value.items()}


def object_of(value: Any, path: str) -> dict[str, Any]:
    """An optional JSON object in a body ({} for none), or 400 InvalidRequestContent naming it."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise arm_error("InvalidRequestContent", why=f": {path} must be an object")
    return value


def arm_base(req: Request) -> str:
    return "https://management.azure.com" if req.host == "management.azure.com" else req.base_url()


def system_data(principal: Principal, created_at: str, created_by: Optional[dict[str, str]] = None) -> dict[str, str]:
    who = {"by": principal.display, "type": "User" if principal.kind == "user" else "Application"}
    first = created_by or who
    return {"createdAt": created_at, "createdBy": first["by"], "createdByType": first["type"], "lastModifiedAt": now_iso(),
            "lastModifiedBy": who["by"], "lastModifiedByType": who["type"]}


def modified(principal: Principal, before: dict[str, str]) -> dict[str, str]:
    """systemData after a change by `principal` (the creation stays as it was)."""
    return system_data(principal, before["createdAt"], {"by": before["createdBy"], "type": before["createdByType"]})


def paged(items: list[Any], req: Request, page_size: int = 100) -> dict[str, Any]:
    """A page of a collection, with ARM's nextLink ($skipToken) when more remain; `$top` caps the
    page, and the nextLink keeps the request's other query parameters ($filter, $top)."""
    token = req.query.get("$skiptoken") or req.query.get("$skip") or "0"
    if not (token.isascii() and token.isdigit()) or len(token) > 9:
        raise arm_error("InvalidSkipToken", token=token[:100])
    skip = int(token)
    top = req.query.get("$top")
    if top is not None:
        if not (top.isascii() and top.isdigit()) or not 1 <= int(top) <= MAX_PAGE:
            raise arm_error("InvalidTopValue", value=top[:100])
        page_size = int(top)
    page = items[skip : skip + page_size]
    body: dict[str, Any] = {"value": page}
    if skip + page_size < len(items):
        query = {k: v for k, v in req.query.items() if k not in ("$skiptoken", "$skip")}
        query["$skipToken"] = str(skip + page_size)
        body["nextLink"] = f"{arm_base(req)}{req.path}?{urllib.parse.urlencode(query, safe='$,()')}"
    return body


def poll_headers(state: State) -> dict[str, str]:
    headers = {"Retry-After": str(state.config.retry_after)}
    if state.config.retry_after_ms is not None:
        headers["retry-after-ms"] = str(state.config.retry_after_ms)
    return headers


def accepted_headers(state: State, req: Request, op: Operation, with_location: bool = False) -> dict[str, str]:
    base = f"{arm_base(req)}/subscriptions/{op.subscription}/providers/{ML}/locations/{op.location}"
    headers = {
        "Azure-AsyncOperation": f"{base}/mfeOperationsStatus/{op.id}?api-version={req.api_version}",
        "x-ms-async-operation-timeout": "PT1H",
        **poll_headers(state),
    }
    if with_location:
        headers["Location"] = f"{base}/mfeOperationResults/{op.id}?api-version={req.api_version}"
    return headers
