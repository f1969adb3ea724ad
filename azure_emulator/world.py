"""The world file: tenant, subscriptions, hubs and projects, principals, roles, model catalog.

Loading validates everything and reports every mistake as `file:line: path: problem (fix)`,
never a traceback (WorldError carries the list). The YAML is read from its events with bounds
(MAX_WORLD_BYTES, MAX_DEPTH), without anchors or aliases (an alias bomb of a few hundred bytes
would otherwise expand to gigabytes) and without duplicate keys.
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
import uuid
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Optional

import yaml

from .roles import BUILTIN_ROLES, RoleDefinition

DEFAULT_WORLD = "default_world.yaml"
PRINCIPAL_KINDS = ("service_principal", "user", "managed_identity")
MS_PROVIDERS = ("Microsoft.MachineLearningServices", "Microsoft.SaaS", "Microsoft.MarketplaceOrdering")
_NS = uuid.UUID("0b8a6d4e-1c3f-4e5a-9b7d-2f1e3d4c5b6a")
MAX_WORLD_BYTES = 1024 * 1024  # 1 MiB: the built-in world is 5 KB
MAX_DEPTH = 20  # a world nests 8 levels deep
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PLAIN_TAGS = (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class WorldError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Principal:
    name: str
    kind: str
    object_id: str
    client_id: str
    secret: Optional[str] = None
    upn: Optional[str] = None
    federated_subjects: list[str] = field(default_factory=list)
    default: bool = False

    @property
    def display(self) -> str:
        return self.upn or self.client_id


@dataclass
class Group:
    name: str
    object_id: str
    members: list[str]  # principal or group names


@dataclass
class RoleAssignment:
    id: str  # the assignment's GUID name
    principal_id: str
    principal_type: str  # User | Group | ServicePrincipal
    role_definition_id: str  # GUID
    scope: str


LIFECYCLE_STAGES = ("legacy", "deprecated", "retired")  # in the order Azure moves a model through them
MAX_VERSION = 10_000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Lifecycle:
    """When a model becomes legacy (still deployable), deprecated (no new deployments) and retired
    (existing deployments answer 404). Each date takes effect at 00:00 UTC; None: not announced."""

    legacy: Optional[dt.date] = None
    deprecated: Optional[dt.date] = None
    retired: Optional[dt.date] = None

    def status(self, today: Optional[dt.date] = None) -> str:
        """active, legacy, deprecated or retired on `today` (default: today's UTC date)."""
        day = today or utc_today()
        for stage in reversed(LIFECYCLE_STAGES):
            when = getattr(self, stage)
            if when is not None and day >= when:
                return stage
        return "active"

    def as_dict(self) -> dict[str, Optional[str]]:
        return {stage: (d.isoformat() if (d := getattr(self, stage)) else None) for stage in LIFECYCLE_STAGES}


def utc_today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def read_lifecycle(raw: Any) -> tuple[Lifecycle, list[tuple[str, str]]]:
    """A lifecycle mapping ({legacy, deprecated, retired}: YYYY-MM-DD) and the problems found in it,
    each as (field under the mapping, message); shared by the world file and the control API."""
    if raw is None:
        return Lifecycle(), []
    if not isinstance(raw, dict):
        return Lifecycle(), [("", "must be a mapping of legacy, deprecated, retired to dates (YYYY-MM-DD)")]
    problems: list[tuple[str, str]] = []
    for key in raw:
        if key not in LIFECYCLE_STAGES:
            hint = difflib.get_close_matches(str(key), LIFECYCLE_STAGES, n=1)
            problems.append((str(key), "unknown key (" + (f"did you mean '{hint[0]}'?)" if hint else f"allowed keys: {', '.join(LIFECYCLE_STAGES)})")))
    dates: dict[str, dt.date] = {}
    for stage in LIFECYCLE_STAGES:
        value = raw.get(stage)
        if value is None:
            continue
        day = _as_date(value)
        if day is None:
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            problems.append((stage, f"{shown} is not a date; write YYYY-MM-DD (it takes effect at 00:00 UTC)"))
        else:
            dates[stage] = day
    ordered = [(stage, dates[stage]) for stage in LIFECYCLE_STAGES if stage in dates]
    for (first, earlier), (then, later) in zip(ordered, ordered[1:]):
        if later < earlier:
            problems.append((then, f"{later.isoformat()} is before the {first} date {earlier.isoformat()}; a model is legacy, then deprecated, then retired"))
    return Lifecycle(**dates), problems


def _as_date(value: Any) -> Optional[dt.date]:
    if isinstance(value, dt.datetime):  # a date and time: the stages start at midnight UTC, so only dates
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _DATE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


@dataclass
class Model:
    name: str
    id: str
    display_name: str
    publisher: str
    offer: str
    plan: str
    microsoft: bool
    regions: list[str]
    version: int = 1  # the latest version in the registry; versions 1..version exist
    lifecycle: Lifecycle = field(default_factory=Lifecycle)

    @property
    def registry(self) -> str:
        return self.id.split("/")[3] if self.id.count("/") >= 5 else ""

    def status(self, today: Optional[dt.date] = None) -> str:
        return self.lifecycle.status(today)


@dataclass
class Project:
    name: str
    hub: str
    location: str
    subscription: str
    resource_group: str


@dataclass
class Hub:
    name: str
    location: str
    subscription: str
    resource_group: str
    projects: list[str]


@dataclass
class ResourceGroup:
    name: str
    location: str
    subscription: str


@dataclass
class Subscription:
    id: str
    name: str
    billing_country: str
    payment_method: bool
    marketplace_purchases: str  # allowed | forbidden
    providers: dict[str, str]  # namespace -> Registered | NotRegistered


@dataclass
class World:
    tenant_id: str
    tenant_domain: str
    subscriptions: dict[str, Subscription]  # by id (lower case)
    resource_groups: dict[tuple[str, str], ResourceGroup]  # (sub, rg lower)
    hubs: dict[tuple[str, str, str], Hub]
    projects: dict[tuple[str, str, str], Project]
    principals: dict[str, Principal]  # by object id
    groups: dict[str, Group]  # by object id
    role_definitions: dict[str, RoleDefinition]  # by GUID (lower case)
    role_assignments: list[RoleAssignment]
    models: dict[str, Model]  # by model id (lower case)
    eligible_countries: set[str]
    source: str = "<default world>"
    # Endpoint names taken in a region by endpoints of other tenants: never listed, refused on create.
    reserved_endpoint_names: dict[str, set[str]] = field(default_factory=dict)  # region -> lower-case names

    def default_principal(self) -> Principal:
        for p in self.principals.values():
            if p.default:
                return p
        return next(iter(self.principals.values()))

    def principal_by_client_id(self, client_id: str) -> Optional[Principal]:
        for p in self.principals.values():
            if p.client_id.lower() == client_id.lower():
                return p
        return None

    def groups_of(self, object_id: str) -> set[str]:
        """Object ids of every group the principal belongs to, transitively."""
        names = {p.name: oid for oid, p in self.principals.items()}
        names.update({g.name: oid for oid, g in self.groups.items()})
        member_of: set[str] = set()
        frontier = {object_id}
        while frontier:
            found = {
                gid
                for gid, g in self.groups.items()
                if gid not in member_of and any(names.get(m) in frontier for m in g.members)
            }
            member_of |= found
            frontier = found
        return member_of

    def model(self, model_id: str) -> Optional[Model]:
        return self.models.get(model_id.lower())

    def registries(self) -> list[str]:
        """The registries the catalog's models are in, by name."""
        return sorted({m.registry for m in self.models.values() if m.registry}, key=str.lower)

    def registry_models(self, registry: str) -> list[Model]:
        """A registry's models, by name (case-insensitive)."""
        return sorted((m for m in self.models.values() if m.registry.lower() == registry.lower()), key=lambda m: m.name.lower())

    def name_reserved(self, region: str, name: str) -> bool:
        return name.lower() in self.reserved_endpoint_names.get(region.lower(), set())


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


def gen_id(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


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

    def _keys(self, data: dict, path: str, allowed: tuple[str, ...]) -> None:
        for key in data:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                fix = f"did you mean '{hint[0]}'?" if hint else f"allowed keys: {', '.join(allowed)}"
                self.problem(f"{path}.{key}" if path else str(key), f"unknown key ({fix})")

    def _list(self, data: dict, key: str, path: str) -> list:
        value = data.get(key) or []
        if not isinstance(value, list):
            self.problem(f"{path}.{key}" if path else key, "must be a list")
            return []
        return value

    def _map(self, value: Any, path: str) -> dict:
        if not isinstance(value, dict):
            self.problem(path, "must be a mapping")
            return {}
        return value

    # -- building --------------------------------------------------------------------------
    def build(self) -> World:
        if len(self.text) > MAX_WORLD_BYTES or len(self.text.encode("utf-8", "replace")) > MAX_WORLD_BYTES:
            raise WorldError([f"{self.source}: the world file is larger than {MAX_WORLD_BYTES:,} bytes (1 MiB), the most allowed"])
        reader = _Reader(self.source)
        data = reader.read(self.text)
        self.lines = reader.lines
        self.problems.extend(reader.problems)
        data = self._map(data or {}, "(top)")
        self._keys(
            data,
            "",
            ("tenant", "subscriptions", "principals", "groups", "role_definitions", "role_assignments", "models", "marketplace",
             "reserved_endpoint_names"),
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

    def _subscriptions(self, data: dict, world: World) -> None:
        for i, raw in enumerate(self._list(data, "subscriptions", "")):
            path = f"subscriptions[{i}]"
            raw = self._map(raw, path)
            self._keys(raw, path, ("id", "name", "billing_country", "payment_method", "marketplace_purchases", "providers", "resource_groups"))
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
            for j, rg_raw in enumerate(self._list(raw, "resource_groups", path)):
                rpath = f"{path}.resource_groups[{j}]"
                rg_raw = self._map(rg_raw, rpath)
                self._keys(rg_raw, rpath, ("name", "location", "hubs"))
                if not rg_raw.get("name"):
                    self.problem(f"{rpath}.name", "a resource group needs a name")
                    continue
                rg = ResourceGroup(str(rg_raw["name"]), _region(rg_raw.get("location", "eastus2")), sub_id)
                world.resource_groups[(sub_id, rg.name.lower())] = rg
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

    def _principals(self, data: dict, world: World) -> None:
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

    def _role_definitions(self, data: dict, world: World) -> None:
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

    def _role_assignments(self, data: dict, world: World) -> None:
        by_name = {p.name: (oid, _principal_type(p.kind)) for oid, p in world.principals.items()}
        by_name.update({g.name: (oid, "Group") for oid, g in world.groups.items()})
        roles = {r.name.lower(): r for r in world.role_definitions.values()}
        subs_by_name = {s.name.lower(): s.id for s in world.subscriptions.values()}
        for i, raw in enumerate(self._list(data, "role_assignments", "")):
            path = f"role_assignments[{i}]"
            raw = self._map(raw, path)
            self._keys(raw, path, ("principal", "role", "scope", "subscription", "resource_group", "workspace", "id"))
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

    def _models(self, data: dict, world: World) -> None:
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

    def _reserved_names(self, data: dict, world: World) -> None:
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


class _Reader:
    """Plain data from YAML events (no recursion, no anchors or aliases, bounded depth), with the
    line of every path (`a.b[0].c`) and a problem for every duplicate key."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[str, int] = {}
        self.problems: list[tuple[int, str]] = []
        self.stack: list[list[Any]] = []  # [container, path, pending key, {key: line}]
        self.root: Any = None
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()

    def fail(self, line: int, message: str) -> WorldError:
        return WorldError([f"{self.source}:{line}: {message}"])

    def read(self, text: str) -> Any:
        try:
            documents = 0
            for event in yaml.parse(text, Loader=_Loader):
                line = event.start_mark.line + 1 if event.start_mark else 1
                if isinstance(event, yaml.DocumentStartEvent):
                    documents += 1
                    if documents > 1:
                        raise self.fail(line, "holds more than one YAML document (---); a world is one document")
                elif isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                    raise self.fail(line, "anchors and aliases (&name, *name) are not allowed in a world file: write the values out")
                elif isinstance(event, yaml.ScalarEvent):
                    self.place(self.scalar(event, line), line, event.value)
                elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                    if len(self.stack) >= MAX_DEPTH:
                        raise self.fail(line, f"nested more than {MAX_DEPTH} levels deep; a world needs 8")
                    if event.tag not in _PLAIN_TAGS:
                        raise self.fail(line, f"the tag {event.tag} is not allowed in a world file; remove it")
                    container: Any = {} if isinstance(event, yaml.MappingStartEvent) else []
                    path = self.place(container, line, None)
                    self.stack.append([container, path, None, {}])
                elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                    self.stack.pop()
        except yaml.reader.ReaderError as exc:
            code = exc.character if isinstance(exc.character, int) else ord(exc.character)
            line = text.count("\n", 0, exc.position) + 1
            raise self.fail(line, f"holds the control character U+{code:04X}, which YAML does not allow; remove it") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{self.source}:{mark.line + 1}" if mark else self.source
            problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
            raise WorldError([f"{where}: not valid YAML: {problem}"]) from None
        return self.root

    def scalar(self, event: Any, line: int) -> Any:
        if (event.style and event.tag is None) or event.tag == "!":  # untagged quoted or block scalars are text
            return event.value
        tag = event.tag or self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
        if tag == "tag:yaml.org,2002:merge":
            raise self.fail(line, "merge keys (<<) are not allowed in a world file: write the fields out")
        try:
            return self.constructor.construct_object(yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark))
        except yaml.YAMLError as exc:
            raise self.fail(line, f"cannot read this value: {getattr(exc, 'problem', None) or exc}") from None

    def place(self, value: Any, line: int, raw: Optional[str]) -> str:
        """Put a value into the open container; returns its path."""
        if not self.stack:
            self.root = value
            self.lines[""] = line
            return ""
        top = self.stack[-1]
        container, path = top[0], top[1]
        if isinstance(container, list):
            sub = f"{path}[{len(container)}]"
            container.append(value)
        elif top[2] is None:  # a key
            if isinstance(value, (dict, list)):
                raise self.fail(line, f"{path or '(top)'}: a mapping key must be a plain value, not a {'mapping' if isinstance(value, dict) else 'list'}")
            sub = f"{path}.{raw}" if path else str(raw)
            if value in top[3]:
                self.problems.append((line, f"{self.source}:{line}: {sub}: duplicate key (also on line {top[3][value]}); keep one"))
            else:
                top[3][value] = line
            top[2] = (value, sub)
            self.lines.setdefault(sub, line)
            return sub
        else:
            key, sub = top[2]
            top[2] = None
            container.setdefault(key, value)  # the first of duplicate keys counts
        self.lines.setdefault(sub, line)
        return sub
