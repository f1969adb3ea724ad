"""The secrets sink: the target URL and key of every deployment, in a dotenv or JSON file.

One writer at a time: every read-merge-write holds an exclusive lock (flock on `.<name>.lock`
beside the file), waited for at most LOCK_WAIT seconds. Written atomically (an unnamed 0600
file in the same directory, fsync, rename), so a killed run leaves the previous file and no copy;
the next writer removes any named temporary a kill left behind. Merged with the entries of other
deployments and any unrelated lines, which are kept as they were (`export` and comments too).

The place is checked before anything is read: the file stays inside the spec's directory, and
neither it nor a directory below the spec's is a symbolic link or anything but a regular file
and real directories (opened with O_NOFOLLOW, one directory at a time). A secrets directory is
0700 (never the spec's own); one provision creates also gets a `.gitignore` of `*`. An existing
file is written only if it is a secrets file of the declared format, and is then provision's: 0600.

Dotenv values are written so that bash `source`, python-dotenv and this module read back exactly
what was written; a value they would not all read back is refused, never written. Under GitHub
Actions every key is masked (`::add-mask::` on the stream given, stderr: stdout may be JSON) and
every URL goes to $GITHUB_OUTPUT.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import secrets as random
import stat
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Optional, TextIO

from .errors import Problem, ProvisionError, SpecError
from .secret import Secret
from .spec import SecretsSink, Spec

LOCK_WAIT = 120.0  # seconds a run waits for another to finish with the file (a rotation holds it through its grace)
GITIGNORE = "# Created by provision: this directory holds keys, so git ignores all of it.\n*\n"


@dataclass(frozen=True)
class SecretEntry:
    deployment: str
    url_var: str
    url: str
    key_var: str
    key: Secret
    openai_url_var: Optional[str] = None  # the OpenAI-compatible base URL, for OpenAI SDK clients
    openai_base: Optional[str] = None  # that URL when it is not {url}/v1 (a Foundry resource's /openai/v1)
    model_var: Optional[str] = None  # Foundry: the variable for the deployment name clients pass as `model`
    model: str = ""

    @property
    def openai_url(self) -> str:
        return self.openai_base or self.url.rstrip("/") + "/v1"

    def values(self) -> dict[str, str]:
        """Every variable of the entry and its value (the key revealed: only for the writer)."""
        values = {self.url_var: self.url, self.key_var: self.key.reveal()}
        if self.openai_url_var:
            values[self.openai_url_var] = self.openai_url
        if self.model_var:
            values[self.model_var] = self.model
        return values


def spec_directory(spec: Spec) -> str:
    """Where the secrets file must stay: the spec's directory, or an override's own directory."""
    return spec.secrets.root or os.path.dirname(os.path.abspath(spec.file))


# --- dotenv: one reader, one writer -------------------------------------------------------------
ASSIGNMENT = re.compile(r"[ \t]*(?:export[ \t]+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*")
DECLARATION = re.compile(r"[ \t]*(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_]*[ \t]*(?:[ \t]#.*)?\r?")  # `export NAME`: no value
PLAIN = re.compile(r"[A-Za-z0-9_./:@+,-]*")  # needs no quotes anywhere
INTERPOLATED = re.compile(r"\$\{[^}:]*(?::-[^}]*)?\}")  # python-dotenv expands it, quoted or not
DOUBLE_QUOTE_SPECIAL = re.compile(r'["\\$`]')  # bash reads these inside "…"
SINGLE_QUOTE_TROUBLE = re.compile(r"'|\\(?:\\|\Z)")  # python-dotenv reads \\ and \' inside '…', and a final \ escapes the quote


@dataclass(frozen=True)
class _Assignment:
    start: int  # the logical line (a quoted value may span lines), without its newline
    end: int
    lead: str  # indentation and `export `
    name: str
    value: str
    comment: str  # what follows the value on its last line: whitespace and `# …`, or ""


def _not_dotenv(path: str, line: int, why: str) -> SpecError:
    return SpecError([Problem(path, line, "", f"{why}, so this is not a dotenv file; fix the line, or point `secrets.path` at a file of its own "
                                              "(provision writes only into a secrets file of the declared format)")])


def _quoted_word(text: str, i: int, path: str, line: int) -> tuple[str, int]:
    """A bash word of quoted and bare parts from text[i] on, which may span lines."""
    out = []
    while i < len(text) and text[i] not in " \t\n":
        c = text[i]
        if c == "'":
            close = text.find("'", i + 1)
            if close < 0:
                raise _not_dotenv(path, line, "a single quote is never closed")
            out.append(text[i + 1:close])
            i = close + 1
        elif c == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in '"\\$`\n':
                    i += 1
                    out.append("" if text[i] == "\n" else text[i])
                else:
                    out.append(text[i])
                i += 1
            if i >= len(text):
                raise _not_dotenv(path, line, "a double quote is never closed")
            i += 1
        elif c == "\\" and i + 1 < len(text):
            out.append("" if text[i + 1] == "\n" else text[i + 1])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out), i


def _parse_dotenv(text: str, path: str) -> list[_Assignment]:
    """Every assignment; blank lines and comments are the only other lines a dotenv file has."""
    found, pos, line = [], 0, 1
    while pos < len(text):
        eol = text.find("\n", pos)
        eol = len(text) if eol < 0 else eol
        physical = text[pos:eol]
        if physical.strip() and not physical.lstrip().startswith("#") and not DECLARATION.fullmatch(physical):
            m = ASSIGNMENT.match(text, pos, eol)
            if not m:
                raise _not_dotenv(path, line, "is not a NAME=value line")
            i = m.end()
            if i < len(text) and text[i] in "'\"":
                value, end = _quoted_word(text, i, path, line)
                eol = text.find("\n", end)
                eol = len(text) if eol < 0 else eol
                comment = text[end:eol]
                if comment.strip() and not re.fullmatch(r"[ \t]+#.*", comment):
                    raise _not_dotenv(path, line, "has more after its quoted value than a comment")
            elif i < len(text) and text[i] == "#" and text[i - 1] in " \t":  # `NAME= # comment`: empty, as python-dotenv reads it
                value, comment = "", text[i - 1:eol]
            else:  # unquoted: the rest of the line up to a ` #` comment, as python-dotenv reads it
                cut = re.search(r"[ \t]#", text[i:eol])
                raw = text[i:i + cut.start()] if cut else text[i:eol]
                value, comment = raw.rstrip(), text[i + len(raw.rstrip()):eol]
            found.append(_Assignment(pos, eol, text[pos:m.start("name")], m.group("name"), value, comment if comment.strip() else ""))
        line += text.count("\n", pos, eol) + 1
        pos = eol + 1
    return found


def dotenv_value(name: str, value: str) -> str:
    """`value` as bash, python-dotenv and this reader all read it back; refused if it cannot be."""
    why = ""
    if "\0" in value or "\r" in value:
        why = "holds a NUL character" if "\0" in value else "holds a carriage return"
    elif INTERPOLATED.search(value):
        why = "holds ${…}, which python-dotenv expands"
    elif SINGLE_QUOTE_TROUBLE.search(value) and DOUBLE_QUOTE_SPECIAL.search(value):
        why = "holds a single quote (or a backslash before a backslash or at its end) and one of \" \\ $ `"
    else:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            why = "is not valid Unicode text"
    if why:
        raise ProvisionError(f"{name}: its value {why}, so bash, python-dotenv and provision would not all read it back as written; "
                             "nothing was written. Use `secrets.format: json`")
    if PLAIN.fullmatch(value):
        return value
    return f"'{value}'" if not SINGLE_QUOTE_TROUBLE.search(value) else f'"{value}"'


def _merge_dotenv(text: str, values: Mapping[str, Optional[str]], path: str) -> str:
    """Replace our variables where they are (keeping `export` and a comment), drop the ones mapped
    to None and any repeat, append the new ones; every other byte stays."""
    out, seen, pos = [], set(), 0
    for a in _parse_dotenv(text, path):
        if a.name not in values:
            continue
        out.append(text[pos:a.start])
        value = values[a.name]
        if a.name in seen or value is None:
            pos = a.end + 1 if text[a.end:a.end + 1] == "\n" else a.end
            continue
        seen.add(a.name)
        out.append(f"{a.lead}{a.name}={dotenv_value(a.name, value)}{a.comment}")
        pos = a.end
    merged = "".join(out) + text[pos:]
    new = "".join(f"{name}={dotenv_value(name, value)}\n" for name, value in values.items() if name not in seen and value is not None)
    if new and merged and not merged.endswith("\n"):
        merged += "\n"
    return merged + new


def _parse_json(text: str, path: str) -> dict[str, object]:
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError([Problem(path, exc.lineno, "", "is not valid JSON; fix it or remove the file (provision rewrites its own entries)")]) from None
    if not isinstance(data, dict):
        raise SpecError([Problem(path, 1, "", "must be a JSON object of NAME: value; fix it or remove the file")])
    return data


def _merge_json(text: str, values: Mapping[str, Optional[str]], path: str) -> str:
    data = _parse_json(text, path)
    for name, value in values.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def parse_secrets(text: str, fmt: str, path: str) -> dict[str, str]:
    if fmt == "json":
        return {str(k): str(v) for k, v in _parse_json(text, path).items()}
    return {a.name: a.value for a in _parse_dotenv(text, path)}  # a repeated name: the last, as bash and python-dotenv read it


def merge_secrets(text: str, fmt: str, values: Mapping[str, Optional[str]], path: str) -> str:
    return _merge_json(text, values, path) if fmt == "json" else _merge_dotenv(text, values, path)


# --- the place: confined, no links, real directories -------------------------------------------
@dataclass(frozen=True)
class _Place:
    path: str  # as the spec gave it, for messages
    base: str  # opened as it is (symbolic links above it are the user's business)
    parts: tuple[str, ...]  # the directories from base down to the file's, each opened without following a link
    name: str
    spec_dir: bool  # the file's directory is the spec's own directory (or an unknown one): never chmod-ed


def _place(sink: SecretsSink, root: Optional[str]) -> _Place:
    root = root if root is not None else sink.root  # so the readers that pass no root (probe, audit) check the same
    path = os.path.abspath(sink.path)
    directory, name = os.path.split(path)
    inside = root is not None and os.path.commonpath([os.path.abspath(root), path]) == os.path.abspath(root) and path != os.path.abspath(root)
    if root is not None and not inside:
        raise SpecError([Problem(sink.path, None, "", f"the secrets file is outside the spec's directory ({os.path.abspath(root)}), where provision "
                                                      "keeps it so that a spec cannot write keys into any file: make `secrets.path` a relative path "
                                                      "inside it, such as .secrets/deployments.env")])
    below = inside and directory != os.path.abspath(str(root))
    base = os.path.abspath(str(root)) if below else os.path.dirname(directory)
    parts = tuple(p for p in os.path.relpath(directory, base).split(os.sep) if p != ".")
    return _Place(sink.path, base, parts, name, spec_dir=not below)


def _refuse(place: _Place, what: str) -> SpecError:
    return SpecError([Problem(place.path, None, "", what)])


def _open_directory(place: _Place, create: bool) -> Optional[int]:
    """The file's directory, opened without following a link at any level below base; None when
    it does not exist and create is False. A directory made here is 0700 and ignored by git."""
    try:
        fd = os.open(place.base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        if not create:
            return None
        os.makedirs(place.base, mode=0o700, exist_ok=True)
        fd = os.open(place.base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    made = False
    try:
        for part in place.parts:
            made = False
            if create:
                try:
                    os.mkdir(part, 0o700, dir_fd=fd)
                    made = True
                except FileExistsError:
                    pass
            try:
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            except FileNotFoundError:
                os.close(fd)
                return None
            except OSError as exc:
                if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                    raise
                if stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                    raise _refuse(place, f"{part}, a directory of the secrets file's path, is a symbolic link: provision never reads or writes "
                                         "through a link, which could point anywhere; make it a real directory, or point `secrets.path` elsewhere") from None
                raise _refuse(place, f"{part} is not a directory, so the secrets file cannot be written there; remove it or point "
                                     "`secrets.path` elsewhere") from None
            os.close(fd)
            fd = child
        if made:
            _write_new(fd, ".gitignore", GITIGNORE)
        if create and not place.spec_dir:
            _tighten(fd)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _write_new(dir_fd: int, name: str, text: str) -> None:
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _tighten(dir_fd: int) -> None:
    """A secrets directory is its owner's alone (another user's directory cannot be chmod-ed: left)."""
    info = os.fstat(dir_fd)
    if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.geteuid():
        os.fchmod(dir_fd, 0o700)


LINK = ("the secrets file is a symbolic link: provision never reads or writes through a link, which could point anywhere; remove the link "
        "(provision then creates the file), or point `secrets.path` at a regular file")
NOT_REGULAR = "the secrets file is not a regular file (a device, FIFO or socket); remove it, or point `secrets.path` at a regular file"


def _exists(place: _Place, dir_fd: int) -> bool:
    """Whether the file exists; a link, a device, a FIFO or a socket there is refused (never opened)."""
    try:
        kind = stat.S_IFMT(os.stat(place.name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False
    if kind == stat.S_IFLNK:
        raise _refuse(place, LINK)
    if kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise _refuse(place, NOT_REGULAR)
    return True


def _read_text(place: _Place, dir_fd: int) -> Optional[str]:
    """The file's text, or None when absent; a link or anything but a regular file is refused unopened."""
    if not _exists(place, dir_fd):
        return None
    try:
        fd = os.open(place.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # it became a link since
            raise _refuse(place, LINK) from None
        if exc.errno == errno.EISDIR:
            raise _refuse(place, "the secrets file's path is a directory; point `secrets.path` at a file") from None
        raise SpecError([Problem(place.path, None, "", f"cannot read the secrets file ({exc.strerror}); fix its permissions")]) from None
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if stat.S_ISDIR(mode):
            raise _refuse(place, "the secrets file's path is a directory; point `secrets.path` at a file")
        if not stat.S_ISREG(mode):
            raise _refuse(place, NOT_REGULAR)
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse(place, "the secrets file is not UTF-8 text; fix it or remove it (provision rewrites its own entries)") from None


def _origins_place(place: _Place) -> _Place:
    """Beside the secrets file: which cloud, tenant and subscription wrote each of its variables."""
    return _Place(f"{place.path} (its origins file)", place.base, place.parts, f".{place.name}.origins.json", place.spec_dir)


def _read_origins(place: _Place, dir_fd: int) -> dict[str, str]:
    text = _read_text(_origins_place(place), dir_fd)
    try:
        data = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}  # unreadable records protect nothing; the next write replaces them
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def read_origins(sink: SecretsSink, root: Optional[str] = None) -> dict[str, str]:
    """variable -> where its value came from ("<cloud>, tenant <id>, subscription <id>"); {} if none recorded."""
    place = _place(sink, root)
    dir_fd = _open_directory(place, create=False)
    if dir_fd is None:
        return {}
    try:
        return _read_origins(place, dir_fd)
    finally:
        os.close(dir_fd)


def origin(cloud: str, tenant: str, subscription: str) -> str:
    return f"{cloud}, tenant {tenant}, subscription {subscription}"


def foreign_entries(variables: Mapping[str, str], recorded: Mapping[str, str]) -> list[str]:
    """The variables (variable -> this run's origin) that the file holds from another origin."""
    return sorted(f"{v} (written against {recorded[v]}; this run: {mine})" for v, mine in variables.items() if v in recorded and recorded[v] != mine)


def refuse_foreign(sink: SecretsSink, mine: Mapping[str, str], recorded: Mapping[str, str], doing: str, fix: str) -> None:
    """Exit 2 if `doing` would replace or remove an entry another cloud, tenant or subscription wrote."""
    foreign = foreign_entries(mine, recorded)
    if foreign:
        raise SpecError([Problem(sink.path, None, "", f"holds {', '.join(foreign)}: {doing} keys written against another Azure; {fix}, "
                                                      "or pass --replace-foreign-secrets")])


def read_secrets(sink: SecretsSink, root: Optional[str] = None) -> dict[str, str]:
    """The file's variables (an absent file is empty). A file that cannot be parsed, a link, or (with
    the spec's directory as root) a place outside it is a usage error."""
    place = _place(sink, root)
    try:
        dir_fd = _open_directory(place, create=False)
        if dir_fd is None:
            return {}
        try:
            text = _read_text(place, dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise SpecError([Problem(sink.path, None, "", f"cannot read the secrets file ({exc.strerror}); fix its permissions")]) from None
    return {} if text is None else parse_secrets(text, sink.format, sink.path)


# --- one writer at a time ---------------------------------------------------------------------
def _temporaries(name: str) -> re.Pattern[str]:
    """This file's temporaries, and those earlier versions of provision made (tempfile's `.provision-XXXXXXXX.tmp`)."""
    return re.compile(rf"\.provision-(?:{re.escape(name)}\.[0-9a-f]{{8}}|[a-z0-9_]{{8}})\.tmp")


class HeldSecrets:
    """The secrets file while this run holds its lock: read, then write, with no other writer between."""

    def __init__(self, sink: SecretsSink, place: _Place, dir_fd: int) -> None:
        self.sink, self.place, self.dir_fd = sink, place, dir_fd

    def read(self) -> dict[str, str]:
        text = _read_text(self.place, self.dir_fd)
        return {} if text is None else parse_secrets(text, self.sink.format, self.sink.path)

    def origins(self) -> dict[str, str]:
        return _read_origins(self.place, self.dir_fd)

    def write(self, entries: list[SecretEntry], remove: tuple[str, ...] = (), origins: Optional[Mapping[str, str]] = None) -> None:
        """Set the entries' variables (and delete the `remove` ones), atomically, 0600; record where
        each written variable's value came from (`origins`: variable -> cloud, tenant, subscription)."""
        self._write(entries, remove)
        recorded = self.origins()
        updated = {k: v for k, v in recorded.items() if k not in remove}
        updated.update(origins or {})
        if updated != recorded:
            _replace(self.dir_fd, _origins_place(self.place).name, (json.dumps(updated, indent=2, sort_keys=True) + "\n").encode("utf-8"))

    def _write(self, entries: list[SecretEntry], remove: tuple[str, ...] = ()) -> None:
        values: dict[str, Optional[str]] = {name: None for name in remove}
        for e in sorted(entries, key=lambda e: e.deployment):
            values.update(e.values())
        current = _read_text(self.place, self.dir_fd)
        merged = merge_secrets(current or "", self.sink.format, values, self.sink.path)
        if merged == current and stat.S_IMODE(os.stat(self.place.name, dir_fd=self.dir_fd, follow_symlinks=False).st_mode) == 0o600:
            return  # nothing changes: the file is left as it is
        try:
            _replace(self.dir_fd, self.place.name, merged.encode("utf-8"))
        except OSError as exc:
            raise ProvisionError(f"{self.sink.path}: could not write the secrets file ({exc.strerror}); fix the path or its directory's "
                                 "permissions. The previous file is unchanged") from None


def _unnamed_file(dir_fd: int) -> Optional[int]:
    """A 0600 file in the directory with no name yet (Linux's O_TMPFILE), or None where there is none."""
    if not hasattr(os, "O_TMPFILE") or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(".", os.O_WRONLY | os.O_TMPFILE | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
    except OSError:  # a file system without unnamed files
        return None


def _replace(dir_fd: int, name: str, data: bytes) -> None:
    """Write a new 0600 file and rename it over `name`. It has no name until it is complete, so a kill
    cannot leave a copy; where that is not available, a named one (the next writer removes it)."""
    temporary: Optional[str] = f".provision-{name}.{random.token_hex(4)}.tmp"
    fd = _unnamed_file(dir_fd)
    unnamed = fd is not None
    if fd is None:
        fd = os.open(str(temporary), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fchmod(fd, 0o600)
        os.fsync(fd)
        if unnamed:
            os.link(f"/proc/self/fd/{fd}", str(temporary), dst_dir_fd=dir_fd)
        os.replace(str(temporary), name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        temporary = None
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(fd)
        if temporary is not None:
            try:
                os.unlink(temporary, dir_fd=dir_fd)
            except FileNotFoundError:
                pass


def _acquire(lock_fd: int, wait: float, path: str, waiting: Optional[Callable[[str], None]]) -> None:
    deadline, pause, told = time.monotonic() + wait, 0.002, False
    while True:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = os.pread(lock_fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        if waiting is not None and not told:
            waiting(f"waiting (up to {wait:g} s) for another provision run (pid {holder}) to finish with the secrets file")
            told = True
        if time.monotonic() >= deadline:
            raise ProvisionError(f"{path}: another provision run (pid {holder}) holds the secrets file; waited {wait:g} s for it. Run this "
                                 "command again once that run has finished (a `keys rotate` holds it through its grace period); "
                                 "the secrets file was not changed")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


@contextmanager
def hold_secrets(sink: SecretsSink, root: Optional[str] = None, wait: float = LOCK_WAIT,
                 waiting: Optional[Callable[[str], None]] = None) -> Iterator[HeldSecrets]:
    """The secrets file, locked against every other provision run until the block ends (a killed run's
    lock ends with it; `waiting` hears once if another run holds it). Creates the directory; removes
    the temporaries a killed run left."""
    place = _place(sink, root)
    try:
        dir_fd = _open_directory(place, create=True)
        assert dir_fd is not None
    except OSError as exc:
        raise ProvisionError(f"{sink.path}: could not create the secrets file's directory ({exc.strerror}); fix the path or its permissions") from None
    try:
        _exists(place, dir_fd)  # a link is refused before anything is created beside it
        try:
            lock_fd = os.open(f".{place.name}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _refuse(place, f".{place.name}.lock beside the secrets file is a symbolic link; remove it") from None
            raise ProvisionError(f"{sink.path}: cannot create the lock file .{place.name}.lock beside it ({exc.strerror}); fix the directory's permissions") from None
        try:
            _acquire(lock_fd, wait, sink.path, waiting)
            os.ftruncate(lock_fd, 0)
            os.pwrite(lock_fd, f"{os.getpid()}\n".encode(), 0)
            stale = _temporaries(place.name)
            for entry in os.listdir(dir_fd):
                if stale.fullmatch(entry) and stat.S_ISREG(os.stat(entry, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                    os.unlink(entry, dir_fd=dir_fd)
            yield HeldSecrets(sink, place, dir_fd)
        finally:
            os.close(lock_fd)  # releases the lock
    finally:
        os.close(dir_fd)


def write_secrets(sink: SecretsSink, entries: list[SecretEntry], remove: tuple[str, ...] = (), root: Optional[str] = None) -> None:
    """Set the entries' variables (and delete the `remove` ones) in the file, atomically, 0600, under the lock."""
    with hold_secrets(sink, root) as held:
        held.write(entries, remove)


def forget_entries(sink: SecretsSink, variables: list[str], root: Optional[str] = None) -> None:
    """Remove these variables (deployments that are gone), atomically; every other line stays. With
    none of them in the file, nothing is created or locked."""
    if not any(v in read_secrets(sink, root) for v in variables):
        return
    with hold_secrets(sink, root) as held:
        present = tuple(v for v in variables if v in held.read())
        if present:
            held.write([], remove=present)


# --- GitHub Actions ---------------------------------------------------------------------------
def _command_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def mask_keys(keys: list[Secret], environ: Mapping[str, str], stream: TextIO) -> None:
    """Under GitHub Actions: hide these keys everywhere in the job's log. The runner reads workflow
    commands from stdout and stderr alike; stderr keeps a JSON stdout pure. A key of several lines
    is masked line by line too (the log is matched line by line)."""
    if environ.get("GITHUB_ACTIONS", "").lower() != "true":
        return
    for key in keys:
        value = key.reveal()
        for part in dict.fromkeys([value, *re.split(r"\r\n|\r|\n", value)]):
            if part.strip():
                stream.write(f"::add-mask::{_command_data(part)}\n")
    stream.flush()


def _output(name: str, value: str) -> str:
    if "\n" in value or "\r" in value:  # GitHub's multi-line form: a value cannot add another output
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"
    return f"{name}={value}\n"


def publish_to_github(entries: list[SecretEntry], environ: Mapping[str, str], stream: TextIO) -> None:
    """Under GitHub Actions: mask every key (on `stream`) and expose every URL as a step output."""
    if environ.get("GITHUB_ACTIONS", "").lower() != "true":
        return
    mask_keys([e.key for e in entries], environ, stream)
    output = environ.get("GITHUB_OUTPUT")
    if output:
        try:
            with open(output, "a", encoding="utf-8") as f:
                for e in entries:
                    f.write(_output(e.url_var, e.url))
                    if e.openai_url_var:
                        f.write(_output(e.openai_url_var, e.openai_url))
                    if e.model_var:
                        f.write(_output(e.model_var, e.model))
        except OSError as exc:
            raise ProvisionError(f"GITHUB_OUTPUT ({output}): cannot append the step outputs ({exc.strerror}); everything else was done and "
                                 "the secrets file holds the URLs. Run in a GitHub Actions step (which sets GITHUB_OUTPUT), or unset it") from None
