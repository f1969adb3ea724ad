"""The world file: tenant, subscriptions, hubs and projects, principals, roles, model catalog.

Loading validates everything and reports every mistake as `file:line: path: problem (fix)`,
never a traceback (WorldError carries the list). The YAML is read from its events with bounds
(MAX_WORLD_BYTES, MAX_DEPTH), without anchors or aliases (an alias bomb of a few hundred bytes
would otherwise expand to gigabytes) and without duplicate keys.
"""
from __future__ import annotations

import difflib
import re
import uuid
from importlib import resources
from typing import Any, Optional

from . import worldfoundry
from .roles import BUILTIN_ROLES, RoleDefinition
from .worldmodel import (LIFECYCLE_STAGES, MAX_VERSION, Group, Hub, Lifecycle, Model, Principal, Project, ResourceGroup, RoleAssignment, Subscription, World,
                         gen_id, read_lifecycle)
from .yamlread import MAX_DEPTH, WorldError, Reader

__all__ = ["DEFAULT_WORLD", "LIFECYCLE_STAGES", "MAX_DEPTH", "MAX_WORLD_BYTES", "Lifecycle", "Model", "World", "WorldError", "decode_world",
           "load_world", "read_lifecycle", "read_world_file"]

DEFAULT_WORLD = "default_world.yaml"
PRINCIPAL_KINDS = ("service_principal", "user", "managed_identity")
MS_PROVIDERS = ("Microsoft.MachineLearningServices", "Microsoft.SaaS", "Microsoft.MarketplaceOrdering", "Microsoft.CognitiveServices")
MAX_WORLD_BYTES = 1024 * 1024  # 1 MiB: the built-in world is 5 KB


def load_world(path: Optional[str] = None, text: Optional[str] = None) -> World:
    if text is None:
        if path is None:
            text = resources.files(__package__).joinpath(DEFAULT_WORLD).read_text()
            path = "<default world>"
        else:
            text = read_world_file(path)
    return _Builder(path or "<world>", text).build()


def read_world_file(path: str) -> str:
    """The text of a world file, read with a bound (WorldError if unreadable, too big or not UTF-8)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_WORLD_BYTES + 1)
    except OSError as exc:
        raise WorldError([f"{path}: cannot read the world file: {exc.strerror}"]) from None
    return decode_world(data, path)


def decode_world(data: bytes, source: str) -> str:
    if len(data) > MAX_WORLD_BYTES:
        raise WorldError([f"{source}: the world file is larger than {MAX_WORLD_BYTES:,} bytes (1 MiB), the most allowed"])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise WorldError([f"{source}:{line}: the world file is not UTF-8 text (at byte offset {exc.start})"]) from None



class _Builder:
    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.text = text
        self.problems: list[tuple[int, str]] = []  # (line, message), sorted by line when raised
        self.lines: dict[str, int] = {}

    # -- error reporting with line numbers -------------------------------------------------
    def problem(self, path: str, message: str) -> None:
        probe = path
        while probe and probe not in self.lines:
            probe = probe.rsplit(".", 1)[0] if "." in probe else ""
        line = self.lines.get(probe)
        where = f"{self.source}:{line}" if line else self.source
        self.problems.append((line or 0, f"{where}: {path}: {message}"))

    def _keys(self, data: dict[str, Any], path: str, allowed: tuple[str, ...]) -> None:
        for key in data:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                fix = f"did you mean '{hint[0]}'?" if hint else f"allowed keys: {', '.join(allowed)}"
                self.problem(f"{path}.{key}" if path else str(key), f"unknown key ({fix})")

    def _list(self, data: dict[str, Any], key: str, path: str) -> list[Any]:
        value = data.get(key) or []
        if not isinstance(value, list):
            self.problem(f"{path}.{key}" if path else key, "must be a list")
            return []
        return value

    def _map(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problem(path, "must be a mapping")
            return {}
        return value

    # -- building --------------------------------------------------------------------------
    def build(self) -> World:
        if len(self.text) > MAX_WORLD_BYTES or len(self.text.encode("utf-8", "replace")) > MAX_WORLD_BYTES:
            raise WorldError([f"{self.source}: the world file is larger than {MAX_WORLD_BYTES:,} bytes (1 MiB), the most allowed"])
        reader = Reader(self.source)
        data = reader.read(self.text)
        self.lines = reader.lines
        self.problems.extend(reader.problems)
        data = self._map(data or {}, "(top)")
        self._keys(
            data,
            "",
            ("tenant", "subscriptions", "principals", "groups", "role_definitions", "role_assignments", "models", "marketplace",
             "reserved_endpoint_names", "foundry_models"),
        )
        tenant = self._map(data.get("tenant") or {}, "tenant")
        self._keys(tenant, "tenant", ("id", "domain"))
        tenant_id = str(tenant.get("id") or gen_id("tenant"))
        world = World(
            tenant_id=tenant_id,
            tenant_domain=str(tenant.get("domain") or "contoso.onmicrosoft.com"),
            subscriptions={},
            resource_groups={},
            hubs={},
            projects={},
            principals={},
            groups={},
            role_definitions={r.id.lower(): r for r in BUILTIN_ROLES},
            role_assignments=[],
            models={},
            eligible_countries=set(),
            source=self.source,
        )
        self._subscriptions(data, world)
        self._principals(data, world)
        self._role_definitions(data, world)
        self._role_assignments(data, world)
        self._models(data, world)
        worldfoundry.read_models(self, data, world)
        self._reserved_names(data, world)
        market = self._map(data.get("marketplace") or {}, "marketplace")
        self._keys(market, "marketplace", ("eligible_countries",))
        world.eligible_countries = {str(c).upper() for c in market.get("eligible_countries") or ["US"]}
        if not world.subscriptions:
            self.problem("subscriptions", "at least one subscription is required")
        if not world.principals:
            self.problem("principals", "at least one principal is required")
        if self.problems:
            raise WorldError([text for _, text in sorted(self.problems, key=lambda p: p[0])])
        return world

    def _subscriptions(self, data: dict[str, Any], world: World) -> None:
        for i, raw in enumerate(self._list(data, "subscriptions", "")):
            path = f"subscriptions[{i}]"
            raw = self._map(raw, path)
            self._keys(raw, path, ("id", "name", "billing_country", "payment_method", "marketplace_purchases", "providers", "resource_groups",
                                   "foundry_quota"))
            sub_id = str(raw.get("id") or gen_id("sub", str(i))).lower()
            if not _is_guid(sub_id):
                self.problem(f"{path}.id", f"'{sub_id}' is not a GUID (Azure subscription ids are GUIDs)")
            policy = raw.get("marketplace_purchases", "allowed")
            if policy not in ("allowed", "forbidden"):
                self.problem(f"{path}.marketplace_purchases", f"'{policy}' must be 'allowed' or 'forbidden'")
            providers = {ns: "Registered" for ns in MS_PROVIDERS}
            for ns, state in self._map(raw.get("providers") or {}, f"{path}.providers").items():
                if state not in ("Registered", "NotRegistered"):
                    self.problem(f"{path}.providers.{ns}", f"'{state}' must be Registered or NotRegistered")
                providers[str(ns)] = str(state)
            sub = Subscription(
                id=sub_id,
                name=str(raw.get("name") or sub_id),
                billing_country=str(raw.get("billing_country", "US")).upper(),
                payment_method=bool(raw.get("payment_method", True)),
                marketplace_purchases=str(policy),
                providers=providers,
            )
            world.subscriptions[sub_id] = sub
            worldfoundry.read_quota(self, raw.get("foundry_quota"), f"{path}.foundry_quota", sub)
            for j, rg_raw in enumerate(self._list(raw, "resource_groups", path)):
                rpath = f"{path}.resource_groups[{j}]"
                rg_raw = self._map(rg_raw, rpath)
                self._keys(rg_raw, rpath, ("name", "location", "hubs", "foundry_accounts"))
                if not rg_raw.get("name"):
                    self.problem(f"{rpath}.name", "a resource group needs a name")
                    continue
                rg = ResourceGroup(str(rg_raw["name"]), _region(rg_raw.get("location", "eastus2")), sub_id)
                world.resource_groups[(sub_id, rg.name.lower())] = rg
                worldfoundry.read_accounts(self, rg_raw, rpath, sub_id, rg.name, rg.location, world)
                for k, hub_raw in enumerate(self._list(rg_raw, "hubs", rpath)):
                    hpath = f"{rpath}.hubs[{k}]"
                    hub_raw = self._map(hub_raw, hpath)
                    self._keys(hub_raw, hpath, ("name", "location", "projects"))
                    if not hub_raw.get("name"):
                        self.problem(f"{hpath}.name", "a hub needs a name")
                        continue
                    location = _region(hub_raw.get("location", rg.location))
                    projects = [str(p) for p in self._list(hub_raw, "projects", hpath)]
                    hub = Hub(str(hub_raw["name"]), location, sub_id, rg.name, projects)
                    world.hubs[(sub_id, rg.name.lower(), hub.name.lower())] = hub
                    for p in projects:
                        key = (sub_id, rg.name.lower(), p.lower())
                        if key in world.projects or key[2] == hub.name.lower():
                            self.problem(f"{hpath}.projects", f"workspace name '{p}' is used twice in resource group '{rg.name}'")
                        world.projects[key] = Project(p, hub.name, location, sub_id, rg.name)

    def _principals(self, data: dict[str, Any], world: World) -> None:
        for i, raw in enumerate(self._list(data, "principals", "")):
            path = f"principals[{i}]"
            raw = self._map(raw, path)
            self._keys(raw, path, ("name", "kind", "object_id", "client_id", "secret", "upn", "federated_subjects", "default"))
            name = str(raw.get("name") or "")
            if not name:
                self.problem(f"{path}.name", "a principal needs a name")
                continue
            kind = raw.get("kind", "service_principal")
            if kind not in PRINCIPAL_KINDS:
                hint = difflib.get_close_matches(str(kind), PRINCIPAL_KINDS, n=1)
                self.problem(f"{path}.kind", f"'{kind}' is not one of {', '.join(PRINCIPAL_KINDS)}" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
            oid = str(raw.get("object_id") or gen_id("principal", name))
            world.principals[oid.lower()] = Principal(
                name=name,
                kind=str(kind),
                object_id=oid.lower(),
                client_id=str(raw.get("client_id") or gen_id("client", name)),
                secret=raw.get("secret"),
                upn=raw.get("upn") or (f"{name}@{world.tenant_domain}" if kind == "user" else None),
                federated_subjects=[str(s) for s in raw.get("federated_subjects") or []],
                default=bool(raw.get("default", False)),
            )
        for i, raw in enumerate(self._list(data, "groups", "")):
            path = f"groups[{i}]"
            raw = self._map(raw, path)
            self._keys(raw, path, ("name", "object_id", "members"))
            name = str(raw.get("name") or "")
            oid = str(raw.get("object_id") or gen_id("group", name)).lower()
            world.groups[oid] = Group(name, oid, [str(m) for m in raw.get("members") or []])
        known = {p.name for p in world.principals.values()} | {g.name for g in world.groups.values()}
        for i, g in enumerate(world.groups.values()):
            for m in g.members:
                if m not in known:
                    self.problem(f"groups[{i}].members", f"'{m}' is not a principal or group of this world")

    def _role_definitions(self, data: dict[str, Any], world: World) -> None:
        for i, raw in enumerate(self._list(data, "role_definitions", "")):
            path = f"role_definitions[{i}]"
            raw = self._map(raw, path)
            self._keys(raw, path, ("name", "id", "actions", "not_actions", "data_actions", "not_data_actions", "description"))
            if not raw.get("name"):
                self.problem(f"{path}.name", "a role definition needs a name")
                continue
            rid = str(raw.get("id") or gen_id("role", raw["name"])).lower()
            world.role_definitions[rid] = RoleDefinition(
                id=rid,
                name=str(raw["name"]),
                description=str(raw.get("description", "")),
                actions=[str(a) for a in raw.get("actions") or []],
                not_actions=[str(a) for a in raw.get("not_actions") or []],
                data_actions=[str(a) for a in raw.get("data_actions") or []],
                not_data_actions=[str(a) for a in raw.get("not_data_actions") or []],
                builtin=False,
            )

    def _role_assignments(self, data: dict[str, Any], world: World) -> None:
        by_name = {p.name: (oid, _principal_type(p.kind)) for oid, p in world.principals.items()}
        by_name.update({g.name: (oid, "Group") for oid, g in world.groups.items()})
        roles = {r.name.lower(): r for r in world.role_definitions.values()}
        subs_by_name = {s.name.lower(): s.id for s in world.subscriptions.values()}
        for i, raw in enumerate(self._list(data, "role_assignments", "")):
            path = f"role_assignments[{i}]"
            raw = self._map(raw, path)
            self._keys(raw, path, ("principal", "role", "scope", "subscription", "resource_group", "workspace", "account", "id"))
            who = str(raw.get("principal", ""))
            if who not in by_name:
                hint = difflib.get_close_matches(who, list(by_name), n=1, cutoff=0.5)
                self.problem(f"{path}.principal", f"'{who}' is not a principal or group of this world" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
                continue
            role_key = str(raw.get("role", "")).lower()
            role = roles.get(role_key) or world.role_definitions.get(role_key)
            if role is None:
                hint = difflib.get_close_matches(str(raw.get("role")), [r.name for r in world.role_definitions.values()], n=1)
                self.problem(f"{path}.role", f"'{raw.get('role')}' is not a role definition" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
                continue
            scope = raw.get("scope")
            if not scope:
                sub_ref = str(raw.get("subscription") or next(iter(world.subscriptions), ""))
                sub_id = subs_by_name.get(sub_ref.lower(), sub_ref.lower())
                if sub_id not in world.subscriptions:
                    self.problem(f"{path}.subscription", f"'{sub_ref}' is not a subscription of this world")
                    continue
                scope = f"/subscriptions/{sub_id}"
                if raw.get("resource_group"):
                    scope += f"/resourceGroups/{raw['resource_group']}"
                    if raw.get("workspace"):
                        scope += f"/providers/Microsoft.MachineLearningServices/workspaces/{raw['workspace']}"
                    elif raw.get("account"):
                        scope += f"/providers/Microsoft.CognitiveServices/accounts/{raw['account']}"
            oid, ptype = by_name[who]
            world.role_assignments.append(
                RoleAssignment(
                    id=str(raw.get("id") or gen_id("assignment", oid, role.id, str(scope).lower())),
                    principal_id=oid,
                    principal_type=ptype,
                    role_definition_id=role.id,
                    scope=str(scope),
                )
            )

    def _models(self, data: dict[str, Any], world: World) -> None:
        for i, raw in enumerate(self._list(data, "models", "")):
            path = f"models[{i}]"
            raw = self._map(raw, path)
            self._keys(raw, path, ("name", "id", "display_name", "publisher", "offer", "plan", "microsoft", "regions", "version", "lifecycle"))
            name = str(raw.get("name") or "")
            if not name:
                self.problem(f"{path}.name", "a model needs a name")
                continue
            microsoft = bool(raw.get("microsoft", False))
            registry = "azureml" if microsoft else "azureml-mistral"
            model_id = str(raw.get("id") or f"azureml://registries/{registry}/models/{name}")
            if not _MODEL_ID.match(model_id):
                self.problem(f"{path}.id", "model ids look like azureml://registries/<registry>/models/<name>")
            elif model_id.rsplit("/", 1)[-1].lower() != name.lower():
                self.problem(f"{path}.id", f"'{model_id}' must end with the model's name '{name}'")
            if model_id.lower() in world.models:
                self.problem(f"{path}.id", f"'{model_id}' is used by two models; keep one")
            version = raw.get("version", 1)
            if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= MAX_VERSION:
                self.problem(f"{path}.version", f"{version!r} must be a whole number from 1 to {MAX_VERSION:,} (the latest version in the registry)")
                version = 1
            lifecycle, problems = read_lifecycle(raw.get("lifecycle"))
            for where, message in problems:
                self.problem(f"{path}.lifecycle" + (f".{where}" if where else ""), message)
            regions = raw.get("regions") or []
            if not isinstance(regions, list) or not all(isinstance(r, str) and r.strip() for r in regions):
                self.problem(f"{path}.regions", "must be a list of Azure regions, e.g. [eastus2, swedencentral]")
                regions = []
            world.models[model_id.lower()] = Model(
                name=name,
                id=model_id,
                display_name=str(raw.get("display_name") or name),
                publisher=str(raw.get("publisher") or ("microsoft" if microsoft else "000-000")),
                offer=str(raw.get("offer") or f"{name.lower()}-offer"),
                plan=str(raw.get("plan") or f"{name.lower()}-paygo"),
                microsoft=microsoft,
                regions=[_region(r) for r in regions],
                version=version,
                lifecycle=lifecycle,
            )

    def _reserved_names(self, data: dict[str, Any], world: World) -> None:
        raw = self._map(data.get("reserved_endpoint_names") or {}, "reserved_endpoint_names")
        for region, names in raw.items():
            path = f"reserved_endpoint_names.{region}"
            if not isinstance(names, list):
                self.problem(path, "must be a list of endpoint names, e.g. [mistral-chat]")
                continue
            taken = world.reserved_endpoint_names.setdefault(_region(region), set())
            for i, name in enumerate(names):
                if not isinstance(name, str) or not _ENDPOINT_NAME.match(name):
                    self.problem(f"{path}[{i}]", f"{name!r} is not an endpoint name (a letter, then letters, digits or '-', at most 52 characters)")
                else:
                    taken.add(name.lower())


_MODEL_ID = re.compile(r"^azureml://registries/[^/\s]+/models/[^/\s]+$")
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,51}$")  # what a serverless endpoint PUT accepts


def _region(name: Any) -> str:
    """'East US 2' and 'eastus2' are the same region to ARM."""
    return str(name).replace(" ", "").lower()


def _principal_type(kind: str) -> str:
    return {"user": "User"}.get(kind, "ServicePrincipal")


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
        return True
    except ValueError:
        return False

