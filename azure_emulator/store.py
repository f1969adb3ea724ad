"""The emulator's state: live resources, long-running operations, logs, faults and pacing.

One lock guards it all; handlers hold it only while they read or change state, never while
they sleep (latency faults, pacing) or talk to the network.
"""
from __future__ import annotations

import copy
import json
import os
import random
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from .world import World, load_world

RESOURCE_KINDS = ("serverlessEndpoints", "marketplaceSubscriptions", "saas")


@dataclass
class Pace:
    """How a long-running operation progresses: terminal after `polls` polls and `seconds` seconds."""

    polls: int = 0
    seconds: float = 0.0


@dataclass
class Operation:
    id: str
    location: str
    subscription: str
    kind: str  # create | update | delete | regenerate
    resource_id: str  # lower-case ARM id of the target
    resource_type: str  # serverlessEndpoints | marketplaceSubscriptions
    started: float
    pace: Pace
    polls: int = 0
    status: str = "InProgress"
    error: Optional[dict[str, str]] = None  # set when the operation is to fail (or has failed)
    ended: Optional[float] = None


@dataclass
class Faults:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_statuses: list[int] = field(default_factory=lambda: [500, 503, 429])
    drop_rate: float = 0.0  # fraction of requests whose connection is closed without an answer
    routes: list[dict[str, Any]] = field(default_factory=list)  # {method, path (regex), status, code, message, times}
    lro_failures: list[dict[str, Any]] = field(default_factory=list)  # {resource_type, name?, code, message, times}
    hosts: list[str] = field(default_factory=lambda: ["management.azure.com"])
    seed: Optional[int] = None


@dataclass
class Config:
    pace: dict[str, Pace] = field(default_factory=lambda: {"default": Pace()})
    retry_after: int = 1  # integer seconds: the SDK's delete path parses it with int()
    retry_after_ms: Optional[int] = 20  # sub-second polling hint; None for ARM-like pacing
    throttle_reads: tuple[float, float] = (250, 25)  # bucket size, refill per second
    throttle_writes: tuple[float, float] = (200, 10)
    inference_rpm: int = 1000
    inference_tpm: int = 200_000
    content_filter_trigger: str = "[[content-filter]]"
    registry_page_size: int = 20  # items per page of the registry's model lists (then nextLink)

    def pace_for(self, resource_type: str) -> Pace:
        return self.pace.get(resource_type) or self.pace.get("default") or Pace()


PACES: dict[str, dict[str, Any]] = {
    "instant": dict(pace={"default": Pace(0, 0)}, retry_after=1, retry_after_ms=20),
    "fast": dict(pace={"default": Pace(2, 0)}, retry_after=1, retry_after_ms=20),
    "arm": dict(pace={"default": Pace(2, 0)}, retry_after=1, retry_after_ms=None),
}


def preset(name: str) -> Config:
    """A fresh Config for a pace preset (nothing shared with PACES or another Config)."""
    return Config(**copy.deepcopy(PACES[name]))


class State:
    def __init__(self, world: Optional[World] = None, state_file: Optional[str] = None) -> None:
        self.lock = threading.RLock()
        self.world = world or load_world()
        self.config = Config()
        self.initial_config = Config()  # what /_emulator/reset goes back to: the configuration at start
        self.faults = Faults()
        self.rng = random.Random()
        self.state_file = state_file
        self.reset_resources()
        self.log: list[dict[str, Any]] = []
        self.egress: list[dict[str, Any]] = []
        if state_file and os.path.exists(state_file):
            self.load(state_file)

    def reset_resources(self) -> None:
        self.resources: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, Operation] = {}
        self.providers = {
            (sub.id, ns.lower()): state for sub in self.world.subscriptions.values() for ns, state in sub.providers.items()
        }
        self.throttle: dict[tuple[str, str, str], tuple[float, float]] = {}
        self.inference_usage: dict[str, list[tuple[float, int]]] = {}

    # -- operations ------------------------------------------------------------------------
    def new_operation(self, kind: str, resource_id: str, resource_type: str, location: str, subscription: str) -> Operation:
        op = Operation(
            id=f"{resource_type[:6].lower()}:{uuid.uuid4()}:{uuid.uuid4()}",
            location=location,
            subscription=subscription,
            kind=kind,
            resource_id=resource_id.lower(),
            resource_type=resource_type,
            started=time.monotonic(),
            pace=self.config.pace_for(resource_type),
        )
        name = resource_id.rsplit("/", 1)[-1].lower()
        for rule in self.faults.lro_failures:
            if rule.get("resource_type", resource_type).lower() != resource_type.lower():
                continue
            if rule.get("name") and rule["name"].lower() != name:
                continue
            if rule.get("kind") and rule["kind"] != kind:
                continue
            if rule.get("times", 1) <= 0:
                continue
            rule["times"] = rule.get("times", 1) - 1
            op.error = {"code": rule.get("code", "InjectedOperationFailure"), "message": rule.get("message", "The operation failed (injected by the emulator).")}
        self.operations[op.id.lower()] = op
        return op

    def ready(self, op: Operation) -> bool:
        return op.polls >= op.pace.polls and time.monotonic() - op.started >= op.pace.seconds

    # -- logs ------------------------------------------------------------------------------
    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.log.append(entry)
            if len(self.log) > 100_000:
                del self.log[: len(self.log) - 100_000]

    # -- persistence -----------------------------------------------------------------------
    def _persistent(self) -> dict[str, Any]:
        """What the state file keeps: resources and provider registrations."""
        return {
            "resources": list(self.resources.values()),
            "providers": [{"subscription": s, "namespace": ns, "state": st} for (s, ns), st in self.providers.items()],
        }

    def dump(self) -> dict[str, Any]:
        with self.lock:
            return {
                **self._persistent(),
                "operations": [asdict(op) for op in self.operations.values()],
                "role_assignments": [asdict(a) for a in self.world.role_assignments],
                "config": {**asdict(self.config), "throttle_reads": list(self.config.throttle_reads),
                           "throttle_writes": list(self.config.throttle_writes)},
                "faults": asdict(self.faults),
                "egress": list(self.egress),
            }

    def save(self) -> None:
        if not self.state_file:
            return
        tmp = f"{self.state_file}.tmp"
        # The state holds the endpoints' keys: readable by the owner only, replaced atomically.
        # Written under the lock: the records are the live ones.
        with self.lock, os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as fh:
            json.dump(self._persistent(), fh)
        os.replace(tmp, self.state_file)

    def load(self, path: str) -> None:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        with self.lock:
            self.resources = {r["id"].lower(): r for r in data.get("resources", [])}
            for p in data.get("providers", []):
                self.providers[(p["subscription"], p["namespace"])] = p["state"]
            # Operations that were running when the emulator stopped are finished by time.
            for r in self.resources.values():
                if r.get("provisioningState") in ("Creating", "Updating"):
                    r["provisioningState"] = "Succeeded"
                    if r["kind"] == "serverlessEndpoints":
                        r["endpointState"] = "Online"
                    if r["kind"] == "marketplaceSubscriptions":
                        r["status"] = "Subscribed"
            for rid in [rid for rid, r in self.resources.items() if r.get("provisioningState") == "Deleting"]:
                del self.resources[rid]
