"""The spec file as data: bytes -> text -> YAML -> plain values with the line of every path.

The boundary every input crosses first, built so that nothing can hang it, exhaust it or be
misread by it:
- a size limit (MAX_SPEC_BYTES), read with a bound; only regular files and pipes are read
  (a directory or a device is refused before it is opened);
- UTF-8 only (a UTF-8 BOM is allowed); UTF-16 and binary input are named as such;
- YAML is read as a stream of events by libyaml (when present) and built here, iteratively:
  anchors and aliases are refused before anything is built (a spec has no use for them, and
  an alias bomb is the cheapest way to exhaust memory), nesting deeper than MAX_DEPTH is refused,
  duplicate keys are errors naming both lines, keys are the text as written.
Every problem is a `Problem` (file, line, fix); nothing here raises anything else.
"""
from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass, field
from typing import Any, Optional

import yaml

from .errors import Problem, SpecError

MAX_SPEC_BYTES = 256 * 1024  # 256 KiB, about 3,000 deployments; validated well under a second (BENCHMARKS.md)
MAX_DEPTH = 32
PIPE_WAIT_S = 10.0
INTERPOLATION_HINT = "in flow style ({...} or [...]) a ${VAR} value must be quoted: \"${VAR}\""

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Document:
    """The spec's values (dicts, lists, scalars), the line of every path, and for every scalar
    the text as written (so `0123` can be named as what YAML made of it)."""

    data: Any
    lines: dict[str, int] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)  # path -> scalar text as written (non-strings only)

    def line(self, path: str) -> Optional[int]:
        """The line of `path`, or of its nearest parent that has one."""
        probe = path
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            cut = max(probe.rfind("."), probe.rfind("["))
            if cut <= 0:
                break
            probe = probe[:cut]
        return self.lines.get(probe) if probe else None


def read_text(path: str) -> str:
    """The spec's text, or SpecError with one line that says what is wrong with the file."""

    def fail(message: str, line: Optional[int] = None) -> SpecError:
        return SpecError([Problem(path, line, "", message)])

    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise fail("no such file; pass the spec with -f FILE (default deployments.yaml)") from None
    except OSError as exc:
        raise fail(f"cannot read the spec: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise fail("is a directory; pass the spec file with -f FILE")
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISFIFO(info.st_mode)):
        raise fail("is not a regular file (a device or socket); pass the spec file with -f FILE")
    if info.st_size > MAX_SPEC_BYTES:
        raise fail(f"is {info.st_size:,} bytes; a spec may be at most {MAX_SPEC_BYTES:,} bytes (256 KiB): split it into several specs")
    try:
        data = _read_pipe(path) if stat.S_ISFIFO(info.st_mode) else _read_file(path)
    except OSError as exc:
        raise fail(f"cannot read the spec: {exc.strerror}") from None
    except TimeoutError:
        raise fail(f"nothing was written to this pipe within {PIPE_WAIT_S:.0f} s; pass the spec file with -f FILE") from None
    if len(data) > MAX_SPEC_BYTES:
        raise too_large(path)
    return decode(data, path)


def too_large(file: str) -> SpecError:
    """A spec past the size limit, whatever read it (a file, a pipe, text handed to parse_spec)."""
    return SpecError([Problem(file, None, "", f"is more than {MAX_SPEC_BYTES:,} bytes (256 KiB), the most a spec may be: split it into several specs")])


def _read_file(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(MAX_SPEC_BYTES + 1)


def _read_pipe(path: str) -> bytes:
    """A pipe (`-f <(generate-spec)`), read until its writer closes it; never waits for ever for a
    writer that does not come."""
    import select

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    chunks, size = [], 0
    try:
        while size <= MAX_SPEC_BYTES:
            ready, _, _ = select.select([fd], [], [], PIPE_WAIT_S)
            if not ready:
                raise TimeoutError
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def decode(data: bytes, file: str) -> str:
    """UTF-8 text (a BOM is dropped); anything else is named."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SpecError([Problem(file, 1, "", "is UTF-16 text; save it as UTF-8")])
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SpecError([Problem(file, line, "", f"is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8")]) from None
    nul = text.find("\0")
    if nul >= 0:
        raise SpecError([Problem(file, text.count("\n", 0, nul) + 1, "", "holds a NUL character: it is not a text file")])
    return text


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Builder:
    """Plain values from YAML events, with no recursion and no aliases."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.doc = Document(None)
        self.problems: list[Problem] = []
        # stack of [container, path, pending key (mappings), {key: line} (mappings)]
        self.stack: list[list[Any]] = []
        self.documents = 0

    def fail(self, line: int, message: str) -> SpecError:
        return SpecError([Problem(self.file, line, "", message)])

    def scalar(self, event: Any) -> Any:
        """A scalar as YAML 1.2's core schema reads it (what editors and the JSON Schema see):
        quoted and block scalars are text; plain ones are null, true/false, a number, or text
        (`yes`, `on`, `2024-02-30`, `1:30` stay text). Only the core tags may be written."""
        line = event.start_mark.line + 1
        tag = event.tag
        if tag in (None, "!") and (event.style or tag == "!"):  # quoted or block ('' or None is plain)
            return event.value
        if tag is None:
            return core_scalar(event.value, line, self.fail)
        name = tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else None
        if name == "str":
            return event.value
        if name in ("int", "float", "bool", "null"):
            value = core_scalar(event.value, line, self.fail)
            wanted: Any = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}[name]
            if not isinstance(value, wanted) or (name != "bool" and isinstance(value, bool)):
                raise self.fail(line, f"{event.value!r} is not a YAML {name} (written !!{name}); remove the tag or fix the value")
            return float(value) if name == "float" else value
        if tag == "tag:yaml.org,2002:merge":
            raise self.fail(line, "merge keys (<<) are not supported: write the fields out")
        raise self.fail(line, f"the tag {tag} is not supported in a spec; remove it")

    def place(self, value: Any, line: int, raw: Optional[str] = None) -> tuple[str, bool]:
        """Put a value into the open container; returns (its path, whether it was a mapping key)."""
        if not self.stack:
            self.doc.data = value
            self.doc.lines[""] = line
            return "", False
        top = self.stack[-1]
        container, path = top[0], top[1]
        if isinstance(container, list):
            sub = f"{path}[{len(container)}]"
            container.append(value)
        elif top[2] is None:  # a key
            if isinstance(value, (dict, list)):
                raise self.fail(line, f"{path or 'the spec'}: a mapping key must be text, not a {'mapping' if isinstance(value, dict) else 'list'}")
            key = raw if raw is not None else str(value)
            first = top[3].get(key)
            if first is not None:
                where = _child(path, key)
                self.problems.append(Problem(self.file, line, where, f"duplicate key (also on line {first}); keep one"))
            top[3].setdefault(key, line)
            top[2] = key
            return _child(path, key), True
        else:
            key = top[2]
            top[2] = None
            sub = _child(path, key)
            if key not in container:  # the first of duplicate keys is the one reported against
                container[key] = value
        self.doc.lines.setdefault(sub, line)
        return sub, False

    def build(self, text: str) -> Document:
        try:
            for event in yaml.parse(text, Loader=_Loader):
                self.event(event)
        except yaml.reader.ReaderError as exc:
            # libyaml reads the UTF-8 bytes: its position is a byte offset
            offset = exc.position if _Loader is yaml.SafeLoader else len(text.encode("utf-8", "surrogatepass")[: exc.position].decode("utf-8", "ignore"))
            line = text.count("\n", 0, offset) + 1
            code = exc.character if isinstance(exc.character, int) else ord(exc.character)
            raise SpecError([Problem(self.file, line, "", f"holds the control character U+{code:04X}, which YAML does not allow; remove it")]) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            message = " ".join(f"not valid YAML: {getattr(exc, 'problem', None) or exc}".split())
            lines = text.splitlines()
            if mark is not None and mark.line < len(lines) and "${" in lines[mark.line]:
                message += f" ({INTERPOLATION_HINT})"
            raise SpecError([Problem(self.file, mark.line + 1 if mark else None, "", message)]) from None
        if self.problems:
            raise SpecError(self.problems)
        return self.doc

    def event(self, event: Any) -> None:
        line = event.start_mark.line + 1 if getattr(event, "start_mark", None) else 1
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise self.fail(line, "holds more than one YAML document (---); a spec is one document")
            return
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise self.fail(line, "anchors and aliases (&name, *name) are not supported in a spec: write the values out, or use `defaults`")
        if isinstance(event, yaml.ScalarEvent):
            if event.value == "<<" and not event.style and event.tag is None and self._expecting_key():
                raise self.fail(line, "merge keys (<<) are not supported: write the fields out")
            value = self.scalar(event)
            raw = event.value if not isinstance(value, str) else None
            path, is_key = self.place(value, line, event.value if self._expecting_key() else None)
            if raw is not None and not is_key:
                self.doc.raw[path] = raw
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(self.stack) >= MAX_DEPTH:
                raise self.fail(line, f"nested more than {MAX_DEPTH} levels deep; a spec needs four")
            if event.tag not in (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
                raise self.fail(line, f"the tag {event.tag} is not supported in a spec; remove it")
            container: Any = {} if isinstance(event, yaml.MappingStartEvent) else []
            path, _ = self.place(container, line)
            self.stack.append([container, path, None, {}])
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            self.stack.pop()

    def _expecting_key(self) -> bool:
        return bool(self.stack) and isinstance(self.stack[-1][0], dict) and self.stack[-1][2] is None


_NULL = re.compile(r"~|null|Null|NULL|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL = {".inf": math.inf, ".Inf": math.inf, ".INF": math.inf, "+.inf": math.inf, "-.inf": -math.inf, "-.Inf": -math.inf,
            ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan}
MAX_NUMBER_DIGITS = 64  # no spec field needs more; Python refuses to print integers of over 4,300 digits


def core_scalar(text: str, line: int, fail: Any) -> Any:
    """A plain scalar by YAML 1.2's core schema."""
    if _NULL.fullmatch(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.fullmatch(text) or _OCT.fullmatch(text) or _HEX.fullmatch(text) or _FLOAT.fullmatch(text):
        if len(text) > MAX_NUMBER_DIGITS:
            raise fail(line, f"a number of {len(text)} characters; quote it if it is text")
        if _INT.fullmatch(text):
            return int(text)
        if _OCT.fullmatch(text) or _HEX.fullmatch(text):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return float(text)
    if text in _SPECIAL:
        return _SPECIAL[text]
    return text


def load_document(text: str, file: str) -> Document:
    """YAML text -> Document, or SpecError naming the line."""
    return _Builder(file).build(text)
