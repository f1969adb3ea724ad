"""deployments.yaml -> a typed, validated Spec.

Validation reports every problem at once, each with file:line, the field path and the fix
(did-you-mean for unknown keys). Nothing here touches Azure or imports its SDKs.
"""
from __future__ import annotations

import difflib
import os
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

import yaml

from .errors import Problem, SpecError
from .regions import REGIONS, normalize_region

SPEC_VERSION = 1
MISTRAL_REGISTRY = "azureml://registries/azureml-mistral/models/"
MODEL_ID = re.compile(r"^azureml://registries/(?P<registry>[^/]+)/models/(?P<name>[^/]+)$", re.IGNORECASE)
VERSIONED = re.compile(r"^azureml://registries/[^/]+/models/[^/]+/versions/[^/]+$", re.IGNORECASE)
ENDPOINT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,51}$")
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
WORKSPACE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$")
RESOURCE_GROUP = re.compile(r"^[-\w._()]{1,90}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")

DEPLOYMENT_FIELDS = ("name", "model", "subscription", "resource_group", "project", "allowed_regions", "required_role", "content_safety", "tags", "secrets")
DEFAULTABLE = tuple(f for f in DEPLOYMENT_FIELDS if f not in ("name", "secrets"))
TOP_FIELDS = ("version", "defaults", "secrets", "deployments")
SECRETS_FIELDS = ("path", "format")
SECRET_NAME_FIELDS = ("url", "key", "openai_url")
FORMATS = ("dotenv", "json")
DEFAULT_REGIONS = ("eastus2", "francecentral")
DEFAULT_ROLE = "Azure AI Developer"


@dataclass(frozen=True)
class Deployment:
    name: str
    model_id: str  # azureml://registries/<registry>/models/<name>, no version
    subscription: str
    resource_group: str
    project: str
    allowed_regions: tuple[str, ...]
    required_role: str
    content_safety: Optional[bool]  # None: Azure's default
    tags: Mapping[str, str]
    url_var: str
    key_var: str
    line: Optional[int] = None
    openai_url_var: Optional[str] = None  # also write the OpenAI-compatible base URL ({url}/v1) here

    @property
    def secret_vars(self) -> tuple[str, ...]:
        return (self.url_var, self.key_var) + ((self.openai_url_var,) if self.openai_url_var else ())

    @property
    def model_name(self) -> str:
        return self.model_id.rsplit("/", 1)[-1]

    @property
    def microsoft_sold(self) -> bool:
        """Models of the `azureml` registry are sold by Microsoft: no Marketplace subscription."""
        return self.model_id.lower().startswith("azureml://registries/azureml/")

    @property
    def project_key(self) -> tuple[str, str, str]:
        return (self.subscription.lower(), self.resource_group.lower(), self.project.lower())


@dataclass(frozen=True)
class SecretsSink:
    path: str
    format: str  # dotenv | json


@dataclass(frozen=True)
class Spec:
    file: str
    version: int
    secrets: SecretsSink
    deployments: tuple[Deployment, ...]

    def deployment(self, name: str) -> Optional[Deployment]:
        return next((d for d in self.deployments if d.name.lower() == name.lower()), None)


def load_spec(path: str, environ: Optional[Mapping[str, str]] = None) -> Spec:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise SpecError([Problem(path, None, "", "no such file; pass the spec with -f FILE (default deployments.yaml)")]) from None
    except OSError as exc:
        raise SpecError([Problem(path, None, "", f"cannot read the spec: {exc.strerror}")]) from None
    return parse_spec(text, path, os.environ if environ is None else environ)


def parse_spec(text: str, file: str = "deployments.yaml", environ: Optional[Mapping[str, str]] = None) -> Spec:
    return _Parser(text, file, os.environ if environ is None else environ).parse()


def default_secret_names(name: str) -> tuple[str, str]:
    stem = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()
    return f"{stem}_URL", f"{stem}_KEY"


def normalize_model(model: str) -> str:
    """A catalog name (Mistral-large) becomes the Mistral registry's model id."""
    return model if model.lower().startswith("azureml://") else MISTRAL_REGISTRY + model


class _Parser:
    def __init__(self, text: str, file: str, environ: Mapping[str, str]) -> None:
        self.text = text
        self.file = file
        self.environ = environ
        self.problems: list[Problem] = []
        self.lines: dict[str, int] = {}
        self.unset: set[str] = set()  # fields whose ${VAR} was unset: reported once, not again as empty

    # -- locations and problems ------------------------------------------------------------
    def _index(self, node: yaml.Node, path: str) -> None:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = f"{path}.{key.value}" if path else str(key.value)
                self.lines[sub] = key.start_mark.line + 1
                self._index(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, value in enumerate(node.value):
                self._index(value, f"{path}[{i}]")

    def line(self, path: str) -> Optional[int]:
        probe = path
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = re.sub(r"(\.[^.\[\]]+|\[\d+\])$", "", probe)
        return None

    def problem(self, path: str, message: str) -> None:
        if path in self.unset:
            return
        self.problems.append(Problem(self.file, self.line(path), path, message))

    def unknown_keys(self, data: Mapping[str, Any], path: str, allowed: tuple[str, ...]) -> None:
        for key in data:
            if key in allowed:
                continue
            hint = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            fix = f"did you mean '{hint[0]}'?" if hint else f"allowed: {', '.join(allowed)}"
            self.problem(f"{path}.{key}" if path else str(key), f"unknown field ({fix})")

    # -- ${VAR} and ${VAR:-default} ------------------------------------------------------------
    def interpolate(self, value: Any, path: str) -> Any:
        if isinstance(value, str):
            def sub(m: re.Match[str]) -> str:
                name, default = m.group("name"), m.group("default")
                if name in self.environ and self.environ[name] != "":
                    return self.environ[name]
                if default is not None:
                    return default
                self.problem(path, f"environment variable {name} is not set (set it, or write ${{{name}:-default}})")
                self.unset.add(path)
                return ""
            return INTERPOLATION.sub(sub, value)
        if isinstance(value, dict):
            return {k: self.interpolate(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.interpolate(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return value

    # -- parsing -------------------------------------------------------------------------------
    def parse(self) -> Spec:
        try:
            node = yaml.compose(self.text)
            data = yaml.safe_load(self.text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise SpecError([Problem(self.file, mark.line + 1 if mark else None, "", f"not valid YAML: {getattr(exc, 'problem', None) or exc}")]) from None
        if node is not None:
            self._index(node, "")
        if not isinstance(data, dict):
            raise SpecError([Problem(self.file, 1, "", "the spec must be a mapping with version, defaults, secrets and deployments")])
        data = self.interpolate(data, "")
        self.unknown_keys(data, "", TOP_FIELDS)
        version = data.get("version", SPEC_VERSION)
        if version != SPEC_VERSION:
            self.problem("version", f"unsupported version {version!r} (this provision reads version {SPEC_VERSION})")
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, dict):
            self.problem("defaults", "must be a mapping of deployment fields")
            defaults = {}
        self.unknown_keys(defaults, "defaults", DEFAULTABLE)
        sink = self._secrets(data.get("secrets") or {})
        raw = data.get("deployments")
        if not isinstance(raw, list) or not raw:
            self.problem("deployments", "at least one deployment is required (a list of mappings with name and model)")
            raw = []
        deployments = []
        for i, item in enumerate(raw):
            dep = self._deployment(item, f"deployments[{i}]", defaults)
            if dep is not None:
                deployments.append((i, dep))
        # Cross-checks also look at deployments with other problems, so that every problem shows at once.
        self._cross_checks(deployments)
        if self.problems:
            raise SpecError(sorted(dict.fromkeys(self.problems), key=lambda p: p.line or 0))
        return Spec(self.file, SPEC_VERSION, sink, tuple(d for _, d in deployments))

    def _secrets(self, raw: Any) -> SecretsSink:
        if not isinstance(raw, dict):
            self.problem("secrets", "must be a mapping with path and format")
            raw = {}
        self.unknown_keys(raw, "secrets", SECRETS_FIELDS)
        path = str(raw.get("path") or ".secrets/deployments.env")
        fmt = str(raw.get("format") or ("json" if path.endswith(".json") else "dotenv"))
        if fmt not in FORMATS:
            self.problem("secrets.format", f"'{fmt}' is not one of {', '.join(FORMATS)}")
        if not os.path.isabs(path):  # relative to the spec's directory, wherever provision runs
            path = os.path.normpath(os.path.join(os.path.dirname(self.file), path))
        return SecretsSink(path, fmt)

    def _checked(self, merged: Mapping[str, Any], key: str, at: str, valid: Callable[[str], Any], missing: str, invalid: str) -> str:
        """A required text field: recorded as missing, or as invalid ('{value}' in the message)."""
        value = str(merged.get(key) or "")
        if not value:
            self.problem(at, missing)
        elif not valid(value):
            self.problem(at, invalid.replace("{value}", value))
        return value

    def _deployment(self, item: Any, path: str, defaults: Mapping[str, Any]) -> Optional[Deployment]:
        """The deployment as far as it can be read (problems are recorded; the spec is only
        returned when there are none)."""
        if not isinstance(item, dict):
            self.problem(path, "each deployment is a mapping with at least name and model")
            return None
        self.unknown_keys(item, path, DEPLOYMENT_FIELDS)
        merged = {**defaults, **item}

        def where(key: str) -> str:
            return f"{path}.{key}" if key in item or key not in defaults else f"defaults.{key}"

        name = self._checked(merged, "name", f"{path}.name", ENDPOINT_NAME.match,
                             "missing (the endpoint name; it becomes part of the endpoint's URL)",
                             "'{value}' is not a valid endpoint name: start with a letter; letters, digits and hyphens only; at most 52 characters")
        model_raw = str(merged.get("model") or "")
        model_id = ""
        if not model_raw:
            self.problem(f"{path}.model", "missing (a catalog name such as Mistral-large, or azureml://registries/azureml-mistral/models/Mistral-large)")
        elif VERSIONED.match(model_raw):
            self.problem(where("model"), f"'{model_raw}' pins a version; serverless deployments always run the latest version: remove '/versions/…'")
        else:
            model_id = normalize_model(model_raw)
            if not MODEL_ID.match(model_id) or not MODEL_NAME.match(model_id.rsplit("/", 1)[-1]):
                self.problem(where("model"), f"'{model_raw}' is not a model name or an azureml://registries/<registry>/models/<name> id")
        subscription = self._checked(merged, "subscription", where("subscription"), _is_guid,
                                     "missing: set it here or in defaults (for example ${AZURE_SUBSCRIPTION_ID})",
                                     "'{value}' is not a subscription id (a GUID)")
        rg = self._checked(merged, "resource_group", where("resource_group"), RESOURCE_GROUP.match,
                           "missing: set it here or in defaults",
                           "'{value}' is not a resource group name (1-90 letters, digits, '-', '_', '.', '(', ')')")
        project = self._checked(merged, "project", where("project"), WORKSPACE_NAME.match,
                                "missing: the hub-based AI Studio project; set it here or in defaults",
                                "'{value}' is not a project name (3-33 letters, digits, '-' or '_', starting with a letter or digit)")
        regions = merged.get("allowed_regions", list(DEFAULT_REGIONS))
        allowed: list[str] = []
        if isinstance(regions, str):
            regions = [regions]
        if not isinstance(regions, list) or not regions:
            self.problem(where("allowed_regions"), "must be a non-empty list of Azure regions, e.g. [eastus2, francecentral]")
            regions = []
        for j, region in enumerate(regions):
            short = normalize_region(str(region))
            if short not in REGIONS:
                hint = difflib.get_close_matches(short, list(REGIONS), n=1, cutoff=0.6)
                self.problem(f"{where('allowed_regions')}[{j}]", f"unknown Azure region '{region}'" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
            else:
                allowed.append(short)
        role = str(merged.get("required_role") or DEFAULT_ROLE)
        safety_raw = merged.get("content_safety")
        safety: Optional[bool] = None
        if safety_raw is not None:
            value = str(safety_raw).lower() if not isinstance(safety_raw, bool) else ("enabled" if safety_raw else "disabled")
            if value not in ("enabled", "disabled"):
                self.problem(where("content_safety"), f"'{safety_raw}' is not 'enabled' or 'disabled'")
            safety = value == "enabled"
        tags = merged.get("tags") or {}
        if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, (str, int, float, bool)) for k, v in tags.items()):
            self.problem(where("tags"), "must be a mapping of tag names to text values")
            tags = {}
        tags = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in tags.items()}
        if any(k.lower().startswith("provision:") for k in tags):
            self.problem(where("tags"), "tag names starting with 'provision:' are reserved for the tool's ownership tags")
        url_var, key_var = default_secret_names(name) if name else ("", "")
        names = item.get("secrets") or {}
        if not isinstance(names, dict):
            self.problem(f"{path}.secrets", "must be a mapping {url: VAR, key: VAR}")
            names = {}
        self.unknown_keys(names, f"{path}.secrets", SECRET_NAME_FIELDS)
        url_var = str(names.get("url") or url_var)
        key_var = str(names.get("key") or key_var)
        openai_var = str(names["openai_url"]) if names.get("openai_url") else None
        for field_name, var in (("url", url_var), ("key", key_var), ("openai_url", openai_var or "")):
            if var and not ENV_NAME.match(var):
                self.problem(f"{path}.secrets.{field_name}", f"'{var}' is not a valid variable name (letters, digits, '_'; not starting with a digit)")
        if not name or not model_id:
            return None
        return Deployment(name, model_id, subscription.lower(), rg, project, tuple(allowed), role, safety, tags, url_var, key_var, self.line(path), openai_var)

    def _cross_checks(self, deployments: list[tuple[int, Deployment]]) -> None:
        names: dict[str, int] = {}
        models: dict[tuple[tuple[str, str, str], str], int] = {}
        variables: dict[str, tuple[int, str]] = {}
        for i, d in deployments:
            path = f"deployments[{i}]"
            first = names.setdefault(d.name.lower(), i)
            if first != i:
                self.problem(f"{path}.name", f"'{d.name}' is already the name of deployments[{first}]; endpoint names must be unique")
            key = (d.project_key, d.model_id.lower())
            first = models.setdefault(key, i)
            if first != i:
                self.problem(
                    f"{path}.model",
                    f"deployments[{first}] already deploys {d.model_name} in project {d.project}; Azure allows one deployment per model per project",
                )
            for field_name, var in (("url", d.url_var), ("key", d.key_var), ("openai_url", d.openai_url_var or "")):
                if not var:
                    continue
                owner = variables.setdefault(var, (i, field_name))
                if owner != (i, field_name):
                    self.problem(f"{path}.secrets.{field_name}", f"variable {var} is already used by deployments[{owner[0]}].secrets.{owner[1]}; give it another name")


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
        return True
    except ValueError:
        return False


def json_schema() -> dict[str, Any]:
    """The JSON Schema of deployments.yaml (for editors: `provision schema > deployments.schema.json`)."""
    string = {"type": "string"}
    deployment_props: dict[str, Any] = {
        "name": {"type": "string", "pattern": ENDPOINT_NAME.pattern, "description": "Endpoint name; part of its URL, unique in the region."},
        "model": {"type": "string", "description": "Catalog name (Mistral-large) or azureml://registries/<registry>/models/<name>; no version."},
        "subscription": {"type": "string", "description": "Azure subscription id (GUID); ${VAR} allowed."},
        "resource_group": {"type": "string", "pattern": RESOURCE_GROUP.pattern},
        "project": {"type": "string", "pattern": WORKSPACE_NAME.pattern, "description": "Hub-based AI Studio project."},
        "allowed_regions": {"type": "array", "items": string, "minItems": 1, "description": "Regions the project's hub may be in."},
        "required_role": {"type": "string", "default": DEFAULT_ROLE},
        "content_safety": {"enum": ["enabled", "disabled", True, False]},
        "tags": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
        "secrets": {
            "type": "object",
            "properties": {"url": string, "key": string, "openai_url": {"type": "string", "description": "Also write the OpenAI-compatible base URL ({url}/v1) under this name."}},
            "additionalProperties": False,
            "description": "Variable names for the URL and key in the secrets file.",
        },
    }
    defaults_props = {k: v for k, v in deployment_props.items() if k in DEFAULTABLE}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "provision deployments.yaml",
        "type": "object",
        "properties": {
            "version": {"const": SPEC_VERSION},
            "defaults": {"type": "object", "properties": defaults_props, "additionalProperties": False},
            "secrets": {
                "type": "object",
                "properties": {"path": string, "format": {"enum": list(FORMATS)}},
                "additionalProperties": False,
            },
            "deployments": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "object", "properties": deployment_props, "required": ["name", "model"], "additionalProperties": False},
            },
        },
        "required": ["deployments"],
        "additionalProperties": False,
    }


__all__ = ["Deployment", "Spec", "SecretsSink", "load_spec", "parse_spec", "json_schema"]
