"""Probe: one short chat completion per deployment, with the URL and key its clients use (the
secrets file). Reports latency, model and finish reason; never the key."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .gateway import Gateway
from .live import ChatResult
from .secret import Secret
from .spec import Deployment

ENDPOINT_GONE = 404
NOT_CALLED = -1  # no URL or key in the secrets file: nothing to call with


@dataclass(frozen=True)
class ProbeResult:
    name: str
    url: str
    result: ChatResult

    @property
    def remedy(self) -> str:
        r = self.result
        if r.ok:
            return ""
        if r.status == NOT_CALLED:
            return "run `provision apply` to write the secrets file"
        if r.status == 0:
            return "the endpoint could not be reached: check the network or proxy, then `provision audit`"
        if r.status == 401:
            return "the key in the secrets file is not valid: run `provision apply` to write the current one"
        if r.status == ENDPOINT_GONE:
            return "no endpoint answers at this URL: `provision audit` shows why; `provision apply` recreates it"
        if r.status == 503:
            return "the endpoint is suspended or unavailable: check its Marketplace subscription (`provision audit`)"
        if r.status == 429:
            return "the deployment's rate limit was hit: retry later"
        return "`provision audit` shows the endpoint's state"

    def as_dict(self) -> dict[str, object]:
        r = self.result
        return {"name": self.name, "ok": r.ok, "url": self.url, "status": r.status, "latency_ms": round(r.latency_ms, 1),
                "model": r.model, "finish_reason": r.finish_reason, "error": r.error, "remedy": self.remedy}


def probe_one(d: Deployment, secrets: Mapping[str, str], gateway: Gateway) -> ChatResult:
    url, key = secrets.get(d.url_var), secrets.get(d.key_var)
    if not url or not key:
        missing = "/".join(v for v, value in ((d.url_var, url), (d.key_var, key)) if not value)
        return ChatResult(False, NOT_CALLED, 0.0, "", "", f"the secrets file has no {missing}")
    return gateway.chat(url, Secret(key))


def probe_deployments(deployments: list[Deployment], secrets: Mapping[str, str], gateway: Gateway) -> list[ProbeResult]:
    return [ProbeResult(d.name, secrets.get(d.url_var, ""), probe_one(d, secrets, gateway)) for d in deployments]
