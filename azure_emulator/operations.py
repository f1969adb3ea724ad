"""The long-running operation state machine, in one place.

An operation starts when a handler accepts a PUT, PATCH or DELETE; it ends on the clock, as
Azure's do, whether or not anyone polls (`Operation.due`). Every request first settles the
operations that are due (`tick`), so a DELETE sent by a client that never polls (`az rest`) is
over by the time its next request arrives; polling only observes. Ending an operation applies
its effect to its resource here and nowhere else. Callers hold the state lock.
"""
from __future__ import annotations

import time
import uuid
from typing import Optional

from . import foundry, rules
from .common import now_iso
from .models import FoundryDeployment, MarketplaceSubscription, Operation, Pace, ServerlessEndpoint
from .store import State

RUNNING = "InProgress"


def start(state: State, kind: str, resource: ServerlessEndpoint | MarketplaceSubscription | FoundryDeployment, location: str) -> Operation:
    """Start `kind` (create | update | delete) on a resource, failing later if a fault rule says so."""
    config = state.config
    interval = config.retry_after_ms / 1000 if config.retry_after_ms is not None else float(config.retry_after)
    op = Operation(
        id=f"{resource.kind[:6].lower()}:{uuid.uuid4()}:{uuid.uuid4()}",
        location=location,
        subscription=resource.subscription,
        kind=kind,
        resource_id=resource.id.lower(),
        resource_type=resource.kind,
        started=time.monotonic(),
        pace=config.pace_for(resource.kind),
        interval=interval,
        start_time=now_iso(),
    )
    op.error = state.injected_failure(resource.kind, resource.name, kind)
    state.operations[op.id.lower()] = op
    state.running.setdefault(op.resource_id, []).append(op)
    return op


IN_FLIGHT = {"Creating": "create", "Accepted": "create", "Updating": "update", "Deleting": "delete"}  # provisioningState -> operation


def finish_interrupted(state: State) -> None:
    """The operations that were running when the emulator stopped (their resources, read back from
    the state file, are still Creating, Updating or Deleting) end now, through `settle`, as if they
    had run their course: a deleted subscription suspends its endpoints, a purchase can be refused."""
    with state.lock:
        for resource in list(state.resources.values()):
            kind = IN_FLIGHT.get(getattr(resource, "provisioning_state", ""))
            if kind is None or not isinstance(resource, (ServerlessEndpoint, MarketplaceSubscription, FoundryDeployment)):
                continue
            location = getattr(resource, "location", "") or "eastus2"
            op = start(state, kind, resource, location)
            op.pace, op.error = Pace(), None
            settle(state, op)


def running(state: State, resource_id: str) -> Optional[Operation]:
    """The latest operation running on the resource, if any."""
    ops = state.running.get(resource_id.lower())
    return ops[-1] if ops else None


def running_under(state: State, parent_id: str) -> Optional[Operation]:
    """An operation running on any resource beneath `parent_id` (a Foundry account's deployments)."""
    prefix = parent_id.lower() + "/"
    return next((ops[-1] for rid, ops in state.running.items() if ops and rid.startswith(prefix)), None)


def observe(state: State, op: Operation) -> None:
    """A poll of the operation's status monitor: it counts, then the operation settles if due."""
    if op.status == RUNNING:
        op.polls += 1
        settle(state, op)


def observe_resource(state: State, resource_id: str) -> None:
    """A read of the resource counts as a poll of its running operations."""
    for op in list(state.running.get(resource_id.lower(), ())):
        observe(state, op)


def observed_children(state: State, cls: type[rules.R], sub: str, rg: str, ws: str) -> list[rules.R]:
    """A project's resources of one type, by name, once a list has observed their operations
    (a finished delete removes its resource from the list)."""
    for resource in rules.children(state, cls, sub, rg, ws):
        observe_resource(state, resource.id)
    return sorted(rules.children(state, cls, sub, rg, ws), key=lambda r: r.name.lower())


def tick(state: State) -> None:
    """Settle every operation whose time has come (before any request is answered)."""
    now = time.monotonic()
    for op in [op for ops in state.running.values() for op in ops if op.due(now)]:
        settle(state, op)


def settle(state: State, op: Operation) -> None:
    """End the operation if it is due, applying its effect to its resource."""
    if op.status != RUNNING or not op.due(time.monotonic()):
        return
    op.ended, op.end_time = time.monotonic(), now_iso()
    others = [o for o in state.running.pop(op.resource_id, []) if o is not op]
    if others:
        state.running[op.resource_id] = others
    resource = state.resources.get(op.resource_id)
    if isinstance(resource, MarketplaceSubscription) and op.kind in ("create", "update") and op.error is None:
        op.error = rules.purchase_refusal(state, resource)
    if isinstance(resource, FoundryDeployment) and op.kind == "create" and op.error is None:
        op.error = foundry.late_refusal(state, resource)
    if op.error is not None:
        op.status = "Failed"
        if isinstance(resource, (ServerlessEndpoint, MarketplaceSubscription, FoundryDeployment)):
            _failed(resource, op.kind)
    else:
        op.status = "Succeeded"
        if isinstance(resource, (ServerlessEndpoint, MarketplaceSubscription, FoundryDeployment)):
            _succeeded(state, resource, op.kind)
    state.save()


def _failed(resource: ServerlessEndpoint | MarketplaceSubscription | FoundryDeployment, kind: str) -> None:
    resource.provisioning_state = "Failed"
    if isinstance(resource, ServerlessEndpoint):
        resource.endpoint_state = {"create": "CreationFailed", "delete": "DeletionFailed"}.get(kind, resource.endpoint_state)
    elif isinstance(resource, MarketplaceSubscription) and kind == "create":
        resource.status = "Unsubscribed"


def _succeeded(state: State, resource: ServerlessEndpoint | MarketplaceSubscription | FoundryDeployment, kind: str) -> None:
    if kind == "delete":
        del state.resources[resource.id.lower()]
        if isinstance(resource, MarketplaceSubscription):
            rules.after_unsubscribe(state, resource)
        return
    resource.provisioning_state = "Succeeded"
    if isinstance(resource, ServerlessEndpoint):
        resource.endpoint_state = rules.online_state(state, resource)
    elif isinstance(resource, MarketplaceSubscription):
        resource.status = "Subscribed"
        rules.after_subscribe(state, resource)
