"""Emulator figures: loopback latency, concurrency, and the SDK flow's wall time.

Prints a Markdown section; scripts/bench collects it into BENCHMARKS.md.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from azure_emulator import Emulator
from azure_emulator.api import scrubbed_environ

ROOT = Path(__file__).resolve().parents[1]
FLOW = ROOT / "tests" / "emulator" / "scripts" / "real_azure_flow.py"

def main() -> None:
    lines = ["## Emulator", ""]
    with Emulator(pace="instant") as emu:
        clean = scrubbed_environ()  # before clearing: it reads os.environ
        os.environ.clear()
        os.environ.update(clean)
        os.environ.update(emu.env)
        emu.control.configure(throttle_reads=[10**6, 10**6])
        token = requests.post(
            f"https://login.microsoftonline.com/{emu.env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "client_id": emu.env["AZURE_CLIENT_ID"], "client_secret": emu.env["AZURE_CLIENT_SECRET"],
                  "scope": "https://management.azure.com/.default"}, timeout=10).json()["access_token"]
        url = (f"https://management.azure.com/subscriptions/{emu.env['AZURE_SUBSCRIPTION_ID']}/resourceGroups/rg-genai/providers/"
               "Microsoft.MachineLearningServices/workspaces/contoso-chat?api-version=2024-10-01-preview")
        headers = {"Authorization": f"Bearer {token}"}
        with requests.Session() as s:
            for _ in range(20):
                s.get(url, headers=headers)
            samples = []
            for _ in range(1000):
                t = time.perf_counter()
                assert s.get(url, headers=headers).status_code == 200
                samples.append((time.perf_counter() - t) * 1000)
        samples.sort()
        connects = []
        for _ in range(50):
            t = time.perf_counter()
            with requests.Session() as s:
                s.get(url, headers=headers)
            connects.append((time.perf_counter() - t) * 1000)

        def client(_: int) -> list[int]:
            with requests.Session() as s:
                return [s.get(url, headers=headers, timeout=30).status_code for _ in range(20)]

        t = time.perf_counter()
        with ThreadPoolExecutor(max_workers=50) as pool:
            codes = [c for cs in pool.map(client, range(50)) for c in cs]
        wall = time.perf_counter() - t
        errors = sum(1 for c in codes if c != 200)
        lines += [
            "| measure | result | goal |",
            "|---|---|---|",
            f"| plain GET through the proxy tunnel (keep-alive), median of 1000 | {statistics.median(samples):.2f} ms (p95 {samples[949]:.2f} ms) | ≤ 5 ms |",
            f"| new session: CONNECT + TLS + GET, median of 50 | {statistics.median(connects):.1f} ms | – |",
            f"| 50 concurrent clients × 20 GETs (own sessions) | {len(codes)} requests in {wall:.2f} s, {errors} errors, {len(codes)/wall:.0f} req/s | 0 errors |",
        ]
        env = scrubbed_environ()
        env.update(emu.env)
        for pace, label in (("instant", "instant (first poll ends an operation)"), ("arm", "ARM-like (one InProgress poll, then Retry-After: 1 s)")):
            emu.control.reset()
            emu.control.configure(preset=pace)
            t = time.perf_counter()
            result = subprocess.run([sys.executable, str(FLOW)], env=env, capture_output=True, text=True)
            took = time.perf_counter() - t
            assert result.returncode == 0, result.stderr[-2000:]
            count = len(emu.control.requests())
            lines.append(f"| the unchanged azure-ai-ml flow script (subscribe, deploy, keys, list, delete ×2), pace {label} | {took:.2f} s, {count} requests | – |")
    print("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
