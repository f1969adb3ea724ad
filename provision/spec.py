"""deployments.yaml -> a typed, validated Spec.

Validation reports every problem at once, each with file:line, the field path and the fix
(did-you-mean for unknown keys). Nothing here touches Azure or imports its SDKs.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from .errors import Problem, SpecError
from .fields import INTERPOLATION as INTERPOLATION_PATTERN
from .fields import (DEFAULT_ROLES, DEFAULT_STACK, DEPLOYMENT, FOUNDRY, ONE_LINE, RESERVED_TAG_PREFIX, SECRET_NAMES, SECRETS_FILE, SERVERLESS, SPEC_VERSION, TOP,
                     VERSIONED_MODEL, Field, Kind, by_name, json_schema, names)
from .regions import REGIONS, normalize_region
from .specfile import MAX_SPEC_BYTES, Document, load_document, read_text, too_large

MISTRAL_REGISTRY = "azureml://registries/azureml-mistral/models/"
SECRETS_FILE_VARIABLE = "PROVISION_SECRETS_FILE"  # overrides `secrets.path` (and its format, by the file's extension)
INTERPOLATION = re.compile(INTERPOLATION_PATTERN)
ABSENT: Any = object()  # a key that is not there at all (None is a key written with no value)
DEFAULTABLE = tuple(f.name for f in DEPLOYMENT if f.defaultable)
FIELDS = by_name(DEPLOYMENT)


@dataclass(frozen=True)
class Deployment:
    name: str
    model_id: str  # serverless: azureml://registries/<registry>/models/<name>, no version; foundry: the model's name (Codestral-2501)
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
    stack: str = DEFAULT_STACK  # the spec's `stack`: what provision marks the resources it makes with
    target: str = SERVERLESS  # serverless | foundry
    account: str = ""  # foundry: the Foundry resource (in resource_group)
    sku: str = "GlobalStandard"  # foundry
    capacity: Optional[int] = None  # foundry; None: Azure's default
    version: Optional[str] = None  # foundry; None: the resource's default version of the model
    content_filter: Optional[str] = None  # foundry: the RAI policy; None: Azure's
    model_var: Optional[str] = None  # foundry: the variable for the deployment name clients pass as `model`
    # The other target's home as `defaults` gives it (its project for a foundry deployment, its
    # account for a serverless one): where a deployment whose `target` changed still runs, so that
    # apply can move it there without downtime.
    moved_from: Optional[str] = None

    @property
    def foundry(self) -> bool:
        return self.target == FOUNDRY

    @property
    def secret_vars(self) -> tuple[str, ...]:
        extra = tuple(v for v in (self.openai_url_var, self.model_var) if v)
        return (self.url_var, self.key_var) + extra

    @property
    def account_key(self) -> tuple[str, str, str]:
        return (self.subscription.lower(), self.resource_group.lower(), self.account.lower())

    @property
    def moved_from_key(self) -> Optional[tuple[str, str, str]]:
        """The key of the other target's home (a project's for a foundry deployment, an account's for a serverless one)."""
        return (self.subscription.lower(), self.resource_group.lower(), self.moved_from.lower()) if self.moved_from else None

    @property
    def model_name(self) -> str:
        return self.model_id.rsplit("/", 1)[-1]

    @property
    def microsoft_sold(self) -> bool:
        """Sold by Microsoft, so no Marketplace subscription: the `azureml` registry's models, and
        those the packaged catalog says Azure sells (Mistral-Large-3 is in azureml-mistral)."""
        if self.model_id.lower().startswith("azureml://registries/azureml/"):
            return True
        from .catalog import packaged  # the packaged file is read once, on first use

        known = packaged().known(self.model_name)
        return known is not None and known.seller == "azure"

    @property
    def project_key(self) -> tuple[str, str, str]:
        return (self.subscription.lower(), self.resource_group.lower(), self.project.lower())


@dataclass(frozen=True)
class SecretsSink:
    path: str
    format: str  # dotenv | json
    root: Optional[str] = None  # the directory the file must stay in: the spec's, or an override's own
    override: bool = False  # the path came from PROVISION_SECRETS_FILE (or --secrets-file), not the spec


@dataclass(frozen=True)
class Spec:
    file: str
    version: int
    secrets: SecretsSink
    deployments: tuple[Deployment, ...]
    stack: str = DEFAULT_STACK

    def deployment(self, name: str) -> Optional[Deployment]:
        return next((d for d in self.deployments if d.name.lower() == name.lower()), None)


def load_spec(path: str, environ: Optional[Mapping[str, str]] = None) -> Spec:
    """Read and validate a spec file (see specfile.py for what the reading refuses)."""
    return parse_spec(read_text(path), path, os.environ if environ is None else environ)


def parse_spec(text: str, file: str = "deployments.yaml", environ: Optional[Mapping[str, str]] = None) -> Spec:
    if len(text) > MAX_SPEC_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES:
        raise too_large(file)
    return _Parser(load_document(text, file), file, os.environ if environ is None else environ).parse()


def default_secret_names(name: str) -> tuple[str, str]:
    stem = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()
    return f"{stem}_URL", f"{stem}_KEY"


def normalize_model(model: str) -> str:
    """A catalog name (mistral-medium-2505) becomes the Mistral registry's model id."""
    return model if model.startswith("azureml://") else MISTRAL_REGISTRY + model


EMPTY = "is empty: give a value, or remove the line (then the default applies)"


def one_line(text: str) -> str:
    """Control characters and line breaks escaped: a problem is always one line."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def show(value: str, limit: int = 80) -> str:
    """A value inside a one-line message: quoted, control characters escaped, long values cut."""
    return "'" + one_line(value if len(value) <= limit else value[:limit] + "…") + "'"


@functools.lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def full_match(pattern: str, value: str) -> bool:
    return _compiled(pattern).fullmatch(value) is not None


@dataclass(frozen=True)
class _Named:
    """What the cross-checks need of a deployment, even one with other problems."""

    index: int
    name: str
    project_key: tuple[str, str, str]
    project: str
    model_id: str
    variables: tuple[tuple[str, str], ...]  # (field, variable name)


class _Parser:
    def __init__(self, doc: Document, file: str, environ: Mapping[str, str]) -> None:
        self.doc = doc
        self.file = file
        self.environ = environ
        self.problems: list[Problem] = []
        self.unset: set[str] = set()  # fields whose ${VAR} was unset: reported once, not again as empty
        self.written: dict[str, str] = {}  # fields whose value came from ${VAR}: the text as written (never the value)

    # -- problems --------------------------------------------------------------------------------
    def problem(self, path: str, message: str) -> None:
        if path in self.unset:
            return
        self.problems.append(Problem(self.file, self.doc.line(path), one_line(path), one_line(message)))

    def unknown_keys(self, data: Mapping[str, Any], path: str, allowed: tuple[str, ...]) -> None:
        for key in data:
            if key in allowed:
                continue
            hint = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            fix = f"did you mean '{hint[0]}'?" if hint else f"allowed: {', '.join(allowed)}"
            self.problem(f"{path}.{key}" if path else str(key), f"unknown field ({fix})")

    def not_text(self, value: Any, path: str) -> str:
        """Why a value that should be text is not, and the fix."""
        if isinstance(value, (list, dict)):
            return f"must be text, not a {'list' if isinstance(value, list) else 'mapping'}"
        if value is None or value == "":
            return EMPTY
        raw = self.as_written(value, path)
        what = "a boolean" if isinstance(value, bool) else "a number" if isinstance(value, (int, float)) else type(value).__name__
        return f"must be text: YAML reads {raw} as {what}; quote it: '{raw}'"

    def as_written(self, value: Any, path: str) -> str:
        """A scalar as the spec wrote it (never Python's repr of it)."""
        return value if isinstance(value, str) else self.doc.raw.get(path, str(value) if not isinstance(value, int) or abs(value) < 10**64 else "a number")

    def shown(self, value: str, path: str) -> str:
        """A value in a message: a value from the environment is shown as written (`${NAME}`),
        never itself (it may be a secret someone pasted into the wrong variable)."""
        if path in self.written:
            return f"{show(self.written[path])} (its value from the environment)"
        return show(value)

    # -- ${VAR} and ${VAR:-default} ------------------------------------------------------------
    def interpolate(self, value: Any, path: str) -> Any:
        if isinstance(value, str):
            if "${" not in value:
                return value
            if "${" in INTERPOLATION.sub("", value):
                self.problem(path, f"{show(value)} holds a '${{' that is not a reference: write ${{NAME}} or ${{NAME:-default}} (NAME: letters, digits, '_')")

            def sub(m: re.Match[str]) -> str:
                name, default = m.group("name"), m.group("default")
                if name in self.environ and self.environ[name] != "":
                    return self.environ[name]
                if default is not None:
                    return default
                self.problem(path, f"environment variable {name} is not set or is empty (set it, or write ${{{name}:-default}})")
                self.unset.add(path)
                return ""
            self.written[path] = value
            return INTERPOLATION.sub(sub, value)
        if isinstance(value, dict):
            return {k: self.interpolate(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.interpolate(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return value

    # -- one value, by its field in the table ----------------------------------------------------
    def text(self, f: Field, value: Any, path: str) -> str:
        """A text field: '' when absent (reported if required), empty or invalid (reported)."""
        if value is ABSENT:
            if f.required:
                self.problem(path, f.missing)
            return ""
        if f.whole_numbers and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # version: 2 is the version "2"
        if not isinstance(value, str) or value == "":
            self.problem(path, self.not_text(value, path))
            return ""
        if f.pattern and not full_match(f.pattern, value):
            self.problem(path, f"{self.shown(value, path)} is not {f.invalid}")  # still returned: the cross-checks look at it
        return value

    def integer(self, f: Field, value: Any, path: str) -> Optional[int]:
        if value is ABSENT:
            return None
        if value is None or value == "":
            self.problem(path, EMPTY)
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not f.minimum <= value <= f.maximum:
            self.problem(path, f"{show(self.as_written(value, path)) if not isinstance(value, str) else self.shown(value, path)} is not a whole number from {f.minimum} to {f.maximum:,}")
            return None
        return value

    def choice(self, f: Field, value: Any, path: str) -> Any:
        if value is ABSENT:
            return None
        if value is None or value == "":
            self.problem(path, EMPTY)
            return None
        if not any(type(value) is type(c) and value == c for c in f.choices):
            shown = self.shown(value, path) if isinstance(value, str) else show(self.as_written(value, path))
            self.problem(path, f"{shown} is not {f.invalid}")
            return None
        return value

    # -- the spec --------------------------------------------------------------------------------
    def parse(self) -> Spec:
        data = self.doc.data
        if not isinstance(data, dict):
            raise SpecError([Problem(self.file, 1, "", "the spec must be a mapping with version, defaults, secrets and deployments")])
        data = self.interpolate(data, "")
        self.unknown_keys(data, "", names(TOP))
        version = data.get("version", SPEC_VERSION)
        if isinstance(version, bool) or version != SPEC_VERSION:
            shown = repr(version) if isinstance(version, str) else self.as_written(version, "version")
            self.problem("version", f"unsupported version {shown} (this provision reads version {SPEC_VERSION})")
        defaults = self._section(data, "defaults", "must be a mapping of deployment fields")
        self.unknown_keys(defaults, "defaults", DEFAULTABLE)
        checked = {key: self._field(key, value, f"defaults.{key}") for key, value in defaults.items() if key in DEFAULTABLE}
        sink = self._secrets(self._section(data, "secrets", "must be a mapping with path and format"))
        stack = self.text(by_name(TOP)["stack"], data.get("stack", ABSENT), "stack") or DEFAULT_STACK
        raw = data.get("deployments")
        if not isinstance(raw, list) or not raw:
            self.problem("deployments", by_name(TOP)["deployments"].missing)
            raw = []
        deployments: list[Deployment] = []
        named: list[_Named] = []
        for i, item in enumerate(raw):
            dep, seen = self._deployment(item, i, checked)
            if dep is not None:
                deployments.append(dep)
            if seen is not None:
                named.append(seen)
        # Cross-checks also look at deployments with other problems, so that every problem shows at once.
        self._cross_checks(named)
        if self.problems:
            raise SpecError(sorted(dict.fromkeys(self.problems), key=lambda p: p.line or 0))
        return Spec(self.file, SPEC_VERSION, sink, tuple(dataclasses.replace(d, stack=stack) for d in deployments), stack)

    def _section(self, data: Mapping[str, Any], key: str, shape: str, path: str = "") -> dict[str, Any]:
        """An optional mapping: {} when absent; an empty or ill-typed one is reported."""
        at = f"{path}.{key}" if path else key
        value = data.get(key, ABSENT)
        if value is ABSENT:
            return {}
        if not isinstance(value, dict):
            self.problem(at, EMPTY if value is None or value == "" else shape)
            return {}
        return value

    def _secrets(self, raw: dict[str, Any]) -> SecretsSink:
        self.unknown_keys(raw, "secrets", names(SECRETS_FILE))
        path_field, format_field = SECRETS_FILE
        path = self.text(path_field, raw.get("path", ABSENT), "secrets.path") or str(path_field.default)
        fmt = self.choice(format_field, raw.get("format", ABSENT), "secrets.format") or ("json" if path.endswith(".json") else "dotenv")
        override = self.environ.get(SECRETS_FILE_VARIABLE, "")
        if override:  # the operator's choice (e.g. `azure-emulator run` keeps its keys apart): anywhere, its own format
            path = os.path.abspath(override)
            return SecretsSink(path, "json" if path.endswith(".json") else "dotenv", os.path.dirname(path), override=True)
        if not os.path.isabs(path):  # relative to the spec's directory, wherever provision runs
            path = os.path.normpath(os.path.join(os.path.dirname(self.file), path))
        return SecretsSink(path, str(fmt), os.path.dirname(os.path.abspath(self.file)))

    def _field(self, key: str, value: Any, path: str) -> Any:
        """One deployment field checked by its kind in the table; '' / None / {} / () when absent or invalid."""
        if key == "model":
            return self._model(value, path)
        if key == "allowed_regions":
            return self._regions(value, path)
        if key == "tags":
            return self._tags(value, path)
        if FIELDS[key].kind is Kind.CHOICE:
            return self.choice(FIELDS[key], value, path)
        if FIELDS[key].kind is Kind.INTEGER:
            return self.integer(FIELDS[key], value, path)
        return self.text(FIELDS[key], value, path)

    def _deployment(self, item: Any, i: int, defaults: Mapping[str, Any]) -> tuple[Optional[Deployment], Optional[_Named]]:
        """The deployment when it is complete, and what the cross-checks need of it in any case.
        `defaults` were checked once (their problems are reported once, at defaults.*)."""
        path = f"deployments[{i}]"
        if not isinstance(item, dict):
            self.problem(path, "each deployment is a mapping with at least name and model")
            return None, None
        self.unknown_keys(item, path, names(DEPLOYMENT))

        def value(key: str) -> Any:
            if key in item:
                return self._field(key, item[key], f"{path}.{key}")
            if key in defaults:
                return defaults[key]
            return self._field(key, ABSENT, f"{path}.{key}")

        target = value("target") or SERVERLESS

        def applying(key: str) -> Any:
            """The field's value when it applies to the deployment's target. Given in the deployment
            for another target, it is an error; from `defaults`, it is meant for the others."""
            f = FIELDS[key]
            if target in f.targets:
                found = value(key)
                if target in f.required_for and key not in item and key not in defaults:
                    self.problem(f"{path}.{key}", f.missing)
                return found
            if key in item:
                self.problem(f"{path}.{key}", _not_for(key, target))
            return None

        name = value("name")
        model_id = value("model")
        if target == FOUNDRY and model_id:
            model_id = model_id.rsplit("/", 1)[-1]  # Foundry names the model as its catalog does (Codestral-2501)
        subscription, rg = value("subscription").lower(), value("resource_group")
        project, account = applying("project") or "", applying("account") or ""
        regions = value("allowed_regions")
        role = value("required_role") or DEFAULT_ROLES[target]
        safety = applying("content_safety")
        sku, capacity, version, content_filter = applying("sku"), applying("capacity"), applying("version"), applying("content_filter")
        tags = value("tags")
        url_var, key_var, openai_var, model_var = self._secret_names(self._section(item, "secrets", "must be a mapping {url: VAR, key: VAR}", path), f"{path}.secrets", name, target)
        variables = tuple((f, v) for f, v in (("url", url_var), ("key", key_var), ("openai_url", openai_var or ""), ("model", model_var or "")) if v)
        home = project if target == SERVERLESS else ""  # one model per project: a serverless rule
        seen = _Named(i, name, (subscription, rg.lower(), home.lower()), project, model_id, variables) if name else None
        if not (name and model_id and subscription and rg and (project if target == SERVERLESS else account)):
            return None, seen
        content_safety = None if safety is None else safety in (True, "enabled", "Enabled")
        line = self.doc.line(path)
        other_home = defaults.get("project" if target == FOUNDRY else "account") or None
        return Deployment(name, model_id, subscription, rg, project, regions, role, content_safety, tags, url_var, key_var, line, openai_var,
                          target=target, account=account, sku=sku or str(FIELDS["sku"].default), capacity=capacity, version=version or None,
                          content_filter=content_filter or None, model_var=model_var, moved_from=other_home), seen

    def _model(self, value: Any, path: str) -> str:
        f = FIELDS["model"]
        if isinstance(value, str) and full_match(VERSIONED_MODEL, value):
            self.problem(path, f"{self.shown(value, path)} pins a version; serverless deployments always run the latest version: remove '/versions/…'")
            return ""
        model = self.text(f, value, path)
        return normalize_model(model) if model and full_match(f.pattern, model) else ""

    def _regions(self, value: Any, path: str) -> tuple[str, ...]:
        f = FIELDS["allowed_regions"]
        if value is ABSENT:
            return tuple(f.default)
        items = [(path, value)] if isinstance(value, str) and value else [(f"{path}[{j}]", v) for j, v in enumerate(value)] if isinstance(value, list) else []
        if not items:
            self.problem(path, "must be a non-empty list of Azure regions, e.g. [eastus2, francecentral]")
            return ()
        if len(items) > f.max_items:
            self.problem(path, f"lists {len(items)} regions; at most {f.max_items}")
            return ()
        found: list[str] = []
        for at, region in items:
            if not isinstance(region, str) or not region:
                self.problem(at, self.not_text(region, at))
                continue
            short = normalize_region(region)
            if not full_match(f.pattern, region) or short not in REGIONS:
                hint = difflib.get_close_matches(short, sorted(REGIONS), n=1, cutoff=0.6) if len(short) <= 40 else []
                self.problem(at, f"unknown Azure region {self.shown(region, at)}" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
            else:
                found.append(short)
        return tuple(dict.fromkeys(found))

    def _tags(self, value: Any, path: str) -> dict[str, str]:
        f = FIELDS["tags"]
        if value is ABSENT:
            return {}
        if not isinstance(value, dict):
            self.problem(path, EMPTY if value is None or value == "" else "must be a mapping of tag names to text values")
            return {}
        if len(value) > f.max_items:
            self.problem(path, f"has {len(value)} tags; Azure allows 50 on a resource and provision's own marks take 3: at most {f.max_items}")
            return {}
        tags: dict[str, str] = {}
        for key, raw in value.items():
            at = f"{path}.{key}"
            if not full_match(f.pattern, key):
                self.problem(at, f"{show(key)} is not {f.invalid}")
            if raw is None or isinstance(raw, (list, dict)):
                self.problem(at, "a tag's value must be text, a number or a boolean")
                continue
            text = raw if isinstance(raw, str) else self.as_written(raw, at)
            if len(text) > 256 or not full_match(ONE_LINE, text):
                self.problem(at, "a tag's value is one line of at most 256 characters")
            tags[key] = text
        if any(k.lower().startswith(RESERVED_TAG_PREFIX) for k in tags):
            self.problem(path, f"tag names starting with '{RESERVED_TAG_PREFIX}' are reserved for the tool's ownership tags")
        return tags

    def _secret_names(self, raw: dict[str, Any], path: str, name: str, target: str) -> tuple[str, str, Optional[str], Optional[str]]:
        url_var, key_var = default_secret_names(name) if name else ("", "")
        self.unknown_keys(raw, path, names(SECRET_NAMES))
        found: dict[str, str] = {}
        for f in SECRET_NAMES:
            if target not in f.targets:
                if f.name in raw:
                    self.problem(f"{path}.{f.name}", _not_for(f"secrets.{f.name}", target))
                continue
            found[f.name] = self.text(f, raw.get(f.name, ABSENT), f"{path}.{f.name}")
        default_model = url_var[: -len("_URL")] + "_MODEL" if name else ""  # url_var here is still the default <NAME>_URL
        model_var = (found.get("model") or default_model) if target == FOUNDRY else ""
        return found["url"] or url_var, found["key"] or key_var, found["openai_url"] or None, model_var or None

    def _cross_checks(self, deployments: list[_Named]) -> None:
        names_seen: dict[str, int] = {}
        models: dict[tuple[tuple[str, str, str], str], int] = {}
        variables: dict[str, tuple[int, str]] = {}
        for d in deployments:
            path = f"deployments[{d.index}]"
            first = names_seen.setdefault(d.name.lower(), d.index)
            if first != d.index:
                self.problem(f"{path}.name", f"'{d.name}' is already the name of deployments[{first}]; endpoint names must be unique")
            if d.model_id and all(d.project_key):
                first = models.setdefault((d.project_key, d.model_id.lower()), d.index)
                if first != d.index:
                    model_name = d.model_id.rsplit("/", 1)[-1]
                    self.problem(f"{path}.model", f"deployments[{first}] already deploys {model_name} in project {d.project}; Azure allows one deployment per model per project")
            for field_name, var in d.variables:
                owner = variables.setdefault(var, (d.index, field_name))
                if owner != (d.index, field_name):
                    self.problem(f"{path}.secrets.{field_name}", f"variable {var} is already used by deployments[{owner[0]}].secrets.{owner[1]}; give it another name")


def _not_for(key: str, target: str) -> str:
    """Why a field given for a deployment of `target` does not belong there, and the fix."""
    other = FOUNDRY if target == SERVERLESS else SERVERLESS
    where = {"project": "a Foundry deployment lives on the resource named by `account`", "account": "a serverless endpoint lives in the `project`",
             "content_safety": "a Foundry deployment's filtering is its `content_filter`"}.get(key, "")
    return f"applies to target: {other} only" + (f" ({where})" if where else "") + f"; remove it, or set target: {other}"


__all__ = ["Deployment", "Spec", "SecretsSink", "load_spec", "parse_spec", "json_schema"]
