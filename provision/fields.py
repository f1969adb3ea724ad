"""The spec's fields, defined once. The parser's shape checks (unknown keys, types, required,
full-match patterns, choices) and the JSON Schema that `provision schema` prints are both read
from this table, so the two cannot disagree. What a schema cannot say (a region Azure knows,
one model per project, unique names and variables, ${VAR} values) the parser adds in spec.py.

Patterns are written once, for Python's `re` and ECMAScript alike; the parser full-matches them,
the schema anchors them with `^(?:…)` and an end that a trailing newline cannot slip past.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

SPEC_VERSION = 1
DEFAULT_REGIONS = ("eastus2", "francecentral")
DEFAULT_ROLE = "Azure AI Developer"
SERVERLESS, FOUNDRY = TARGETS = ("serverless", "foundry")  # Azure's two ways to deploy Mistral: hub serverless endpoints, Foundry deployments
# The role a target's deployments need when the spec names none (checked by effect: a role that
# allows every action of it passes too).
DEFAULT_ROLES = {SERVERLESS: DEFAULT_ROLE, FOUNDRY: "Cognitive Services Contributor"}
FOUNDRY_SKUS = ("GlobalStandard", "DataZoneStandard", "Standard", "GlobalProvisionedManaged", "DataZoneProvisionedManaged", "ProvisionedManaged")
MAX_CAPACITY = 1_000_000
DEFAULT_STACK = "default"
RESERVED_TAG_PREFIX = "provision:"

_REGISTRY = r"[A-Za-z0-9][A-Za-z0-9_-]{2,32}"
_MODEL = r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}(?:\.[A-Za-z0-9_-]+)*"  # no '.', '..' or empty component
MODEL_ID = rf"azureml://registries/{_REGISTRY}/models/{_MODEL}"
VERSIONED_MODEL = r"azureml://registries/[^/]+/models/[^/]+/versions/[^/]+"
ONE_LINE = r"[^\r\n\x85\u2028\u2029]*"  # no line break of any kind YAML knows
# ${NAME} or ${NAME:-default}; the default holds no brace, so matching stays linear on any input
INTERPOLATION = r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^{}]*))?\}"
INTERPOLATED = r"[\s\S]*\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^{}]*)?\}[\s\S]*"  # a value with ${VAR}: checked once replaced
MAX_TAGS = 47  # Azure allows 50 tags on a resource; provision's own marks take up to 3
MAX_REGIONS = 64


class Kind(enum.Enum):
    TEXT = "text"
    INTEGER = "integer"
    CHOICE = "choice"  # one of `choices` (text or booleans)
    TEXT_LIST = "list of text"  # a single text is read as a list of one
    TAGS = "mapping of tag names to values"
    SECTION = "mapping"  # of `fields`
    SECTION_LIST = "list of mappings"  # each of `fields`


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    description: str
    pattern: str = ""  # TEXT (and TEXT_LIST items): full match
    invalid: str = ""  # what a valid value is, for the message ("a subscription id (a GUID)")
    choices: tuple[Any, ...] = ()
    required: bool = False  # in every deployment, after `defaults` are merged
    defaultable: bool = False  # may be given in `defaults`
    fields: tuple["Field", ...] = ()
    default: Any = None
    interpolate: bool = True  # ${VAR} allowed
    missing: str = ""  # the message when a required field is absent
    max_items: int = 0  # TEXT_LIST and TAGS: at most this many (0: no limit)
    targets: tuple[str, ...] = TARGETS  # the deployment targets it applies to (given for another: an error)
    required_for: tuple[str, ...] = ()  # required in deployments of these targets only (the parser's rule)
    minimum: int = 0  # INTEGER without choices: the range
    maximum: int = 0
    whole_numbers: bool = False  # TEXT: a whole number written without quotes is read as its digits (version: 2)


SECRET_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,254}"
SECRET_NAMES = (
    Field("url", Kind.TEXT, "Variable for the endpoint's base URL (default <NAME>_URL).", SECRET_NAME, "a valid variable name (letters, digits, '_'; not starting with a digit)"),
    Field("key", Kind.TEXT, "Variable for the endpoint's key (default <NAME>_KEY).", SECRET_NAME, "a valid variable name (letters, digits, '_'; not starting with a digit)"),
    Field("openai_url", Kind.TEXT, "Also write the OpenAI-compatible base URL under this name ({url}/v1 for a serverless endpoint, the resource's /openai/v1 for Foundry).",
          SECRET_NAME, "a valid variable name (letters, digits, '_'; not starting with a digit)"),
    Field("model", Kind.TEXT, "Variable for the deployment name clients pass as `model` (default <NAME>_MODEL; Foundry only).", SECRET_NAME,
          "a valid variable name (letters, digits, '_'; not starting with a digit)", targets=(FOUNDRY,)),
)

DEPLOYMENT = (
    Field("name", Kind.TEXT, "Deployment name: the serverless endpoint's (part of its URL, unique in the region), or the Foundry deployment's (what clients pass as model).",
          r"[a-zA-Z][a-zA-Z0-9-]{0,51}",
          "a valid endpoint name: start with a letter; letters, digits and hyphens only; at most 52 characters", required=True,
          missing="missing (the endpoint name; it becomes part of the endpoint's URL)"),
    Field("target", Kind.CHOICE, "serverless (a hub project's serverless endpoint; the default) or foundry (a model deployment on a Foundry resource).",
          choices=TARGETS, invalid="'serverless' or 'foundry'", defaultable=True, default=SERVERLESS),
    Field("model", Kind.TEXT, "Catalog name (mistral-medium-2505) or azureml://registries/<registry>/models/<name>; no version.",
          rf"{_MODEL}|{MODEL_ID}", "a model name or an azureml://registries/<registry>/models/<name> id", required=True, defaultable=True,
          missing="missing (a catalog name such as mistral-medium-2505, or azureml://registries/azureml-mistral/models/mistral-medium-2505)"),
    Field("subscription", Kind.TEXT, "Azure subscription id (GUID); ${VAR} allowed.", r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
          "a subscription id (a GUID)", required=True, defaultable=True,
          missing="missing: set it here or in defaults (for example ${AZURE_SUBSCRIPTION_ID})"),
    Field("resource_group", Kind.TEXT, "The project's resource group.", r"[-\w.()]{0,89}[-\w()]",
          "a resource group name (1-90 letters, digits, '-', '_', '.', '(', ')'; not ending in '.')", required=True, defaultable=True,
          missing="missing: set it here or in defaults"),
    Field("project", Kind.TEXT, "Hub-based AI Studio project (target serverless).", r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}",
          "a project name (3-33 letters, digits, '-' or '_', starting with a letter or digit)", defaultable=True, targets=(SERVERLESS,), required_for=(SERVERLESS,),
          missing="missing: the hub-based AI Studio project; set it here or in defaults"),
    Field("account", Kind.TEXT, "The Foundry resource (Microsoft.CognitiveServices account, kind AIServices) in resource_group (target foundry).",
          r"[a-zA-Z0-9][a-zA-Z0-9_.-]{1,63}", "a Foundry resource name (2-64 letters, digits, '_', '.' or '-', starting with a letter or digit)",
          defaultable=True, targets=(FOUNDRY,), required_for=(FOUNDRY,), missing="missing: the Foundry resource (target foundry); set it here or in defaults"),
    Field("allowed_regions", Kind.TEXT_LIST, "Regions the project's hub may be in.", r"[A-Za-z0-9][A-Za-z0-9 -]{1,39}",
          "an Azure region name, e.g. eastus2", defaultable=True, default=list(DEFAULT_REGIONS), max_items=MAX_REGIONS),
    Field("required_role", Kind.TEXT, "The role the caller must hold on the resource group (default: Azure AI Developer for serverless, Cognitive Services Contributor for foundry).",
          r"[^\s](?:[^\r\n\x85\u2028\u2029]{0,510}[^\s])?", "a role name (one line, no surrounding spaces)", defaultable=True),
    Field("content_safety", Kind.CHOICE, "Azure AI Content Safety on the endpoint; Azure's default when absent (target serverless).",
          choices=("enabled", "disabled", "Enabled", "Disabled", True, False), invalid="'enabled' or 'disabled'", defaultable=True, targets=(SERVERLESS,)),
    Field("sku", Kind.CHOICE, "The deployment's SKU (target foundry).", choices=FOUNDRY_SKUS, invalid="one of " + ", ".join(FOUNDRY_SKUS),
          defaultable=True, default="GlobalStandard", targets=(FOUNDRY,)),
    Field("capacity", Kind.INTEGER, "The deployment's capacity (target foundry; default: Azure's, 1 for Mistral models).", defaultable=True,
          targets=(FOUNDRY,), minimum=1, maximum=MAX_CAPACITY, interpolate=False),
    Field("version", Kind.TEXT, "The model version (target foundry; default: the resource's default version of the model).", r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
          "a model version such as 1 or 2", defaultable=True, targets=(FOUNDRY,), whole_numbers=True),
    Field("content_filter", Kind.TEXT, "The content filter (RAI policy) name (target foundry; default: Azure's).", r"[A-Za-z0-9][A-Za-z0-9._-]{0,255}",
          "a content filter (RAI policy) name", defaultable=True, targets=(FOUNDRY,)),
    Field("tags", Kind.TAGS, "Tags on the endpoint (names starting provision: are reserved).", r"[^<>%&\\?/]{1,512}",
          "a tag name (1-512 characters, none of < > % & \\ ? /)", defaultable=True, max_items=MAX_TAGS),
    Field("secrets", Kind.SECTION, "Variable names for the URL and key in the secrets file.", fields=SECRET_NAMES),
)

SECRETS_FILE = (
    Field("path", Kind.TEXT, "The secrets file, relative to the spec's directory.", r"[^\r\n\x85\u2028\u2029]{1,4096}", "a file path (one line)", default=".secrets/deployments.env"),
    Field("format", Kind.CHOICE, "dotenv or json (default: json if the path ends .json).", choices=("dotenv", "json"), invalid="one of dotenv, json"),
)

TOP = (
    Field("version", Kind.INTEGER, "Spec format version.", choices=(SPEC_VERSION,), default=SPEC_VERSION, interpolate=False),
    Field("stack", Kind.TEXT, "The name this spec's resources are marked with; give each spec that shares a project its own.",
          r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?", "a stack name (1-32 lowercase letters, digits and '-', not starting or ending with '-')",
          default=DEFAULT_STACK),
    Field("defaults", Kind.SECTION, "Any deployment field except name and secrets.", fields=tuple(f for f in DEPLOYMENT if f.defaultable)),
    Field("secrets", Kind.SECTION, "Where the URLs and keys are written.", fields=SECRETS_FILE),
    Field("deployments", Kind.SECTION_LIST, "The deployments.", fields=DEPLOYMENT, required=True,
          missing="at least one deployment is required (a list of mappings with name and model)"),
)


def names(fields: tuple[Field, ...]) -> tuple[str, ...]:
    return tuple(f.name for f in fields)


def by_name(fields: tuple[Field, ...]) -> dict[str, Field]:
    return {f.name: f for f in fields}


# --- the JSON Schema, derived ------------------------------------------------------------------
def anchored(pattern: str) -> str:
    """Full match in ECMAScript and Python alike (`$` alone lets a trailing newline through in Python)."""
    return rf"^(?:{pattern})(?![\s\S])"


def _ci(text: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in text)


def _text_schema(f: Field) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if f.pattern:
        schema["pattern"] = anchored(f.pattern)
        if f.interpolate:
            schema = {"anyOf": [schema, {"type": "string", "pattern": anchored(INTERPOLATED)}]}
    return schema


def field_schema(f: Field) -> dict[str, Any]:
    if f.kind is Kind.TEXT:
        schema = _text_schema(f)
        if f.whole_numbers:
            schema = {"anyOf": [schema, {"type": "integer", "minimum": 0, "maximum": 10**63}]}
    elif f.kind is Kind.INTEGER:
        schema = {"const": f.choices[0]} if f.choices else {"type": "integer", "minimum": f.minimum, "maximum": f.maximum}
    elif f.kind is Kind.CHOICE:
        schema = {"enum": list(f.choices)}
        if f.interpolate:
            schema = {"anyOf": [schema, {"type": "string", "pattern": anchored(INTERPOLATED)}]}
    elif f.kind is Kind.TEXT_LIST:
        item = _text_schema(f)
        schema = {"anyOf": [item, {"type": "array", "items": item, "minItems": 1, "maxItems": f.max_items}]}
    elif f.kind is Kind.TAGS:
        schema = {
            "type": "object",
            "maxProperties": f.max_items,
            "propertyNames": {"pattern": anchored(f.pattern), "not": {"pattern": "^" + _ci(RESERVED_TAG_PREFIX)}},
            "additionalProperties": {"anyOf": [{"type": "string", "maxLength": 256, "pattern": anchored(ONE_LINE)}, {"type": ["number", "boolean"]}]},
        }
    elif f.kind is Kind.SECTION:
        schema = section_schema(f.fields)
    else:
        schema = {"type": "array", "minItems": 1, "items": section_schema(f.fields, required=[x.name for x in f.fields if x.required and not x.defaultable])}
    schema["description"] = f.description
    if f.default is not None:
        schema["default"] = f.default
    return schema


def section_schema(fields: tuple[Field, ...], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": {f.name: field_schema(f) for f in fields}, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def json_schema() -> dict[str, Any]:
    """The JSON Schema of deployments.yaml (for editors: `provision schema > deployments.schema.json`)."""
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "provision deployments.yaml",
        **section_schema(TOP, required=[f.name for f in TOP if f.required]),
    }
    # A field required in every deployment may come from `defaults` instead: required in each
    # deployment only when `defaults` does not give it.
    schema["allOf"] = [
        {
            "if": {"not": {"required": ["defaults"], "properties": {"defaults": {"required": [f.name]}}}},
            "then": {"properties": {"deployments": {"items": {"required": [f.name]}}}},
        }
        for f in DEPLOYMENT if f.required and f.defaultable
    ] + [rule for f in DEPLOYMENT for target in f.required_for for rule in _required_for(f, target)]
    return schema


def _defaults_with(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": ["defaults"], "properties": {"defaults": schema}}


def _required_for(f: Field, target: str) -> list[dict[str, Any]]:
    """`f` is required in each deployment whose target is `target` (its own, else the defaults', else
    serverless) when `defaults` does not give it."""
    given = _defaults_with({"required": [f.name]})
    own_target = {"required": ["target"], "properties": {"target": {"const": target}}}
    defaults_target = _defaults_with({"required": ["target"], "properties": {"target": {"const": target}}})
    no_defaults_target = {"not": _defaults_with({"required": ["target"]})}
    inherited = {"anyOf": [defaults_target, no_defaults_target]} if target == SERVERLESS else defaults_target
    return [
        {"if": {"not": given}, "then": {"properties": {"deployments": {"items": {"if": own_target, "then": {"required": [f.name]}}}}}},
        {"if": {"allOf": [{"not": given}, inherited]},
         "then": {"properties": {"deployments": {"items": {"if": {"not": {"required": ["target"]}}, "then": {"required": [f.name]}}}}}},
    ]
