"""The secrets sink: the target URL and key of every deployment, in a dotenv or JSON file.

Written atomically (a 0600 temporary file in the same directory, fsync, rename), in a 0700
directory; merged with the entries of other deployments and any unrelated lines, which are kept
as they were. A failure leaves the previous file untouched. Under GitHub Actions the key is
masked (`::add-mask::`, which the runner consumes and never displays) and the URL goes to
$GITHUB_OUTPUT.
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from typing import Mapping, Optional, TextIO

from .errors import Problem, ProvisionError, SpecError
from .secret import Secret
from .spec import SecretsSink

DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=(?P<value>.*)$")
PLAIN = re.compile(r"^[A-Za-z0-9_./:@+,-]*$")


@dataclass(frozen=True)
class SecretEntry:
    deployment: str
    url_var: str
    url: str
    key_var: str
    key: Secret
    openai_url_var: Optional[str] = None  # the OpenAI-compatible base URL, {url}/v1, for OpenAI SDK clients

    @property
    def openai_url(self) -> str:
        return self.url.rstrip("/") + "/v1"


def _dotenv_value(value: str) -> str:
    return value if PLAIN.match(value) else "'" + value.replace("'", "'\"'\"'") + "'"


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def read_secrets(sink: SecretsSink) -> dict[str, str]:
    """The file's variables (an absent file is empty). A file that cannot be parsed is a usage error."""
    try:
        with open(sink.path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    except IsADirectoryError:
        raise SpecError([Problem(sink.path, None, "", "the secrets file's path is a directory; point `secrets.path` at a file")]) from None
    except UnicodeDecodeError:
        raise SpecError([Problem(sink.path, None, "", "the secrets file is not UTF-8 text; fix it or remove it (provision rewrites its own entries)")]) from None
    except OSError as exc:
        raise SpecError([Problem(sink.path, None, "", f"cannot read the secrets file ({exc.strerror}); fix its permissions")]) from None
    if sink.format == "json":
        if not text.strip():
            return {}
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError([Problem(sink.path, exc.lineno, "", "is not valid JSON; fix it or remove the file (provision rewrites its own entries)")]) from None
        if not isinstance(data, dict):
            raise SpecError([Problem(sink.path, 1, "", "must be a JSON object of NAME: value; fix it or remove the file")])
        return {str(k): str(v) for k, v in data.items()}
    found = {}
    for line in text.splitlines():
        m = DOTENV_LINE.match(line)
        if m:
            found[m.group("name")] = _unquote(m.group("value"))
    return found


def _merge_dotenv(text: str, values: Mapping[str, Optional[str]]) -> str:
    """Replace our variables where they are, drop the ones mapped to None, append the new ones."""
    out, seen = [], set()
    for line in text.splitlines():
        m = DOTENV_LINE.match(line)
        if m and m.group("name") in values:
            name = m.group("name")
            if name in seen or values[name] is None:
                continue
            seen.add(name)
            out.append(f"{name}={_dotenv_value(values[name] or '')}")
        else:
            out.append(line)
    for name, value in values.items():
        if name not in seen and value is not None:
            out.append(f"{name}={_dotenv_value(value)}")
    return "\n".join(out) + "\n" if out else ""


def _merge_json(text: str, values: Mapping[str, Optional[str]], path: str) -> str:
    data: dict[str, object] = {}
    if text.strip():
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError([Problem(path, exc.lineno, "", "is not valid JSON; fix it or remove the file (provision rewrites its own entries)")]) from None
        if not isinstance(loaded, dict):
            raise SpecError([Problem(path, 1, "", "must be a JSON object of NAME: value; fix it or remove the file")])
        data = loaded
    for name, value in values.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_secrets(sink: SecretsSink, entries: list[SecretEntry], remove: tuple[str, ...] = ()) -> None:
    """Set the entries' variables (and delete the `remove` ones) in the file, atomically, 0600."""
    values: dict[str, Optional[str]] = {name: None for name in remove}
    for e in sorted(entries, key=lambda e: e.deployment):
        values[e.url_var] = e.url
        values[e.key_var] = e.key.reveal()
        if e.openai_url_var:
            values[e.openai_url_var] = e.openai_url
    directory = os.path.dirname(os.path.abspath(sink.path))
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        try:
            with open(sink.path, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = ""
        merged = _merge_json(current, values, sink.path) if sink.format == "json" else _merge_dotenv(current, values)
        fd, tmp = tempfile.mkstemp(prefix=".provision-", suffix=".tmp", dir=directory)  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(merged)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, sink.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
    except OSError as exc:
        raise ProvisionError(f"{sink.path}: could not write the secrets file ({exc.strerror}); fix the path or its directory's permissions. The previous file is unchanged") from None


def publish_to_github(entries: list[SecretEntry], environ: Mapping[str, str], stdout: TextIO = sys.stdout) -> None:
    """Under GitHub Actions: mask every key in the job's log and expose every URL as a step output."""
    if environ.get("GITHUB_ACTIONS", "").lower() != "true":
        return
    for e in entries:
        # The runner consumes this command and hides the value everywhere in the log, including here.
        stdout.write(f"::add-mask::{e.key.reveal()}\n")
    stdout.flush()
    output = environ.get("GITHUB_OUTPUT")
    if output:
        try:
            with open(output, "a", encoding="utf-8") as f:
                for e in entries:
                    f.write(f"{e.url_var}={e.url}\n")
                    if e.openai_url_var:
                        f.write(f"{e.openai_url_var}={e.openai_url}\n")
        except OSError as exc:
            raise ProvisionError(f"GITHUB_OUTPUT ({output}): cannot append the step outputs ({exc.strerror}); everything else was done and "
                                 "the secrets file holds the URLs. Run in a GitHub Actions step (which sets GITHUB_OUTPUT), or unset it") from None


def forget_entries(sink: SecretsSink, variables: list[str]) -> None:
    """Remove these variables (deployments that are gone), atomically; every other line stays."""
    present = tuple(v for v in variables if v in read_secrets(sink))
    if present:
        write_secrets(sink, [], remove=present)
