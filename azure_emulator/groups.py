"""Microsoft.Resources resource groups: create (idempotent), update tags, delete with what they
hold, list filtered by tag, and the operation-result monitor a group deletion points at.

The groups are the world's (`world.resource_groups`): a reset goes back to the world's own. A
deletion is done when it is accepted (202 + `Location`); the monitor then answers 200 (Azure
takes minutes; nothing of the group is readable meanwhile either way).
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any, Optional

from . import deployments, rbac
from .common import arm_base, json_body, paged, poll_headers, require_subscription, tags_of
from .store import State
from .wire import Request, Response, arm_error, invalid_group_location, invalid_group_name, resource_group_not_found
from .worldmodel import ResourceGroup

_NAME = re.compile(r"^[-\w._()]{1,90}$")
_TAG_FILTER = re.compile(r"^\s*tagName\s+eq\s+'(?P<name>[^']*)'(\s+and\s+tagValue\s+eq\s+'(?P<value>[^']*)')?\s*$", re.IGNORECASE)
READ, WRITE, DELETE = (f"Microsoft.Resources/subscriptions/resourceGroups/{verb}" for verb in ("read", "write", "delete"))


def group_id(sub: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{name}"


def body(rg: ResourceGroup) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": group_id(rg.subscription, rg.name),
        "name": rg.name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": rg.location,
        "properties": {"provisioningState": "Succeeded"},
    }
    if rg.tags:
        answer["tags"] = dict(rg.tags)
    return answer


def tag_matcher(expression: str) -> Optional[tuple[str, Optional[str]]]:
    """(tag name, value or None) of ARM's tag filter (`tagName eq 'k' [and tagValue eq 'v']`); None for no filter."""
    if not expression.strip():
        return None
    m = _TAG_FILTER.match(expression)
    if m is None:
        raise arm_error("InvalidFilterInQueryString", expr=expression, supported="tagName eq [and tagValue eq]")
    return m["name"], m["value"]


def has_tag(tags: dict[str, str], wanted: Optional[tuple[str, Optional[str]]]) -> bool:
    """Tag names match case-insensitively, values exactly (as ARM's tag filter does)."""
    if wanted is None:
        return True
    found = {k.lower(): v for k, v in tags.items()}
    name, value = wanted
    return name.lower() in found and (value is None or found[name.lower()] == value)


def list_resource_groups(state: State, req: Request, sub: str) -> Response:
    with state.lock:
        require_subscription(state, sub)
        wanted = tag_matcher(req.query.get("$filter", ""))
        items = [body(rg) for (s, _), rg in state.world.resource_groups.items()
                 if s == sub.lower() and has_tag(rg.tags, wanted)
                 and rbac.allowed(state.world, req.principal.object_id, READ, group_id(s, rg.name))]
        return Response(200, paged(items, req))


def get_resource_group(state: State, req: Request, sub: str, rg: str) -> Response:
    with state.lock:
        existing = _existing(state, sub, rg)
        rbac.require(state.world, req.principal, [(READ, group_id(sub.lower(), existing.name))])
        return Response(204) if req.method == "HEAD" else Response(200, body(existing))


def put_resource_group(state: State, req: Request, sub: str, rg: str) -> Response:
    """Create a group, or update an existing one's tags (200); its location cannot change."""
    with state.lock:
        require_subscription(state, sub)
        rbac.require(state.world, req.principal, [(WRITE, group_id(sub.lower(), rg))])
        if not _NAME.match(rg) or rg.endswith("."):
            raise invalid_group_name(rg)
        sent = json_body(req)
        location = str(sent.get("location") or "").replace(" ", "").lower()
        if not location:
            raise arm_error("LocationRequired")
        key = (sub.lower(), rg.lower())
        existing = state.world.resource_groups.get(key)
        if existing is not None and existing.location.lower() != location:
            raise invalid_group_location(location, existing.location)
        if existing is None:
            state.world.resource_groups[key] = ResourceGroup(rg, location, sub.lower(), tags_of(sent.get("tags")))
            return Response(201, body(state.world.resource_groups[key]))
        existing.tags = tags_of(sent.get("tags"))
        return Response(200, body(existing))


def patch_resource_group(state: State, req: Request, sub: str, rg: str) -> Response:
    with state.lock:
        existing = _existing(state, sub, rg)
        rbac.require(state.world, req.principal, [(WRITE, group_id(sub.lower(), existing.name))])
        sent = json_body(req)
        if "tags" in sent:
            existing.tags = tags_of(sent["tags"])
        return Response(200, body(existing))


def delete_resource_group(state: State, req: Request, sub: str, rg: str) -> Response:
    """Delete the group and everything in it (resources, workspaces, role assignments at or below it)."""
    with state.lock:
        existing = _existing(state, sub, rg)
        scope = group_id(sub.lower(), existing.name)
        rbac.require(state.world, req.principal, [(DELETE, scope)])
        _remove_contents(state, sub.lower(), existing.name.lower(), scope.lower())
        del state.world.resource_groups[(sub.lower(), rg.lower())]
        state.save()
        token = base64.urlsafe_b64encode(json.dumps({"jobId": f"ResourceGroupDeletionJob-{existing.name.upper()}"}).encode()).decode().rstrip("=")
        location = f"{arm_base(req)}/subscriptions/{sub}/operationresults/{token}?api-version={req.api_version}"
        return Response(202, None, {"Location": location, **poll_headers(state)})


def deletion_result(state: State, req: Request, sub: str, token: str) -> Response:
    """`/subscriptions/{s}/operationresults/{token}`: a group deletion's monitor answers 200 (it
    was over once accepted); any other token is a template deployment's (deployments.py)."""
    try:
        job = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, UnicodeDecodeError):
        job = None
    if not isinstance(job, dict) or not str(job.get("jobId", "")).startswith("ResourceGroupDeletionJob-"):
        return deployments.operation_result(state, req, sub, token)
    with state.lock:
        require_subscription(state, sub)
        return Response(200)


def _existing(state: State, sub: str, rg: str) -> ResourceGroup:
    require_subscription(state, sub)
    found = state.world.resource_groups.get((sub.lower(), rg.lower()))
    if found is None:
        raise resource_group_not_found(rg)
    return found


def _remove_contents(state: State, sub: str, rg: str, scope: str) -> None:
    for rid, resource in list(state.resources.items()):
        if resource.subscription == sub and resource.resource_group.lower() == rg:
            del state.resources[rid]
            state.running.pop(rid, None)
    for table in (state.world.hubs, state.world.projects):
        for key in [k for k in table if k[0] == sub and k[1] == rg]:
            del table[key]
    for key in [k for k in state.deployments if k[0] == sub and k[1] == rg]:  # the group's template deployments go with it
        del state.deployments[key]
    state.world.role_assignments[:] = [a for a in state.world.role_assignments
                                       if not (a.scope.lower() == scope or a.scope.lower().startswith(scope + "/"))]

