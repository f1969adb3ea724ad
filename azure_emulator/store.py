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
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

from .models import KINDS, Operation, Pace, Resource, from_record, to_record
from .wire import Request, Response
from .world import load_world
from .worldmodel import World

RESOURCE_KINDS = tuple(KINDS)
__all__ = ["Config", "Faults", "Pace", "PACES", "State", "preset"]


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
        # A nested ARM request made on a caller's behalf (a template deployment's resources):
        # set by the server to its ARM front door.
        self.arm_call: Callable[[Request], Response] = _no_front_door
        self.reset_resources()
        self.log: list[dict[str, Any]] = []
        self.egress: list[dict[str, Any]] = []
        if state_file and os.path.exists(state_file):
            self.load(state_file)

    def reset_resources(self) -> None:
        self.resources: dict[str, Resource] = {}  # by lower-case ARM id
        self.operations: dict[str, Operation] = {}  # by lower-case id, finished ones included
        self.running: dict[str, list[Operation]] = {}  # by lower-case resource id, oldest first
        self.providers = {
            (sub.id, ns.lower()): state for sub in self.world.subscriptions.values() for ns, state in sub.providers.items()
        }
        self.throttle: dict[tuple[str, str, str], tuple[float, float]] = {}
        self.inference_usage: dict[str, list[tuple[float, int]]] = {}
        self.account_keys: dict[str, dict[str, str]] = {}  # Foundry accounts' key1/key2, by lower-case account id
        # Template deployments (deployment_run.Deployment) by (subscription, resource group, name), lower
        # case, and the results their what-if and delete monitors answer, by token (None: 204).
        self.deployments: dict[tuple[str, str, str], Any] = {}
        self.operation_results: dict[str, Optional[dict[str, Any]]] = {}

    # -- operations ------------------------------------------------------------------------
    def injected_failure(self, resource_type: str, name: str, kind: str) -> Optional[dict[str, str]]:
        """The error a fault rule makes this operation end with (each rule counts its uses down)."""
        for rule in self.faults.lro_failures:
            if rule.get("resource_type", resource_type).lower() != resource_type.lower():
                continue
            if rule.get("name") and rule["name"].lower() != name.lower():
                continue
            if rule.get("kind") and rule["kind"] != kind:
                continue
            if rule.get("times", 1) <= 0:
                continue
            rule["times"] = rule.get("times", 1) - 1
            return {"code": rule.get("code", "InjectedOperationFailure"), "message": rule.get("message", "The operation failed (injected by the emulator).")}
        return None

    # -- logs ------------------------------------------------------------------------------
    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.log.append(entry)
            if len(self.log) > 100_000:
                del self.log[: len(self.log) - 100_000]

    # -- persistence -----------------------------------------------------------------------
    def _persistent(self) -> dict[str, Any]:
        """What the state file keeps: resources, provider registrations and the Foundry accounts' keys."""
        return {
            "resources": [to_record(r) for r in self.resources.values()],
            "providers": [{"subscription": s, "namespace": ns, "state": st} for (s, ns), st in self.providers.items()],
            "accountKeys": {aid: dict(keys) for aid, keys in self.account_keys.items()},
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
        # Written and replaced under the lock: the records are the live ones, and one save at a time.
        with self.lock:
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as fh:
                json.dump(self._persistent(), fh)
            os.replace(tmp, self.state_file)

    def load(self, path: str) -> None:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        with self.lock:
            self.resources = {r["id"].lower(): from_record(r) for r in data.get("resources", [])}
            for p in data.get("providers", []):
                self.providers[(p["subscription"], p["namespace"])] = p["state"]
            self.account_keys = {aid: dict(keys) for aid, keys in data.get("accountKeys", {}).items()}
        # Records only: what was running when the emulator stopped is finished by the operation
        # state machine (operations.finish_interrupted), with all of its rules.


def _no_front_door(req: Request) -> Response:
    raise RuntimeError("no ARM front door: the state is not served by an emulator server")
