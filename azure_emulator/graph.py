"""Microsoft Graph (graph.microsoft.com/v1.0), as the az CLI and the role-assignment tools use it.

The directory is the world's: its service principals and managed identities (servicePrincipals),
users and groups. Calls answered:

* `POST /directoryObjects/getByIds` (how `az role assignment list` names principals),
  `GET /directoryObjects/{id}`;
* `GET /servicePrincipals?$filter=…` (`servicePrincipalNames/any(c:c eq '<appId>')` is how az
  resolves `--assignee <appId>`; also `appId eq`, `displayName eq`, `id eq`, `startswith(…)`),
  `GET /servicePrincipals/{object id}`, `GET /servicePrincipals(appId='…')`;
* `GET /users?$filter=userPrincipalName eq '…'` (az's `--assignee <UPN>`), `GET /users/{id or UPN}`;
* `GET /groups?$filter=…`, `GET /groups/{id}`;
* `POST /{users|servicePrincipals|groups|directoryObjects}/{id}/getMemberGroups` and `/checkMemberGroups`;
* `GET /me` for a user's token (Graph's 400 for an application's).

The shapes carry what az reads: a service principal has `appId`, `displayName`,
`servicePrincipalNames` (az shows the first as the principal's name, so it is the appId) and no
`userPrincipalName` (az would show that instead, empty); a user has `userPrincipalName`.
Errors are Graph's envelope (wire.graph_error). A request needs a bearer token of the world's
tenant (401 `InvalidAuthenticationToken` otherwise).
"""
from __future__ import annotations

import re
from typing import Any, Callable, Optional, Union

from . import identity
from .store import State
from .wire import Request, Response, graph_error
from .worldmodel import Group, Principal

GRAPH_BASE = "https://graph.microsoft.com/v1.0"
Entry = Union[Principal, Group]
Predicate = Callable[[dict[str, Any]], bool]
_CLAUSE = re.compile(
    r"^\s*(?:(?P<field>[A-Za-z]+)\s+eq\s+'(?P<value>(?:[^']|'')*)'"
    r"|startswith\(\s*(?P<sfield>[A-Za-z]+)\s*,\s*'(?P<prefix>(?:[^']|'')*)'\s*\)"
    r"|(?P<coll>[A-Za-z]+)/any\(\s*(?P<var>\w+)\s*:\s*(?P=var)\s+eq\s+'(?P<item>(?:[^']|'')*)'\s*\))\s*$"
)
_SPLIT = re.compile(r"\s+(and|or)\s+", re.IGNORECASE)


class GraphFailure(Exception):
    """A Graph error answer (see wire.graph_error)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# --- the directory's objects ------------------------------------------------------------------

def _kind(entry: Entry) -> str:
    if isinstance(entry, Group):
        return "group"
    return "user" if entry.kind == "user" else "servicePrincipal"


def _identity_resource_id(state: State, principal: Principal) -> str:
    sub = next(iter(state.world.subscriptions))
    return f"/subscriptions/{sub}/resourcegroups/rg-identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{principal.name}"


def _service_principal(state: State, p: Principal) -> dict[str, Any]:
    managed = p.kind == "managed_identity"
    names = [p.client_id] + ([_identity_resource_id(state, p)] if managed else [])
    return {
        "@odata.type": "#microsoft.graph.servicePrincipal",
        "id": p.object_id,
        "appId": p.client_id,
        "displayName": p.name,
        "appDisplayName": None if managed else p.name,
        "appOwnerOrganizationId": None if managed else state.world.tenant_id,
        "accountEnabled": True,
        "servicePrincipalNames": names,
        "servicePrincipalType": "ManagedIdentity" if managed else "Application",
        "alternativeNames": ["isExplicit=True", names[1]] if managed else [],
        "signInAudience": None if managed else "AzureADMyOrg",
        "tags": [],
    }


def _user(p: Principal) -> dict[str, Any]:
    upn = p.upn or p.name
    return {
        "@odata.type": "#microsoft.graph.user",
        "id": p.object_id,
        "userPrincipalName": upn,
        "displayName": p.name,
        "mail": upn,
        "givenName": None,
        "surname": None,
        "jobTitle": None,
        "businessPhones": [],
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
    }


def _group(g: Group) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.group",
        "id": g.object_id,
        "displayName": g.name,
        "mailNickname": g.name,
        "mailEnabled": False,
        "securityEnabled": True,
        "description": None,
        "groupTypes": [],
    }


def render(state: State, entry: Entry) -> dict[str, Any]:
    if isinstance(entry, Group):
        return _group(entry)
    return _user(entry) if entry.kind == "user" else _service_principal(state, entry)


def _entries(state: State, kind: Optional[str]) -> list[Entry]:
    everything: list[Entry] = [*state.world.principals.values(), *state.world.groups.values()]
    return [e for e in everything if kind is None or _kind(e) == kind]


def _by_key(state: State, kind: Optional[str], key: str) -> Entry:
    """An object by id, or (users) by UPN, or (service principals) by appId."""
    wanted = key.lower()
    for entry in _entries(state, kind):
        rendered = render(state, entry)
        if wanted in (rendered["id"], str(rendered.get("userPrincipalName") or "").lower()):
            return entry
    raise GraphFailure(404, "Request_ResourceNotFound",
                       f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.")


# --- $filter ------------------------------------------------------------------------------------

def _clause(text: str) -> Predicate:
    m = _CLAUSE.match(text)
    if m is None:
        raise GraphFailure(400, "BadRequest", f"Invalid filter clause: the emulator does not support '{text.strip()}'.")
    if m["field"]:
        name, value = m["field"], m["value"].replace("''", "'").lower()
        return lambda obj: str(obj.get(name) or "").lower() == value
    if m["sfield"]:
        name, prefix = m["sfield"], m["prefix"].replace("''", "'").lower()
        return lambda obj: str(obj.get(name) or "").lower().startswith(prefix)
    coll, item = m["coll"], m["item"].replace("''", "'").lower()
    return lambda obj: item in [str(v).lower() for v in obj.get(coll) or []]


def matcher(expression: str) -> Predicate:
    """A predicate for a Graph `$filter` of `eq`, `startswith` and `any(…)` clauses joined by
    `and` / `or` (left to right); anything else is Graph's 400."""
    parts = _SPLIT.split(expression.strip())
    test = _clause(parts[0])
    for op, text in zip(parts[1::2], parts[2::2]):
        test = _combine(test, op.lower(), _clause(text))
    return test


def _combine(left: Predicate, op: str, right: Predicate) -> Predicate:
    def both(obj: dict[str, Any]) -> bool:
        return left(obj) and right(obj)

    def either(obj: dict[str, Any]) -> bool:
        return left(obj) or right(obj)

    return both if op == "and" else either


# --- the calls ----------------------------------------------------------------------------------

_COLLECTIONS = {"servicePrincipals": "servicePrincipal", "users": "user", "groups": "group", "directoryObjects": None}


def _collection(state: State, req: Request, name: str) -> Response:
    objects = [render(state, e) for e in _entries(state, _COLLECTIONS[name])]
    expression = req.query.get("$filter")
    if expression:
        keep = matcher(expression)
        objects = [o for o in objects if keep(o)]
    top = req.query.get("$top")
    if top:
        if not top.isdigit() or int(top) < 1:
            raise GraphFailure(400, "BadRequest", f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive.")
        objects = objects[: int(top)]
    return Response(200, {"@odata.context": f"{GRAPH_BASE}/$metadata#{name}", "value": objects})


def _one(state: State, name: str, key: str) -> Response:
    entry = _by_key(state, _COLLECTIONS[name], key)
    return Response(200, {"@odata.context": f"{GRAPH_BASE}/$metadata#{name}/$entity", **render(state, entry)})


def _member_groups(state: State, req: Request, name: str, key: str, action: str) -> Response:
    entry = _by_key(state, _COLLECTIONS[name], key)
    groups = sorted(state.world.groups_of(entry.object_id))
    if action == "checkmembergroups":
        asked = {str(i).lower() for i in ((req.json() or {}).get("groupIds") or [])}
        groups = [g for g in groups if g in asked]
    return Response(200, {"@odata.context": f"{GRAPH_BASE}/$metadata#Collection(Edm.String)", "value": groups})


def _get_by_ids(state: State, req: Request) -> Response:
    body = req.json() or {}
    ids = [str(i).lower() for i in (body.get("ids") or [])]
    types = {str(t).lower() for t in (body.get("types") or [])}
    found: list[dict[str, Any]] = []
    for oid in ids:
        for entry in _entries(state, None):
            if entry.object_id == oid and (not types or _kind(entry).lower() in types):
                found.append(render(state, entry))
    return Response(200, {"@odata.context": f"{GRAPH_BASE}/$metadata#directoryObjects", "value": found})


def _me(state: State, req: Request) -> Response:
    caller = _caller(state, req)
    if caller.kind != "user":
        raise GraphFailure(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
    return Response(200, {"@odata.context": f"{GRAPH_BASE}/$metadata#users/$entity", **_user(caller)})


def _caller(state: State, req: Request) -> Principal:
    scheme, _, token = req.header("Authorization").partition(" ")
    claims = identity.decode_claims(token.strip()) if scheme.lower() == "bearer" else None
    if not claims or str(claims.get("tid", "")).lower() != state.world.tenant_id.lower():
        raise GraphFailure(401, "InvalidAuthenticationToken", "Access token is empty." if not token else "Access token validation failure.")
    principal = state.world.principals.get(str(claims.get("oid", "")).lower())
    if principal is None:
        raise GraphFailure(401, "InvalidAuthenticationToken", "Access token validation failure: unknown principal.")
    return principal


def _route(state: State, req: Request) -> Response:
    parts = req.path.strip("/").split("/")[1:]  # without the version (v1.0 or beta)
    method = req.method
    if parts == ["me"] and method == "GET":
        return _me(state, req)
    if parts == ["directoryObjects", "getByIds"] and method == "POST":
        return _get_by_ids(state, req)
    app = re.match(r"^servicePrincipals\(appId='([^']+)'\)$", parts[0]) if len(parts) == 1 else None
    if app and method == "GET":
        return _one(state, "servicePrincipals", next((p.object_id for p in state.world.principals.values()
                                                      if p.kind != "user" and p.client_id.lower() == app[1].lower()), app[1]))
    if parts and parts[0] in _COLLECTIONS:
        if len(parts) == 1 and method == "GET":
            return _collection(state, req, parts[0])
        if len(parts) == 2 and method == "GET":
            return _one(state, parts[0], parts[1])
        if len(parts) == 3 and method == "POST" and parts[2].lower() in ("getmembergroups", "checkmembergroups"):
            return _member_groups(state, req, parts[0], parts[1], parts[2].lower())
    if parts and parts[0] in _COLLECTIONS and method in ("POST", "PATCH", "DELETE"):
        raise GraphFailure(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation (the emulator's directory is read-only).")
    raise GraphFailure(400, "BadRequest", f"Resource not found for the segment '{'/'.join(parts) or req.path}' (not emulated).")


def handle(state: State, req: Request) -> Response:
    """Answer one Graph request (any host path beginning /v1.0 or /beta)."""
    try:
        _caller(state, req)
        return _route(state, req)
    except GraphFailure as failure:
        return graph_error(failure.status, failure.code, failure.message)
    except ValueError:
        return graph_error(400, "BadRequest", "Unable to read JSON request payload.")
