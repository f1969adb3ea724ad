"""The spec boundary: `provision validate` on the inputs meant to break it (median of 5 runs each,
whole process, cold start included). Goal: every input under 1 s, exit 0 or 2."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
SUB = "6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11"
LIMIT = 256 * 1024


def largest_valid_spec() -> str:
    head = f"defaults: {{subscription: {SUB}, resource_group: rg-genai, project: contoso-chat}}\ndeployments:\n"
    items, size = [], len(head)
    while True:
        item = f"  - name: dep-{len(items)}\n    model: model-{len(items)}\n    tags: {{team: chat, cost: '12'}}\n"
        if size + len(item) > LIMIT:
            return head + "".join(items)
        items.append(item)
        size += len(item)


def alias_bomb() -> str:
    text = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
    return text + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)) + "deployments: []\n"


def main() -> None:
    directory = Path(tempfile.mkdtemp(prefix="spec-bench-"))
    inputs = {
        "the largest spec allowed (256 KiB, valid)": largest_valid_spec(),
        "a 10 MB spec (refused by its size)": "#" * 10_000_000,
        "an alias bomb under 1 KB (refused)": alias_bomb(),
        "100,000 levels of nesting (refused)": "x: " + "[" * 100_000,
        "a spec without `deployments:` (refused)": "version: 1\ndeployment:\n  - name: a\n",
        "worst case: one value of 40,000 `${a:-` (refused)": f"defaults: {{subscription: {SUB}, resource_group: rg, project: ppp}}\n"
                                                             "deployments: [{name: a, model: m, required_role: '" + "${a:-" * 40000 + "'}]\n",
        "worst case: 8,000 deployments sharing defaults (valid)": (f"defaults: {{subscription: {SUB}, resource_group: rg, project: ppp, allowed_regions: [eastus2], tags: {{team: chat}}}}\n"
                                                                   "deployments:\n" + "".join(f"  - {{name: d{i}, model: m{i}}}\n" for i in range(8000)))[:LIMIT],
    }
    print("## Spec boundary: `provision validate`\n\n| input | exit | median of 5 | goal |\n|---|---|---|---|")
    env = {**os.environ, "AZURE_SUBSCRIPTION_ID": SUB}
    cases = [(label, directory / f"{i}.yaml", text) for i, (label, text) in enumerate(inputs.items())]
    for label, path, text in cases:
        path.write_text(text)
    cases.append(("`-f /dev/zero` (refused)", Path("/dev/zero"), ""))
    for label, path, _ in cases:
        runs, code = [], None
        for _ in range(5):
            started = time.perf_counter()
            code = subprocess.run([str(BIN / "provision"), "-f", str(path), "validate"], capture_output=True, env=env, check=False).returncode
            runs.append(time.perf_counter() - started)
        print(f"| {label} | {code} | {statistics.median(runs):.3f} s | < 1 s |")
    print()


if __name__ == "__main__":
    main()
