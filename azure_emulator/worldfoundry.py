"""The world file's Foundry part: accounts in resource groups, quota limits per subscription,
and the Foundry model catalog. world.py's builder calls these with itself, so that every
mistake is reported the same way (`file:line: path: problem (fix)`)."""
from __future__ import annotations

import re
from typing import Any, Protocol

from .worldmodel import FoundryAccount, FoundryModel, Subscription, World

SKUS = ("Standard", "GlobalStandard", "DataZoneStandard", "ProvisionedManaged", "GlobalProvisionedManaged", "DataZoneProvisionedManaged",
        "GlobalBatch", "DataZoneBatch")
LIFECYCLES = ("Preview", "GenerallyAvailable", "Deprecating", "Deprecated")
ACCOUNT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,63}$")  # what Azure takes for an account name
SUBDOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$")  # a DNS label
MODEL_KEYS = ("name", "version", "format", "publisher", "default", "marketplace", "skus", "capacity", "quota", "lifecycle", "capabilities")


class Builder(Protocol):
    def problem(self, path: str, message: str) -> None: ...

    def _keys(self, data: dict[str, Any], path: str, allowed: tuple[str, ...]) -> None: ...

    def _list(self, data: dict[str, Any], key: str, path: str) -> list[Any]: ...

    def _map(self, value: Any, path: str) -> dict[str, Any]: ...


def region(name: Any) -> str:
    return str(name).replace(" ", "").lower()


def read_quota(b: Builder, raw: Any, path: str, sub: Subscription) -> None:
    """A subscription's `foundry_quota`: {region: {usage name: limit}}."""
    for where, usages in b._map(raw or {}, path).items():
        for usage, limit in b._map(usages, f"{path}.{where}").items():
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
                b.problem(f"{path}.{where}.{usage}", f"{limit!r} must be a whole number >= 0 (the quota limit)")
                continue
            sub.foundry_quota.setdefault(region(where), {})[str(usage)] = limit


def read_accounts(b: Builder, rg_raw: dict[str, Any], path: str, sub: str, rg: str, rg_location: str, world: World) -> None:
    """A resource group's `foundry_accounts`."""
    for i, raw in enumerate(b._list(rg_raw, "foundry_accounts", path)):
        apath = f"{path}.foundry_accounts[{i}]"
        raw = b._map(raw, apath)
        b._keys(raw, apath, ("name", "location", "custom_subdomain", "disable_local_auth", "rai_policies"))
        name = str(raw.get("name") or "")
        if not ACCOUNT_NAME.match(name):
            b.problem(f"{apath}.name", f"{name!r} is not an account name (2 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit)")
            continue
        subdomain = str(raw.get("custom_subdomain") or name).lower()
        if not SUBDOMAIN.match(subdomain):
            b.problem(f"{apath}.custom_subdomain", f"{subdomain!r} is not a DNS label (letters, digits and '-', at most 63)")
            continue
        if world.account_by_subdomain(subdomain) is not None:
            b.problem(f"{apath}.custom_subdomain", f"'{subdomain}' is taken by another account (custom subdomains are unique across Azure)")
            continue
        key = (sub, rg.lower(), name.lower())
        if key in world.accounts:
            b.problem(f"{apath}.name", f"account name '{name}' is used twice in resource group '{rg}'")
            continue
        policies = [str(p) for p in b._list(raw, "rai_policies", apath)]
        world.accounts[key] = FoundryAccount(name, sub, rg, region(raw.get("location", rg_location)), subdomain,
                                             bool(raw.get("disable_local_auth", False)), policies)


def read_models(b: Builder, data: dict[str, Any], world: World) -> None:
    """The top-level `foundry_models`: one entry per model version."""
    seen: set[tuple[str, str]] = set()
    for i, raw in enumerate(b._list(data, "foundry_models", "")):
        path = f"foundry_models[{i}]"
        raw = b._map(raw, path)
        b._keys(raw, path, MODEL_KEYS)
        name, version = str(raw.get("name") or ""), str(raw.get("version") or "")
        if not name or not version:
            b.problem(path, "a Foundry model needs a name and a version")
            continue
        if (name.lower(), version) in seen:
            b.problem(f"{path}.version", f"{name} version {version} is listed twice")
        seen.add((name.lower(), version))
        skus: dict[str, list[str]] = {}
        for sku, regions in b._map(raw.get("skus") or {}, f"{path}.skus").items():
            if sku not in SKUS:
                b.problem(f"{path}.skus.{sku}", f"unknown SKU (one of {', '.join(SKUS)})")
            elif not isinstance(regions, list) or not all(isinstance(r, str) and r.strip() for r in regions):
                b.problem(f"{path}.skus.{sku}", "must be a list of Azure regions, e.g. [eastus2, swedencentral]")
            else:
                skus[sku] = [region(r) for r in regions]
        if not skus:
            b.problem(f"{path}.skus", "at least one SKU with its regions is required, e.g. {GlobalStandard: [eastus2]}")
        capacity = _capacity(b, raw.get("capacity"), f"{path}.capacity")
        quota = raw.get("quota", 10)
        if not isinstance(quota, int) or isinstance(quota, bool) or quota < 0:
            b.problem(f"{path}.quota", f"{quota!r} must be a whole number >= 0")
            quota = 10
        lifecycle = str(raw.get("lifecycle", "GenerallyAvailable"))
        if lifecycle not in LIFECYCLES:
            b.problem(f"{path}.lifecycle", f"'{lifecycle}' is not one of {', '.join(LIFECYCLES)}")
        caps = b._map(raw.get("capabilities") or {"chatCompletion": "true"}, f"{path}.capabilities")
        world.foundry_models.append(FoundryModel(
            name=name, version=version, skus=skus, format=str(raw.get("format", "Mistral AI")), publisher=str(raw.get("publisher", "Mistral AI")),
            default=bool(raw.get("default", True)), marketplace=bool(raw.get("marketplace", True)), capacity=capacity, quota=quota,
            lifecycle=lifecycle, capabilities={str(k): str(v) for k, v in caps.items()},
        ))


def _capacity(b: Builder, raw: Any, path: str) -> tuple[int, int, int]:
    if raw is None:
        return (1, 1, 1)
    data = b._map(raw, path)
    b._keys(data, path, ("default", "minimum", "maximum"))
    values = [data.get(k, 1) for k in ("default", "minimum", "maximum")]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values) or not values[1] <= values[0] <= values[2]:
        b.problem(path, "default, minimum and maximum must be whole numbers with minimum <= default <= maximum")
        return (1, 1, 1)
    return (values[0], values[1], values[2])
