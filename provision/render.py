"""Text for people, JSON for machines: the same facts, sorted and deterministic. Never a key
(results carry URLs and variable names only).

Text reads as a Terraform user expects: `+` add, `~` change in place, `-/+` replace, `-` destroy,
`Plan: N to add, M to change, K to destroy`; checks one line per kind unless one fails (each
failure and warning with its fix; `verbose` lists every finding); names instead of GUIDs (the ids
stay in JSON); colour only through a Style that is on (cli decides: a terminal, NO_COLOR,
FORCE_COLOR). JSON has null for every absent value.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Sequence

import click

from .findings import Check, Finding
from .live import Identity, LiveState
from .plan import Change, DeploymentPlan, Effect, Plan, Step, endpoint_changes, foundry_changes
from .progress import ProgressLine as ProgressLine  # noqa: F401  (where the commands found it before)
from .regions import display_region

if TYPE_CHECKING:
    from .apply import ApplyResult

WIDTH = 120  # a summary line longer than this is shortened (failures are not: their text is the fix)
SYMBOLS = {Effect.ADD: "+", Effect.CHANGE: "~", Effect.REPLACE: "-/+", Effect.DESTROY: "-"}
COLOURS = {Effect.ADD: "green", Effect.CHANGE: "yellow", Effect.REPLACE: "magenta", Effect.DESTROY: "red"}
PLAN_FAILED = "plan"  # the `check` of a JSON `blocked` entry when the deployment could not be planned at all


# --- colour --------------------------------------------------------------------------------
class Style:
    """Colour for text output, or none. JSON is never styled."""

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled

    def paint(self, text: str, fg: Optional[str] = None, bold: bool = False) -> str:
        return click.style(text, fg=fg, bold=bold or None) if self.enabled and text else text

    def mark(self, finding: Finding) -> str:
        if not finding.ok:
            return self.paint("FAIL", "red", bold=True)
        return self.paint("warn", "yellow") if is_warning(finding) else self.paint("ok  ", "green")

    def effect(self, effect: Effect) -> str:
        return self.paint(f"{SYMBOLS[effect]:>3}", COLOURS[effect])


PLAIN = Style(False)


def use_colour(isatty: bool, environ: Mapping[str, str]) -> bool:
    """NO_COLOR (any value) turns colour off; FORCE_COLOR turns it on, even into a pipe; else a terminal."""
    if "NO_COLOR" in environ:
        return False
    if environ.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    return isatty


# --- names instead of GUIDs ----------------------------------------------------------------
GUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
SCOPE = re.compile(r"/subscriptions/(?P<sub>[^/\s,;()]+)(?P<rest>(?:/[^/\s,;()]+)*)", re.IGNORECASE)


class Names:
    """What the text calls a subscription: its name when known, else its id shortened."""

    def __init__(self, subscriptions: Optional[Mapping[str, str]] = None) -> None:
        self.subscriptions = {k.lower(): v for k, v in (subscriptions or {}).items() if v}

    def subscription(self, sid: str) -> str:
        return f"subscription {self.subscriptions.get(sid.lower()) or short_id(sid)}"

    def scope(self, scope: str) -> str:
        """'/subscriptions/<id>/resourceGroups/rg/providers/NS/workspaces/p' -> 'subscription <name> / rg / p'."""
        scope = scope.rstrip("/")
        if scope == "":
            return "root (/)"
        group = re.fullmatch(r"/providers/Microsoft\.Management/managementGroups/([^/]+)", scope, re.IGNORECASE)
        if group:
            return f"management group {group.group(1)}"
        m = SCOPE.fullmatch(scope)
        if m is None:
            return self.text(scope)
        parts = m.group("rest").strip("/").split("/") if m.group("rest") else []
        names = [parts[1]] if len(parts) >= 2 and parts[0].lower() == "resourcegroups" else []
        if len(parts) > 2 and parts[2].lower() == "providers":
            names += parts[5::2]  # providers/NS/type/name[/type/name...]: the names
        return " / ".join([self.subscription(m.group("sub"))] + names)

    def text(self, text: str) -> str:
        """Every ARM scope in `text` by name, and every other GUID shortened."""
        text = SCOPE.sub(lambda m: self.scope(m.group(0)), text)
        return GUID.sub(lambda m: self.subscriptions.get(m.group(0).lower()) or short_id(m.group(0)), text)


def short_id(guid: str) -> str:
    return f"{guid[:8]}…" if GUID.fullmatch(guid) else guid


def names_of(live: Optional[LiveState]) -> Names:
    """The subscription names refresh read, if it read any."""
    if live is None:
        return Names()
    return Names({sid: str(getattr(s, "display_name", "") or getattr(s, "name", "") or "") for sid, s in live.subscriptions.items()})


# --- checks --------------------------------------------------------------------------------
def is_warning(f: Finding) -> bool:
    return f.ok and bool(getattr(f, "warning", False))


def _subject(subject: str, names: Names) -> str:
    return names.subscription(subject) if GUID.fullmatch(subject) else subject


def finding_lines(f: Finding, style: Style = PLAIN, names: Optional[Names] = None) -> list[str]:
    names = names or Names()
    lines = [f"  {style.mark(f)} {f.check:<11} {_subject(f.subject, names)}: {names.text(f.message)}"]
    if f.remedy and (not f.ok or is_warning(f)):
        lines.append(f"       fix: {f.remedy}")  # a fix is a command to copy: ids stay whole
    return lines


def findings_text(findings: Iterable[Finding], verbose: bool = False, style: Style = PLAIN, names: Optional[Names] = None) -> list[str]:
    """One line per kind of check that passed; every failure and warning on its own, with its fix.
    `verbose` lists every finding (`--output json` always has them all)."""
    findings, names = list(findings), names or Names()
    if verbose:
        return [line for f in findings for line in finding_lines(f, style, names)]
    lines = []
    order = list(Check)  # the kinds in the order the checks are listed everywhere (README's table)
    for kind in sorted(dict.fromkeys(f.check for f in findings), key=lambda k: order.index(k) if k in order else len(order)):
        of_kind = [f for f in findings if f.check == kind]
        passed = [f for f in of_kind if f.ok and not is_warning(f)]
        if passed:
            lines.append(_summary(kind, passed, style, names))
        lines += [line for f in of_kind if not (f.ok and not is_warning(f)) for line in finding_lines(f, style, names)]
    return lines


def _summary(kind: Check, passed: Sequence[Finding], style: Style, names: Names) -> str:
    subjects = list(dict.fromkeys(f.subject for f in passed))
    if len(subjects) == 1:
        who = _subject(subjects[0], names)
    else:
        noun = "subscriptions" if all(GUID.fullmatch(s) for s in subjects) else "deployments"
        who = f"{len(subjects)} {noun}"
        # "name 'a' is free …" and "name 'b' is free …" are one message about each deployment
        passed = [replace(f, message=re.sub(rf"(?<![\w-]){re.escape(f.subject)}(?![\w-])", f"<{noun[:-1]}>", f.message)) for f in passed]
    room = WIDTH - len(f"  ok   {kind:<11} {who}: ")
    messages = list(dict.fromkeys(names.text(f.message) for f in passed))
    return f"  {style.mark(passed[0])} {kind:<11} {who}: {_fit(messages, room)}"


def _fit(messages: Sequence[str], room: int) -> str:
    """The messages in `room` characters: all of them; else what they all begin with; else as many
    as fit and how many more; else the first, cut at a word."""
    text = "; ".join(messages)
    if len(text) <= room:
        return text
    prefix = _common_prefix(messages).rstrip(" ,;:(")
    if len(messages) > 1 and len(prefix.split()) >= 3 and len(prefix) + 2 <= room:
        return prefix + " …"
    for n in range(len(messages) - 1, 0, -1):
        text = "; ".join(messages[:n]) + f"; {len(messages) - n} more (--verbose)"
        if len(text) <= room:
            return text
    if len(messages) > 1:
        return f"{len(messages)} different results, all passed (--verbose lists them)"
    return messages[0][: max(0, room - 2)].rsplit(" ", 1)[0].rstrip(" ,;:(") + " …"


def _common_prefix(messages: Sequence[str]) -> str:
    """What every message begins with, ending at a word's end."""
    prefix = messages[0]
    for m in messages[1:]:
        while not m.startswith(prefix):
            prefix = prefix[:-1]
    if any(len(m) > len(prefix) and m[len(prefix)].isalnum() for m in messages) and prefix[-1:].isalnum():
        prefix = prefix.rsplit(" ", 1)[0] if " " in prefix else ""
    return prefix


def blocking(plan: Plan, findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    """deployment -> the failed checks that block it: its own, its subscription's (providers), and
    every failure about no deployment in particular (the caller, the secrets file)."""
    findings = list(findings)
    names = {dp.deployment.name.lower() for dp in plan.deployments}
    subscriptions = {dp.deployment.subscription.lower() for dp in plan.deployments}
    out: dict[str, list[Finding]] = {}
    for dp in plan.deployments:
        d = dp.deployment
        out[d.name] = [f for f in findings if not f.ok and (
            f.subject.lower() == d.name.lower() or f.subject.lower() == d.subscription.lower()
            or (f.subject.lower() not in names and f.subject.lower() not in subscriptions))]
    return out


# --- the plan ------------------------------------------------------------------------------
def _counted(plan: Plan) -> str:
    add, change, destroy = plan.counts()
    return "no changes" if not (add or change or destroy) else f"{add} to add, {change} to change, {destroy} to destroy"


def plan_summary(pre: Any, style: Style = PLAIN) -> str:
    """The plan's headline; never "no changes" when something could not be read."""
    if pre.live.identity is None:
        return style.paint("Plan: not made: nothing could be read from Azure (the identity check above says why)", bold=True)
    counted = _counted(pre.plan)
    total, blocked = len(pre.plan.deployments), sum(1 for dp in pre.plan.deployments if dp.blocked)
    if not blocked:
        text = f"Plan: {counted}"
    elif blocked == total:
        text = "Plan: not made: the deployment could not be planned (below)" if total == 1 else f"Plan: not made: none of the {total} deployments could be planned (below)"
    else:
        text = (f"Plan: not complete: {blocked} deployment{'s' if blocked != 1 else ''} could not be planned (below); "
                f"{counted} for the other{'s' if total - blocked != 1 else ''}")
    return style.paint(text, bold=True)


def deployment_effect(dp: DeploymentPlan) -> Optional[Effect]:
    """What the deployment's steps amount to: replace if one replaces, add if all add, else change."""
    effects = {s.effect for s in dp.steps}
    if not effects:
        return None
    if Effect.REPLACE in effects:
        return Effect.REPLACE
    return effects.pop() if len(effects) == 1 else Effect.CHANGE


def _step_lines(step: Step, style: Style) -> list[str]:
    head = f"    {style.effect(step.effect)} {step.short if step.changes else step}"
    return [head] + [f"          {c}" for c in step.changes]


def plan_text(plan: Plan, style: Style = PLAIN, blocked: Optional[Mapping[str, Sequence[Finding]]] = None,
              stale: Optional[Mapping[str, Sequence[str]]] = None, names: Optional[Names] = None) -> list[str]:
    names, blocked, stale = names or Names(), blocked or {}, stale or {}
    lines = [f"{style.effect(Effect.ADD)} register provider {r.namespace} on {names.subscription(r.subscription)}" for r in plan.registrations]
    for dp in plan.deployments:
        d = dp.deployment
        home = f"Foundry resource {d.account}" if d.foundry else d.project
        where = f"{home}, {display_region(dp.location)}" if dp.location else home
        kinds = list(dict.fromkeys(str(f.check) for f in blocked.get(d.name, ())))
        note = style.paint(f"  [blocked: {', '.join(kinds)}]", "red") if kinds else ""
        rewrite = stale.get(d.name, ())
        if dp.blocked:
            lines.append(f"  ? {d.name} ({where}): cannot plan: {dp.blocked}")
            continue
        effect = deployment_effect(dp)
        if effect is None:
            again = f"; apply rewrites its stale secrets entry ({', '.join(rewrite)})" if rewrite else ""
            lines.append(f"  = {d.name} ({where}): no changes{again}{note}")
            continue
        lines.append(f"{style.effect(effect)} {d.name} ({where}){note}")
        lines += [line for s in dp.steps for line in _step_lines(s, style)]
        if rewrite:
            lines.append(f"    {style.effect(Effect.CHANGE)} rewrite secrets entry {', '.join(rewrite)} (stale)")
    return lines


def plan_dict(plan: Plan, findings: Iterable[Finding] = (), stale: Optional[Mapping[str, Sequence[str]]] = None) -> dict[str, Any]:
    by_name = blocking(plan, list(findings))
    stale = stale or {}
    add, change, destroy = plan.counts()

    def blocked(dp: DeploymentPlan) -> Optional[list[dict[str, Any]]]:
        entries = ([{"check": PLAN_FAILED, "message": f"cannot plan: {dp.blocked}"}] if dp.blocked else [])
        entries += [{"check": str(f.check), "message": f.message} for f in by_name.get(dp.deployment.name, ())]
        return entries or None

    return {
        "complete": plan.complete,
        "changes": plan.changes,
        "summary": {"add": add, "change": change, "destroy": destroy},
        "registrations": [{"subscription": r.subscription, "namespace": r.namespace} for r in plan.registrations],
        "deployments": [
            {
                "name": dp.deployment.name,
                "target": dp.deployment.target,
                "project": dp.deployment.project or None,
                "account": dp.deployment.account or None,
                "region": dp.location,
                "effect": str(deployment_effect(dp)) if dp.steps else None,
                "blocked": blocked(dp),
                "stale_secrets": list(stale.get(dp.deployment.name, ())),
                "steps": [{"action": s.action, "effect": s.effect, "kind": s.kind, "name": s.name, "detail": s.detail,
                           "changes": [c.as_dict() for c in s.changes]} for s in dp.steps],
            }
            for dp in plan.deployments
        ],
    }


# --- whoami --------------------------------------------------------------------------------
def identity_dict(identity: Optional[Identity]) -> Optional[dict[str, str]]:
    if identity is None:
        return None
    return {"object_id": identity.object_id, "tenant_id": identity.tenant_id, "kind": identity.kind, "name": identity.name}


def whoami_text(report: Any, verbose: bool = False, style: Style = PLAIN, names: Optional[Names] = None) -> list[str]:
    names = names or Names()
    width = max([len(r.role) for r in report.roles] + [4])
    lines = findings_text([f for f in report.findings if f.check == Check.IDENTITY], verbose, style, names)
    lines += [f"Role assignments ({len(report.roles)}, at, above or below the spec's resource groups):"]
    # a role whose name could not be read shows its whole id: the only way to look it up
    lines += [f"  {r.role:<{width}}  {names.scope(r.scope)}" + (f"  (through group {short_id(r.through)})" if r.through else "") for r in report.roles]
    return lines + ["Checks:"] + findings_text([f for f in report.findings if f.check != Check.IDENTITY], verbose, style, names)


# --- apply ---------------------------------------------------------------------------------
def result_text(result: ApplyResult, secrets_path: str, style: Style = PLAIN) -> list[str]:
    lines = []
    for r in result.deployments:
        if r.ok:
            did = "; ".join(r.done) if r.done else "no changes"
            lines.append(f"  {style.paint('ok  ', 'green')} {r.name}: {r.url} ({did}; {r.seconds:.1f} s)")
        else:
            lines.append(f"  {style.paint('FAIL', 'red', bold=True)} {r.name}: {r.error}")
    ok = sum(1 for r in result.deployments if r.ok)
    lines.append(f"{ok} of {len(result.deployments)} deployment{'s' if len(result.deployments) != 1 else ''} ready" + (f"; URL and key of each in {secrets_path}" if result.secrets else ""))
    return lines


def result_dict(result: ApplyResult, secrets_path: str) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "deployments": [r.as_dict() for r in result.deployments],
        "secrets": {"path": secrets_path, "variables": sorted(v for e in result.secrets for v in e.values())},
    }


# --- audit ---------------------------------------------------------------------------------
def audit_changes(spec: Any, live: LiveState) -> dict[str, tuple[Change, ...]]:
    """deployment -> the values its live endpoint differs from the spec in (content safety, tags), old -> new."""
    out = {}
    for d in spec.deployments:
        if d.foundry:
            a = live.accounts.get(d.account_key)
            f = a.deployment(d.name) if a is not None else None
            changes = foundry_changes(d, f) if f is not None and f.owned_by(d.stack, d.name) else ()
        else:
            p = live.projects.get(d.project_key)
            e = p.endpoint(d.name) if p is not None else None
            changes = endpoint_changes(d, e) if e is not None and e.owned_by(d.stack, d.name) else ()
        if changes:
            out[d.name] = changes
    return out


def audit_text(findings: list[Any], deployments: list[str], verbose: bool = False, style: Style = PLAIN,
               changes: Optional[Mapping[str, Sequence[Change]]] = None, names: Optional[Names] = None) -> list[str]:
    from .audit import Kind

    changes, names = changes or {}, names or Names()
    if not findings:
        many = len(deployments) != 1
        return [f"No findings: {len(deployments)} deployment{'s' if many else ''} match{'' if many else 'es'} the spec ({', '.join(deployments)})."]
    clean = [d for d in deployments if d.lower() not in {f.subject.lower() for f in findings}] if verbose else []
    width = max([len(f.subject) for f in findings] + [len(d) for d in clean])
    drift_shown = {f.subject for f in findings if f.kind == Kind.DRIFT}
    last_drift = {f.subject: i for i, f in enumerate(findings) if f.kind == Kind.DRIFT}
    pad = f"  {'':<12} {'':<{width}}    "
    lines = [f"  {'KIND':<12} {'SUBJECT':<{width}}  FINDING"]
    for i, f in enumerate(findings):
        colour = "red" if f.kind in (Kind.READ, Kind.MISSING, Kind.UNHEALTHY) else "yellow"
        lines.append(f"  {style.paint(f'{f.kind:<12}', colour)} {f.subject:<{width}}  {names.text(f.message)}")
        if f.subject in drift_shown and last_drift.get(f.subject) == i:
            lines += [f"{pad}{c}" for c in changes.get(f.subject, ())]
        if f.remedy:
            lines.append(f"{pad}fix: {f.remedy}")
    ok = style.paint(f"{'ok':<12}", "green")
    lines += [f"  {ok} {d:<{width}}  matches the spec" for d in clean]
    lines.append(f"{len(findings)} finding{'s' if len(findings) != 1 else ''} for {len(deployments)} deployment{'s' if len(deployments) != 1 else ''}")
    return lines


def audit_dict(findings: list[Any], deployments: list[str], everything: bool, probe: bool,
               changes: Optional[Mapping[str, Sequence[Change]]] = None) -> dict[str, Any]:
    changes = changes or {}
    return {"deployments": deployments, "all": everything, "probe": probe, "findings": [f.as_dict() for f in findings],
            "changes": {name: [c.as_dict() for c in changes[name]] for name in sorted(changes)}}


# --- destroy -------------------------------------------------------------------------------
def destroy_text(pre: Any, dry_run: bool, verbose: bool = False, style: Style = PLAIN, names: Optional[Names] = None) -> list[str]:
    n = pre.deletions
    headline = f"Plan: 0 to add, 0 to change, {n} to destroy" + (" (dry run: nothing is deleted)" if dry_run else "")
    lines = ["Checks:"] + findings_text(pre.findings, verbose, style, names) + [style.paint(headline, bold=True)]
    return lines + [_paint_destroy_line(line, style) for i in pre.items for line in i.lines()]


def _paint_destroy_line(line: str, style: Style) -> str:
    if style.enabled and line.startswith("  - "):
        return f"{style.effect(Effect.DESTROY)}{line[3:]}"
    return line


def destroy_result_text(results: list[Any], style: Style = PLAIN) -> list[str]:
    ok, fail = style.paint("ok  ", "green"), style.paint("FAIL", "red", bold=True)
    return ["Result:"] + [f"  {ok} {r.name}: {'; '.join(r.done) or 'nothing to do'}" if r.ok else f"  {fail} {r.name}: {r.error}" for r in results]
