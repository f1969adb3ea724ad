"""Injected faults: fixed rules (a route answers an error N times), random errors and dropped
connections, and latency, for the hosts the fault configuration names."""
from __future__ import annotations

import re
import time
from typing import Optional, Union

from .store import State
from .wire import Request, Response, arm_error, injected_error


def injected(state: State, req: Request, kind: str) -> Union[Response, str, None]:
    """The fault rules' answer to a request: a Response, \"drop\" (close the connection), or None."""
    with state.lock:
        faults = state.faults
        hosts = {h.lower() for h in faults.hosts}
        host = "management.azure.com" if kind == "arm" else req.host
        if host not in hosts:
            return None
        latency = faults.latency_ms
        for rule in faults.routes:
            if rule.get("method", req.method).upper() != req.method:
                continue
            if not re.search(rule.get("path", ".*"), req.path, re.IGNORECASE):
                continue
            if rule.get("times", 1) <= 0:
                continue
            rule["times"] = rule.get("times", 1) - 1
            status = int(rule.get("status", 500))
            if status == 0:
                return "drop"
            headers = {"Retry-After": "1"} if status in (429, 503) else {}
            return injected_error(status, rule.get("code", "InjectedFault"), rule.get("message", "Injected by the emulator's fault rule."), headers).response()
        roll = state.rng.random()
        drop = roll < faults.drop_rate
        error = not drop and roll < faults.drop_rate + faults.error_rate
        chosen: Optional[int] = state.rng.choice(faults.error_statuses) if error and faults.error_statuses else None
    if latency:
        time.sleep(latency / 1000)
    if drop:
        return "drop"
    if chosen is None:
        return None
    if chosen == 429:
        return arm_error("TooManyRequests", headers={"Retry-After": "1"}).response()
    code = {500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}.get(chosen, "InjectedFault")
    return injected_error(chosen, code, f"Injected transient failure ({chosen}).").response()
