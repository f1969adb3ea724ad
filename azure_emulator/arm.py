"""The front doors of the management APIs: authentication, api-version checks, throttling,
then the route the URL table (urls.py) found. ARM answers in its envelope; the Azure Machine
Learning registry hosts in theirs."""
from __future__ import annotations

import math
import time
from typing import Optional

from . import identity
from .routes import Route, Table
from .store import State
from .versions import require_api_version
from .wire import ArmError, Request, Response, arm_error, registry_error, throttled


def handle(state: State, req: Request, table: Table) -> Response:
    """A request to Resource Manager. A nested request (a template deployment's) arrives with
    its principal set: it is not authenticated or throttled again, as ARM runs a deployment's
    operations as its caller."""
    route, params = _route(table, req)
    nested = req.principal is not None
    try:
        if route is None:
            raise params_error(req, params)
        require_api_version(req, route.family, route.action)
        if not nested:
            req.principal = identity.authenticate_arm(state, req)
        remaining = {} if nested else _throttle(state, req, params.get("sub", ""))
        response: Response = route.handler(state, req, **params)
        response.headers.update(remaining)
        return response
    except ArmError as err:
        return err.response()
    except Exception as exc:  # a nested call (a template deployment's) has no listener to catch this
        if not nested:
            raise
        return arm_error("InternalServerError", why=f"{type(exc).__name__}: {exc}").response()


def handle_registry(state: State, req: Request, table: Table, component: str, direct: bool) -> Response:
    """A request to the registry discovery service or a registry's front end (MFE); `direct`: to the
    emulator's own address (custom-cloud mode), whose tokens are for this address too."""
    route, params = _route(table, req)
    audiences = identity.ARM_AUDIENCES | ({req.base_url(), req.base_url() + "/"} if direct else set())
    try:
        if route is None:
            raise params_error(req, params)
        require_api_version(req, route.family, route.action)
        req.principal = identity.authenticate_arm(state, req, audiences=frozenset(audiences))
        answer: Response = route.handler(state, req, **params)
        return answer
    except ArmError as err:
        return registry_error(err, component)


def _route(table: Table, req: Request) -> tuple[Optional[Route], dict[str, str]]:
    route, params, known = table.match(req.method, req.path)
    if route is None:
        return None, {"known": "yes" if known else ""}
    return route, params


def params_error(req: Request, params: dict[str, str]) -> ArmError:
    """405 for a path the table knows with another method; 404, loudly, for one it does not."""
    if params.get("known"):
        return arm_error("MethodNotAllowed", method=req.method)
    return arm_error("InvalidResourceType", method=req.method, path=req.path)


def _throttle(state: State, req: Request, sub: str) -> dict[str, str]:
    """ARM's token buckets, per subscription and principal, for reads and writes."""
    kind = "reads" if req.method in ("GET", "HEAD") else "writes"
    size, refill = state.config.throttle_reads if kind == "reads" else state.config.throttle_writes
    key = (sub.lower(), req.principal.object_id, kind)
    now = time.monotonic()
    with state.lock:
        tokens, last = state.throttle.get(key, (size, now))
        tokens = min(size, tokens + (now - last) * refill)
        if tokens < 1:
            state.throttle[key] = (tokens, now)
            wait = max(1, math.ceil((1 - tokens) / refill))
            err = throttled("read" if kind == "reads" else "write", sub, req.principal.object_id, wait)
            err.headers[f"x-ms-ratelimit-remaining-subscription-{kind}"] = "0"
            raise err
        tokens -= 1
        state.throttle[key] = (tokens, now)
    remaining = str(int(tokens))
    return {f"x-ms-ratelimit-remaining-subscription-{kind}": remaining, f"x-ms-ratelimit-remaining-tenant-{kind}": remaining}
