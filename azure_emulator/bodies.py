"""The control API's request bodies, checked at the door.

Every body is checked completely before anything changes: a mistake is a BodyError naming the
field (`routes[0].status`, `pace.serverlessEndpoints.polls`) and what is allowed, which the
control API answers as 400 {"error", "field"}, with the state untouched.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
from typing import Any, Optional, Sequence

from .hosts import DIRECT, emulated
from .store import PACES, Config, Faults, Pace
from .worldmodel import Lifecycle, read_lifecycle

METHODS = ("GET", "PUT", "POST", "PATCH", "DELETE", "HEAD")
LRO_TYPES = ("serverlessEndpoints", "marketplaceSubscriptions", "foundryDeployments")
LRO_KINDS = ("create", "update", "delete")
PACE_KEYS = ("default", *LRO_TYPES)
PROVISIONING_STATES = ("Succeeded", "Failed", "Creating", "Updating", "Deleting", "Canceled")
ENDPOINT_STATES = ("Online", "Suspended", "Creating", "Updating", "Deleting", "CreationFailed", "DeletionFailed", "NotReady", "Unknown", "Reinstating")
SUBSCRIPTION_STATUSES = ("Subscribed", "Unsubscribed", "Suspended", "PendingFulfillmentStart")
SAAS_STATUSES = (*SUBSCRIPTION_STATUSES, "NotStarted")
CONTENT_SAFETY = ("Enabled", "Disabled")
AUTH_MODES = ("Key", "AAD", "KeyAndAAD")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.()-]{0,259}$")
NAME_RULE = "1 to 260 letters, digits, '-', '_', '.', '(' or ')', starting with a letter or digit"
SEED_FIELDS = {
    "saas": ("kind", "name", "subscription", "resource_group", "publisher", "offer", "plan", "status", "tags"),
    "marketplaceSubscriptions": ("kind", "name", "subscription", "resource_group", "workspace", "model_id", "status", "provisioning_state"),
    "serverlessEndpoints": ("kind", "name", "subscription", "resource_group", "workspace", "model_id", "tags", "content_safety",
                            "provisioning_state", "endpoint_state", "marketplace_subscription_id"),
    "foundryDeployments": ("kind", "name", "subscription", "resource_group", "account", "model_format", "model_name", "model_version", "sku_name",
                           "capacity", "tags", "provisioning_state"),
}
IMMUTABLE = ("id", "kind", "name", "subscription", "resourceGroup", "workspace")  # a record's identity (and its key)


class BodyError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def mapping(value: Any, path: str, allowed: Optional[Sequence[str]] = None, required: Sequence[str] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BodyError(path, f"must be a JSON object, not {_show(value)}")
    for key in value:
        if allowed is not None and key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            fix = f"did you mean '{hint[0]}'?" if hint else f"allowed: {', '.join(allowed)}"
            raise BodyError(_join(path, key), f"unknown field ({fix})")
    for key in required:
        if key not in value:
            raise BodyError(_join(path, key), "is required")
    return value


def listing(value: Any, path: str, limit: int = 1000) -> list[Any]:
    if not isinstance(value, list):
        raise BodyError(path, f"must be a list, not {_show(value)}")
    if len(value) > limit:
        raise BodyError(path, f"has {len(value)} entries; at most {limit} are allowed")
    return value


def number(value: Any, path: str, low: float, high: float, integer: bool = False) -> Any:
    kind = "an integer" if integer else "a number"
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if not ok or isinstance(value, bool) or not low <= value <= high:  # NaN and infinities fail the range too
        raise BodyError(path, f"must be {kind} from {low:g} to {high:g}, not {_show(value)}")
    return value


def text(value: Any, path: str, choices: Optional[Sequence[str]] = None, limit: int = 1000, empty: bool = False) -> str:
    if choices is not None:
        if value not in choices:
            hint = difflib.get_close_matches(str(value), choices, n=1)
            raise BodyError(path, f"must be one of {', '.join(choices)}, not {_show(value)}" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
        return str(value)
    if not isinstance(value, str) or len(value) > limit or (not value and not empty):
        size = f"0 to {limit}" if empty else f"1 to {limit}"
        raise BodyError(path, f"must be a string of {size} characters, not {_show(value)}")
    return value


def name(value: Any, path: str) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise BodyError(path, f"must be a name of {NAME_RULE}, not {_show(value)}")
    return value


def string_map(value: Any, path: str) -> dict[str, str]:
    for key, item in mapping(value, path).items():
        text(key, path, limit=512)
        text(item, _join(path, key), limit=256, empty=True)
    return dict(value)


# -- PUT /faults -----------------------------------------------------------------------------

def faults(data: dict[str, Any]) -> Faults:
    mapping(data, "", [f.name for f in dataclasses.fields(Faults)])
    out: dict[str, Any] = {}
    if "latency_ms" in data:
        out["latency_ms"] = number(data["latency_ms"], "latency_ms", 0, 60_000)
    for key in ("error_rate", "drop_rate"):
        if key in data:
            out[key] = number(data[key], key, 0, 1)
    if "error_statuses" in data:
        out["error_statuses"] = [number(s, f"error_statuses[{i}]", 400, 599, integer=True) for i, s in enumerate(listing(data["error_statuses"], "error_statuses"))]
    if "routes" in data:
        out["routes"] = [_route(r, f"routes[{i}]") for i, r in enumerate(listing(data["routes"], "routes"))]
    if "lro_failures" in data:
        out["lro_failures"] = [_lro_failure(r, f"lro_failures[{i}]") for i, r in enumerate(listing(data["lro_failures"], "lro_failures"))]
    if "hosts" in data:
        out["hosts"] = [_host(h, f"hosts[{i}]") for i, h in enumerate(listing(data["hosts"], "hosts"))]
    if data.get("seed") is not None:
        out["seed"] = number(data["seed"], "seed", -(2**63), 2**63 - 1, integer=True)
    return Faults(**out)


def _route(value: Any, path: str) -> dict[str, Any]:
    rule = mapping(value, path, ("method", "path", "status", "code", "message", "times"))
    out: dict[str, Any] = {}
    if "method" in rule:
        out["method"] = text(str(rule["method"]).upper() if isinstance(rule["method"], str) else rule["method"], f"{path}.method", METHODS)
    if "path" in rule:
        out["path"] = text(rule["path"], f"{path}.path")
        try:
            re.compile(out["path"])
        except re.error as exc:
            raise BodyError(f"{path}.path", f"is not a regular expression: {exc}") from None
    if "status" in rule:
        status = rule["status"]
        if not isinstance(status, int) or isinstance(status, bool) or not (status == 0 or 400 <= status <= 599):
            raise BodyError(f"{path}.status", f"must be 0 (drop the connection) or an integer from 400 to 599, not {_show(status)}")
        out["status"] = status
    for key in ("code", "message"):
        if key in rule:
            out[key] = text(rule[key], f"{path}.{key}")
    out["times"] = number(rule.get("times", 1), f"{path}.times", 0, 1_000_000, integer=True)
    return out


def _lro_failure(value: Any, path: str) -> dict[str, Any]:
    rule = mapping(value, path, ("resource_type", "name", "kind", "code", "message", "times"))
    out: dict[str, Any] = {}
    if "resource_type" in rule:
        out["resource_type"] = text(rule["resource_type"], f"{path}.resource_type", LRO_TYPES)
    if "name" in rule:
        out["name"] = name(rule["name"], f"{path}.name")
    if "kind" in rule:
        out["kind"] = text(rule["kind"], f"{path}.kind", LRO_KINDS)
    for key in ("code", "message"):
        if key in rule:
            out[key] = text(rule[key], f"{path}.{key}")
    out["times"] = number(rule.get("times", 1), f"{path}.times", 0, 1_000_000, integer=True)
    return out


def _host(value: Any, path: str) -> str:
    host = text(value, path, limit=253).lower()
    if not (emulated(host) or host in DIRECT):
        raise BodyError(path, f"{_show(value)} is not an emulated host (management.azure.com, login.microsoftonline.com, "
                              "graph.microsoft.com, NAME.REGION.models.ai.azure.com, eastus.api.azureml.ms, "
                              "cert-REGION.experiments.azureml.net, 127.0.0.1)")
    return host


# -- PUT /config -----------------------------------------------------------------------------

CONFIG_FIELDS = ("preset", "pace", "retry_after", "retry_after_ms", "throttle_reads", "throttle_writes", "inference_rpm", "inference_tpm",
                 "content_filter_trigger", "registry_page_size")


def config(current: Config, data: dict[str, Any]) -> Config:
    """The configuration after this change (current is not modified)."""
    from .store import preset

    mapping(data, "", CONFIG_FIELDS)
    if "preset" in data:
        config = preset(text(data["preset"], "preset", tuple(PACES)))
    else:
        config = dataclasses.replace(current, pace=dict(current.pace))
    if "pace" in data:
        paces = mapping(data["pace"], "pace", PACE_KEYS)
        config.pace = {key: _pace(value, f"pace.{key}") for key, value in paces.items()}
    if "retry_after" in data:
        config.retry_after = number(data["retry_after"], "retry_after", 1, 3600, integer=True)
    if "retry_after_ms" in data:
        value = data["retry_after_ms"]
        config.retry_after_ms = None if value is None else number(value, "retry_after_ms", 0, 60_000, integer=True)
    for key in ("throttle_reads", "throttle_writes"):
        if key in data:
            pair = listing(data[key], key)
            if len(pair) != 2:
                raise BodyError(key, f"must be [bucket size, refill per second], not {_show(data[key])}")
            setattr(config, key, (float(number(pair[0], f"{key}[0]", 1, 1e9)), float(number(pair[1], f"{key}[1]", 0.001, 1e9))))
    for key in ("inference_rpm", "inference_tpm"):
        if key in data:
            setattr(config, key, number(data[key], key, 0, 1e9, integer=True))
    if "content_filter_trigger" in data:
        config.content_filter_trigger = text(data["content_filter_trigger"], "content_filter_trigger", empty=True)
    if "registry_page_size" in data:
        config.registry_page_size = number(data["registry_page_size"], "registry_page_size", 1, 1000, integer=True)
    return config


def _pace(value: Any, path: str) -> Pace:
    pace = mapping(value, path, ("polls", "seconds"))
    return Pace(polls=number(pace.get("polls", 0), f"{path}.polls", 0, 1000, integer=True),
                seconds=float(number(pace.get("seconds", 0), f"{path}.seconds", 0, 3600)))


# -- POST /resources (seed) and PATCH /resources -------------------------------------------

def seed(data: dict[str, Any]) -> dict[str, Any]:
    """The seed body, checked for shape (the world's subscriptions and projects are checked by the caller)."""
    mapping(data, "", required=("kind",))
    kind = text(data["kind"], "kind", tuple(SEED_FIELDS))
    required = {"saas": ("name",), "foundryDeployments": ("name", "account", "model_name")}.get(kind, ("name", "workspace", "model_id"))
    mapping(data, "", SEED_FIELDS[kind], required=required)
    name(data["name"], "name")
    if "subscription" in data:
        text(data["subscription"], "subscription", limit=100)
    for key in ("resource_group", "workspace", "account"):
        if key in data:
            name(data[key], key)
    for key in ("model_id", "publisher", "offer", "plan", "model_format", "model_name", "model_version", "sku_name"):
        if key in data:
            text(data[key], key)
    if "capacity" in data:
        number(data["capacity"], "capacity", 0, 1_000_000, integer=True)
    if "tags" in data:
        string_map(data["tags"], "tags")
    if "status" in data:
        text(data["status"], "status", SAAS_STATUSES if kind == "saas" else SUBSCRIPTION_STATUSES)
    if "provisioning_state" in data:
        text(data["provisioning_state"], "provisioning_state", PROVISIONING_STATES)
    if "endpoint_state" in data:
        text(data["endpoint_state"], "endpoint_state", ENDPOINT_STATES)
    if "content_safety" in data:
        text(data["content_safety"], "content_safety", CONTENT_SAFETY)
    if data.get("marketplace_subscription_id") is not None:
        text(data["marketplace_subscription_id"], "marketplace_subscription_id")
    return data


def patch(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(resource id, fields to set), checked for shape; check the fields against the record with patch_fields."""
    mapping(data, "", ("id", "set"), required=("id",))
    rid = text(data["id"], "id")
    fields = data.get("set")
    return rid, {} if fields is None else mapping(fields, "set")


def patch_fields(record: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    patchable = [k for k in record if k not in IMMUTABLE]
    for key, value in fields.items():
        path = f"set.{key}"
        if key in IMMUTABLE:
            raise BodyError(path, f"cannot be changed (it is part of the resource's identity); patchable: {', '.join(patchable)}")
        if key not in record:
            hint = difflib.get_close_matches(str(key), patchable, n=1)
            raise BodyError(path, f"{record['kind']} has no such field (" + (f"did you mean '{hint[0]}'?)" if hint else f"patchable: {', '.join(patchable)})"))
        choices = {"provisioningState": PROVISIONING_STATES, "endpointState": ENDPOINT_STATES, "contentSafety": CONTENT_SAFETY, "authMode": AUTH_MODES,
                   "status": SAAS_STATUSES if record["kind"] == "saas" else SUBSCRIPTION_STATUSES}.get(key)
        if choices is not None:
            text(value, path, choices)
        elif key in ("tags", "systemData"):
            string_map(value, path)
        elif key == "keys":
            for k, v in mapping(value, path, ("primaryKey", "secondaryKey"), required=("primaryKey", "secondaryKey")).items():
                text(v, f"{path}.{k}", limit=256)
        elif key in ("marketplaceSubscriptionId", "linked"):
            if value is not None:
                text(value, path)
        else:
            text(value, path)
    return fields


# -- PATCH /models ---------------------------------------------------------------------------

def model_lifecycle(data: dict[str, Any]) -> tuple[str, Lifecycle]:
    """(model name or id, its new lifecycle): `lifecycle` replaces the model's dates; a stage left
    out (or null) has none."""
    mapping(data, "", ("model", "lifecycle"), required=("model", "lifecycle"))
    ref = text(data["model"], "model", limit=300)
    lifecycle, problems = read_lifecycle(mapping(data["lifecycle"], "lifecycle"))
    if problems:
        where, message = problems[0]
        raise BodyError(_join("lifecycle", where), message)
    return ref, lifecycle
