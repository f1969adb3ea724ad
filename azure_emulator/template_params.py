"""A template's parameters (and outputs): the values supplied or defaulted, checked against their
declarations (type, allowedValues, min/max value and length), as ARM's validation does.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from .template_builtins import stringify
from .template_expr import Env, TemplateError, type_name
from .template_funcs import resolve

PARAM_TYPES = {"string": str, "securestring": str, "int": int, "bool": bool, "object": dict, "secureobject": dict, "array": list}


def bind_parameters(declared: dict[str, Any], supplied: dict[str, Any], into: dict[str, dict[str, Any]], env: Callable[[], Env]) -> None:
    """Fills `into` with each declared parameter's type and value (supplied, or its default evaluated
    with env(), which may read the parameters bound before it), checked against its declaration."""
    unknown = [k for k in supplied if k.lower() not in {d.lower() for d in declared}]
    if unknown:
        raise TemplateError(f"The template parameters '{', '.join(unknown)}' in the parameters file are not valid; they are not present in the original template and can therefore not be provided at deployment time. The only supported parameters for this template are '{', '.join(declared)}'.")
    given = {k.lower(): v for k, v in supplied.items()}
    for name, spec in declared.items():
        path = f"parameters.{name}"
        if not isinstance(spec, dict) or str(spec.get("type", "")).lower() not in PARAM_TYPES:
            raise TemplateError(f"The template parameter '{name}' has no valid type: it must be one of {', '.join(sorted(PARAM_TYPES))}.", path)
        wrapper = given.get(name.lower())
        if wrapper is not None:
            if not isinstance(wrapper, dict) or "value" not in wrapper:
                raise TemplateError(f"The value of parameter '{name}' must be given as {{\"value\": ...}}; Key Vault references are not evaluated by the local Azure emulator.", path)
            value = wrapper["value"]
        elif "defaultValue" in spec:
            value = resolve(spec["defaultValue"], env(), f"{path}.defaultValue")
        elif spec.get("nullable") is True:
            value = None
        else:
            raise TemplateError(f"Deployment template validation failed: 'The value for the template parameter '{name}' at '{path}' is not provided. Please see https://aka.ms/arm-create-parameter-file for usage details.'.", path)
        into[name] = {"type": type_label(spec["type"]), "value": typed(name, spec, value, path)}


def typed(name: str, spec: dict[str, Any], value: Any, path: str, what: str = "parameter") -> Any:
    kind = str(spec.get("type", "string")).lower()
    want = PARAM_TYPES.get(kind, str)
    ok = value is None and spec.get("nullable") is True or (isinstance(value, want) and not (want is int and isinstance(value, bool)))
    if not ok and want is int and isinstance(value, str) and value.lstrip("-").isdigit():
        value, ok = int(value), True  # ARM converts a numeric string given for an int parameter
    if not ok and want is bool and isinstance(value, str) and value.lower() in ("true", "false"):
        value, ok = value.lower() == "true", True
    if not ok:
        raise TemplateError(f"Template {what} '{name}': the provided value '{json.dumps(value)[:80]}' is of type '{type_name(value)}', expected '{type_label(kind)}'.", path)
    allowed = spec.get("allowedValues")
    if isinstance(allowed, list) and value not in allowed:
        raise TemplateError(f"The provided value '{stringify(value)[:80]}' for the template {what} '{name}' is not valid. The value must be one of the allowed values: '{', '.join(stringify(a) for a in allowed)}'.", path)
    for bound in ("minValue", "maxValue", "minLength", "maxLength"):
        if bound in spec and value is not None and not _within(bound, spec[bound], value):
            raise TemplateError(f"The provided value for the template {what} '{name}' is not valid: it fails {bound} {spec[bound]}.", path)
    return value


def _within(bound: str, limit: Any, value: Any) -> bool:
    try:
        measured = len(value) if bound.endswith("Length") else value
        return bool(measured >= limit if bound.startswith("min") else measured <= limit)
    except TypeError:
        return False


def type_label(kind: Any) -> str:
    return {"securestring": "SecureString", "secureobject": "SecureObject"}.get(str(kind).lower(), str(kind).capitalize())
