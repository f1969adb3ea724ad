"""The world's typed model: tenant, subscriptions, resource groups, hubs and projects,
principals and groups, role assignments, and the model catalog with lifecycle dates.
(world.py reads it from YAML.)"""
from __future__ import annotations

import datetime as dt
import difflib
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

from .roles import RoleDefinition

_NS = uuid.UUID("0b8a6d4e-1c3f-4e5a-9b7d-2f1e3d4c5b6a")


def gen_id(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


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
    tags: dict[str, str] = field(default_factory=dict)  # set by a PUT or PATCH of the group


@dataclass
class Subscription:
    id: str
    name: str
    billing_country: str
    payment_method: bool
    marketplace_purchases: str  # allowed | forbidden
    providers: dict[str, str]  # namespace -> Registered | NotRegistered
    # Foundry quota limits that differ from the catalog's: region -> usage name -> limit
    foundry_quota: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class FoundryModel:
    """One version of a model in the Foundry catalog (Microsoft.CognitiveServices), with the
    deployment SKUs it takes and the regions of each."""

    name: str
    version: str
    skus: dict[str, list[str]]  # SKU name -> regions
    format: str = "Mistral AI"
    publisher: str = "Mistral AI"
    default: bool = True  # the version a deployment gets when it names none
    marketplace: bool = True  # a partner model bought through Azure Marketplace (False: sold directly by Azure)
    capacity: tuple[int, int, int] = (1, 1, 1)  # default, minimum, maximum of one deployment
    quota: int = 10  # the limit per subscription and region of its usage, unless the subscription says otherwise
    lifecycle: str = "GenerallyAvailable"  # Preview | GenerallyAvailable | Deprecating | Deprecated
    capabilities: dict[str, str] = field(default_factory=lambda: {"chatCompletion": "true"})

    def usage_name(self, sku: str) -> str:
        return f"AIServices.{sku}.{self.name}"

    def regions(self) -> set[str]:
        return {r for regions in self.skus.values() for r in regions}


@dataclass
class FoundryAccount:
    """A Foundry resource (Microsoft.CognitiveServices/accounts, kind AIServices)."""

    name: str
    subscription: str
    resource_group: str
    location: str
    subdomain: str  # customSubDomainName: its hosts are {subdomain}.services.ai.azure.com and friends
    disable_local_auth: bool = False
    rai_policies: list[str] = field(default_factory=list)  # its custom content filters (raiPolicies), besides Azure's defaults

    @property
    def id(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/Microsoft.CognitiveServices/accounts/{self.name}"


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
    accounts: dict[tuple[str, str, str], FoundryAccount] = field(default_factory=dict)  # (sub, rg lower, name lower)
    foundry_models: list[FoundryModel] = field(default_factory=list)

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

    def account_by_subdomain(self, subdomain: str) -> Optional[FoundryAccount]:
        return next((a for a in self.accounts.values() if a.subdomain.lower() == subdomain.lower()), None)

    def foundry_catalog(self, location: str) -> list[FoundryModel]:
        """The Foundry models a region offers (some SKU of theirs is there), by name then version."""
        return sorted((m for m in self.foundry_models if location in m.regions()), key=lambda m: (m.name.lower(), m.version))
