"""The control API (under /_emulator, on the plain loopback listener; never under /subscriptions).

reset, state dump, request log, egress log, world load, faults, pacing, and direct seeding
of resources (to build audit scenarios Azure would let happen out of band).
"""
from __future__ import annotations

import copy
import hmac
import ipaddress
import json
import secrets
import urllib.parse
from dataclasses import asdict
from typing import Any, Callable, Optional

from . import bodies
from .bodies import BodyError
from .models import FoundryDeployment, MarketplaceSubscription, Resource, SaasResource, ServerlessEndpoint, from_record, to_record
from .store import Faults, State
from .wire import Request, Response, plain_error
from .world import WorldError, decode_world, load_world
from .worldmodel import Model

TOKEN_HEADER = "X-Azure-Emulator-Token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
# Content types a web page cannot send cross-origin without a CORS preflight (which is never granted).
_NON_SIMPLE_TYPES = ("application/json", "application/yaml", "application/x-yaml", "text/yaml")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def refusal(req: Request, peer: str, token: str, port: int) -> Optional[str]:
    """Why a control request is refused (None: answer it).

    Answered: a request with this run's control token; or, without it, one from this machine,
    addressed to the emulator by a loopback Host (no DNS rebinding), with no Origin (or the
    emulator's own) and no cross-site Sec-Fetch-Site (not a web page), and, if it changes
    anything, a JSON (or YAML) Content-Type, which a web page cannot send without a preflight."""
    sent = req.headers.get(TOKEN_HEADER)
    if sent is not None:
        return None if hmac.compare_digest(str(sent).encode(), token.encode()) else f"the {TOKEN_HEADER} header is not this run's control token"
    try:
        address = ipaddress.ip_address(peer)
        loopback = address.is_loopback or bool(getattr(address, "ipv4_mapped", None) and address.ipv4_mapped.is_loopback)  # type: ignore[union-attr]
    except ValueError:
        loopback = False
    if not loopback:
        return f"it came from {peer}, not from this machine, without the control token"
    host = urllib.parse.urlsplit("//" + req.header("Host")).hostname or ""
    if host not in LOOPBACK_NAMES:
        return f"its Host header '{req.header('Host')}' is not the emulator's (127.0.0.1:{port})"
    origin = req.header("Origin")
    if origin and origin.lower().rstrip("/") not in {f"http://{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]")}:
        return f"it came from a web page ({origin}) without the control token"
    site = req.header("Sec-Fetch-Site").lower()
    if site in ("cross-site", "same-site"):
        return f"it came from a web page (Sec-Fetch-Site: {site}) without the control token"
    if req.method not in ("GET", "HEAD"):
        ctype = req.header("Content-Type").split(";")[0].strip().lower()
        if ctype not in _NON_SIMPLE_TYPES:
            shown = f"Content-Type '{ctype}'" if ctype else "no Content-Type"
            return f"a {req.method} without the control token needs Content-Type: application/json ({shown} was sent)"
    return None


def handle(state: State, req: Request, reload_world: Callable[[], Any]) -> Response:
    path = req.path[len("/_emulator"):] or "/"
    method = "GET" if req.method == "HEAD" else req.method
    try:
        if path == "/health":
            return Response(200, {"ok": True})
        if path == "/reset" and method == "POST":
            world = reload_world()
            with state.lock:
                state.world = world
                state.faults = Faults()
                state.config = copy.deepcopy(state.initial_config)
                state.reset_resources()
                state.log.clear()
                state.egress.clear()
                state.save()
            return Response(200, {"ok": True})
        if path == "/state" and method == "GET":
            return Response(200, state.dump())
        if path == "/requests" and method in ("GET", "DELETE"):
            if method == "DELETE":
                with state.lock:
                    state.log.clear()
                return Response(200, {"ok": True})
            since = req.query.get("since", "0")
            if not (since.isascii() and since.isdigit()):
                raise BodyError("since", f"must be a whole number >= 0, not {since!r}")
            with state.lock:
                return Response(200, {"requests": state.log[int(since):], "next": len(state.log)})
        if path == "/egress" and method == "GET":
            with state.lock:
                return Response(200, {"egress": list(state.egress)})
        if path == "/world" and method in ("PUT", "POST"):
            source = "<control API world>"
            try:
                world = load_world(path=source, text=decode_world(req.body, source))
            except WorldError as err:
                return plain_error(400, err.problems[0], errors=err.problems)
            with state.lock:
                state.world = world
                state.reset_resources()
                state.save()
            return Response(200, {"ok": True})
        if path == "/faults" and method in ("GET", "PUT", "POST", "DELETE"):
            faults = bodies.faults(_body(req)) if method in ("PUT", "POST") else Faults()
            with state.lock:
                if method != "GET":
                    state.faults = faults
                    if faults.seed is not None:
                        state.rng.seed(faults.seed)
                return Response(200, asdict(state.faults))
        if path == "/config" and method in ("PUT", "POST"):
            body = _body(req)
            with state.lock:
                state.config = bodies.config(state.config, body)
                return Response(200, {"ok": True})
        if path == "/resources":
            return _resources(state, req, method)
        if path == "/models" and method in ("GET", "PATCH"):
            return _models(state, req, method)
        known = ("/health", "/reset", "/state", "/requests", "/egress", "/world", "/faults", "/config", "/resources", "/models")
        if path in known:
            return plain_error(405, f"{req.method} is not allowed on /_emulator{path}")
        return plain_error(404, f"unknown control route {req.method} /_emulator{path}")
    except BodyError as err:
        return plain_error(400, f"bad control request: {err}", field=err.field or None)


def _body(req: Request) -> dict[str, Any]:
    if not req.body:
        return {}
    try:
        data = json.loads(req.body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BodyError("", "the body is not UTF-8 text") from None
    except ValueError as exc:
        raise BodyError("", f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise BodyError("", "the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise BodyError("", f"the body must be a JSON object, not {type(data).__name__}")
    return data


def _model_view(model: Model) -> dict[str, Any]:
    return {"id": model.id, "name": model.name, "version": model.version, "regions": list(model.regions),
            "lifecycle": model.lifecycle.as_dict(), "status": model.status()}


def _models(state: State, req: Request, method: str) -> Response:
    """The world's catalog with each model's status today; PATCH changes one model's lifecycle dates
    while every resource stays (a retirement that arrives after an endpoint was deployed)."""
    if method == "GET":
        with state.lock:
            return Response(200, {"models": [_model_view(m) for m in state.world.models.values()]})
    ref, lifecycle = bodies.model_lifecycle(_body(req))
    with state.lock:
        matches = [m for m in state.world.models.values() if ref.lower() in (m.id.lower(), m.name.lower())]
        if len(matches) != 1:
            known = ", ".join(sorted(m.name for m in state.world.models.values()))
            why = f"no model '{ref}' in the world's catalog ({known})" if not matches else f"'{ref}' names {len(matches)} models; give the model id"
            return plain_error(404 if not matches else 400, f"bad control request: model: {why}", field="model")
        matches[0].lifecycle = lifecycle
        return Response(200, _model_view(matches[0]))


def _resources(state: State, req: Request, method: str) -> Response:
    if method == "GET":
        with state.lock:
            return Response(200, {"resources": [to_record(r) for r in state.resources.values()]})
    if method == "DELETE":
        rid = req.query.get("id", "").lower()
        with state.lock:
            removed = state.resources.pop(rid, None)
            state.running.pop(rid, None)  # its operations end with it: nothing settles onto a later record of that id
            state.save()
        return Response(200 if removed else 404, {"removed": bool(removed)})
    if method == "PATCH":
        rid, fields = bodies.patch(_body(req))
        with state.lock:
            resource = state.resources.get(rid.lower())
            if resource is None:
                return plain_error(404, f"no resource {rid}", field="id")
            record = to_record(resource)
            record.update(copy.deepcopy(bodies.patch_fields(record, fields)))
            state.resources[rid.lower()] = from_record(record)
            state.save()
            return Response(200, record)
    if method in ("POST", "PUT"):
        body = bodies.seed(_body(req))
        with state.lock:
            resource = _seed(state, body)
            state.resources[resource.id.lower()] = resource
            state.save()
            return Response(201, to_record(resource))
    return plain_error(405, f"{req.method} is not allowed on /_emulator/resources: use GET, POST, PATCH or DELETE")


def _seed(state: State, b: dict[str, Any]) -> Resource:
    """A resource put in place as if someone had made it outside the tool (no rules applied).
    The body's shape is checked (bodies.seed); here, that its subscription and project exist."""
    kind = b["kind"]
    sub = str(b.get("subscription") or next(iter(state.world.subscriptions))).lower()
    if sub not in state.world.subscriptions:
        raise BodyError("subscription", f"'{b['subscription']}' is not a subscription of this world ({', '.join(state.world.subscriptions)})")
    rg = b.get("resource_group", "rg-genai")
    stamp = {"createdAt": "2025-01-01T00:00:00.000Z", "createdBy": "someone@contoso.onmicrosoft.com", "createdByType": "User",
             "lastModifiedAt": "2025-01-01T00:00:00.000Z", "lastModifiedBy": "someone@contoso.onmicrosoft.com", "lastModifiedByType": "User"}
    if kind == "saas":
        return SaasResource.new(sub, rg, b["name"], b.get("publisher", "000-000"), b.get("offer", "mistral-ai-large-offer"), b.get("plan", "mistral-large-paygo"),
                                stamp["createdAt"], status=b.get("status", "Subscribed"), tags=dict(b.get("tags", {})))
    if kind == "foundryDeployments":
        account = state.world.accounts.get((sub, rg.lower(), b["account"].lower()))
        if account is None:
            raise BodyError("account", f"no Foundry account '{b['account']}' in {sub}/{rg}")
        return FoundryDeployment.new(sub, account.resource_group, account.name, account.location, b["name"],
                                     (b.get("model_format", "Mistral AI"), b["model_name"], b.get("model_version", "1")),
                                     (b.get("sku_name", "GlobalStandard"), b.get("capacity", 1)), stamp, tags=dict(b.get("tags", {})),
                                     provisioning_state=b.get("provisioning_state", "Succeeded"))
    ws = b["workspace"]
    project = state.world.projects.get((sub, rg.lower(), ws.lower()))
    if project is None:
        known = sorted(p.name for (s, r, _), p in state.world.projects.items() if s == sub and r == rg.lower())
        raise BodyError("workspace", f"no project '{ws}' in {sub}/{rg}" + (f" (projects there: {', '.join(known)})" if known else " (no projects in that resource group)"))
    if kind == "marketplaceSubscriptions":
        model = state.world.model(b["model_id"])
        return MarketplaceSubscription.new(sub, project.resource_group, project.name, b["name"], b["model_id"], model.offer if model else "offer", stamp,
                                           status=b.get("status", "Subscribed"), provisioning_state=b.get("provisioning_state", "Succeeded"))
    if kind == "serverlessEndpoints":
        return ServerlessEndpoint.new(sub, project.resource_group, project.name, project.location, b["name"], b["model_id"], stamp,
                                      tags=dict(b.get("tags", {})), content_safety=b.get("content_safety", "Enabled"),
                                      provisioning_state=b.get("provisioning_state", "Succeeded"), endpoint_state=b.get("endpoint_state", "Online"),
                                      marketplace_subscription_id=b.get("marketplace_subscription_id"))
    raise BodyError("kind", f"unknown kind '{kind}' (serverlessEndpoints, marketplaceSubscriptions, saas, foundryDeployments)")
