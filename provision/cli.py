"""The click commands. Thin: each command calls one library function; every error becomes a
one-line message with its exit code here, in `main`, and a traceback only with --debug.

Azure SDKs are never imported at module level (cold start of --help and validate).
"""
from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any, Optional

import click

from .errors import EXIT_CHANGES, EXIT_FAILURE, EXIT_USAGE, ChecksFailed, Declined, ProvisionError, SpecError


@dataclass
class Options:
    file: str
    output: str
    debug: bool


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-f", "--file", "file", default="deployments.yaml", show_default=True, help="The deployments spec.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output for people or for machines.")
@click.option("--debug", is_flag=True, help="Show tracebacks (never keys).")
@click.pass_context
def cli(ctx: click.Context, file: str, output: str, debug: bool) -> None:
    """Provision Mistral models as Azure AI serverless API deployments from a YAML spec."""
    if isinstance(ctx.obj, Options):  # made by main(), which reads it to report errors
        ctx.obj.file, ctx.obj.output, ctx.obj.debug = file, output, debug
    else:
        ctx.obj = Options(file, output, debug)


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
    return f


@cli.command()
@common
@click.pass_obj
def validate(opts: Options) -> None:
    """Check the spec without calling Azure: every problem at once, with file:line."""
    from .spec import load_spec

    spec = load_spec(opts.file)
    if opts.output == "json":
        click.echo(json.dumps({"valid": True, "file": opts.file, "deployments": [d.name for d in spec.deployments]}, indent=2))
    else:
        names = ", ".join(d.name for d in spec.deployments)
        click.echo(f"{opts.file}: valid ({len(spec.deployments)} deployment{'s' if len(spec.deployments) != 1 else ''}: {names})")


def _emit(opts: Options, data: dict[str, Any], lines: list[str]) -> None:
    """The same facts as JSON on stdout, or as text (stdout for results, stderr stays for progress)."""
    if opts.output == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=False))
    else:
        for line in lines:
            click.echo(line)


def _preflight(opts: Options, parallel: int, allow_replace: bool = False, adopt: bool = False) -> Any:
    from .gateway import Gateway
    from .spec import load_spec
    from .workflow import preflight

    spec = load_spec(opts.file)
    gateway = Gateway(parallel=parallel)
    return spec, gateway, preflight(spec, gateway, parallel, allow_replace, adopt)


def _report(opts: Options, pre: Any, extra: Optional[dict[str, Any]] = None) -> None:
    from .render import findings_text, identity_dict, plan_dict, plan_text

    data = {"identity": identity_dict(pre.live.identity), "checks": [f.as_dict() for f in pre.findings], "plan": plan_dict(pre.plan)}
    data.update(extra or {})
    changes = pre.plan.writes()
    lines = ["Checks:"] + findings_text(pre.findings) + [f"Plan: {changes} change{'s' if changes != 1 else ''}"] + plan_text(pre.plan)
    _emit(opts, data, lines)


def _refused(pre: Any) -> ChecksFailed:
    from .checks import failed

    bad = failed(pre.findings)
    return ChecksFailed(f"{len(bad)} check{'s' if len(bad) != 1 else ''} failed; nothing was changed (each FAIL above says how to fix it)")


PARALLEL = click.option("--parallel", type=click.IntRange(1, 64), default=32, show_default=True, help="Deployments provisioned at once (and reads made at once).")
ALLOW_REPLACE = click.option("--allow-replace", is_flag=True, help="Allow deleting and recreating an endpoint whose model changed (new URL and keys).")
ADOPT = click.option("--adopt", is_flag=True, help="Take over an existing endpoint of the same name that provision did not create.")


@cli.command()
@click.option("--detailed-exitcode", is_flag=True, help="Exit 3 when there are changes to apply.")
@PARALLEL
@ALLOW_REPLACE
@ADOPT
@common
@click.pass_obj
def plan(opts: Options, detailed_exitcode: bool, parallel: int, allow_replace: bool, adopt: bool) -> None:
    """Run the checks and show what apply would change (read-only)."""
    _, _, pre = _preflight(opts, parallel, allow_replace, adopt)
    _report(opts, pre)
    if not pre.ok:
        raise _refused(pre)
    if detailed_exitcode and pre.plan.changes:
        raise click.exceptions.Exit(EXIT_CHANGES)


@cli.command()
@click.option("-y", "--yes", is_flag=True, help="Apply without asking (required when not on a terminal).")
@PARALLEL
@ALLOW_REPLACE
@ADOPT
@common
@click.pass_obj
def apply(opts: Options, yes: bool, parallel: int, allow_replace: bool, adopt: bool) -> None:
    """Check, then subscribe, deploy and write the URL and key of every deployment to the secrets file."""
    from .render import ProgressLine, result_dict, result_text
    from .workflow import apply_and_store

    spec, gateway, pre = _preflight(opts, parallel, allow_replace, adopt)
    if not pre.ok:
        _report(opts, pre)
        raise _refused(pre)
    if pre.plan.changes and not yes:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            _report(opts, pre)
            raise Declined("not on a terminal, so apply cannot ask for confirmation: pass --yes to apply these changes")
        _report(opts, pre)
        if not click.confirm("Apply these changes?", err=True):
            raise Declined("not applied")
    elif opts.output == "text":
        _report(opts, pre)
    with ProgressLine() as progress:
        result = apply_and_store(pre, gateway, parallel, progress)
    data = result_dict(result, spec.secrets.path)
    if opts.output == "json":
        data = {"identity": None, "checks": [f.as_dict() for f in pre.findings], "plan": None, **data}
        from .render import identity_dict, plan_dict

        data["identity"], data["plan"] = identity_dict(pre.live.identity), plan_dict(pre.plan)
    _emit(opts, data, ["Result:"] + result_text(result, spec.secrets.path))
    if not result.ok:
        failures = sum(1 for r in result.deployments if not r.ok)
        raise ProvisionError(f"{failures} deployment{'s' if failures != 1 else ''} failed; run `provision apply` again once fixed (finished work is kept and adopted)")


@cli.command()
@PARALLEL
@common
@click.pass_obj
def whoami(opts: Options, parallel: int) -> None:
    """Who the Azure credential is, and whether it holds the roles the spec needs."""
    _, _, pre = _preflight(opts, parallel)
    wanted = ("identity", "role", "permissions")
    findings = [f for f in pre.findings if f.check in wanted]
    from .render import findings_text, identity_dict

    _emit(opts, {"identity": identity_dict(pre.live.identity), "checks": [f.as_dict() for f in findings]}, findings_text(findings))
    if any(not f.ok for f in findings):
        raise ChecksFailed("the caller lacks what the spec needs (see FAIL above)")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the spec, for editors."""
    from .spec import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


def _quiet_sdk_logs(args: list[str]) -> None:
    """The SDKs log multi-line warnings (e.g. every credential DefaultAzureCredential tried); the
    findings already say what failed and what to do. --debug shows them (they never hold a key)."""
    import logging

    debug = "--debug" in args
    logging.basicConfig(level=logging.WARNING if debug else logging.CRITICAL, format="%(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING if debug else logging.CRITICAL)
    logging.getLogger("provision").setLevel(logging.DEBUG if debug else logging.CRITICAL)


def main(argv: Optional[list[str]] = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    _quiet_sdk_logs(list(args))
    signal.signal(signal.SIGTERM, _interrupt)  # a cancelled CI job ends like Ctrl-C: nothing half-written
    options: dict[str, Any] = {}
    try:
        with cli.make_context("provision", list(args)) as ctx:
            options = ctx.params  # the group's own --output/--debug, as click parsed them
            ctx.obj = Options(options.get("file") or "deployments.yaml", options.get("output") or "text", bool(options.get("debug")))
            options = ctx.obj.__dict__  # the command's own -f/--output/--debug land here too
            cli.invoke(ctx)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("error: interrupted; run the command again to finish (the secrets file was not half-written)", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_FAILURE)  # do not wait for worker threads still polling Azure operations
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if exc.exit_code == 2 else exc.exit_code)
    except SpecError as exc:
        if options.get("debug"):
            raise
        if options.get("output") == "json":
            click.echo(json.dumps({"valid": False, "problems": [p.as_dict() for p in exc.problems]}, indent=2))
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(exc.exit_code)
    except ProvisionError as exc:
        if options.get("debug"):
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(0)
