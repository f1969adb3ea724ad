"""The ready-to-copy pipelines: their emulator job runs here, exactly as written in the YAML, and
the commands they use exist with the options they pass."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import clean_environ

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _emulator_script(pipeline: str) -> str:
    data = yaml.safe_load((REPO / "scripts/ci" / pipeline).read_text())
    steps = data["jobs"]["emulator"]["steps"] if "jobs" in data else data["stages"][0]["jobs"][0]["steps"]
    [script] = [s.get("run") or s.get("script") for s in steps if "azure-emulator run" in (s.get("run") or s.get("script") or "")]
    return script


def _run_pipeline_step(script: str, directory: Path, extra: dict[str, str]) -> subprocess.CompletedProcess:
    shutil.copy(REPO / "deployments.yaml", directory / "deployments.yaml")
    # a developer's or runner's real Azure settings are present and must not be used
    env = {**clean_environ(), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "AZURE_CLIENT_SECRET": "a-real-secret-that-must-not-be-used",
           "HTTPS_PROXY": "http://192.0.2.1:9", **extra}
    return subprocess.run(["bash", "-c", script], cwd=directory, env=env, capture_output=True, text=True, timeout=300)


def test_github_actions_emulator_job_runs_the_whole_lifecycle(tmp_path):
    run = _run_pipeline_step(_emulator_script("github-actions.yml"), tmp_path, {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "out")})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "2 of 2 deployments ready" in run.stdout
    assert "No findings" in run.stdout and "ok   mistral-medium-chat:" in run.stdout and "ok   codestral:" in run.stdout
    assert "deleted endpoint mistral-medium-chat; deleted marketplace subscription mistral-medium-2505-provision" in run.stdout
    assert "deleted deployment codestral" in run.stdout
    assert (tmp_path / "out").read_text().startswith("MISTRAL_MEDIUM_URL=https://mistral-medium-chat.eastus2.models.ai.azure.com")
    assert "a-real-secret" not in run.stdout + run.stderr


def test_azure_pipelines_emulator_stage_runs_the_same_steps(tmp_path):
    script = _emulator_script("azure-pipelines.yml")
    assert script.split("'")[1].split() == _emulator_script("github-actions.yml").split("'")[1].split()
    run = _run_pipeline_step(script, tmp_path, {})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


def test_emulator_run_fails_a_command_that_tries_to_leave(tmp_path):
    env = {**clean_environ(), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    leave = f"{sys.executable} -c \"import requests; requests.get('https://example.com', timeout=5)\" || true"
    run = subprocess.run([str(BIN / "azure-emulator"), "run", "--", "bash", "-c", leave], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert "refused an outbound call to example.com" in run.stderr


def test_an_emulator_run_never_touches_a_secrets_file_written_against_azure(tmp_path):
    """`azure-emulator run` gives provision a private secrets file: the checkout's real one stays
    byte for byte what it was, and the whole lifecycle still succeeds."""
    real = tmp_path / ".secrets" / "deployments.env"
    real.parent.mkdir(mode=0o700)
    content = b"MISTRAL_MEDIUM_URL=https://mistral-medium-chat.eastus2.models.ai.azure.com\nMISTRAL_MEDIUM_KEY=the-real-key-from-azure\n"
    real.write_bytes(content)
    real.chmod(0o600)
    before = real.stat()
    run = _run_pipeline_step(_emulator_script("github-actions.yml"), tmp_path, {})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    after = real.stat()
    assert real.read_bytes() == content and (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)
    assert "the-real-key-from-azure" not in run.stdout + run.stderr
