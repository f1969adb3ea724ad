"""ARM template language expressions: tokenizer, parser and evaluator (no eval()).

An expression is a template string that starts with '[' and ends with ']' ("[[" escapes a
literal '['). Its grammar, as ARM reads it:

    expr    := primary ( '.' NAME | '[' expr ']' )*
    primary := STRING | INTEGER | NAME '(' [ expr ( ',' expr )* ] ')'

Strings are single-quoted with '' for a quote. Function names are case-insensitive.

A hostile template cannot hang or exhaust the emulator: an expression is at most
MAX_EXPRESSION characters and MAX_DEPTH levels deep, and every evaluation draws on a Budget
(each call costs one unit plus the size of what it returns), so the total work is bounded.
Every failure is a TemplateError with ARM's message style, never another exception.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

MAX_EXPRESSION = 24_576  # ARM's own limit on one expression's length
MAX_DEPTH = 64
MAX_VALUE = 262_144  # the size (characters and nodes) of any single value
MAX_WORK = 4_000_000  # units one template's evaluation may spend


class TemplateError(Exception):
    """A template the emulator refuses, rendered as ARM's InvalidTemplate (or, with code, another)."""

    def __init__(self, message: str, path: str = "", code: str = "InvalidTemplate") -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.code = code

    def at(self, path: str) -> "TemplateError":
        """The same error, located at a template path (the innermost location wins)."""
        if not self.path:
            self.path = path
        return self


class Deferred(Exception):
    """Raised by reference()/listKeys() when the value exists only once resources are deployed
    (validate and what-if): the caller keeps the expression's text instead of a value."""


# --- syntax tree -------------------------------------------------------------------------

@dataclass(frozen=True)
class Lit:
    value: Union[str, int]


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple["Node", ...]


@dataclass(frozen=True)
class Prop:
    target: "Node"
    name: str


@dataclass(frozen=True)
class Index:
    target: "Node"
    index: "Node"


Node = Union[Lit, Call, Prop, Index]

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<int>-?\d+)|(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)|(?P<punct>[(),.\[\]]))")


def is_expression(text: str) -> bool:
    return len(text) >= 2 and text[0] == "[" and text[-1] == "]" and not text.startswith("[[")


def literal_text(text: str) -> str:
    """A template string that is not an expression, as its value ('[[' stands for '[')."""
    return text[1:] if text.startswith("[[") else text


def _tokens(source: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        m = _TOKEN.match(source, pos)
        if m is None or m.end() == pos:
            raise TemplateError(f"The template language expression '{source}' is not valid: unexpected character at position {pos + 1}.")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.toks = _tokens(source)
        self.i = 0

    def fail(self, what: str) -> TemplateError:
        where = self.toks[self.i][2] + 1 if self.i < len(self.toks) else len(self.source) + 1
        return TemplateError(f"The template language expression '{self.source}' is not valid: {what} at position {where}.")

    def peek(self) -> Optional[str]:
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def take(self, text: str) -> None:
        if self.peek() != text:
            raise self.fail(f"expected '{text}'")
        self.i += 1

    def expr(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH} levels")
        node = self.primary(depth)
        while self.peek() in (".", "["):
            if self.peek() == ".":
                self.i += 1
                if self.i >= len(self.toks) or self.toks[self.i][0] != "name":
                    raise self.fail("expected a property name after '.'")
                node = Prop(node, self.toks[self.i][1])
                self.i += 1
            else:
                self.i += 1
                node = Index(node, self.expr(depth + 1))
                self.take("]")
        return node

    def primary(self, depth: int) -> Node:
        if self.i >= len(self.toks):
            raise self.fail("unexpected end of expression")
        kind, text, _ = self.toks[self.i]
        self.i += 1
        if kind == "str":
            return Lit(text[1:-1].replace("''", "'"))
        if kind == "int":
            return Lit(int(text))
        if kind != "name":
            self.i -= 1
            raise self.fail(f"unexpected '{text}'")
        name = text
        # user-defined functions are called as namespace.name(...)
        if self.peek() == "." and self.i + 2 < len(self.toks) and self.toks[self.i + 1][0] == "name" and self.toks[self.i + 2][1] == "(":
            name = f"{text}.{self.toks[self.i + 1][1]}"
            self.i += 2
        if self.peek() != "(":
            raise self.fail(f"'{name}' must be called as a function")
        self.i += 1
        args: list[Node] = []
        if self.peek() != ")":
            args.append(self.expr(depth + 1))
            while self.peek() == ",":
                self.i += 1
                args.append(self.expr(depth + 1))
        self.take(")")
        return Call(name, tuple(args))


def parse(text: str) -> Node:
    """The syntax tree of an expression string ("[...]"); TemplateError if it is not one ARM reads."""
    if len(text) > MAX_EXPRESSION:
        raise TemplateError(f"The template language expression is {len(text)} characters long; the limit is {MAX_EXPRESSION}.")
    if not is_expression(text):
        raise TemplateError(f"'{text[:80]}' is not a template language expression (it must start with '[' and end with ']').")
    source = text[1:-1]
    parser = _Parser(source)
    if not parser.toks:
        raise TemplateError(f"The template language expression '{source}' is empty.")
    node = parser.expr(0)
    if parser.i != len(parser.toks):
        raise parser.fail(f"unexpected '{parser.toks[parser.i][1]}'")
    return node


def render(node: Node) -> str:
    """The expression text of a syntax tree (without the brackets); parse(f"[{render(n)}]") == n."""
    if isinstance(node, Lit):
        return str(node.value) if isinstance(node.value, int) else "'" + node.value.replace("'", "''") + "'"
    if isinstance(node, Call):
        return f"{node.name}({', '.join(render(a) for a in node.args)})"
    if isinstance(node, Prop):
        return f"{render(node.target)}.{node.name}"
    return f"{render(node.target)}[{render(node.index)}]"


def calls(node: Node) -> list[Call]:
    """Every function call in a tree (for static checks: unknown functions, arity)."""
    if isinstance(node, Lit):
        return []
    if isinstance(node, Call):
        return [node] + [c for a in node.args for c in calls(a)]
    if isinstance(node, Prop):
        return calls(node.target)
    return calls(node.target) + calls(node.index)


# --- evaluation ----------------------------------------------------------------------------

@dataclass
class Budget:
    """Work left for one template's evaluation (see the module docstring)."""

    left: int = MAX_WORK

    def spend(self, units: int) -> None:
        self.left -= units
        if self.left < 0:
            raise TemplateError("The template is too expensive to evaluate (the emulator bounds the work one deployment may take).")


def size(value: Any, budget: Budget, limit: int = MAX_VALUE) -> int:
    """A value's size in nodes plus string characters, counted up to the limit (shared sub-values
    count every time they appear, so a value built by doubling is measured as it would print)."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        total += 1 + (len(item) if isinstance(item, str) else 0)
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            total += sum(len(k) for k in item)
            stack.extend(item.values())
        if total > limit:
            raise TemplateError(f"A template expression produced a value larger than the emulator's limit ({limit} characters and items).")
    budget.spend(total // 64 + 1)
    return total


@dataclass
class Env:
    """What an expression can see. reference/list_keys answer through the deployment (or raise Deferred)."""

    parameters: Callable[[str], Any]
    variables: Callable[[str], Any]
    resource_group: dict[str, Any]
    subscription: dict[str, Any]
    deployment: dict[str, Any]
    reference: Callable[[str, Optional[str], bool], Any]
    list_keys: Callable[[str, Optional[str]], Any]
    resource_id: Callable[[list[Any]], str]
    subscription_resource_id: Callable[[list[Any]], str]
    copy_index: Callable[[Optional[str]], int] = field(default=lambda loop: _no_copy(loop))
    budget: Budget = field(default_factory=Budget)


def _no_copy(loop: Optional[str]) -> int:
    raise TemplateError("The template function 'copyIndex' is not expected at this location: it is only valid inside a 'copy' loop.")


def member(value: Any, name: str) -> Any:
    """value.name: JSON property access, case-insensitive as ARM's."""
    if not isinstance(value, dict):
        raise TemplateError(f"The language expression property '{name}' can't be evaluated: the value is of type '{type_name(value)}', not 'Object'.")
    if name in value:
        return value[name]
    for key, v in value.items():
        if key.lower() == name.lower():
            return v
    raise TemplateError(f"The language expression property '{name}' doesn't exist, available properties are '{', '.join(value)}'.")


def item(value: Any, index: Any) -> Any:
    if isinstance(value, list) and isinstance(index, int) and not isinstance(index, bool):
        if not 0 <= index < len(value):
            raise TemplateError(f"The language expression index '{index}' is out of bounds (the array has {len(value)} items).")
        return value[index]
    if isinstance(value, dict) and isinstance(index, str):
        return member(value, index)
    raise TemplateError(f"The language expression can't index a '{type_name(value)}' with a '{type_name(index)}'.")


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    if value is None:
        return "Null"
    return "Float" if isinstance(value, float) else type(value).__name__


# --- JSON as ARM reads it ------------------------------------------------------------------

_JSON_TOKEN = re.compile(r'''"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|//[^\n]*|/\*.*?\*/|[A-Za-z_$][A-Za-z0-9_$]*(?=\s*:)|,(?=\s*(?:(?://[^\n]*|/\*.*?\*/)\s*)*[}\]])''', re.DOTALL)


def read_json(text: str) -> Any:
    """A request body or template as ARM's lenient reader takes it: comments, unquoted property
    names (the az CLI sends `template:` so), single-quoted strings and trailing commas."""
    import json

    def strict(m: re.Match[str]) -> str:
        token = m.group(0)
        if token.startswith('"'):
            return token
        if token.startswith("'"):
            return json.dumps(token[1:-1].replace("\\'", "'"))
        if token.startswith("/") or token == ",":
            return ""
        return json.dumps(token)

    try:
        return json.loads(_JSON_TOKEN.sub(strict, text))
    except (ValueError, RecursionError) as err:
        raise TemplateError(f"the JSON is not valid ({str(err)[:120]})") from None
