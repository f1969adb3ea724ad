"""The template functions the emulator evaluates, and the evaluator that calls them.

Each entry of FUNCTIONS says how many arguments the function takes, so a template's calls are
checked before anything is deployed (check()). Function names are case-insensitive. An ARM
function the emulator does not evaluate is refused by name (NOT_EVALUATED), never guessed. The
functions that need no deployment are implemented in template_builtins.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .template_builtins import (Impl, arith, as_int, as_object, as_text, b64, b64_to_string, ci_index, compare, concat, contains,
                                create_object, empty, equal, fail, first_or_last, format_text, guid, int_range, interleave_names,
                                length, logic, min_max, negate, pad_left, parse_json, replace_text, split_text, stringify,
                                substring, take_skip, to_bool, to_int, try_get, union, unique_string)
from .template_expr import Call, Deferred, Env, Index, Lit, Node, Prop, TemplateError, calls, is_expression, item, literal_text, member, parse, size, type_name


@dataclass(frozen=True)
class Spec:
    low: int
    high: Optional[int]  # None: any number
    impl: Impl


# ARM functions that exist but that the emulator does not evaluate (named in the refusal).
NOT_EVALUATED = frozenset(n.lower() for n in (
    "utcNow", "newGuid", "environment", "tenant", "managementGroup", "managementGroupResourceId", "deployer",
    "pickZones", "providers", "listSecrets", "listAccountSas", "listServiceSas", "listConnectionStrings",
    "dateTimeAdd", "dateTimeFromEpoch", "dateTimeToEpoch", "dataUri", "dataUriToString", "uriComponent",
    "uriComponentToString", "uri", "resourceInfo", "filter", "map", "reduce", "sort", "toObject", "lambda",
    "lambdaVariables", "objectKeys", "shallowMerge", "indexFromEnd", "tryIndexFromEnd", "loadFileAsBase64",
    "loadTextContent", "loadJsonContent", "externalInput", "groupBy", "mapValues", "join", "flatten",
))


def _reference(args: list[Any], env: Env) -> Any:
    full = len(args) > 2 and isinstance(args[2], str) and args[2].lower() == "full"
    api = as_text("reference", args[1]) if len(args) > 1 and args[1] is not None else None
    return env.reference(as_text("reference", args[0]), api, full)


def _copy_index(args: list[Any], env: Env) -> int:
    loop = next((a for a in args if isinstance(a, str)), None)
    offset = next((as_int("copyIndex", a) for a in args if not isinstance(a, str)), 0)
    return env.copy_index(loop) + offset


FUNCTIONS: dict[str, Spec] = {k.lower(): v for k, v in {
    "parameters": Spec(1, 1, lambda a, e: e.parameters(as_text("parameters", a[0]))),
    "variables": Spec(1, 1, lambda a, e: e.variables(as_text("variables", a[0]))),
    "concat": Spec(1, None, concat),
    "format": Spec(1, None, format_text),
    "resourceId": Spec(2, None, lambda a, e: e.resource_id(a)),
    "subscriptionResourceId": Spec(2, None, lambda a, e: e.subscription_resource_id(a)),
    "tenantResourceId": Spec(2, None, lambda a, e: "/providers/" + "/".join([as_text("tenantResourceId", a[0])] + [as_text("tenantResourceId", x) for x in a[1:]])),
    "extensionResourceId": Spec(3, None, lambda a, e: as_text("extensionResourceId", a[0]) + "/providers/" + interleave_names("extensionResourceId", a[1], a[2:])),
    "resourceGroup": Spec(0, 0, lambda a, e: dict(e.resource_group)),
    "subscription": Spec(0, 0, lambda a, e: dict(e.subscription)),
    "deployment": Spec(0, 0, lambda a, e: dict(e.deployment)),
    "reference": Spec(1, 3, _reference),
    "listKeys": Spec(2, 2, lambda a, e: e.list_keys(as_text("listKeys", a[0]), as_text("listKeys", a[1]))),
    "guid": Spec(1, None, guid),
    "uniqueString": Spec(1, None, unique_string),
    "toLower": Spec(1, 1, lambda a, e: as_text("toLower", a[0]).lower()),
    "toUpper": Spec(1, 1, lambda a, e: as_text("toUpper", a[0]).upper()),
    "trim": Spec(1, 1, lambda a, e: as_text("trim", a[0]).strip()),
    "startsWith": Spec(2, 2, lambda a, e: as_text("startsWith", a[0]).lower().startswith(as_text("startsWith", a[1]).lower())),
    "endsWith": Spec(2, 2, lambda a, e: as_text("endsWith", a[0]).lower().endswith(as_text("endsWith", a[1]).lower())),
    "indexOf": Spec(2, 2, lambda a, e: ci_index(a, False)),
    "lastIndexOf": Spec(2, 2, lambda a, e: ci_index(a, True)),
    "substring": Spec(2, 3, substring),
    "padLeft": Spec(2, 3, pad_left),
    "replace": Spec(3, 3, replace_text),
    "split": Spec(2, 2, split_text),
    "string": Spec(1, 1, lambda a, e: stringify(a[0])),
    "int": Spec(1, 1, to_int),
    "bool": Spec(1, 1, to_bool),
    "json": Spec(1, 1, parse_json),
    "base64": Spec(1, 1, b64),
    "base64ToString": Spec(1, 1, b64_to_string),
    "if": Spec(3, 3, lambda a, e: a[1] if a[0] else a[2]),  # evaluated lazily in call()
    "equals": Spec(2, 2, lambda a, e: equal(a[0], a[1])),
    "not": Spec(1, 1, negate),
    "and": Spec(2, None, logic("and", True)),
    "or": Spec(2, None, logic("or", False)),
    "less": Spec(2, 2, compare("less", lambda x, y: bool(x < y))),
    "lessOrEquals": Spec(2, 2, compare("lessOrEquals", lambda x, y: bool(x <= y))),
    "greater": Spec(2, 2, compare("greater", lambda x, y: bool(x > y))),
    "greaterOrEquals": Spec(2, 2, compare("greaterOrEquals", lambda x, y: bool(x >= y))),
    "empty": Spec(1, 1, empty),
    "length": Spec(1, 1, length),
    "first": Spec(1, 1, lambda a, e: first_or_last(a, False)),
    "last": Spec(1, 1, lambda a, e: first_or_last(a, True)),
    "take": Spec(2, 2, take_skip("take")),
    "skip": Spec(2, 2, take_skip("skip")),
    "contains": Spec(2, 2, contains),
    "union": Spec(1, None, union),
    "coalesce": Spec(1, None, lambda a, e: next((x for x in a if x is not None), None)),
    "createArray": Spec(0, None, lambda a, e: list(a)),
    "array": Spec(1, 1, lambda a, e: a[0] if isinstance(a[0], list) else [a[0]]),
    "createObject": Spec(0, None, create_object),
    "items": Spec(1, 1, lambda a, e: [{"key": k, "value": v} for k, v in sorted(as_object("items", a[0]).items())]),
    "range": Spec(2, 2, int_range),
    "add": Spec(2, 2, arith("add", lambda x, y: x + y)),
    "sub": Spec(2, 2, arith("sub", lambda x, y: x - y)),
    "mul": Spec(2, 2, arith("mul", lambda x, y: x * y)),
    "div": Spec(2, 2, arith("div", lambda x, y: int(x / y))),
    "mod": Spec(2, 2, arith("mod", lambda x, y: x - y * int(x / y))),
    "min": Spec(1, None, min_max("min")),
    "max": Spec(1, None, min_max("max")),
    "true": Spec(0, 0, lambda a, e: True),
    "false": Spec(0, 0, lambda a, e: False),
    "null": Spec(0, 0, lambda a, e: None),
    "tryGet": Spec(2, None, try_get),
    "copyIndex": Spec(0, 2, _copy_index),
}.items()}



def check(node: Node) -> None:
    """Refuse, before anything runs, a call of a function the emulator does not evaluate or with
    the wrong number of arguments."""
    for c in calls(node):
        spec_for(c)


def spec_for(c: Call) -> Spec:
    key = c.name.lower()
    spec = FUNCTIONS.get(key)
    if spec is None:
        if "." in key:
            raise TemplateError(f"The template function '{c.name}' is a user-defined function; the local Azure emulator does not evaluate user-defined functions.")
        if key in NOT_EVALUATED:
            raise TemplateError(f"The template function '{c.name}' is an ARM function the local Azure emulator does not evaluate (see docs/emulator.md, 'Template deployments').")
        raise TemplateError(f"The template function '{c.name}' is not valid. Please see https://aka.ms/arm-functions for usage details.")
    n = len(c.args)
    if n < spec.low or (spec.high is not None and n > spec.high):
        wanted = str(spec.low) if spec.high == spec.low else (f"at least {spec.low}" if spec.high is None else f"{spec.low} to {spec.high}")
        raise TemplateError(f"Unable to evaluate template language function '{c.name}': function requires {wanted} argument(s) while {n} were provided.")
    return spec


def call(c: Call, env: Env, depth: int) -> Any:
    spec = spec_for(c)
    if c.name.lower() == "if":  # only the chosen branch is evaluated
        cond = evaluate(c.args[0], env, depth + 1)
        if not isinstance(cond, bool):
            raise fail("if", f"the condition must be a Boolean, not {type_name(cond)}.")
        return evaluate(c.args[1] if cond else c.args[2], env, depth + 1)
    args = [evaluate(a, env, depth + 1) for a in c.args]
    try:
        return spec.impl(args, env)
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, RecursionError, UnicodeError) as err:
        raise fail(c.name, f"{type(err).__name__}: {str(err)[:120]}.") from None


def evaluate(node: Node, env: Env, depth: int = 0) -> Any:
    env.budget.spend(1)
    if isinstance(node, Lit):
        return node.value
    if isinstance(node, Prop):
        return member(evaluate(node.target, env, depth + 1), node.name)
    if isinstance(node, Index):
        return item(evaluate(node.target, env, depth + 1), evaluate(node.index, env, depth + 1))
    result = call(node, env, depth)
    size(result, env.budget)
    return result


def evaluate_text(text: str, env: Env) -> Any:
    """A template string's value: the expression's result, or the text itself ('[[' unescaped)."""
    if not is_expression(text):
        return literal_text(text)
    return evaluate(parse(text), env)


def resolve(value: Any, env: Env, path: str, keep_deferred: bool = False) -> Any:
    """A template JSON value with every expression string evaluated (keys too)."""
    try:
        if isinstance(value, str):
            return evaluate_text(value, env)
        if isinstance(value, list):
            return [resolve(v, env, f"{path}[{i}]", keep_deferred) for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {stringify(resolve(k, env, path)): resolve(v, env, f"{path}.{k}", keep_deferred) for k, v in value.items()}
        return value
    except Deferred:
        if keep_deferred and isinstance(value, str):
            return value
        if keep_deferred:
            raise
        raise TemplateError(f"The template function 'reference' or 'listKeys' is not expected at '{path}': a deployed resource's value cannot decide it.", path) from None
    except TemplateError as err:
        raise err.at(path)
