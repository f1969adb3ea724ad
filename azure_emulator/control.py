"""The control API (under /_emulator, on the plain loopback listener; never under /subscriptions).

reset, state dump, request log, egress log, world load, faults, pacing, and direct seeding
of resources (to build audit scenarios Azure would let happen out of band).
"""
from __future__ import annotations

import json
import secrets
from dataclasses import asdict, fields
from typing import Any, Callable

from .mls import ws_id
from .store import PACES, Config, Faults, Pace, State
from .wire import Request, Response
from .world import WorldError, load_world


def handle(state: State, req: Request, reload_world: Callable[[], Any]) -> Response:
    path = req.path[len("/_emulator"):] or "/"
    try:
        body = _body(req)
        if path == "/health":
            return Response(200, {"ok": True})
        if path == "/reset" and req.method == "POST":
            with state.lock:
                state.world = reload_world()
                state.faults = Faults()
                state.config = Config()
                state.reset_resources()
                state.log.clear()
                state.egress.clear()
                state.save()
            return Response(200, {"ok": True})
        if path == "/state" and req.method == "GET":
            return Response(200, state.dump())
        if path == "/requests":
            if req.method == "DELETE":
                with state.lock:
                    state.log.clear()
                return Response(200, {"ok": True})
            since = int(req.query.get("since", "0"))
            with state.lock:
                return Response(200, {"requests": state.log[since:], "next": len(state.log)})
        if path == "/egress":
            with state.lock:
                return Response(200, {"egress": list(state.egress)})
        if path == "/world" and req.method in ("PUT", "POST"):
            text = req.body.decode("utf-8")
            try:
                world = load_world(path="<control API world>", text=text)
            except WorldError as err:
                return Response(400, {"errors": err.problems})
            with state.lock:
                state.world = world
                state.reset_resources()
                state.save()
            return Response(200, {"ok": True})
        if path == "/faults":
            with state.lock:
                if req.method == "DELETE":
                    state.faults = Faults()
                elif req.method in ("PUT", "POST"):
                    state.faults = _dataclass(Faults, body)
                    if state.faults.seed is not None:
                        state.rng.seed(state.faults.seed)
                return Response(200, asdict(state.faults))
        if path == "/config" and req.method in ("PUT", "POST"):
            with state.lock:
                state.config = _config(state.config, body)
                return Response(200, {"ok": True})
        if path == "/resources":
            return _resources(state, req, body)
        return Response(404, {"error": f"unknown control route {req.method} /_emulator{path}"})
    except (ValueError, TypeError, KeyError) as exc:
        return Response(400, {"error": f"bad control request: {exc}"})


def _body(req: Request) -> dict[str, Any]:
    if not req.body or req.path.endswith("/world"):
        return {}
    data = json.loads(req.body)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _dataclass(cls: Any, data: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}; known: {sorted(names)}")
    return cls(**data)


def _config(current: Config, data: dict[str, Any]) -> Config:
    preset = data.pop("preset", None)
    config = Config(**{**asdict(current), "pace": dict(current.pace)}) if preset is None else Config(**PACES[preset])
    for key, value in data.items():
        if key == "pace":
            config.pace = {k: Pace(**v) for k, v in value.items()}
        elif key in ("throttle_reads", "throttle_writes"):
            setattr(config, key, (float(value[0]), float(value[1])))
        elif hasattr(config, key):
            setattr(config, key, value)
        else:
            raise ValueError(f"unknown config field '{key}'")
    if int(config.retry_after) < 1:
        raise ValueError("retry_after must be an integer >= 1 (0 makes the SDK wait 30 s)")
    return config


def _resources(state: State, req: Request, body: dict[str, Any]) -> Response:
    with state.lock:
        if req.method == "GET":
            return Response(200, {"resources": list(state.resources.values())})
        if req.method == "DELETE":
            rid = req.query.get("id", "").lower()
            removed = state.resources.pop(rid, None)
            state.save()
            return Response(200 if removed else 404, {"removed": bool(removed)})
        if req.method == "PATCH":
            record = state.resources.get(str(body["id"]).lower())
            if record is None:
                return Response(404, {"error": f"no resource {body['id']}"})
            record.update(body.get("set") or {})
            state.save()
            return Response(200, record)
        if req.method in ("POST", "PUT"):
            record = _seed(state, body)
            state.resources[record["id"].lower()] = record
            state.save()
            return Response(201, record)
    return Response(405, {"error": "use GET, POST, PATCH or DELETE"})


def _seed(state: State, b: dict[str, Any]) -> dict[str, Any]:
    """A resource put in place as if someone had made it outside the tool (no rules applied)."""
    kind = b["kind"]
    sub = str(b.get("subscription") or next(iter(state.world.subscriptions))).lower()
    rg = b.get("resource_group", "rg-genai")
    stamp = {"createdAt": "2025-01-01T00:00:00.000Z", "createdBy": "someone@contoso.onmicrosoft.com", "createdByType": "User",
             "lastModifiedAt": "2025-01-01T00:00:00.000Z", "lastModifiedBy": "someone@contoso.onmicrosoft.com", "lastModifiedByType": "User"}
    if kind == "saas":
        rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.SaaS/resources/{b['name']}"
        return {"kind": "saas", "id": rid, "name": b["name"], "subscription": sub, "resourceGroup": rg, "publisherId": b.get("publisher", "000-000"),
                "offerId": b.get("offer", "mistral-ai-large-offer"), "planId": b.get("plan", "mistral-large-paygo"), "status": b.get("status", "Subscribed"),
                "createdAt": stamp["createdAt"], "tags": b.get("tags", {}), "linked": None}
    ws = b["workspace"]
    project = state.world.projects.get((sub, rg.lower(), ws.lower()))
    if project is None:
        raise ValueError(f"no project {ws} in {sub}/{rg}")
    base = ws_id(sub, project.resource_group, project.name)
    if kind == "marketplaceSubscriptions":
        model = state.world.model(b["model_id"])
        return {"kind": kind, "id": f"{base}/marketplaceSubscriptions/{b['name']}", "name": b["name"], "subscription": sub, "resourceGroup": project.resource_group,
                "workspace": project.name, "modelId": b["model_id"], "status": b.get("status", "Subscribed"), "provisioningState": b.get("provisioning_state", "Succeeded"),
                "saasName": f"{model.offer if model else 'offer'}-{project.name}".lower(), "systemData": stamp}
    if kind == "serverlessEndpoints":
        name = b["name"]
        return {"kind": kind, "id": f"{base}/serverlessEndpoints/{name}", "name": name, "subscription": sub, "resourceGroup": project.resource_group,
                "workspace": project.name, "location": project.location, "tags": b.get("tags", {}), "modelId": b["model_id"], "authMode": "Key",
                "contentSafety": b.get("content_safety", "Enabled"), "provisioningState": b.get("provisioning_state", "Succeeded"),
                "endpointState": b.get("endpoint_state", "Online"), "marketplaceSubscriptionId": b.get("marketplace_subscription_id"),
                "uri": f"https://{name.lower()}.{project.location}.models.ai.azure.com",
                "keys": {"primaryKey": secrets.token_hex(16), "secondaryKey": secrets.token_hex(16)}, "systemData": stamp}
    raise ValueError(f"unknown kind '{kind}' (serverlessEndpoints, marketplaceSubscriptions, saas)")
