"""Microsoft.Authorization: permissions, roleAssignments, roleDefinitions."""
from __future__ import annotations

import re
from typing import Any

from . import rbac
from .common import json_body, object_of, paged
from .roles import RoleDefinition
from .store import State
from .wire import Request, Response, arm_error, resource_group_not_found, subscription_not_found
from .worldmodel import RoleAssignment



def _scope_of(state: State, scope: str) -> str:
    scope = scope or "/"
    m = re.match(r"^/subscriptions/([^/]+)", scope, re.IGNORECASE)
    if m and m.group(1).lower() not in state.world.subscriptions:
        raise subscription_not_found(m.group(1))
    m = re.match(r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)", scope, re.IGNORECASE)
    if m and (m.group(1).lower(), m.group(2).lower()) not in state.world.resource_groups:
        raise resource_group_not_found(m.group(2))
    return scope


def _definition_id(sub: str | None, rid: str) -> str:
    prefix = f"/subscriptions/{sub}" if sub else ""
    return f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{rid}"


def _sub_in(scope: str) -> str | None:
    m = re.match(r"^/subscriptions/([^/]+)", scope, re.IGNORECASE)
    return m.group(1) if m else None


def render_assignment(a: RoleAssignment) -> dict[str, Any]:
    sub = _sub_in(a.scope)
    return {
        "id": f"{a.scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{a.id}",
        "name": a.id,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": _definition_id(sub, a.role_definition_id),
            "principalId": a.principal_id,
            "principalType": a.principal_type,
            "scope": a.scope,
            "condition": None,
            "conditionVersion": None,
            "createdOn": "2024-03-01T09:00:00.0000000Z",
            "updatedOn": "2024-03-01T09:00:00.0000000Z",
            "createdBy": None,
            "updatedBy": None,
            "delegatedManagedIdentityResourceId": None,
            "description": None,
        },
    }


def render_definition(d: RoleDefinition, scope: str) -> dict[str, Any]:
    return {
        "id": _definition_id(_sub_in(scope), d.id),
        "name": d.id,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": d.name,
            "description": d.description,
            "type": "BuiltInRole" if d.builtin else "CustomRole",
            "permissions": [
                {"actions": d.actions, "notActions": d.not_actions, "dataActions": d.data_actions, "notDataActions": d.not_data_actions}
            ],
            "assignableScopes": ["/"],
            "createdOn": "2015-02-02T21:55:09.8806423Z",
            "updatedOn": "2025-04-21T15:00:00.0000000Z",
            "createdBy": None,
            "updatedBy": None,
        },
    }


def permissions(state: State, req: Request, scope: str = "") -> Response:
    """The caller's effective permissions at the scope: one block per role that applies."""
    with state.lock:
        scope = _scope_of(state, scope)
        blocks = [
            {"actions": r.actions, "notActions": r.not_actions, "dataActions": r.data_actions, "notDataActions": r.not_data_actions}
            for r in rbac.roles_for(state.world, req.principal.object_id, scope)
        ]
        return Response(200, {"value": blocks})


_FILTER_TERM = re.compile(
    r"^\s*(?:(?P<atscope>atScope\(\))|assignedTo\('(?P<assigned>[^']+)'\)|principalId\s+eq\s+'?(?P<pid>[0-9a-fA-F-]+)'?)\s*$",
    re.IGNORECASE,
)


def list_role_assignments(state: State, req: Request, scope: str = "") -> Response:
    with state.lock:
        scope = _scope_of(state, scope)
        at_scope = False
        principal_filter: set[str] | None = None
        expr = req.query.get("$filter", "")
        for term in re.split(r"\s+and\s+", expr, flags=re.IGNORECASE) if expr.strip() else []:
            m = _FILTER_TERM.match(term)
            if not m:
                raise arm_error("InvalidFilterInQueryString", expr=expr, supported="atScope(), assignedTo('{objectId}'), principalId eq '{objectId}'")
            if m.group("atscope"):
                at_scope = True
            elif m.group("assigned"):
                principal_filter = rbac.principal_ids(state.world, m.group("assigned"))
            else:
                principal_filter = {m.group("pid").lower()}
        asking_for_self = principal_filter is not None and req.principal.object_id in principal_filter
        if not asking_for_self:
            rbac.require(state.world, req.principal, [("Microsoft.Authorization/roleAssignments/read", scope)])
        found = []
        for a in state.world.role_assignments:
            above = rbac.scope_covers(a.scope, scope)
            below = rbac.scope_covers(scope, a.scope)
            if not (above or (below and not at_scope)):
                continue
            if principal_filter is not None and a.principal_id.lower() not in principal_filter:
                continue
            found.append(render_assignment(a))
        return Response(200, paged(found, req))


def role_assignment(state: State, req: Request, name: str, scope: str = "") -> Response:
    with state.lock:
        scope = _scope_of(state, scope)
        existing = next((a for a in state.world.role_assignments if a.id.lower() == name.lower()), None)
        if req.method == "GET":
            rbac.require(state.world, req.principal, [("Microsoft.Authorization/roleAssignments/read", scope)])
            if existing is None:
                raise arm_error("RoleAssignmentNotFound", name=name)
            return Response(200, render_assignment(existing))
        if req.method == "DELETE":
            rbac.require(state.world, req.principal, [("Microsoft.Authorization/roleAssignments/delete", scope)])
            if existing is None:
                return Response(204)
            state.world.role_assignments.remove(existing)
            return Response(200, render_assignment(existing))
        rbac.require(state.world, req.principal, [("Microsoft.Authorization/roleAssignments/write", scope)])
        props = object_of(json_body(req).get("properties"), "properties")
        rid = str(props.get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower()
        if rid not in state.world.role_definitions:
            raise arm_error("RoleDefinitionDoesNotExist", rid=rid)
        pid = str(props.get("principalId", "")).lower()
        known = pid in state.world.principals or pid in state.world.groups
        if not known:
            raise arm_error("PrincipalNotFound", pid=pid, tenant=state.world.tenant_id)
        # Azure: one assignment of a role to a principal at a scope, whatever its name.
        same = any(a.principal_id == pid and a.role_definition_id.lower() == rid and a.scope.lower() == scope.lower()
                   for a in state.world.role_assignments)
        if existing is not None or same:
            raise arm_error("RoleAssignmentExists")
        ptype = "Group" if pid in state.world.groups else ("User" if state.world.principals[pid].kind == "user" else "ServicePrincipal")
        a = RoleAssignment(id=name.lower(), principal_id=pid, principal_type=ptype, role_definition_id=rid, scope=scope)
        state.world.role_assignments.append(a)
        return Response(201, render_assignment(a))


def list_role_definitions(state: State, req: Request, scope: str = "") -> Response:
    with state.lock:
        scope = _scope_of(state, scope)
        expr = req.query.get("$filter", "").strip()
        defs = list(state.world.role_definitions.values())
        if expr:
            m = re.match(r"^roleName\s+eq\s+'(?P<name>[^']*)'$", expr, re.IGNORECASE)
            t = re.match(r"^type\s+eq\s+'(?P<type>[^']*)'$", expr, re.IGNORECASE)
            if m:
                defs = [d for d in defs if d.name.lower() == m.group("name").lower()]
            elif t:
                want = t.group("type").lower()
                defs = [d for d in defs if ("builtinrole" if d.builtin else "customrole") == want]
            else:
                raise arm_error("InvalidFilterInQueryString", expr=expr, supported="roleName eq '{name}', type eq 'BuiltInRole|CustomRole'")
        return Response(200, paged([render_definition(d, scope) for d in defs], req))


def get_role_definition(state: State, req: Request, rid: str, scope: str = "") -> Response:
    with state.lock:
        scope = _scope_of(state, scope)
        d = state.world.role_definitions.get(rid.lower())
        if d is None:
            raise arm_error("RoleDefinitionDoesNotExist", status=404, rid=rid)
        return Response(200, render_definition(d, scope))

