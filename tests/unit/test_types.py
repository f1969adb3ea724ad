"""provision and azure_emulator type-check under mypy --strict (configured in pyproject.toml)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_provision_and_the_emulator_pass_strict_mypy():
    run = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(ROOT / ".venv" / ".mypy_cache")], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
