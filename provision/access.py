"""Whether the caller may: role assignments and definitions, effective permissions, and the
Marketplace rights that buying a model's offer needs (signed at the subscription). Pure: it
reads what refresh read. Shared by the checks of both targets."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Optional

from .errors import AzureError
from .fields import DEFAULT_ROLES
from .findings import Check, Finding, _cannot_read
from .live import AccountState, Identity, LiveState, Permission, ProjectState, Read, RoleAssignment, RoleDefinition, SubscriptionState, covers, role_guid, subscription_wide
from .spec import Deployment

# Subscribing to a model offer (docs: "Permissions required to subscribe to model offerings");
# the Azure AI Developer role alone does not include these.
MARKETPLACE_ACTIONS = (
    "Microsoft.MarketplaceOrdering/agreements/offers/plans/read",
    "Microsoft.MarketplaceOrdering/agreements/offers/plans/sign/action",
    "Microsoft.SaaS/resources/read",
    "Microsoft.SaaS/resources/write",
)
SUBSCRIPTION_ACTIONS = MARKETPLACE_ACTIONS[:2]  # MarketplaceOrdering: evaluated at the subscription's scope


@lru_cache(maxsize=512)
def _pattern(action: str) -> re.Pattern[str]:
    # `*` matches anything; `a/*/b` also matches `a/b` (Azure AI Developer's workspaces/*/write
    # covers workspaces/write, which is why that role lists it in notActions).
    parts = [re.escape(p) for p in action.split("*")]
    text = ".*".join(parts).replace(r"/.*/", r"/(?:.*/)?")
    return re.compile(f"^{text}$", re.IGNORECASE)


def allowed(permissions: Iterable[Permission], action: str) -> bool:
    return any(
        any(_pattern(a).match(action) for a in p.actions) and not any(_pattern(n).match(action) for n in p.not_actions)
        for p in permissions
    )


def missing_actions(needed: Iterable[tuple[str, str]], here: Iterable[Permission], wide: Optional[Iterable[Permission]]) -> list[tuple[str, str]]:
    """The (action, why) pairs the caller may not do: Marketplace terms are signed at the
    subscription, so those actions are judged by its permissions over the whole subscription
    (`wide`, when read); a role on the resource group does not reach them. The rest, `here`."""
    wide_blocks = tuple(wide) if wide is not None else None
    here_blocks = tuple(here)

    def may(action: str) -> bool:
        return allowed(wide_blocks, action) if wide_blocks is not None and action in SUBSCRIPTION_ACTIONS else allowed(here_blocks, action)

    return [(action, why) for action, why in needed if not may(action)]


def _principal_type(identity: Identity) -> str:
    return {"user": "User", "service principal": "ServicePrincipal", "managed identity": "ServicePrincipal"}.get(identity.kind, "ServicePrincipal")


def home(d: Deployment) -> str:
    """Where the deployment lives, in words."""
    return f"Foundry resource {d.account}" if d.foundry else f"project {d.project}"


def role_finding(d: Deployment, p: ProjectState | AccountState, live: LiveState) -> Finding:
    assert live.identity is not None
    rg_scope = f"/subscriptions/{d.subscription}/resourceGroups/{d.resource_group}"
    grant = (
        f"az role assignment create --assignee-object-id {live.identity.object_id} --assignee-principal-type "
        f"{_principal_type(live.identity)} --role \"{d.required_role}\" --scope {rg_scope}"
    )
    if p.assignments is None:
        return _cannot_read(Check.ROLE, d.name, "could not read the caller's role assignments", p.failures.get(Read.ASSIGNMENTS), f"ask an owner to check or grant: {grant}")
    sub = live.subscriptions[d.subscription]
    role_id = sub.role_ids.get(d.required_role.lower())
    if role_id is None:
        failure = sub.failures.get((Read.ROLE, d.required_role.lower()))
        return _cannot_read(Check.ROLE, d.name, f"could not read the role definition '{d.required_role}'", failure, f"ask an owner to check or grant: {grant}")
    if not role_id:
        return Finding(Check.ROLE, d.name, False, f"no role named '{d.required_role}' in subscription {d.subscription}",
                       f"fix `required_role` in the spec (the built-in for target {d.target} is '{DEFAULT_ROLES[d.target]}')")
    held = sorted((a for a in p.assignments if covers(a.scope, p.id)), key=lambda a: len(a.scope))
    for a in held:
        if role_guid(a.role_definition_id) == role_id:
            return Finding(Check.ROLE, d.name, True, f"'{d.required_role}' assigned{_via(a, live)} at {a.scope}")
    required = sub.roles.get(role_id)
    for a in held:
        holder = sub.roles.get(role_guid(a.role_definition_id))
        if required is not None and holder is not None and role_covers(holder, required):
            return Finding(Check.ROLE, d.name, True, f"'{holder.name}'{_via(a, live)} at {a.scope} covers '{d.required_role}' (it allows every action of that role)")
    unread = unread_roles(sub, held)
    if unread:
        return _cannot_read(Check.ROLE, d.name, f"could not read the definitions of the caller's roles to see whether one covers '{d.required_role}'", unread[0], f"ask an owner to check or grant: {grant}")
    return Finding(Check.ROLE, d.name, False, f"the caller does not hold '{d.required_role}' on resource group {d.resource_group}, {home(d)}", f"ask an owner to run: {grant}")


def unread_roles(sub: SubscriptionState, assignments: Iterable[RoleAssignment]) -> list[AzureError]:
    """Why the definitions of these assignments' roles could not be read (refresh's failures)."""
    keys = [(Read.ROLE, a.role_definition_id.lower()) for a in assignments]
    return [sub.failures[k] for k in keys if k in sub.failures]


def _via(a: RoleAssignment, live: LiveState) -> str:
    assert live.identity is not None
    return "" if a.principal_id.lower() == live.identity.object_id.lower() else f" through group {a.principal_id}"


def _literal_match(pattern: str, action: str) -> bool:
    """`pattern` matches `action` taken as text (a `*` in `action` is matched like any character)."""
    return bool(_pattern(pattern).match(action))


def role_covers(holder: RoleDefinition, required: RoleDefinition) -> bool:
    """Every control-plane action of `required` is allowed by `holder`: some block of holder's has an
    action pattern matching it and no notAction overlapping it (either pattern matching the other).
    Data actions are not compared (Owner and Contributor have none; the issue is the control plane)."""
    def allows(action: str, excluded: tuple[str, ...]) -> bool:
        # a notAction of holder's that the required role excludes too takes nothing the role needs
        def takes(n: str) -> bool:
            return (_literal_match(n, action) or _literal_match(action, n)) and not any(_literal_match(x, n) for x in excluded)

        return any(any(_literal_match(a, action) for a in b.actions) and not any(takes(n) for n in b.not_actions) for b in holder.permissions)

    needed = [(a, block.not_actions) for block in required.permissions for a in block.actions]
    return bool(needed) and all(allows(a, excluded) for a, excluded in needed)


def subscription_permissions(d: Deployment, p: ProjectState | AccountState, live: LiveState) -> tuple[Optional[tuple[Permission, ...]], Optional[AzureError]]:
    """The caller's permissions over the whole subscription (roles assigned at it or above), from
    the role definitions refresh read; (None, why) when one of them could not be read, (None, None)
    when they were not read at all."""
    sub = live.subscriptions.get(d.subscription)
    if sub is None or p.assignments is None:
        return None, None
    wide = [a for a in p.assignments if subscription_wide(a)]
    failures = unread_roles(sub, wide)
    roles = [sub.roles.get(role_guid(a.role_definition_id)) for a in wide]
    blocks = tuple(block for r in roles if r is not None for block in r.permissions)
    if failures:  # what was read may settle it anyway (an Owner's definition needs no other)
        return (blocks, None) if all(allowed(blocks, a) for a in SUBSCRIPTION_ACTIONS) else (None, failures[0])
    if any(r is None for r in roles):
        return None, None
    return blocks, None
