"""The template functions the emulator evaluates, and the evaluator that calls them.

Each entry of FUNCTIONS says how many arguments the function takes, so a template's calls are
checked before anything is deployed (check()). Function names are case-insensitive. An ARM
function the emulator does not evaluate is refused by name (NOT_EVALUATED), never guessed.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .template_expr import Call, Env, Index, Lit, Node, Prop, TemplateError, calls, is_expression, item, literal_text, member, parse, size, type_name

Impl = Callable[[list[Any], Env], Any]
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")  # the namespace ARM's guid() hashes under
MAX_RANGE = 10_000  # ARM's own cap on a copy loop's count


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


def _fail(name: str, why: str) -> TemplateError:
    return TemplateError(f"Unable to evaluate template language function '{name}': {why}")


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(name, f"the argument must be a String, not {type_name(value)}.")
    return value


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(name, f"the argument must be an Integer, not {type_name(value)}.")
    return value


def _checked(name: str, value: int) -> int:
    if not INT_MIN <= value <= INT_MAX:
        raise _fail(name, "the result does not fit a 64-bit integer.")
    return value


def stringify(value: Any) -> str:
    """How ARM turns a value into text (string(), format(), concat() of scalars)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


# --- strings -------------------------------------------------------------------------------

_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?:,(-?\d+))?(?::([^}]*))?\}|[{}]")


def _format(args: list[Any], env: Env) -> str:
    """.NET composite formatting, as ARM's format() does ({0}, {1,-8}, '{{' and '}}')."""
    template = _text("format", args[0])
    values = args[1:]
    out: list[str] = []
    length = 0
    pos = 0
    for m in _FORMAT_ITEM.finditer(template):
        out.append(template[pos : m.start()])
        length += m.start() - pos
        pos = m.end()
        token = m.group(0)
        if token in ("{{", "}}"):
            piece = token[0]
        elif m.group(1) is None:
            raise _fail("format", f"the format string '{template}' has an unmatched '{token}'.")
        else:
            index = int(m.group(1))
            if index >= len(values):
                raise _fail("format", f"the format item {{{index}}} has no argument ({len(values)} given).")
            if m.group(3):
                raise _fail("format", f"the format specifier ':{m.group(3)}' is not evaluated by the local Azure emulator.")
            piece = stringify(values[index])
            width = int(m.group(2) or 0)
            piece = piece.ljust(-width) if width < 0 else piece.rjust(min(width, 10_000))
        length += len(piece)
        if length > 262_144:
            raise _fail("format", "the result is larger than the emulator's limit.")
        out.append(piece)
    out.append(template[pos:])
    return "".join(out)


def _replace(args: list[Any], env: Env) -> str:
    text, old, new = (_text("replace", a) for a in args)
    if old == "":
        raise _fail("replace", "the string to replace must not be empty.")
    if len(text) + text.count(old) * max(0, len(new) - len(old)) > 262_144:
        raise _fail("replace", "the result is larger than the emulator's limit.")
    return text.replace(old, new)


def _concat(args: list[Any], env: Env) -> Any:
    if isinstance(args[0], list):
        out: list[Any] = []
        for a in args:
            if not isinstance(a, list):
                raise _fail("concat", f"all arguments must be arrays when the first is, not {type_name(a)}.")
            out.extend(a)
        return out
    parts = []
    for a in args:
        if isinstance(a, (list, dict)):
            raise _fail("concat", f"the arguments must all be strings or all be arrays, not {type_name(a)}.")
        parts.append(stringify(a))
    if sum(len(p) for p in parts) > 262_144:
        raise _fail("concat", "the result is larger than the emulator's limit.")
    return "".join(parts)


def _split(args: list[Any], env: Env) -> list[str]:
    text = _text("split", args[0])
    delims = args[1] if isinstance(args[1], list) else [args[1]]
    seps = [_text("split", d) for d in delims]
    if any(s == "" for s in seps):
        raise _fail("split", "the delimiter must not be empty.")
    return re.split("|".join(re.escape(s) for s in seps), text)


def _substring(args: list[Any], env: Env) -> str:
    text = _text("substring", args[0])
    start = _int("substring", args[1])
    length = _int("substring", args[2]) if len(args) > 2 else len(text) - start
    if start < 0 or length < 0 or start + length > len(text):
        raise _fail("substring", f"the index and length must refer to a location within the string (start {start}, length {length}, string length {len(text)}).")
    return text[start : start + length]


def _ci_index(args: list[Any], last: bool) -> int:
    name = "lastIndexOf" if last else "indexOf"
    text, find = _text(name, args[0]).lower(), _text(name, args[1]).lower()
    return text.rfind(find) if last else text.find(find)


def _unique_string(args: list[Any], env: Env) -> str:
    # Deterministic and 13 characters of [a-z2-7], as Azure's; not Azure's exact hash (docs/emulator.md).
    joined = "-".join(_text("uniqueString", a) for a in args)
    digest = hashlib.sha256(joined.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:13]


def _guid(args: list[Any], env: Env) -> str:
    return str(uuid.uuid5(GUID_NAMESPACE, "-".join(_text("guid", a) for a in args)))


# --- collections and logic ---------------------------------------------------------------

def _length(args: list[Any], env: Env) -> int:
    if isinstance(args[0], (str, list, dict)):
        return len(args[0])
    raise _fail("length", f"the argument must be a String, an Array or an Object, not {type_name(args[0])}.")


def _empty(args: list[Any], env: Env) -> bool:
    value = args[0]
    return value is None or (isinstance(value, (str, list, dict)) and len(value) == 0)


def _end(args: list[Any], last: bool) -> Any:
    value = args[0]
    if isinstance(value, (str, list)):
        if not value:
            return "" if isinstance(value, str) else None
        return value[-1] if last else value[0]
    raise _fail("last" if last else "first", f"the argument must be a String or an Array, not {type_name(value)}.")


def _contains(args: list[Any], env: Env) -> bool:
    container, wanted = args
    if isinstance(container, str):
        return stringify(wanted) in container
    if isinstance(container, list):
        return any(equal(x, wanted) for x in container)
    if isinstance(container, dict):
        key = _text("contains", wanted).lower()
        return any(k.lower() == key for k in container)
    raise _fail("contains", f"the first argument must be a String, an Array or an Object, not {type_name(container)}.")


def equal(a: Any, b: Any) -> bool:
    """ARM's equals(): deep, with object keys compared case-insensitively."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        la = {k.lower(): v for k, v in a.items()}
        lb = {k.lower(): v for k, v in b.items()}
        return la.keys() == lb.keys() and all(equal(la[k], lb[k]) for k in la)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out


def _union(args: list[Any], env: Env) -> Any:
    if all(isinstance(a, dict) for a in args):
        out: dict[str, Any] = {}
        for a in args:
            out = _merge(out, a)
        return out
    if all(isinstance(a, list) for a in args):
        seen: list[Any] = []
        for a in args:
            seen.extend(x for x in a if not any(equal(x, y) for y in seen))
        return seen
    raise _fail("union", "the arguments must all be objects or all be arrays.")


def _to_int(args: list[Any], env: Env) -> int:
    value = args[0]
    if isinstance(value, bool):
        raise _fail("int", "a Boolean cannot be converted to an Integer.")
    if isinstance(value, int):
        return value
    text = _text("int", value).strip()
    if not re.fullmatch(r"[+-]?\d{1,19}", text):
        raise _fail("int", f"'{text[:40]}' is not an integer.")
    return _checked("int", int(text))


def _to_bool(args: list[Any], env: Env) -> bool:
    value = args[0]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    text = _text("bool", value).strip().lower()
    if text not in ("true", "false"):
        raise _fail("bool", f"'{text[:40]}' is not 'true' or 'false'.")
    return text == "true"


def _json(args: list[Any], env: Env) -> Any:
    text = _text("json", args[0])
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as err:
        raise _fail("json", f"the argument is not valid JSON ({str(err)[:80]}).") from None


def _create_object(args: list[Any], env: Env) -> dict[str, Any]:
    if len(args) % 2:
        raise _fail("createObject", "the arguments must be pairs of a key and a value.")
    return {_text("createObject", args[i]): args[i + 1] for i in range(0, len(args), 2)}


def _arith(name: str, op: Callable[[int, int], int]) -> Impl:
    def impl(args: list[Any], env: Env) -> int:
        a, b = _int(name, args[0]), _int(name, args[1])
        if name in ("div", "mod") and b == 0:
            raise _fail(name, "division by zero.")
        return _checked(name, op(a, b))

    return impl


def _compare(name: str, op: Callable[[Any, Any], bool]) -> Impl:
    def impl(args: list[Any], env: Env) -> bool:
        a, b = args
        if isinstance(a, str) and isinstance(b, str) or (type(a) is int and type(b) is int):
            return op(a, b)
        raise _fail(name, "the arguments must both be integers or both be strings.")

    return impl


def _take_skip(name: str) -> Impl:
    def impl(args: list[Any], env: Env) -> Any:
        value, n = args[0], max(0, _int(name, args[1]))
        if not isinstance(value, (str, list)):
            raise _fail(name, f"the first argument must be a String or an Array, not {type_name(value)}.")
        return value[:n] if name == "take" else value[n:]

    return impl


def _range(args: list[Any], env: Env) -> list[int]:
    start, count = _int("range", args[0]), _int("range", args[1])
    if not 0 <= count <= MAX_RANGE:
        raise _fail("range", f"the count must be between 0 and {MAX_RANGE}.")
    return list(range(start, start + count))


def _try_get(args: list[Any], env: Env) -> Any:
    value = args[0]
    for key in args[1:]:
        try:
            value = item(value, key)
        except TemplateError:
            return None
    return value


def _logic(name: str, want: bool) -> Impl:
    def impl(args: list[Any], env: Env) -> bool:
        for a in args:
            if not isinstance(a, bool):
                raise _fail(name, f"the arguments must be Booleans, not {type_name(a)}.")
        return all(args) if want else any(args)

    return impl


def _not(args: list[Any], env: Env) -> bool:
    if not isinstance(args[0], bool):
        raise _fail("not", f"the argument must be a Boolean, not {type_name(args[0])}.")
    return not args[0]


def _reference(args: list[Any], env: Env) -> Any:
    full = len(args) > 2 and isinstance(args[2], str) and args[2].lower() == "full"
    api = _text("reference", args[1]) if len(args) > 1 and args[1] is not None else None
    return env.reference(_text("reference", args[0]), api, full)


def _b64(args: list[Any], env: Env) -> str:
    return base64.b64encode(_text("base64", args[0]).encode("utf-8")).decode("ascii")


def _b64_to_string(args: list[Any], env: Env) -> str:
    try:
        return base64.b64decode(_text("base64ToString", args[0]), validate=True).decode("utf-8")
    except ValueError:
        raise _fail("base64ToString", "the argument is not base64-encoded UTF-8 text.") from None


def _pad_left(args: list[Any], env: Env) -> str:
    text, width = stringify(args[0]), _int("padLeft", args[1])
    pad = _text("padLeft", args[2]) if len(args) > 2 else " "
    if len(pad) != 1 or width > 262_144:
        raise _fail("padLeft", "the padding must be one character and the width at most the emulator's limit.")
    return text.rjust(width, pad)


def _min_max(name: str) -> Impl:
    def impl(args: list[Any], env: Env) -> int:
        values = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        if not values:
            raise _fail(name, "there are no values.")
        ints = [_int(name, v) for v in values]
        return min(ints) if name == "min" else max(ints)

    return impl


def _copy_index(args: list[Any], env: Env) -> int:
    loop = next((a for a in args if isinstance(a, str)), None)
    offset = next((_int("copyIndex", a) for a in args if not isinstance(a, str)), 0)
    return env.copy_index(loop) + offset


FUNCTIONS: dict[str, Spec] = {k.lower(): v for k, v in {
    "parameters": Spec(1, 1, lambda a, e: e.parameters(_text("parameters", a[0]))),
    "variables": Spec(1, 1, lambda a, e: e.variables(_text("variables", a[0]))),
    "concat": Spec(1, None, _concat),
    "format": Spec(1, None, _format),
    "resourceId": Spec(2, None, lambda a, e: e.resource_id(a)),
    "subscriptionResourceId": Spec(2, None, lambda a, e: e.subscription_resource_id(a)),
    "tenantResourceId": Spec(2, None, lambda a, e: "/providers/" + "/".join([_text("tenantResourceId", a[0])] + [_text("tenantResourceId", x) for x in a[1:]])),
    "extensionResourceId": Spec(3, None, lambda a, e: _text("extensionResourceId", a[0]) + "/providers/" + _interleave("extensionResourceId", a[1], a[2:])),
    "resourceGroup": Spec(0, 0, lambda a, e: dict(e.resource_group)),
    "subscription": Spec(0, 0, lambda a, e: dict(e.subscription)),
    "deployment": Spec(0, 0, lambda a, e: dict(e.deployment)),
    "reference": Spec(1, 3, _reference),
    "listKeys": Spec(2, 2, lambda a, e: e.list_keys(_text("listKeys", a[0]), _text("listKeys", a[1]))),
    "guid": Spec(1, None, _guid),
    "uniqueString": Spec(1, None, _unique_string),
    "toLower": Spec(1, 1, lambda a, e: _text("toLower", a[0]).lower()),
    "toUpper": Spec(1, 1, lambda a, e: _text("toUpper", a[0]).upper()),
    "trim": Spec(1, 1, lambda a, e: _text("trim", a[0]).strip()),
    "startsWith": Spec(2, 2, lambda a, e: _text("startsWith", a[0]).lower().startswith(_text("startsWith", a[1]).lower())),
    "endsWith": Spec(2, 2, lambda a, e: _text("endsWith", a[0]).lower().endswith(_text("endsWith", a[1]).lower())),
    "indexOf": Spec(2, 2, lambda a, e: _ci_index(a, False)),
    "lastIndexOf": Spec(2, 2, lambda a, e: _ci_index(a, True)),
    "substring": Spec(2, 3, _substring),
    "padLeft": Spec(2, 3, _pad_left),
    "replace": Spec(3, 3, _replace),
    "split": Spec(2, 2, _split),
    "string": Spec(1, 1, lambda a, e: stringify(a[0])),
    "int": Spec(1, 1, _to_int),
    "bool": Spec(1, 1, _to_bool),
    "json": Spec(1, 1, _json),
    "base64": Spec(1, 1, _b64),
    "base64ToString": Spec(1, 1, _b64_to_string),
    "if": Spec(3, 3, lambda a, e: a[1] if a[0] else a[2]),  # evaluated lazily in call()
    "equals": Spec(2, 2, lambda a, e: equal(a[0], a[1])),
    "not": Spec(1, 1, _not),
    "and": Spec(2, None, _logic("and", True)),
    "or": Spec(2, None, _logic("or", False)),
    "less": Spec(2, 2, _compare("less", lambda x, y: bool(x < y))),
    "lessOrEquals": Spec(2, 2, _compare("lessOrEquals", lambda x, y: bool(x <= y))),
    "greater": Spec(2, 2, _compare("greater", lambda x, y: bool(x > y))),
    "greaterOrEquals": Spec(2, 2, _compare("greaterOrEquals", lambda x, y: bool(x >= y))),
    "empty": Spec(1, 1, _empty),
    "length": Spec(1, 1, _length),
    "first": Spec(1, 1, lambda a, e: _end(a, False)),
    "last": Spec(1, 1, lambda a, e: _end(a, True)),
    "take": Spec(2, 2, _take_skip("take")),
    "skip": Spec(2, 2, _take_skip("skip")),
    "contains": Spec(2, 2, _contains),
    "union": Spec(1, None, _union),
    "coalesce": Spec(1, None, lambda a, e: next((x for x in a if x is not None), None)),
    "createArray": Spec(0, None, lambda a, e: list(a)),
    "array": Spec(1, 1, lambda a, e: a[0] if isinstance(a[0], list) else [a[0]]),
    "createObject": Spec(0, None, _create_object),
    "items": Spec(1, 1, lambda a, e: [{"key": k, "value": v} for k, v in sorted(_obj("items", a[0]).items())]),
    "range": Spec(2, 2, _range),
    "add": Spec(2, 2, _arith("add", lambda x, y: x + y)),
    "sub": Spec(2, 2, _arith("sub", lambda x, y: x - y)),
    "mul": Spec(2, 2, _arith("mul", lambda x, y: x * y)),
    "div": Spec(2, 2, _arith("div", lambda x, y: int(x / y))),
    "mod": Spec(2, 2, _arith("mod", lambda x, y: x - y * int(x / y))),
    "min": Spec(1, None, _min_max("min")),
    "max": Spec(1, None, _min_max("max")),
    "true": Spec(0, 0, lambda a, e: True),
    "false": Spec(0, 0, lambda a, e: False),
    "null": Spec(0, 0, lambda a, e: None),
    "tryGet": Spec(2, None, _try_get),
    "copyIndex": Spec(0, 2, _copy_index),
}.items()}


def _obj(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(name, f"the argument must be an Object, not {type_name(value)}.")
    return value


def _interleave(name: str, rtype: Any, names: list[Any]) -> str:
    segments = _text(name, rtype).split("/")
    if len(segments) - 1 != len(names) or not names:
        raise _fail(name, f"the type '{rtype}' needs {len(segments) - 1} name segment(s); {len(names)} given.")
    parts = [segments[0]]
    for seg, n in zip(segments[1:], names):
        parts += [seg, _text(name, n)]
    return "/".join(parts)


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
            raise _fail("if", f"the condition must be a Boolean, not {type_name(cond)}.")
        return evaluate(c.args[1] if cond else c.args[2], env, depth + 1)
    args = [evaluate(a, env, depth + 1) for a in c.args]
    try:
        return spec.impl(args, env)
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, RecursionError, UnicodeError) as err:
        raise _fail(c.name, f"{type(err).__name__}: {str(err)[:120]}.") from None


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
