"""Key rotation that keeps clients working, through the ARM regenerateKeys operation.

An endpoint has two keys; the secrets file holds one of them. To regenerate the key the file
holds, the file first moves to the other key (probed first), clients get `grace` seconds to pick
it up, then the key is regenerated, the new key is probed and only then written to the file.
To regenerate the key the file does not hold, no client is using it: regenerate, probe, write.
Every step that changes the file writes it atomically; a key is never written before a probe
proved it works. If a probe fails, rotation stops with the file on a key that works.

The whole procedure holds the secrets file's lock, so no `apply` writes in between (an apply
waiting for it then writes the keys as they are after the rotation). Under GitHub Actions every
key it writes, and the regenerated one, is masked (on stderr) before anything else happens to it.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, TextIO

from .errors import AzureError, ProvisionError
from .azureapi import AzureApi
from .live import account_id, project_id
from .errors import TRANSIENT_STATUSES
from .live import ChatResult, Keys
from .secret import Secret
from .secrets import HeldSecrets, SecretEntry, hold_secrets, mask_keys, origin, refuse_foreign, spec_directory
from .spec import Deployment, Spec


@dataclass
class RotationResult:
    name: str
    regenerated: str  # primary | secondary
    steps: list[str] = field(default_factory=list)
    file_key: str = ""  # which key the secrets file holds at the end

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "regenerated": self.regenerated, "steps": self.steps, "secrets_file_holds": self.file_key}


def _pick(keys: Keys, which: str) -> Secret:
    return keys.primary if which == "primary" else keys.secondary


def rotate_key(spec: Spec, d: Deployment, gateway: AzureApi, which: str, grace: float, progress: Callable[[str, str], None],
               environ: Optional[Mapping[str, str]] = None, stream: Optional[TextIO] = None, replace_foreign: bool = False) -> RotationResult:
    with hold_secrets(spec.secrets, spec_directory(spec), waiting=lambda m: progress(d.name, m)) as secrets:
        sharing = [x for x in spec.deployments if x.foundry and x.account_key == d.account_key] if d.foundry else [d]  # a Foundry key is the resource's
        mine = {v: origin(gateway.cloud.name, gateway.identity().tenant_id, x.subscription) for x in sharing for v in x.secret_vars}
        if not replace_foreign:
            refuse_foreign(spec.secrets, mine, secrets.origins(), "rotating would replace", "use the secrets file of that Azure (PROVISION_SECRETS_FILE=…)")
        return _rotate(spec, d, gateway, which, grace, progress, secrets, os.environ if environ is None else environ, stream or sys.stderr, mine)


TRANSIENT_PROBE = (0, *TRANSIENT_STATUSES)  # no answer, or one that says "later"
ATTEMPTS = 5


def _probe(gateway: AzureApi, url: str, key: Secret, model: Optional[str] = None) -> ChatResult:
    """A chat call that proves a key, retried while the answer is transient (the key is not the
    question then): only a definite refusal (401) or attempts run out make the rotation stop."""
    for attempt in range(ATTEMPTS):
        result = gateway.chat(url, key, model=model)
        if result.ok or result.status not in TRANSIENT_PROBE or attempt == ATTEMPTS - 1:
            return result
        time.sleep(min(0.5 * 2**attempt, 8.0))
    raise AssertionError("unreachable")


def _regenerate(regenerate: Callable[[str], Keys], which: str) -> Keys:
    """regenerateKeys, retried on a transient failure: at this point the secrets file holds the other
    key, so regenerating again (even if a lost answer hid a first success) breaks no client."""
    for attempt in range(ATTEMPTS):
        try:
            return regenerate(which)
        except AzureError as exc:
            if not (exc.code == "ConnectionFailed" or exc.status in TRANSIENT_STATUSES) or attempt == ATTEMPTS - 1:
                raise
            time.sleep(min(0.5 * 2**attempt, 8.0))
    raise AssertionError("unreachable")


@dataclass
class _Keyring:
    """Where a deployment's keys live: its endpoint's own, or its Foundry resource's (shared by every
    deployment on it), the URL a probe calls, and the entries of the secrets file that hold them."""

    url: str
    model: Optional[str]  # a Foundry resource's endpoint serves every deployment: the probe names one
    read: Callable[[], Keys]
    regenerate: Callable[[str], Keys]
    entries: Callable[[Secret], list[SecretEntry]]
    sharing: list[str]  # the spec's deployments that hold the same key (Foundry)
    others: list[str]  # other deployments on the resource, not the spec's (they share the key too)


def _keyring(spec: Spec, d: Deployment, gateway: AzureApi) -> _Keyring:
    if d.foundry:
        account = account_id(d.subscription, d.resource_group, d.account)
        found = gateway.get_account(account)
        if found is None or not found.base_url:
            raise ProvisionError(f"Foundry resource {d.account} does not exist in {d.resource_group}: nothing to rotate (fix `account`, or run `provision apply`)")
        res = found
        mine = [x for x in spec.deployments if x.foundry and x.account_key == d.account_key]
        names = {x.name.lower() for x in mine}
        others = sorted(f.name for f in gateway.list_foundry_deployments(account) if f.name.lower() not in names)
        return _Keyring(res.inference_url, d.name, lambda: gateway.account_keys(account), lambda which: gateway.regenerate_account_key(account, which),
                        lambda key: [SecretEntry(x.name, x.url_var, res.inference_url, x.key_var, key, x.openai_url_var, res.openai_url, x.model_var, x.name) for x in mine],
                        sorted(x.name for x in mine), others)
    project = project_id(d.subscription, d.resource_group, d.project)
    endpoint = gateway.get_endpoint(project, d.name)
    if endpoint is None or not endpoint.uri:
        raise ProvisionError(f"endpoint {d.name} does not exist in {d.project}: nothing to rotate (run `provision apply`)")
    uri = endpoint.uri
    return _Keyring(uri, None, lambda: gateway.list_keys(project, d.name), lambda which: gateway.regenerate_key(project, d.name, which),
                    lambda key: [SecretEntry(d.name, d.url_var, uri, d.key_var, key, d.openai_url_var)], [d.name], [])


def _rotate(spec: Spec, d: Deployment, gateway: AzureApi, which: str, grace: float, progress: Callable[[str, str], None],
            secrets: HeldSecrets, environ: Mapping[str, str], stream: TextIO, origins: Mapping[str, str]) -> RotationResult:
    held = secrets.read().get(d.key_var)  # a file provision cannot update stops the rotation before Azure
    ring = _keyring(spec, d, gateway)
    other = "secondary" if which == "primary" else "primary"
    result = RotationResult(d.name, which)

    def step(message: str) -> None:
        result.steps.append(message)
        progress(d.name, message)

    if d.foundry:
        shared = ", ".join(ring.sharing) + (f"; other deployments on the resource use it too: {', '.join(ring.others)}" if ring.others else "")
        step(f"the keys are Foundry resource {d.account}'s, shared by {shared}: every entry that holds them is updated")

    def store(key: Secret, label: str) -> None:
        mask_keys([key], environ, stream)  # before anything else is done with it
        probe = _probe(gateway, ring.url, key, ring.model)
        if not probe.ok:
            raise ProvisionError(f"the {label} key of {d.name} failed its probe ({probe.error}); the secrets file was left on the key it had")
        secrets.write(ring.entries(key), origins=origins)
        result.file_key = label
        step(f"secrets file now holds the {label} key (probed: {probe.latency_ms:.0f} ms)")

    keys = ring.read()
    if held == _pick(keys, which).reveal() or held is None:
        store(_pick(keys, other), other)
        if grace > 0:
            step(f"waiting {grace:g} s for clients to pick up the {other} key")
            time.sleep(grace)
    step(f"regenerating the {which} key")
    fresh = _regenerate(ring.regenerate, which)
    new_key = _pick(fresh, which)
    if not new_key or new_key == _pick(keys, which):
        fresh = ring.read()  # an answer without keys: read them
        new_key = _pick(fresh, which)
    store(new_key, which)
    return result
