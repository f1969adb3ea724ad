"""End-to-end harness: the real `provision` CLI, in a subprocess, against the emulator."""
from __future__ import annotations

import stat
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from tests.conftest import clean_environ
from tests.emulator.clients import SECRETS as PRINCIPALS  # the default world's service principals: (client id, secret)
from tests.emulator.clients import SUB_GENAI, SUB_JAPAN, arrived, logged  # noqa: F401  (re-exported for the e2e tests)
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"provision {' '.join(self.args)} -> {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


class Cli:
    """Runs `python -m provision` in a project directory with only the emulator's environment."""

    def __init__(self, emu: Any, directory: Path) -> None:
        self.emu = emu
        self.dir = directory
        self.principal = "provision-ci"
        self.extra_env: dict[str, str] = {}

    def env(self) -> dict[str, str]:
        client_id, secret = PRINCIPALS[self.principal]
        env = {**clean_environ(), **self.emu.env, "AZURE_TOKEN_CREDENTIALS": "EnvironmentCredential",
               "AZURE_CLIENT_ID": client_id, "AZURE_CLIENT_SECRET": secret, "PYTHONPATH": str(REPO)}
        env.update(self.extra_env)
        return env

    def spec(self, text: str, name: str = "deployments.yaml") -> Path:
        path = self.dir / name
        path.write_text(textwrap.dedent(text))
        return path

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "provision", *args], cwd=self.dir, env=self.env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def __call__(self, *args: str, timeout: float = 120) -> Run:
        p = subprocess.run([sys.executable, "-m", "provision", *args], cwd=self.dir, env=self.env(), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
        return Run(args, p.returncode, p.stdout, p.stderr)

    # --- what the emulator saw / holds -------------------------------------------------------
    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.emu.control.requests() if r.get("write")]

    def resources(self, kind: Optional[str] = None) -> list[dict[str, Any]]:
        return [r for r in self.emu.control.resources() if kind is None or r["kind"] == kind]

    def keys_of(self, name: str) -> tuple[str, str]:
        for r in self.resources("serverlessEndpoints"):
            if r["name"].lower() == name.lower():
                return r["keys"]["primaryKey"], r["keys"]["secondaryKey"]
        raise AssertionError(f"no endpoint {name}")

    def secrets_file(self, rel: str = ".secrets/deployments.env") -> dict[str, str]:
        path = self.dir / rel
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700, oct(path.parent.stat().st_mode)
        values = {}
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                k, v = line.split("=", 1)
                values[k.strip()] = v.strip()
        return values


def spec_text(*deployments: dict[str, Any], defaults: Optional[dict[str, Any]] = None, secrets: Optional[dict[str, Any]] = None) -> str:
    doc = {
        "version": 1,
        "defaults": {"subscription": SUB_GENAI, "resource_group": "rg-genai", "project": "contoso-chat", **(defaults or {})},
        "secrets": secrets or {"path": ".secrets/deployments.env", "format": "dotenv"},
        "deployments": list(deployments),
    }
    return yaml.safe_dump(doc, sort_keys=False)


def many_projects_world(projects: int) -> str:
    """The default world with `projects` more projects (proj-00...) in contoso-hub (East US 2)."""

    def add_projects(data):
        hub = data["subscriptions"][0]["resource_groups"][0]["hubs"][0]
        hub["projects"] = list(hub["projects"]) + [f"proj-{i:02d}" for i in range(projects)]

    return world_with(add_projects)


def world_with(edit) -> str:
    """The default world, changed by `edit(data)`."""
    from azure_emulator import world as world_module

    data = yaml.safe_load((Path(world_module.__file__).parent / "default_world.yaml").read_text())
    edit(data)
    return yaml.safe_dump(data, sort_keys=False)
