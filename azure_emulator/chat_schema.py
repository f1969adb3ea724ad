"""The JSON schemas of a chat request: the parts that declare them (`tools`, `tool_choice`,
`response_format`) checked, and a deterministic instance of a schema, which is what the emulator's
chat model "writes" in JSON mode and as tool-call arguments.

The same schema and hint always give the same instance, so tests can assert on it. Covered: types
(and lists of types), properties/required/additionalProperties, enum, const, arrays with
min/maxItems, prefixItems and uniqueItems, nested objects, anyOf/oneOf/allOf, local `$ref`s
(`#/$defs/...` and `#/definitions/...`, as pydantic emits them), numeric bounds and multipleOf,
string lengths and the simple formats. `pattern` and `not` are not solved.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Optional

Json = Any
Schema = dict[str, Any]

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# Past this depth the generator takes the shortest way out (null, required properties only,
# minItems items), so recursive pydantic models (a tree of nodes) end.
_DEEP = 6

_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "duration": "P1D",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


class SchemaError(ValueError):
    """A schema-bearing part of a request is wrong, or a schema cannot be followed (a `$ref` outside
    the document); `param` names the part."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def instance(schema: Json, hint: str = "", root: Optional[Schema] = None, depth: int = 0, variant: int = 0) -> Json:
    """A value valid for `schema`. `hint` fills free text; `variant` makes sibling array items differ."""
    if schema is True or schema == {}:
        return _string({}, hint, variant)
    if not isinstance(schema, dict):
        raise SchemaError("schema", "A JSON schema must be an object.")
    root = schema if root is None else root
    if "$ref" in schema:
        return instance(_resolve(root, schema["$ref"]), hint, root, depth + 1, variant)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][variant % len(schema["enum"])]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return instance(_branch(schema[key], root, depth), hint, root, depth + 1, variant)
    if isinstance(schema.get("allOf"), list):
        return instance(_merged(schema, root), hint, root, depth + 1, variant)
    kind = _type_of(schema, depth)
    if kind == "object":
        return _object(schema, hint, root, depth, variant)
    if kind == "array":
        return _array(schema, hint, root, depth, variant)
    if kind == "integer":
        return _integer(schema, variant)
    if kind == "number":
        return _number(schema, variant)
    if kind == "boolean":
        return variant % 2 == 0
    if kind == "null":
        return None
    return _string(schema, hint, variant)


def _resolve(root: Schema, ref: Any) -> Json:
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise SchemaError("schema", f"Only local references ('#/$defs/...') are supported; got {ref!r}.")
    node: Json = root
    for part in [p for p in ref[1:].split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise SchemaError("schema", f"The reference {ref!r} does not resolve inside the schema.")
        node = node[part]
    return node


def _type_of(schema: Schema, depth: int) -> str:
    declared = schema.get("type")
    if isinstance(declared, list) and declared:
        # Deep inside, "null" ends recursion; otherwise the first non-null type says more.
        if depth >= _DEEP and "null" in declared:
            return "null"
        return next((str(t) for t in declared if t != "null"), "null")
    if isinstance(declared, str):
        return declared
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema or "minItems" in schema:
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
        return "number"
    return "string"


def _cost(schema: Json, root: Schema) -> int:
    """How far a branch is from a leaf: 0 for null, 1 for scalars, 2 for containers, 3 for references."""
    if not isinstance(schema, dict):
        return 1
    if "$ref" in schema:
        return 3
    declared = schema.get("type")
    if declared == "null" or (isinstance(declared, list) and "null" in declared):
        return 0
    if declared in ("object", "array") or "properties" in schema or "items" in schema:
        return 2
    return 1


def _branch(branches: list[Json], root: Schema, depth: int) -> Json:
    # The first branch reads best (it is what the author put first); deep inside, the cheapest ends.
    if depth < _DEEP:
        return branches[0]
    return min(branches, key=lambda b: _cost(b, root))


def _merged(schema: Schema, root: Schema) -> Schema:
    """allOf as one schema: properties and required united, other keywords from the last part that has them."""
    merged: Schema = {k: v for k, v in schema.items() if k != "allOf"}
    properties: dict[str, Any] = dict(merged.get("properties", {}))
    required: list[str] = list(merged.get("required", []))
    for part in schema["allOf"]:
        part = _resolve(root, part["$ref"]) if isinstance(part, dict) and "$ref" in part else part
        if not isinstance(part, dict):
            continue
        properties.update(part.get("properties", {}))
        required += [r for r in part.get("required", []) if r not in required]
        merged.update({k: v for k, v in part.items() if k not in ("properties", "required")})
    if properties:
        merged["properties"] = properties
    if required:
        merged["required"] = required
    return merged


def _object(schema: Schema, hint: str, root: Schema, depth: int, variant: int) -> dict[str, Json]:
    properties: dict[str, Any] = schema.get("properties") or {}
    required = [r for r in schema.get("required") or [] if isinstance(r, str)]
    # Every declared property reads better than only the required ones; deep inside, only those.
    names = list(properties) if depth < _DEEP else [n for n in properties if n in required]
    names += [r for r in required if r not in names]
    limit = schema.get("maxProperties")
    if isinstance(limit, int):
        optional = [n for n in names if n not in required]
        names = [n for n in names if n in required] + optional[: max(0, limit - len(required))]
    result = {name: instance(properties.get(name, {}), hint, root, depth + 1, variant) for name in names}
    extra = schema.get("additionalProperties", True)
    wanted = schema.get("minProperties", 0)
    index = 0
    while isinstance(wanted, int) and len(result) < wanted and extra is not False:
        key = f"key{index}"
        index += 1
        if key not in result:
            result[key] = instance(extra if isinstance(extra, dict) else {}, hint, root, depth + 1, variant)
    return result


def _array(schema: Schema, hint: str, root: Schema, depth: int, variant: int) -> list[Json]:
    prefix = schema.get("prefixItems") or []
    items = schema.get("items", {})
    low = schema.get("minItems", 0) if isinstance(schema.get("minItems"), int) else 0
    high = schema.get("maxItems") if isinstance(schema.get("maxItems"), int) else None
    # One item shows the shape; deep inside, only as many as minItems asks for.
    count = max(low, len(prefix), 1 if depth < _DEEP else 0)
    if items is False:
        count = min(count, len(prefix))
    if high is not None:
        count = min(count, high)
    result: list[Json] = []
    for i in range(count):
        part = prefix[i] if i < len(prefix) else items
        result.append(instance(part, hint, root, depth + 1, variant + i))
    return result


def _string(schema: Schema, hint: str, variant: int) -> str:
    fmt = schema.get("format")
    text = _FORMATS.get(fmt, hint or "text") if isinstance(fmt, str) else (hint or "text")
    if variant and fmt not in _FORMATS:
        text = f"{text} {variant}"
    low = schema.get("minLength", 0) if isinstance(schema.get("minLength"), int) else 0
    high = schema.get("maxLength") if isinstance(schema.get("maxLength"), int) else None
    if len(text) < low:
        text = text + "x" * (low - len(text))
    if high is not None and len(text) > high:
        # Keep the variant's distinguishing end when cutting, so unique items stay unique.
        text = text[-high:] if high else ""
    return text


def _bounds(schema: Schema) -> tuple[float, float]:
    low, high = -math.inf, math.inf
    if isinstance(schema.get("minimum"), (int, float)):
        low = float(schema["minimum"])
    if isinstance(schema.get("maximum"), (int, float)):
        high = float(schema["maximum"])
    return low, high


def _integer(schema: Schema, variant: int) -> int:
    low, high = _bounds(schema)
    lo = math.ceil(low) if low != -math.inf else None
    hi = math.floor(high) if high != math.inf else None
    if isinstance(schema.get("exclusiveMinimum"), (int, float)):
        bound = math.floor(schema["exclusiveMinimum"]) + 1
        lo = bound if lo is None else max(lo, bound)
    if isinstance(schema.get("exclusiveMaximum"), (int, float)):
        bound = math.ceil(schema["exclusiveMaximum"]) - 1
        hi = bound if hi is None else min(hi, bound)
    step = schema.get("multipleOf")
    if isinstance(step, int) and not isinstance(step, bool) and step > 0:
        start = math.ceil(lo / step) * step if lo is not None else (0 if hi is None or hi >= 0 else math.floor(hi / step) * step)
        return int(start + variant * step) if hi is None or start + variant * step <= hi else int(start)
    value = variant if lo is None else lo + variant
    if hi is not None and value > hi:
        value = hi if lo is None else max(lo, hi)
    return int(value)


def _number(schema: Schema, variant: int) -> float | int:
    if isinstance(schema.get("multipleOf"), int) and not isinstance(schema.get("multipleOf"), bool):
        return _integer(schema, variant)
    low, high = _bounds(schema)
    ex_low = schema.get("exclusiveMinimum")
    ex_high = schema.get("exclusiveMaximum")
    if isinstance(ex_low, (int, float)):
        low = max(low, float(ex_low))
    if isinstance(ex_high, (int, float)):
        high = min(high, float(ex_high))
    value = float(variant)
    if value < low or (isinstance(ex_low, (int, float)) and value <= ex_low):
        value = low + 1 if high == math.inf or low + 1 < high else (low + high) / 2
    if value > high or (isinstance(ex_high, (int, float)) and value >= ex_high):
        value = high - 1 if low == -math.inf or high - 1 > low else (low + high) / 2
    return int(value) if value.is_integer() else value


# ---------------------------------------------------------------- the schema-bearing parts of a chat request
@dataclass(frozen=True)
class Tool:
    name: str
    parameters: dict[str, Any]


def declared_tools(body: dict[str, Any]) -> tuple[Tool, ...]:
    raw = body.get("tools")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SchemaError("tools", "'tools' must be an array of {\"type\": \"function\", \"function\": {...}}.")
    tools: list[Tool] = []
    for i, spec in enumerate(raw):
        function = spec.get("function") if isinstance(spec, dict) else None
        if not isinstance(spec, dict) or spec.get("type", "function") != "function" or not isinstance(function, dict):
            raise SchemaError(f"tools[{i}]", "Each tool must be {\"type\": \"function\", \"function\": {\"name\", \"parameters\"}}.")
        name = function.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise SchemaError(f"tools[{i}].function.name", "A function name is 1 to 64 letters, digits, '_' or '-'.")
        if name in [t.name for t in tools]:
            raise SchemaError(f"tools[{i}].function.name", f"The function name '{name}' is declared twice.")
        parameters = function.get("parameters")
        if not isinstance(parameters, dict) or parameters.get("type", "object") != "object":
            raise SchemaError(f"tools[{i}].function.parameters", f"Function '{name}' needs 'parameters', a JSON schema of type object (use {{\"type\": \"object\", \"properties\": {{}}}} for none).")
        tools.append(Tool(name, parameters))
    return tuple(tools)


def tool_choice(body: dict[str, Any], tools: tuple[Tool, ...]) -> tuple[str, str]:
    raw = body.get("tool_choice")
    if raw is None:
        return ("auto" if tools else "none"), ""
    if isinstance(raw, str) and raw in ("auto", "none", "required", "any"):
        choice = "required" if raw == "any" else raw
        if choice == "required" and not tools:
            raise SchemaError("tool_choice", f"tool_choice '{raw}' needs at least one tool in 'tools'.")
        return choice, ""
    function = raw.get("function") if isinstance(raw, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str):
        raise SchemaError("tool_choice", "tool_choice must be 'auto', 'none', 'any', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}.")
    if name not in [t.name for t in tools]:
        raise SchemaError("tool_choice", f"tool_choice names the function '{name}', which is not among 'tools'.")
    return "function", name


def response_format(body: dict[str, Any]) -> tuple[str, Optional[dict[str, Any]]]:
    raw = body.get("response_format")
    if raw is None:
        return "text", None
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind in ("text", "json_object"):
        return str(kind), None
    if kind != "json_schema":
        raise SchemaError("response_format", "response_format must be {\"type\": \"text\"}, {\"type\": \"json_object\"} or {\"type\": \"json_schema\", \"json_schema\": {\"name\", \"schema\"}}.")
    spec = raw.get("json_schema")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not isinstance(spec.get("schema"), dict):
        raise SchemaError("response_format.json_schema", "json_schema needs 'name' (a string) and 'schema' (a JSON schema object).")
    return "json_schema", spec["schema"]
