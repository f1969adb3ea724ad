"""The click commands. Thin: each command calls one library function; every error becomes a
one-line message with its exit code here, in `main`, and a traceback only with --debug.

Azure SDKs are never imported at module level (cold start of --help and validate).
"""
from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import click

from .errors import EXIT_CHANGES, EXIT_FAILURE, EXIT_USAGE, ChecksFailed, Declined, OutputFailed, ProvisionError, SpecError

PACKAGE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Options:
    file: str
    output: str
    debug: bool
    document: dict[str, Any] = field(default_factory=dict)  # --output json: what the command reported; printed once, by main
    replace_foreign: bool = False  # --replace-foreign-secrets
    secrets_file: Optional[str] = None  # --secrets-file: instead of the spec's secrets.path
    verbose: bool = False  # --verbose: every check (and every deployment audit found in order), not one line per kind


class UnknownDeployment(ProvisionError):
    """A deployment name the spec does not have (on the command line)."""

    exit_code = EXIT_USAGE


DISTRIBUTION = "mistral-azure-provision"  # on PyPI the bare name `provision` is an unrelated project


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name=DISTRIBUTION, prog_name="provision", message="%(prog)s %(version)s (%(package)s)")
@click.option("-f", "--file", "file", default="deployments.yaml", show_default=True, help="The deployments spec.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output for people or for machines.")
@click.option("--debug", is_flag=True, help="Show tracebacks (never keys).")
@click.option("--secrets-file", default=None, metavar="PATH", help="Write the URLs and keys here instead of the spec's secrets.path (also: PROVISION_SECRETS_FILE).")
@click.pass_context
def cli(ctx: click.Context, file: str, output: str, debug: bool, secrets_file: Optional[str]) -> None:
    """Provision Mistral models as Azure AI serverless API deployments from a YAML spec."""
    if isinstance(ctx.obj, Options):  # made by main(), which reads it to report errors
        ctx.obj.file, ctx.obj.output, ctx.obj.debug = file, output, debug
        ctx.obj.secrets_file = ctx.obj.secrets_file or secrets_file
    else:
        ctx.obj = Options(file, output, debug, secrets_file=secrets_file)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _override(field: str) -> Any:
    def set_field(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None and value is not False and isinstance(ctx.obj, Options):
            setattr(ctx.obj, field, value)

    return set_field


def common(f: Any) -> Any:
    """-f, --output and --debug are accepted after the command too (`provision plan --output json`)."""
    f = click.option("--debug", is_flag=True, default=False, expose_value=False, callback=_override("debug"), help="Show tracebacks (never keys).")(f)
    f = click.option("--output", type=click.Choice(["text", "json"]), default=None, expose_value=False, callback=_override("output"), help="Output for people or for machines.")(f)
    f = click.option("-f", "--file", default=None, expose_value=False, callback=_override("file"), help="The deployments spec.")(f)
    f = click.option("--secrets-file", default=None, metavar="PATH", expose_value=False, callback=_override("secrets_file"),
                     help="Write the URLs and keys here instead of the spec's secrets.path (also: PROVISION_SECRETS_FILE).")(f)
    return f


VERBOSE = click.option("--verbose", is_flag=True, default=False, expose_value=False, callback=_override("verbose"),
                       help="List every check (audit: also every deployment without findings), not one line per kind of check.")


def _style() -> Any:
    """Colour for stdout's text: on a terminal, or with FORCE_COLOR; never with NO_COLOR, never in JSON."""
    from .render import Style, use_colour

    try:
        isatty = sys.stdout.isatty()
    except (AttributeError, ValueError):
        isatty = False
    return Style(use_colour(isatty, os.environ))


def _on_terminal() -> bool:
    """Whether provision can ask: stdin and stderr are a terminal."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def _environ(opts: Options) -> Mapping[str, str]:
    """The environment the spec is read with; --secrets-file is PROVISION_SECRETS_FILE."""
    from .spec import SECRETS_FILE_VARIABLE

    return {**os.environ, SECRETS_FILE_VARIABLE: opts.secrets_file} if opts.secrets_file else os.environ


@cli.command()
@VERBOSE
@common
@click.pass_obj
def validate(opts: Options) -> None:
    """Check the spec without calling Azure: every problem at once, with file:line."""
    from .regions import display_region
    from .spec import load_spec

    spec = load_spec(opts.file, _environ(opts))
    from .catalog import packaged, today  # only for a valid spec: a refused one pays for nothing more
    from .modelchecks import offline_findings
    from .render import finding_lines

    names = ", ".join(d.name for d in spec.deployments)
    lines = [f"{opts.file}: valid ({len(spec.deployments)} deployment{'s' if len(spec.deployments) != 1 else ''}: {names})"]
    if opts.verbose:
        lines += [f"  {d.name}: {d.model_name} in project {d.project} (resource group {d.resource_group}; allowed: "
                  f"{', '.join(display_region(r) for r in d.allowed_regions)})" for d in spec.deployments]
    # Offline, the packaged catalog can only warn: the registry (read by plan) has the last word.
    warnings = offline_findings(spec, packaged(), today())
    for f in warnings:
        lines += finding_lines(f, _style())
    _emit(opts, {"valid": True, "file": opts.file, "deployments": [d.name for d in spec.deployments],
                 "warnings": [f.as_dict() for f in warnings]}, lines)


def _emit(opts: Options, data: dict[str, Any], lines: list[str]) -> None:
    """The same facts as JSON, or as text on stdout (stderr stays for progress). In JSON mode the
    facts are gathered and `main` prints one document, on success and on failure alike."""
    if opts.output == "json":
        opts.document.update(data)
    else:
        for line in lines:
            _out(line)


def _out(text: str) -> None:
    """Stdout that cannot take the report (`>/dev/full`, `| head -c0`) is an environment error.
    Colour codes are in the text only when _style() said so (FORCE_COLOR into a pipe too): keep them."""
    try:
        click.echo(text, color=True)
    except OSError as exc:
        raise OutputFailed(f"cannot write to standard output ({exc.strerror or type(exc).__name__})") from None


def _preflight(opts: Options, parallel: int, allow_replace: bool = False, adopt: bool = False, only: tuple[str, ...] = ()) -> Any:
    import dataclasses

    from .gateway import Gateway
    from .spec import load_spec
    from .workflow import preflight

    spec = load_spec(opts.file, _environ(opts))
    if only:
        spec = dataclasses.replace(spec, deployments=tuple(_chosen(spec, only, opts.file, "--only")))
    gateway = _gateway(opts, parallel)
    return spec, gateway, preflight(spec, gateway, parallel, allow_replace, adopt, opts.replace_foreign)


def _gateway(opts: Options, parallel: int) -> Any:
    """The gateway; with --debug, every HTTP request it makes is a line on stderr (keys and tokens redacted)."""
    from . import httptrace
    from .gateway import Gateway

    if opts.debug:
        httptrace.enable(sys.stderr)
    return Gateway(parallel=parallel)


def _stale(pre: Any) -> dict[str, tuple[str, ...]]:
    """deployment -> the secrets variables apply will write again (missing, or a URL not the live one)."""
    from .plan import stale_secrets
    from .secrets import read_secrets, spec_directory

    try:
        held = read_secrets(pre.spec.secrets, spec_directory(pre.spec))
    except ProvisionError:
        return {}  # the secrets check says what is wrong with the file
    return stale_secrets(pre.plan, held)


def _preflight_dict(pre: Any, stale: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    from .render import identity_dict, plan_dict

    return {"identity": identity_dict(pre.live.identity), "checks": [f.as_dict() for f in pre.findings], "plan": plan_dict(pre.plan, pre.findings, stale)}


def _report(opts: Options, pre: Any, stale: Mapping[str, tuple[str, ...]]) -> None:
    """The checks and the plan; `stale`: the secrets entries apply will write again (read before apply writes)."""
    from .render import blocking, findings_text, names_of, plan_summary, plan_text

    style, names = _style(), names_of(pre.live)
    lines = (["Checks:"] + findings_text(pre.findings, opts.verbose, style, names) + [plan_summary(pre, style)]
             + plan_text(pre.plan, style, blocking(pre.plan, pre.findings), stale, names))
    _emit(opts, _preflight_dict(pre, stale), lines)


def _refused(pre: Any, nothing_was: str = "changed") -> ChecksFailed:
    from .checks import failed

    bad = failed(pre.findings)
    return ChecksFailed(f"{len(bad)} check{'s' if len(bad) != 1 else ''} failed; nothing was {nothing_was} (each FAIL above says how to fix it)")


PARALLEL = click.option("--parallel", type=click.IntRange(1, 64), default=32, show_default=True, help="Deployments provisioned at once (and reads made at once).")
ALLOW_REPLACE = click.option("--allow-replace", is_flag=True, help="Allow deleting and recreating an endpoint whose model changed (new URL and keys).")
ADOPT = click.option("--adopt", is_flag=True, help="Take over an existing endpoint of the same name that provision did not create.")
ONLY = click.option("--only", "only", multiple=True, metavar="NAME", help="Only this deployment (repeatable).")


REPLACE_FOREIGN = click.option("--replace-foreign-secrets", is_flag=True, default=False, expose_value=False, callback=_override("replace_foreign"),
                               help="Also replace or remove secrets-file entries another cloud, tenant or subscription wrote.")


def preflight_options(f: Any) -> Any:
    """The options plan and apply share: what to read and which changes to allow."""
    for option in (ONLY, ADOPT, ALLOW_REPLACE, PARALLEL, REPLACE_FOREIGN):
        f = option(f)
    return f


@cli.command()
@click.option("--detailed-exitcode", is_flag=True, help="Exit 3 when there are changes to apply.")
@preflight_options
@VERBOSE
@common
@click.pass_obj
def plan(opts: Options, detailed_exitcode: bool, parallel: int, allow_replace: bool, adopt: bool, only: tuple[str, ...]) -> None:
    """Run the checks and show what apply would change (read-only)."""
    _, _, pre = _preflight(opts, parallel, allow_replace, adopt, only)
    _report(opts, pre, _stale(pre))
    if not pre.ok:
        raise _refused(pre)
    if detailed_exitcode and pre.plan.changes:
        raise click.exceptions.Exit(EXIT_CHANGES)


@cli.command()
@click.option("-y", "--yes", is_flag=True, help="Apply without asking (required when not on a terminal).")
@click.option("--grace", type=click.FloatRange(0, 3600), default=5.0, show_default=True,
              help="Seconds clients get to pick up a moved deployment's new secrets entry before its old one is deleted.")
@preflight_options
@VERBOSE
@common
@click.pass_obj
def apply(opts: Options, yes: bool, grace: float, parallel: int, allow_replace: bool, adopt: bool, only: tuple[str, ...]) -> None:
    """Check, then subscribe, deploy and write the URL and key of every deployment to the secrets file."""
    from .progress import ProgressLine
    from .render import result_dict, result_text
    from .workflow import apply_and_store

    spec, gateway, pre = _preflight(opts, parallel, allow_replace, adopt, only)
    stale = _stale(pre)
    if opts.output == "text" or not pre.ok or (pre.plan.changes and not yes):
        _report(opts, pre, stale)
    if not pre.ok:
        raise _refused(pre)
    if pre.plan.changes:
        _confirm(yes, "Apply these changes?")
    with ProgressLine() as progress:
        result = apply_and_store(pre, gateway, parallel, progress, grace=grace)
        for r in result.deployments:
            if not r.ok:
                progress.fail(r.name, r.error or "failed")
    data = {**_preflight_dict(pre, stale), **result_dict(result, spec.secrets.path)}
    _emit(opts, data, ["Result:"] + result_text(result, spec.secrets.path, _style()))
    if not result.ok:
        failures = sum(1 for r in result.deployments if not r.ok)
        raise ProvisionError(f"{failures} deployment{'s' if failures != 1 else ''} failed; run `provision apply` again once fixed (finished work is kept and adopted)")


def _confirm(yes: bool, question: str) -> None:
    """Changes are confirmed on a terminal; anywhere else they need --yes."""
    if yes:
        return
    if not _on_terminal():
        raise Declined(f"not on a terminal, so provision cannot ask \"{question}\": pass --yes to go ahead")
    if not click.confirm(question, err=True):
        raise Declined("declined: nothing was changed")


def _confirm_typed(yes: bool, question: str) -> None:
    """Deletes are confirmed on a terminal by typing `yes` (anything else declines); elsewhere they need --yes."""
    if yes:
        return
    if not _on_terminal():
        raise Declined(f"not on a terminal, so provision cannot ask \"{question}\": pass --yes to go ahead")
    answer = click.prompt(f"{question} Only 'yes' will be accepted", default="", show_default=False, err=True)
    if answer.strip() != "yes":
        raise Declined("declined: nothing was deleted")


def _spec_and_gateway(opts: Options, parallel: int) -> Any:
    from .spec import load_spec

    return load_spec(opts.file, _environ(opts)), _gateway(opts, parallel)


def _chosen(spec: Any, names: tuple[str, ...], file: str, hint: str = "") -> list[Any]:
    """The named deployments (all of them when none is named). An unknown name is a usage error in
    one line, with the closest name the spec has, or the names it has."""
    import difflib

    unknown = list(dict.fromkeys(n for n in names if spec.deployment(n) is None))
    if unknown:
        known = [d.name for d in spec.deployments]
        lowered = {k.lower(): k for k in known}

        def hint_for(name: str) -> str:
            close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
            return f"; did you mean '{lowered[close[0]]}'?" if close else f" (it has: {', '.join(known)})"

        raise UnknownDeployment("; ".join(f"no deployment '{n}' in {file}{hint_for(n)}" for n in unknown))
    return [spec.deployment(n) for n in names] if names else list(spec.deployments)


@cli.command()
@ONLY
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@click.option("--keep-subscription", is_flag=True, help="Keep the Marketplace subscriptions (and their SaaS billing resources).")
@click.option("--include-unmanaged", is_flag=True, help="Also delete resources of the spec's names that provision did not create.")
@click.option("--orphans", is_flag=True, help="Delete only what this spec's stack made that the spec no longer names (endpoints, then their subscriptions).")
@click.option("-y", "--yes", is_flag=True, help="Delete without asking (on a terminal it asks you to type yes; elsewhere required).")
@PARALLEL
@REPLACE_FOREIGN
@VERBOSE
@common
@click.pass_obj
def destroy(opts: Options, only: tuple[str, ...], dry_run: bool, keep_subscription: bool, include_unmanaged: bool, orphans: bool, yes: bool, parallel: int) -> None:
    """Delete the spec's endpoints, then their Marketplace subscriptions, and their secrets entries."""
    from .progress import ProgressLine
    from .render import destroy_result_text, destroy_text, names_of
    from .workflow import destroy_and_forget, destroy_preflight

    spec, gateway = _spec_and_gateway(opts, parallel)
    _chosen(spec, only, opts.file, "--only")
    if orphans and (only or keep_subscription or include_unmanaged):
        raise click.UsageError("--orphans deletes only what the spec no longer names; it takes no --only, --keep-subscription or --include-unmanaged")
    pre = destroy_preflight(spec, gateway, parallel, only, keep_subscription, include_unmanaged, orphans, opts.replace_foreign)
    report: dict[str, Any] = {"checks": [f.as_dict() for f in pre.findings], "plan": [i.as_dict() for i in pre.items], "dry_run": dry_run, "results": []}
    if opts.output == "text" or not pre.ok or dry_run or not pre.deletions:
        _emit(opts, report, destroy_text(pre, dry_run, opts.verbose, _style(), names_of(None))
              + (["Nothing to delete."] if pre.ok and not dry_run and not pre.deletions else []))
    if not pre.ok:
        raise _refused(pre, "deleted")
    if dry_run:
        return
    if pre.deletions:
        _confirm_typed(yes, f"Delete the {pre.deletions} resource{'s' if pre.deletions != 1 else ''} above?")
    with ProgressLine() as progress:
        results = destroy_and_forget(pre, gateway, parallel, progress)
        for r in results:
            if not r.ok:
                progress.fail(r.name, r.error or "failed")
    if pre.deletions:
        _emit(opts, {**report, "results": [r.as_dict() for r in results]}, destroy_result_text(results, _style()))
    if not all(r.ok for r in results):
        raise ProvisionError("some deletions failed; run `provision destroy` again (what is gone stays gone)")


@cli.command()
@ONLY
@click.option("--all", "everything", is_flag=True, help="Also every endpoint, Marketplace subscription and SaaS resource in the spec's resource groups.")
@click.option("--probe", is_flag=True, help="Also make one chat call per deployment.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 3 when there are findings.")
@PARALLEL
@VERBOSE
@common
@click.pass_obj
def audit(opts: Options, only: tuple[str, ...], everything: bool, probe: bool, detailed_exitcode: bool, parallel: int) -> None:
    """Report drift, unhealthy endpoints, orphans and stale secrets (read-only)."""
    from .audit import Kind, audit_findings, collect
    from .render import audit_changes, audit_dict, audit_text, names_of

    spec, gateway = _spec_and_gateway(opts, parallel)
    chosen = _chosen(spec, only, opts.file, "--only")
    data = collect(spec, gateway, parallel, everything, probe)
    findings = _only(audit_findings(spec, data), spec, chosen) if only else audit_findings(spec, data)
    checked = [d.name for d in chosen]
    changes = {k: v for k, v in audit_changes(spec, data.live).items() if k in checked}
    _emit(opts, audit_dict(findings, checked, everything, probe, changes), audit_text(findings, checked, opts.verbose, _style(), changes, names_of(data.live)))
    if any(f.kind == Kind.READ for f in findings):
        raise ProvisionError("the audit could not read everything (see the `read` findings)")
    if detailed_exitcode and findings:
        raise click.exceptions.Exit(EXIT_CHANGES)


def _only(findings: list[Any], spec: Any, chosen: list[Any]) -> list[Any]:
    """audit --only: the findings about the chosen deployments, and those about no deployment of the
    spec that say something could not be read (they decide the exit code); the audit itself still
    looks at the whole spec, so the others are never mistaken for orphans."""
    from .audit import Kind

    keep = {d.name.lower() for d in chosen}
    named = {d.name.lower() for d in spec.deployments}
    return [f for f in findings if f.subject.lower() in keep or (f.kind == Kind.READ and f.subject.lower() not in named)]


@cli.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@common
@click.pass_obj
def probe(opts: Options, names: tuple[str, ...]) -> None:
    """Call each deployment once with the URL and key from the secrets file."""
    from .probe import probe_deployments
    from .secrets import read_secrets

    spec, gateway = _spec_and_gateway(opts, 8)
    results = probe_deployments(_chosen(spec, names, opts.file, "NAME"), read_secrets(spec.secrets), gateway)
    lines = []
    for r in results:
        c = r.result
        if c.ok:
            lines.append(f"  ok   {r.name}: {c.latency_ms:.0f} ms, model {c.model}, finish_reason {c.finish_reason}")
        else:
            lines += [f"  FAIL {r.name}: {c.error}", f"       fix: {r.remedy}"]
    _emit(opts, {"probes": [r.as_dict() for r in results]}, lines)
    bad = [r.name for r in results if not r.result.ok]
    if bad:
        raise ProvisionError(f"probe failed for {', '.join(bad)}")


@cli.group()
def keys() -> None:
    """Endpoint keys."""


@keys.command("rotate")
@click.argument("name")
@click.option("--key", "which", type=click.Choice(["primary", "secondary"]), default="primary", show_default=True, help="The key to regenerate.")
@click.option("--grace", type=click.FloatRange(0, 3600), default=5.0, show_default=True, help="Seconds clients get to move to the other key before the one they used is regenerated.")
@click.option("-y", "--yes", is_flag=True, help="Rotate without asking (required when not on a terminal).")
@REPLACE_FOREIGN
@common
@click.pass_obj
def rotate(opts: Options, name: str, which: str, grace: float, yes: bool) -> None:
    """Regenerate a key without breaking clients, and update the secrets file."""
    from .progress import ProgressLine
    from .rotate import rotate_key

    spec, gateway = _spec_and_gateway(opts, 4)
    [d] = _chosen(spec, (name,), opts.file, "NAME")
    _confirm(yes, f"Regenerate the {which} key of {d.name}? (clients holding it stop working after the grace period)")
    with ProgressLine() as progress:
        result = rotate_key(spec, d, gateway, which, grace, progress, replace_foreign=opts.replace_foreign)
    _emit(opts, result.as_dict(), [f"  ok   {d.name}: {which} key regenerated; {spec.secrets.path} holds the new {result.file_key} key"])


@cli.command()
@PARALLEL
@VERBOSE
@common
@click.pass_obj
def whoami(opts: Options, parallel: int) -> None:
    """Who the Azure credential is, and whether it holds the roles the spec needs."""
    from .render import whoami_text
    from .workflow import whoami_report

    spec, gateway = _spec_and_gateway(opts, parallel)
    report = whoami_report(spec, gateway, parallel)
    _emit(opts, report.as_dict(), whoami_text(report, opts.verbose, _style()))
    if report.identity is None:
        raise ChecksFailed("could not sign in to Azure, so nothing else was read (the FAIL above says why)")
    if any(not f.ok and f.unread for f in report.findings):
        raise ChecksFailed("some of what whoami shows could not be read (each FAIL above says what, and how to fix it)")
    if any(not f.ok for f in report.findings):
        raise ChecksFailed("the caller lacks what the spec needs (see FAIL above)")


@cli.command()
@common
@click.pass_obj
def schema(opts: Options) -> None:
    """Print the JSON Schema of the spec, for editors (JSON whatever --output says)."""
    from .fields import json_schema

    _out(json.dumps(json_schema(), indent=2))


def _annotate(message: str, options: dict[str, Any], file: Optional[str] = None, line: Optional[int] = None) -> None:
    """Under GitHub Actions, a failure is also an `::error::` annotation on the run (and on the
    spec's line). Workflow commands go to stdout, except under --output json (stdout stays JSON)."""
    if os.environ.get("GITHUB_ACTIONS", "").lower() != "true":
        return
    text = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    props = ([f"file={file}"] + ([f"line={line}"] if line else [])) if file else []
    props.append("title=provision")
    annotation = f"::error {','.join(props)}::{text}"
    if options.get("output") == "json":
        _say(annotation)
    else:
        try:
            _out(annotation)
        except OutputFailed:
            pass  # the error itself is on stderr already


def _say(line: str) -> None:
    """One line on stderr, if stderr can take it (there is nowhere else to say it)."""
    try:
        click.echo(line, err=True)
    except OSError:
        pass


def _quiet_sdk_logs(args: list[str]) -> None:
    """The SDKs log multi-line warnings (e.g. every credential DefaultAzureCredential tried); the
    findings already say what failed and what to do. --debug shows them (they never hold a key)."""
    import logging

    debug = "--debug" in args
    logging.basicConfig(level=logging.WARNING if debug else logging.CRITICAL, format="%(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING if debug else logging.CRITICAL)
    logging.getLogger("provision").setLevel(logging.DEBUG if debug else logging.CRITICAL)


def main(argv: Optional[list[str]] = None) -> None:
    code = _run(sys.argv[1:] if argv is None else argv)
    _flush()
    if argv is None:
        # The console script: everything is written, flushed and closed, so skip the interpreter's
        # teardown of the Azure SDKs' modules (0.12 s, measured; BENCHMARKS.md).
        os._exit(code)
    sys.exit(code)


def _json_mode(opts: Optional[Options], args: list[str]) -> bool:
    if opts is not None and opts.output == "json":
        return True
    return "--output=json" in args or any(a == "--output" and b == "json" for a, b in zip(args, args[1:]))


def _finish_json(opts: Optional[Options], args: list[str], code: int, error: Optional[str], extra: Optional[dict[str, Any]] = None) -> None:
    """--output json: exactly one document on stdout, on success and on failure, with `ok` (and
    `error` and `exit_code` when it failed). A command that printed its own JSON (schema) and
    succeeded gets nothing more."""
    if not _json_mode(opts, args):
        return
    document = {**(opts.document if opts else {}), **(extra or {})}
    if error is None and not document:
        return
    final: dict[str, Any] = {"ok": True, **document}
    final["ok"] = error is None and code in (0, EXIT_CHANGES)
    if error is not None:
        final.update(error=error, exit_code=code)
    _out(json.dumps(json_ready(final), indent=2))


def json_ready(value: Any) -> Any:
    """The document with null, never "", for every absent value (a remedy, a reason, a detail)."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return None if isinstance(value, str) and value == "" else value


def _bug(exc: BaseException) -> str:
    """A failure in provision's own code: where, never the exception's text (it could hold anything)."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if os.path.abspath(f.filename).startswith(PACKAGE + os.sep)] or frames
    where = f" at {os.path.basename(ours[-1].filename)}:{ours[-1].lineno}" if ours else ""
    return (f"internal error ({type(exc).__name__}{where}): this is a bug in provision, not a problem with your spec or Azure; "
            "please report it with the output of the same command run with --debug")


def _run(args: list[str]) -> int:
    """Run one command; every failure becomes its exit code and a one-line message here (with
    --debug, also its traceback; the exit code stays the same)."""
    _quiet_sdk_logs(list(args))
    signal.signal(signal.SIGTERM, _interrupt)  # a cancelled CI job ends like Ctrl-C: nothing half-written
    # Ctrl-C too, even when started with SIGINT ignored (a background job of a shell, some CI
    # runners): a runner cancelling a job sends SIGINT first, and it must stop the run at once.
    signal.signal(signal.SIGINT, _interrupt)
    opts: Optional[Options] = None
    code, error, extra = 0, None, None
    failure: Optional[BaseException] = None
    try:
        with cli.make_context("provision", list(args)) as ctx:
            params = ctx.params  # the group's own -f/--output/--debug, as click parsed them
            opts = Options(params.get("file") or "deployments.yaml", params.get("output") or "text", bool(params.get("debug")))
            ctx.obj = opts  # the command's own -f/--output/--debug land here too
            cli.invoke(ctx)
    except click.exceptions.Exit as exc:
        code = int(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        message = "interrupted; run the command again to finish (the secrets file was not half-written)"
        try:
            _finish_json(opts, args, EXIT_FAILURE, message)
        except OutputFailed:
            pass
        _say(f"error: {message}")
        _flush()
        os._exit(EXIT_FAILURE)  # do not wait for worker threads still polling Azure operations
    except click.ClickException as exc:
        exc.show()
        code, error = (EXIT_USAGE if exc.exit_code == 2 else int(exc.exit_code)), exc.format_message()
    except OutputFailed as exc:
        return _output_failed(exc, opts)
    except SpecError as exc:
        failure, code, error = exc, exc.exit_code, str(exc.problems[0]) if exc.problems else "invalid"
        extra = {"valid": False, "problems": [p.as_dict() for p in exc.problems]}
        for problem in exc.problems:
            _say(f"error: {problem}")
            _annotate(problem.message if problem.path == "" else f"{problem.path}: {problem.message}", _options(opts), problem.file, problem.line)
    except ProvisionError as exc:
        failure, code, error = exc, exc.exit_code, str(exc)
        _say(f"error: {exc}")
        _annotate(str(exc), _options(opts))
    except Exception as exc:  # a bug in provision (the gateway turns every Azure failure into ProvisionError)
        failure, code, error = exc, EXIT_FAILURE, _bug(exc)
        _say(f"error: {error}")
        _annotate(error, _options(opts))
    try:
        _finish_json(opts, args, code, error, extra)
        sys.stdout.flush()
    except (OutputFailed, OSError) as exc:
        return _output_failed(exc if isinstance(exc, OutputFailed) else OutputFailed(f"cannot write to standard output ({exc.strerror})"), opts)
    if failure is not None and opts is not None and opts.debug:
        _traceback(failure)
    return code


def _output_failed(exc: OutputFailed, opts: Optional[Options]) -> int:
    """Nothing more goes to stdout (the interpreter's last flush included); one line on stderr."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # not a file descriptor (a test's captured stdout)
    _say(f"error: {exc}")
    if opts is not None and opts.debug:
        _traceback(exc)
    return exc.exit_code


def _traceback(failure: BaseException) -> None:
    import traceback

    _flush()
    try:
        traceback.print_exception(type(failure), failure, failure.__traceback__, file=sys.stderr)
    except OSError:
        pass


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def _options(opts: Optional[Options]) -> dict[str, Any]:
    return opts.__dict__ if opts is not None else {}
