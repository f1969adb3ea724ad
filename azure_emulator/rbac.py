"""Role assignments, effective permissions and the AuthorizationFailed check."""
from __future__ import annotations

from typing import Iterable

from .roles import RoleDefinition
from .wire import authorization_failed
from .worldmodel import Principal, RoleAssignment, World


def _norm(scope: str) -> str:
    return "/" + scope.strip("/").lower()


def scope_covers(assignment_scope: str, target: str) -> bool:
    """An assignment applies at its scope and everything beneath it."""
    a, t = _norm(assignment_scope), _norm(target)
    return a == "/" or t == a or t.startswith(a + "/")


def principal_ids(world: World, object_id: str) -> set[str]:
    return {object_id.lower()} | world.groups_of(object_id.lower())


def assignments_for(world: World, object_id: str, scope: str) -> list[RoleAssignment]:
    ids = principal_ids(world, object_id)
    return [a for a in world.role_assignments if a.principal_id.lower() in ids and scope_covers(a.scope, scope)]


def roles_for(world: World, object_id: str, scope: str) -> list[RoleDefinition]:
    found = []
    for a in assignments_for(world, object_id, scope):
        role = world.role_definitions.get(a.role_definition_id.lower())
        if role is not None:
            found.append(role)
    return found


def allowed(world: World, object_id: str, action: str, scope: str) -> bool:
    return any(role.permits(action) for role in roles_for(world, object_id, scope))


def allowed_data(world: World, object_id: str, action: str, scope: str) -> bool:
    """Whether the principal may do a data action (an Entra-authenticated inference call)."""
    return any(role.permits_data(action) for role in roles_for(world, object_id, scope))


def require(world: World, principal: Principal, checks: Iterable[tuple[str, str]]) -> None:
    """Raise AuthorizationFailed for the first (action, scope) the principal may not do."""
    for action, scope in checks:
        if not allowed(world, principal.object_id, action, scope):
            raise authorization_failed(principal.display, principal.object_id, action, scope)
