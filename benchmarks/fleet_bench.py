"""A fleet under ARM's throttling: 500 deployments in 125 projects, against the emulator's
token buckets (Azure's documented shape, per subscription and principal: writes 200 refilled at
10 per second, reads 250 at 25). The apply cannot beat the write bucket: its limit is
(successful writes - 200) / 10 seconds; goal: within 1.3x of it, every command exit 0, and a
no-op re-apply with no PUT, PATCH or DELETE."""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from azure_emulator import Emulator
from azure_emulator.api import scrubbed_environ
from tests.e2e.helpers import many_projects_world

ROOT = Path(__file__).resolve().parents[1]
SUB = "6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11"
PROJECTS = 125
MODELS = ("mistral-medium-2505", "mistral-small-2503", "Codestral-2501", "Ministral-3B")
WRITE_BUCKET, WRITE_REFILL = 200, 10


def spec() -> str:
    deployments = [{"name": f"p{i:03d}-{m.split('-')[1].lower()}", "model": m, "project": f"proj-{i:02d}"} for i in range(PROJECTS) for m in MODELS]
    return yaml.safe_dump({"version": 1, "defaults": {"subscription": SUB, "resource_group": "rg-genai", "project": "contoso-chat"},
                           "secrets": {"path": ".secrets/deployments.env"}, "deployments": deployments}, sort_keys=False)


def run(emu: Emulator, directory: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    emu.control.clear_requests()
    started = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "provision", *args], cwd=directory, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    log = [r for r in emu.control.requests() if r["kind"] == "arm"]
    writes = [r for r in log if r["method"] not in ("GET", "HEAD")]
    return {"args": " ".join(args), "code": p.returncode, "seconds": seconds, "requests": len(log),
            "writes_ok": sum(1 for r in writes if r["status"] < 400), "mutations": sum(1 for r in writes if r["method"] in ("PUT", "PATCH", "DELETE")),
            "throttled": sum(1 for r in log if r["status"] == 429), "stderr": p.stderr[-2000:]}


def main() -> None:
    with Emulator(pace="instant") as emu, tempfile.TemporaryDirectory() as tmp:
        emu.control.load_world(many_projects_world(PROJECTS))
        env = {**scrubbed_environ(), **emu.env, "AZURE_TOKEN_CREDENTIALS": "EnvironmentCredential", "PYTHONPATH": str(ROOT)}
        directory = Path(tmp)
        (directory / "deployments.yaml").write_text(spec())
        results = [run(emu, directory, env, *args) for args in (("apply", "--yes"), ("apply", "--yes"), ("audit",), ("destroy", "--yes"))]
    print(f"## A fleet under ARM throttling: {PROJECTS * len(MODELS)} deployments in {PROJECTS} projects\n")
    print(f"Emulator buckets per subscription and principal: writes {WRITE_BUCKET} + {WRITE_REFILL}/s, reads 250 + 25/s (Azure's "
          "documented shape); instant operations, so the buckets are the only limit. One run, a new CLI process per command.\n")
    print("| command | exit | time | ARM requests | successful writes | PUT/PATCH/DELETE | 429s | limit (writes - 200) / 10 | ratio |\n|---|---|---|---|---|---|---|---|---|")
    for r in results:
        limit = max(0.0, (r["writes_ok"] - WRITE_BUCKET) / WRITE_REFILL)
        ratio = f"{r['seconds'] / limit:.2f}x" if limit and r["args"] == "apply --yes" and r is results[0] else "–"
        print(f"| `provision {r['args']}` | {r['code']} | {r['seconds']:.1f} s | {r['requests']} | {r['writes_ok']} | {r['mutations']} | {r['throttled']} | "
              f"{limit:.1f} s | {ratio} |")
    print("\nGoal: the first apply within 1.3x of its limit; the second apply no PUT/PATCH/DELETE; every command exit 0. "
          "(listKeys is a POST, which ARM meters as a write: every apply and audit spends one per deployment.)\n")
    failed = [r for r in results if r["code"] != 0]
    for r in failed:
        print(f"`provision {r['args']}` failed:\n```\n{r['stderr']}\n```\n")


if __name__ == "__main__":
    main()
