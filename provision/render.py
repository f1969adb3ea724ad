"""Text for people, JSON for machines: the same facts, sorted and deterministic. Never a key
(results carry URLs and variable names only)."""
from __future__ import annotations

import sys
import threading
import time
from typing import Any, Iterable, Optional, TextIO

import click

from .apply import ApplyResult
from .checks import Check, Finding
from .live import Identity
from .plan import Plan
from .regions import display_region
from .workers import leave_signals_to_the_main_thread


LIST_PASSED_UP_TO = 5  # subjects; beyond that the passed checks are counted, not listed


def findings_text(findings: Iterable[Finding]) -> list[str]:
    """Every failed check with its fix; the passed ones listed for a few subjects, counted for many
    (`--output json` always has them all)."""
    findings = list(findings)
    subjects = {f.subject for f in findings if f.check not in (Check.IDENTITY, Check.PROVIDERS, Check.SECRETS)}
    quiet = len(subjects) > LIST_PASSED_UP_TO
    lines = []
    if quiet:
        passed = [f for f in findings if f.ok and f.check != Check.IDENTITY]
        findings = [f for f in findings if not f.ok or f.check == Check.IDENTITY]
        kinds = sorted({f.check for f in passed})
        lines.append(f"  ok   {len(passed)} checks passed ({', '.join(kinds)}) for {len(subjects)} deployments; --output json lists them")
    for f in findings:
        mark = "ok  " if f.ok else "FAIL"
        lines.append(f"  {mark} {f.check:<11} {f.subject}: {f.message}")
        if not f.ok and f.remedy:
            lines.append(f"       fix: {f.remedy}")
    return lines


def plan_summary(pre: Any) -> str:
    """The plan's headline; never "0 changes" when something could not be read."""
    if pre.live.identity is None:
        return "Plan: not made: nothing could be read from Azure (the identity check above says why)"
    n = pre.plan.writes()
    changes = f"{n} change{'s' if n != 1 else ''}"
    total, blocked = len(pre.plan.deployments), sum(1 for dp in pre.plan.deployments if dp.blocked)
    if not blocked:
        return f"Plan: {changes}"
    if blocked == total:
        return "Plan: not made: the deployment could not be planned (below)" if total == 1 else f"Plan: not made: none of the {total} deployments could be planned (below)"
    return (f"Plan: not complete: {blocked} deployment{'s' if blocked != 1 else ''} could not be planned (below); "
            f"{changes} for the other{'s' if total - blocked != 1 else ''}")


def plan_text(plan: Plan) -> list[str]:
    lines = []
    for r in plan.registrations:
        lines.append(f"  + {r}")
    for dp in plan.deployments:
        d = dp.deployment
        where = f"{d.project}, {display_region(dp.location)}" if dp.location else d.project
        if dp.blocked:
            lines.append(f"  ? {d.name} ({where}): cannot plan: {dp.blocked}")
        elif not dp.steps:
            lines.append(f"  = {d.name} ({where}): no changes")
        else:
            lines.append(f"  ~ {d.name} ({where}):")
            lines += [f"      + {s}" for s in dp.steps]
    return lines


def plan_dict(plan: Plan) -> dict[str, Any]:
    return {
        "complete": plan.complete,
        "changes": plan.changes,
        "registrations": [{"subscription": r.subscription, "namespace": r.namespace} for r in plan.registrations],
        "deployments": [
            {
                "name": dp.deployment.name,
                "project": dp.deployment.project,
                "region": dp.location,
                "blocked": dp.blocked,
                "steps": [{"action": s.action, "kind": s.kind, "name": s.name, "detail": s.detail} for s in dp.steps],
            }
            for dp in plan.deployments
        ],
    }


def identity_dict(identity: Optional[Identity]) -> Optional[dict[str, str]]:
    if identity is None:
        return None
    return {"object_id": identity.object_id, "tenant_id": identity.tenant_id, "kind": identity.kind, "name": identity.name}


def whoami_text(report: Any) -> list[str]:
    width = max([len(r.role) for r in report.roles] + [4])
    lines = findings_text([f for f in report.findings if f.check == Check.IDENTITY])
    lines += [f"Role assignments ({len(report.roles)}, at, above or below the spec's resource groups):"]
    lines += [f"  {r.role:<{width}}  {r.scope}" + (f"  (through group {r.through})" if r.through else "") for r in report.roles]
    return lines + ["Checks:"] + findings_text([f for f in report.findings if f.check != Check.IDENTITY])


def result_text(result: ApplyResult, secrets_path: str) -> list[str]:
    lines = []
    for r in result.deployments:
        if r.ok:
            did = "; ".join(r.done) if r.done else "no changes"
            lines.append(f"  ok   {r.name}: {r.url} ({did}; {r.seconds:.1f} s)")
        else:
            lines.append(f"  FAIL {r.name}: {r.error}")
    ok = sum(1 for r in result.deployments if r.ok)
    lines.append(f"{ok} of {len(result.deployments)} deployment{'s' if len(result.deployments) != 1 else ''} ready" + (f"; URL and key of each in {secrets_path}" if result.secrets else ""))
    return lines


def result_dict(result: ApplyResult, secrets_path: str) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "deployments": [r.as_dict() for r in result.deployments],
        "secrets": {"path": secrets_path, "variables": sorted(v for e in result.secrets for v in (e.url_var, e.key_var, e.openai_url_var) if v)},
    }


class ProgressLine:
    """Progress on stderr: one line per event; on a terminal also a live status line."""

    FRAMES = "|/-\\"

    def __init__(self, stream: TextIO = sys.stderr, animate: Optional[bool] = None) -> None:
        self.stream = stream
        self.animate = stream.isatty() if animate is None else animate
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.running: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> "ProgressLine":
        if self.animate:
            self._thread = threading.Thread(target=self._spin, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
            self._clear()

    def _clear(self) -> None:
        if self.animate:
            self.stream.write("\r\033[K")

    def _spin(self) -> None:
        leave_signals_to_the_main_thread()
        frame = 0
        while not self._stop.wait(0.1):
            with self.lock:
                if self.running:
                    frame += 1
                    names = ", ".join(sorted(self.running))
                    self.stream.write(f"\r\033[K{self.FRAMES[frame % 4]} {time.monotonic() - self.started:5.1f} s  working on {names}"[:200])
                    self.stream.flush()

    def __call__(self, subject: str, message: str) -> None:
        with self.lock:
            if message.endswith("..."):
                self.running[subject] = message
            else:
                self.running.pop(subject, None)
            self._clear()
            click.echo(f"[{time.monotonic() - self.started:6.1f} s] {subject}: {message}", file=self.stream)


def audit_text(findings: list[Any], deployments: list[str]) -> list[str]:
    if not findings:
        many = len(deployments) != 1
        return [f"No findings: {len(deployments)} deployment{'s' if many else ''} match{'' if many else 'es'} the spec ({', '.join(deployments)})."]
    width = max(len(f.subject) for f in findings)
    lines = [f"  {'KIND':<12} {'SUBJECT':<{width}}  FINDING"]
    for f in findings:
        lines.append(f"  {f.kind:<12} {f.subject:<{width}}  {f.message}")
        if f.remedy:
            lines.append(f"  {'':<12} {'':<{width}}    fix: {f.remedy}")
    lines.append(f"{len(findings)} finding{'s' if len(findings) != 1 else ''} for {len(deployments)} deployment{'s' if len(deployments) != 1 else ''}")
    return lines


def destroy_text(pre: Any, dry_run: bool) -> list[str]:
    n = pre.deletions
    lines = ["Checks:"] + findings_text(pre.findings) + [("Would delete" if dry_run else "Destroy plan") + f": {n} deletion{'s' if n != 1 else ''}"]
    return lines + [line for i in pre.items for line in i.lines()]


def destroy_result_text(results: list[Any]) -> list[str]:
    return ["Result:"] + [f"  ok   {r.name}: {'; '.join(r.done) or 'nothing to do'}" if r.ok else f"  FAIL {r.name}: {r.error}" for r in results]
