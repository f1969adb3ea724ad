"""The model catalog: what the registry says about a model, completed by the facts no Azure API
answers (regions, replacements, seller), which ship with the package in data/mistral_catalog.json,
each with its source and date. Pure: the registry's answers arrive as `RegistryModel` values read
by the gateway; nothing here does I/O except loading the packaged file once.

Lifecycle (Azure's rules): a model is *legacy* (still deployable, retirement announced), then
*deprecated* (no new deployments; existing ones keep serving), then *retired* (its deployments
answer 404). Each date takes effect at 00:00 UTC.
"""
from __future__ import annotations

import datetime as dt
import difflib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping, Optional

from .names import TextEnum

REGISTRY_PREFIX = "azureml://registries/"
REGISTRY_DISCOVERY = "https://eastus.api.azureml.ms/"  # azure-ai-ml's registry discovery host for public Azure


class Stage(TextEnum):
    """Where a model is in its lifecycle today."""

    CURRENT = "current"
    LEGACY = "legacy"
    DEPRECATED = "deprecated"
    RETIRED = "retired"


@dataclass(frozen=True)
class Lifecycle:
    legacy: Optional[dt.date] = None
    deprecated: Optional[dt.date] = None
    retired: Optional[dt.date] = None

    def stage(self, today: dt.date) -> Stage:
        if self.retired is not None and today >= self.retired:
            return Stage.RETIRED
        if self.deprecated is not None and today >= self.deprecated:
            return Stage.DEPRECATED
        if self.legacy is not None and today >= self.legacy:
            return Stage.LEGACY
        return Stage.CURRENT

    def __bool__(self) -> bool:
        return any((self.legacy, self.deprecated, self.retired))


@dataclass(frozen=True)
class RegistryModel:
    """One model as the registry answers it (its latest version)."""

    registry: str
    name: str  # the registry's spelling
    version: str
    lifecycle: Lifecycle = field(default_factory=Lifecycle)  # from the version's tags; empty when it has none


@dataclass(frozen=True)
class KnownModel:
    """What the packaged catalog knows about a model."""

    name: str
    seller: str  # marketplace | azure
    regions: tuple[str, ...]
    lifecycle: Lifecycle
    replacement: Optional[str]
    source: str  # the text of its source
    note: str = ""  # why it has no regions for hub projects, when it has none


@dataclass(frozen=True)
class Catalog:
    as_of: str  # the date the packaged facts were gathered
    registry: str
    models: Mapping[str, KnownModel]  # by lower-case name

    def known(self, model_name: str) -> Optional[KnownModel]:
        return self.models.get(model_name.lower())

    def current(self, today: dt.date, besides: str = "") -> list[str]:
        """The packaged models a hub project can deploy today: offered somewhere, neither deprecated
        nor retired (other than `besides`)."""
        return [m.name for m in self.models.values()
                if m.regions and m.lifecycle.stage(today) in (Stage.CURRENT, Stage.LEGACY) and m.name.lower() != besides.lower()]

    @property
    def per(self) -> str:
        return f"per the catalog of {self.as_of}"


def _date(value: Any) -> Optional[dt.date]:
    return dt.date.fromisoformat(str(value)) if value else None


@lru_cache(maxsize=1)
def packaged() -> Catalog:
    data = json.loads(resources.files(__package__).joinpath("data/mistral_catalog.json").read_text(encoding="utf-8"))
    sources: Mapping[str, str] = data["sources"]
    models = {
        m["name"].lower(): KnownModel(
            name=m["name"],
            seller=m.get("seller", "marketplace"),
            regions=tuple(m.get("regions") or ()),
            lifecycle=Lifecycle(_date(m.get("legacy")), _date(m.get("deprecated")), _date(m.get("retired"))),
            replacement=m.get("replacement"),
            source=sources[m["source"]],
            note=m.get("note", ""),
        )
        for m in data["models"]
    }
    return Catalog(data["as_of"], data["registry"], models)


def split_model_id(model_id: str) -> tuple[str, str]:
    """azureml://registries/<registry>/models/<name> -> (registry, name)."""
    rest = model_id[len(REGISTRY_PREFIX):] if model_id.lower().startswith(REGISTRY_PREFIX) else model_id
    registry, _, name = rest.partition("/models/")
    return registry, name


LIFECYCLE_TAGS = {"legacy": "InferenceLegacyDate", "deprecated": "InferenceDeprecationDate", "retired": "InferenceRetirementDate"}


def lifecycle_from_tags(tags: Mapping[str, Any]) -> Lifecycle:
    """The registry's lifecycle tags (ISO timestamps; a tag that does not parse is ignored)."""
    lowered = {str(k).lower(): v for k, v in tags.items()}

    def parse(tag: str) -> Optional[dt.date]:
        value = lowered.get(tag.lower())
        try:
            return dt.date.fromisoformat(str(value)[:10]) if value else None
        except ValueError:
            return None

    return Lifecycle(*(parse(LIFECYCLE_TAGS[k]) for k in ("legacy", "deprecated", "retired")))


def lifecycle_of(model_name: str, found: Optional[RegistryModel], catalog: Catalog) -> tuple[Lifecycle, str]:
    """The model's lifecycle and where it comes from: the registry's tags when it has them, else the
    packaged catalog."""
    if found is not None and found.lifecycle:
        return found.lifecycle, "per the registry"
    known = catalog.known(model_name)
    if known is not None and known.lifecycle:
        return known.lifecycle, catalog.per
    return Lifecycle(), ""


def suggestions(name: str, names: Iterable[str], limit: int = 3) -> list[str]:
    """Registry names close to `name`, compared case-insensitively; an exact match but for case first."""
    names = sorted(set(names))
    by_lower: dict[str, str] = {}
    for n in names:
        by_lower.setdefault(n.lower(), n)
    if name.lower() in by_lower:
        return [by_lower[name.lower()]]
    typed = name.lower()
    scored = sorted(((difflib.SequenceMatcher(None, typed, lower).ratio(), lower) for lower in by_lower), key=lambda x: (-x[0], x[1]))
    best = scored[0][0] if scored else 0.0
    close = [lower for ratio, lower in scored if ratio >= 0.6 and ratio >= best - 0.1]  # the clear winners only
    prefix = sorted(lower for lower in by_lower if len(typed) >= 3 and lower.startswith(typed))
    return [by_lower[c] for c in dict.fromkeys(close + prefix)][:limit]


def did_you_mean(options: list[str]) -> str:
    if not options:
        return ""
    return "; did you mean " + " or ".join(f"'{o}'" for o in options) + "?"


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()
