"""Cold start of the CLI against importing azure.ai.ml (median of 7 runs each)."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def median_seconds(cmd: list[str], env: dict[str, str]) -> float:
    runs = []
    for _ in range(7):
        started = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=env, check=False)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    env = {**os.environ, "AZURE_SUBSCRIPTION_ID": "6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11"}
    rows = [
        ("`provision --help`", [str(BIN / "provision"), "--help"], "≤ 0.25 s"),
        ("`provision validate` (deployments.yaml)", [str(BIN / "provision"), "validate"], "≤ 0.40 s"),
        ("`python -c 'import azure.ai.ml'` (for comparison)", [sys.executable, "-c", "import azure.ai.ml"], "–"),
    ]
    print("## CLI cold start\n\n| command | median of 7 | goal |\n|---|---|---|")
    for label, cmd, goal in rows:
        print(f"| {label} | {median_seconds(cmd, env):.3f} s | {goal} |")
    print()


if __name__ == "__main__":
    main()
