"""The implementations of the template functions that need no deployment: strings, arrays and
objects, logic, numbers and conversions (template_funcs.FUNCTIONS names them, with their arity).

Each takes the evaluated arguments and the Env, and raises TemplateError (through fail()) with
ARM's wording when an argument is not what the function takes.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from typing import Any, Callable

from .template_expr import Env, TemplateError, item, type_name

Impl = Callable[[list[Any], Env], Any]
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")  # the namespace ARM's guid() hashes under
MAX_RANGE = 10_000  # ARM's own cap on a copy loop's count


def fail(name: str, why: str) -> TemplateError:
    return TemplateError(f"Unable to evaluate template language function '{name}': {why}")


def as_text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise fail(name, f"the argument must be a String, not {type_name(value)}.")
    return value


def as_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(name, f"the argument must be an Integer, not {type_name(value)}.")
    return value


def checked(name: str, value: int) -> int:
    if not INT_MIN <= value <= INT_MAX:
        raise fail(name, "the result does not fit a 64-bit integer.")
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


def format_text(args: list[Any], env: Env) -> str:
    """.NET composite formatting, as ARM's format() does ({0}, {1,-8}, '{{' and '}}')."""
    template = as_text("format", args[0])
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
            raise fail("format", f"the format string '{template}' has an unmatched '{token}'.")
        else:
            index = int(m.group(1))
            if index >= len(values):
                raise fail("format", f"the format item {{{index}}} has no argument ({len(values)} given).")
            if m.group(3):
                raise fail("format", f"the format specifier ':{m.group(3)}' is not evaluated by the local Azure emulator.")
            piece = stringify(values[index])
            width = int(m.group(2) or 0)
            piece = piece.ljust(-width) if width < 0 else piece.rjust(min(width, 10_000))
        length += len(piece)
        if length > 262_144:
            raise fail("format", "the result is larger than the emulator's limit.")
        out.append(piece)
    out.append(template[pos:])
    return "".join(out)


def replace_text(args: list[Any], env: Env) -> str:
    text, old, new = (as_text("replace", a) for a in args)
    if old == "":
        raise fail("replace", "the string to replace must not be empty.")
    if len(text) + text.count(old) * max(0, len(new) - len(old)) > 262_144:
        raise fail("replace", "the result is larger than the emulator's limit.")
    return text.replace(old, new)


def concat(args: list[Any], env: Env) -> Any:
    if isinstance(args[0], list):
        out: list[Any] = []
        for a in args:
            if not isinstance(a, list):
                raise fail("concat", f"all arguments must be arrays when the first is, not {type_name(a)}.")
            out.extend(a)
        return out
    parts = []
    for a in args:
        if isinstance(a, (list, dict)):
            raise fail("concat", f"the arguments must all be strings or all be arrays, not {type_name(a)}.")
        parts.append(stringify(a))
    if sum(len(p) for p in parts) > 262_144:
        raise fail("concat", "the result is larger than the emulator's limit.")
    return "".join(parts)


def split_text(args: list[Any], env: Env) -> list[str]:
    text = as_text("split", args[0])
    delims = args[1] if isinstance(args[1], list) else [args[1]]
    seps = [as_text("split", d) for d in delims]
    if any(s == "" for s in seps):
        raise fail("split", "the delimiter must not be empty.")
    return re.split("|".join(re.escape(s) for s in seps), text)


def substring(args: list[Any], env: Env) -> str:
    text = as_text("substring", args[0])
    start = as_int("substring", args[1])
    length = as_int("substring", args[2]) if len(args) > 2 else len(text) - start
    if start < 0 or length < 0 or start + length > len(text):
        raise fail("substring", f"the index and length must refer to a location within the string (start {start}, length {length}, string length {len(text)}).")
    return text[start : start + length]


def ci_index(args: list[Any], last: bool) -> int:
    name = "lastIndexOf" if last else "indexOf"
    text, find = as_text(name, args[0]).lower(), as_text(name, args[1]).lower()
    return text.rfind(find) if last else text.find(find)


def unique_string(args: list[Any], env: Env) -> str:
    # Deterministic and 13 characters of [a-z2-7], as Azure's; not Azure's exact hash (docs/emulator.md).
    joined = "-".join(as_text("uniqueString", a) for a in args)
    digest = hashlib.sha256(joined.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:13]


def guid(args: list[Any], env: Env) -> str:
    return str(uuid.uuid5(GUID_NAMESPACE, "-".join(as_text("guid", a) for a in args)))


# --- collections and logic ---------------------------------------------------------------

def length(args: list[Any], env: Env) -> int:
    if isinstance(args[0], (str, list, dict)):
        return len(args[0])
    raise fail("length", f"the argument must be a String, an Array or an Object, not {type_name(args[0])}.")


def empty(args: list[Any], env: Env) -> bool:
    value = args[0]
    return value is None or (isinstance(value, (str, list, dict)) and len(value) == 0)


def first_or_last(args: list[Any], last: bool) -> Any:
    value = args[0]
    if isinstance(value, (str, list)):
        if not value:
            return "" if isinstance(value, str) else None
        return value[-1] if last else value[0]
    raise fail("last" if last else "first", f"the argument must be a String or an Array, not {type_name(value)}.")


def contains(args: list[Any], env: Env) -> bool:
    container, wanted = args
    if isinstance(container, str):
        return stringify(wanted) in container
    if isinstance(container, list):
        return any(equal(x, wanted) for x in container)
    if isinstance(container, dict):
        key = as_text("contains", wanted).lower()
        return any(k.lower() == key for k in container)
    raise fail("contains", f"the first argument must be a String, an Array or an Object, not {type_name(container)}.")


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


def union(args: list[Any], env: Env) -> Any:
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
    raise fail("union", "the arguments must all be objects or all be arrays.")


def to_int(args: list[Any], env: Env) -> int:
    value = args[0]
    if isinstance(value, bool):
        raise fail("int", "a Boolean cannot be converted to an Integer.")
    if isinstance(value, int):
        return value
    text = as_text("int", value).strip()
    if not re.fullmatch(r"[+-]?\d{1,19}", text):
        raise fail("int", f"'{text[:40]}' is not an integer.")
    return checked("int", int(text))


def to_bool(args: list[Any], env: Env) -> bool:
    value = args[0]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    text = as_text("bool", value).strip().lower()
    if text not in ("true", "false"):
        raise fail("bool", f"'{text[:40]}' is not 'true' or 'false'.")
    return text == "true"


def parse_json(args: list[Any], env: Env) -> Any:
    text = as_text("json", args[0])
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as err:
        raise fail("json", f"the argument is not valid JSON ({str(err)[:80]}).") from None


def create_object(args: list[Any], env: Env) -> dict[str, Any]:
    if len(args) % 2:
        raise fail("createObject", "the arguments must be pairs of a key and a value.")
    return {as_text("createObject", args[i]): args[i + 1] for i in range(0, len(args), 2)}


def arith(name: str, op: Callable[[int, int], int]) -> Impl:
    def impl(args: list[Any], env: Env) -> int:
        a, b = as_int(name, args[0]), as_int(name, args[1])
        if name in ("div", "mod") and b == 0:
            raise fail(name, "division by zero.")
        return checked(name, op(a, b))

    return impl


def compare(name: str, op: Callable[[Any, Any], bool]) -> Impl:
    def impl(args: list[Any], env: Env) -> bool:
        a, b = args
        if isinstance(a, str) and isinstance(b, str) or (type(a) is int and type(b) is int):
            return op(a, b)
        raise fail(name, "the arguments must both be integers or both be strings.")

    return impl


def take_skip(name: str) -> Impl:
    def impl(args: list[Any], env: Env) -> Any:
        value, n = args[0], max(0, as_int(name, args[1]))
        if not isinstance(value, (str, list)):
            raise fail(name, f"the first argument must be a String or an Array, not {type_name(value)}.")
        return value[:n] if name == "take" else value[n:]

    return impl


def int_range(args: list[Any], env: Env) -> list[int]:
    start, count = as_int("range", args[0]), as_int("range", args[1])
    if not 0 <= count <= MAX_RANGE:
        raise fail("range", f"the count must be between 0 and {MAX_RANGE}.")
    return list(range(start, start + count))


def try_get(args: list[Any], env: Env) -> Any:
    value = args[0]
    for key in args[1:]:
        try:
            value = item(value, key)
        except TemplateError:
            return None
    return value


def logic(name: str, want: bool) -> Impl:
    def impl(args: list[Any], env: Env) -> bool:
        for a in args:
            if not isinstance(a, bool):
                raise fail(name, f"the arguments must be Booleans, not {type_name(a)}.")
        return all(args) if want else any(args)

    return impl


def negate(args: list[Any], env: Env) -> bool:
    if not isinstance(args[0], bool):
        raise fail("not", f"the argument must be a Boolean, not {type_name(args[0])}.")
    return not args[0]


def b64(args: list[Any], env: Env) -> str:
    return base64.b64encode(as_text("base64", args[0]).encode("utf-8")).decode("ascii")


def b64_to_string(args: list[Any], env: Env) -> str:
    try:
        return base64.b64decode(as_text("base64ToString", args[0]), validate=True).decode("utf-8")
    except ValueError:
        raise fail("base64ToString", "the argument is not base64-encoded UTF-8 text.") from None


def pad_left(args: list[Any], env: Env) -> str:
    text, width = stringify(args[0]), as_int("padLeft", args[1])
    pad = as_text("padLeft", args[2]) if len(args) > 2 else " "
    if len(pad) != 1 or width > 262_144:
        raise fail("padLeft", "the padding must be one character and the width at most the emulator's limit.")
    return text.rjust(width, pad)


def min_max(name: str) -> Impl:
    def impl(args: list[Any], env: Env) -> int:
        values = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        if not values:
            raise fail(name, "there are no values.")
        ints = [as_int(name, v) for v in values]
        return min(ints) if name == "min" else max(ints)

    return impl


def as_object(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise fail(name, f"the argument must be an Object, not {type_name(value)}.")
    return value


def interleave_names(name: str, rtype: Any, names: list[Any]) -> str:
    segments = as_text(name, rtype).split("/")
    if len(segments) - 1 != len(names) or not names:
        raise fail(name, f"the type '{rtype}' needs {len(segments) - 1} name segment(s); {len(names)} given.")
    parts = [segments[0]]
    for seg, n in zip(segments[1:], names):
        parts += [seg, as_text(name, n)]
    return "/".join(parts)
