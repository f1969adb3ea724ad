"""Plain data from a YAML world file, read from its events: bounded depth, no anchors or
aliases (an alias bomb of a few hundred bytes would otherwise expand to gigabytes), no
duplicate keys, and the line of every path for error messages."""
from __future__ import annotations

from typing import Any, Optional

import yaml

MAX_DEPTH = 20  # a world nests 8 levels deep
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PLAIN_TAGS = (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class WorldError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems



class Reader:
    """Plain data from YAML events (no recursion, no anchors or aliases, bounded depth), with the
    line of every path (`a.b[0].c`) and a problem for every duplicate key."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[str, int] = {}
        self.problems: list[tuple[int, str]] = []
        self.stack: list[list[Any]] = []  # [container, path, pending key, {key: line}]
        self.root: Any = None
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()

    def fail(self, line: int, message: str) -> WorldError:
        return WorldError([f"{self.source}:{line}: {message}"])

    def read(self, text: str) -> Any:
        try:
            documents = 0
            for event in yaml.parse(text, Loader=_Loader):
                line = event.start_mark.line + 1 if event.start_mark else 1
                if isinstance(event, yaml.DocumentStartEvent):
                    documents += 1
                    if documents > 1:
                        raise self.fail(line, "holds more than one YAML document (---); a world is one document")
                elif isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                    raise self.fail(line, "anchors and aliases (&name, *name) are not allowed in a world file: write the values out")
                elif isinstance(event, yaml.ScalarEvent):
                    self.place(self.scalar(event, line), line, event.value)
                elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                    if len(self.stack) >= MAX_DEPTH:
                        raise self.fail(line, f"nested more than {MAX_DEPTH} levels deep; a world needs 8")
                    if event.tag not in _PLAIN_TAGS:
                        raise self.fail(line, f"the tag {event.tag} is not allowed in a world file; remove it")
                    container: Any = {} if isinstance(event, yaml.MappingStartEvent) else []
                    path = self.place(container, line, None)
                    self.stack.append([container, path, None, {}])
                elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                    self.stack.pop()
        except yaml.reader.ReaderError as exc:
            code = exc.character if isinstance(exc.character, int) else ord(exc.character)
            line = text.count("\n", 0, exc.position) + 1
            raise self.fail(line, f"holds the control character U+{code:04X}, which YAML does not allow; remove it") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{self.source}:{mark.line + 1}" if mark else self.source
            problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
            raise WorldError([f"{where}: not valid YAML: {problem}"]) from None
        return self.root

    def scalar(self, event: Any, line: int) -> Any:
        if (event.style and event.tag is None) or event.tag == "!":  # untagged quoted or block scalars are text
            return event.value
        tag = event.tag or self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
        if tag == "tag:yaml.org,2002:merge":
            raise self.fail(line, "merge keys (<<) are not allowed in a world file: write the fields out")
        try:
            return self.constructor.construct_object(yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark))
        except yaml.YAMLError as exc:
            raise self.fail(line, f"cannot read this value: {getattr(exc, 'problem', None) or exc}") from None

    def place(self, value: Any, line: int, raw: Optional[str]) -> str:
        """Put a value into the open container; returns its path."""
        if not self.stack:
            self.root = value
            self.lines[""] = line
            return ""
        top = self.stack[-1]
        container, path = top[0], top[1]
        if isinstance(container, list):
            sub = f"{path}[{len(container)}]"
            container.append(value)
        elif top[2] is None:  # a key
            if isinstance(value, (dict, list)):
                raise self.fail(line, f"{path or '(top)'}: a mapping key must be a plain value, not a {'mapping' if isinstance(value, dict) else 'list'}")
            sub = f"{path}.{raw}" if path else str(raw)
            if value in top[3]:
                self.problems.append((line, f"{self.source}:{line}: {sub}: duplicate key (also on line {top[3][value]}); keep one"))
            else:
                top[3][value] = line
            top[2] = (value, sub)
            self.lines.setdefault(sub, line)
            return sub
        else:
            key, sub = top[2]
            top[2] = None
            container.setdefault(key, value)  # the first of duplicate keys counts
        self.lines.setdefault(sub, line)
        return sub
