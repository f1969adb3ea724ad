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


SECRET_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,254}"
SECRET_NAMES = (
    Field("url", Kind.TEXT, "Variable for the endpoint's base URL (default <NAME>_URL).", SECRET_NAME, "a valid variable name (letters, digits, '_'; not starting with a digit)"),
    Field("key", Kind.TEXT, "Variable for the endpoint's key (default <NAME>_KEY).", SECRET_NAME, "a valid variable name (letters, digits, '_'; not starting with a digit)"),
    Field("openai_url", Kind.TEXT, "Also write the OpenAI-compatible base URL ({url}/v1) under this name.", SECRET_NAME, "a valid variable name (letters, digits, '_'; not starting with a digit)"),
)

DEPLOYMENT = (
    Field("name", Kind.TEXT, "Endpoint name; part of its URL, unique in the region.", r"[a-zA-Z][a-zA-Z0-9-]{0,51}",
          "a valid endpoint name: start with a letter; letters, digits and hyphens only; at most 52 characters", required=True,
          missing="missing (the endpoint name; it becomes part of the endpoint's URL)"),
    Field("model", Kind.TEXT, "Catalog name (mistral-medium-2505) or azureml://registries/<registry>/models/<name>; no version.",
          rf"{_MODEL}|{MODEL_ID}", "a model name or an azureml://registries/<registry>/models/<name> id", required=True, defaultable=True,
          missing="missing (a catalog name such as mistral-medium-2505, or azureml://registries/azureml-mistral/models/mistral-medium-2505)"),
    Field("subscription", Kind.TEXT, "Azure subscription id (GUID); ${VAR} allowed.", r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
          "a subscription id (a GUID)", required=True, defaultable=True,
          missing="missing: set it here or in defaults (for example ${AZURE_SUBSCRIPTION_ID})"),
    Field("resource_group", Kind.TEXT, "The project's resource group.", r"[-\w.()]{0,89}[-\w()]",
          "a resource group name (1-90 letters, digits, '-', '_', '.', '(', ')'; not ending in '.')", required=True, defaultable=True,
          missing="missing: set it here or in defaults"),
    Field("project", Kind.TEXT, "Hub-based AI Studio project.", r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}",
          "a project name (3-33 letters, digits, '-' or '_', starting with a letter or digit)", required=True, defaultable=True,
          missing="missing: the hub-based AI Studio project; set it here or in defaults"),
    Field("allowed_regions", Kind.TEXT_LIST, "Regions the project's hub may be in.", r"[A-Za-z0-9][A-Za-z0-9 -]{1,39}",
          "an Azure region name, e.g. eastus2", defaultable=True, default=list(DEFAULT_REGIONS), max_items=MAX_REGIONS),
    Field("required_role", Kind.TEXT, "The role the caller must hold on the resource group.", r"[^\s](?:[^\r\n\x85\u2028\u2029]{0,510}[^\s])?",
          "a role name (one line, no surrounding spaces)", defaultable=True, default=DEFAULT_ROLE),
    Field("content_safety", Kind.CHOICE, "Azure AI Content Safety on the endpoint; Azure's default when absent.",
          choices=("enabled", "disabled", "Enabled", "Disabled", True, False), invalid="'enabled' or 'disabled'", defaultable=True),
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
    elif f.kind is Kind.INTEGER:
        schema = {"const": f.choices[0]} if f.choices else {"type": "integer"}
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
    ]
    return schema
