"""Probe: one short chat completion per deployment, with the URL and key its clients use (the
secrets file). Reports latency, model and finish reason; never the key."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .azureapi import AzureApi
from .live import ChatResult
from .secret import Secret
from .spec import Deployment

NOT_CALLED = -1  # no URL or key in the secrets file: nothing to call with
UNREACHABLE = 0
REMEDIES = {  # what a failed call's status means for the user
    NOT_CALLED: "run `provision apply` to write the secrets file",
    UNREACHABLE: "the endpoint could not be reached: check the network or proxy, then `provision audit`",
    401: "the key in the secrets file is not valid: run `provision apply` to write the current one",
    404: "no endpoint answers at this URL: `provision audit` shows why; `provision apply` recreates it",
    429: "the deployment's rate limit was hit: retry later",
    503: "the endpoint is suspended or unavailable: check its Marketplace subscription (`provision audit`)",
}


@dataclass(frozen=True)
class ProbeResult:
    name: str
    url: str
    result: ChatResult

    @property
    def remedy(self) -> str:
        if self.result.ok:
            return ""
        return REMEDIES.get(self.result.status, "`provision audit` shows the endpoint's state")

    def as_dict(self) -> dict[str, object]:
        r = self.result
        return {"name": self.name, "ok": r.ok, "url": self.url, "status": r.status, "latency_ms": round(r.latency_ms, 1),
                "model": r.model, "finish_reason": r.finish_reason, "error": r.error, "remedy": self.remedy}


def probe_one(d: Deployment, secrets: Mapping[str, str], gateway: AzureApi) -> ChatResult:
    url, key = secrets.get(d.url_var), secrets.get(d.key_var)
    if not url or not key:
        missing = "/".join(v for v, value in ((d.url_var, url), (d.key_var, key)) if not value)
        return ChatResult(False, NOT_CALLED, 0.0, "", "", f"the secrets file has no {missing}")
    # a Foundry resource's endpoint serves all its deployments: the call names this one, as clients do
    model = (secrets.get(d.model_var or "") or d.name) if d.foundry else None
    return gateway.chat(url, Secret(key), model=model)


def probe_deployments(deployments: list[Deployment], secrets: Mapping[str, str], gateway: AzureApi) -> list[ProbeResult]:
    return [ProbeResult(d.name, secrets.get(d.url_var, ""), probe_one(d, secrets, gateway)) for d in deployments]
