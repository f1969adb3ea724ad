"""`provision validate` and `provision schema` as a user runs them: exit codes, one-line errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUB = "6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11"


def run(*args, env_extra=None, cwd=ROOT):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "provision", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60)


def test_validate_the_example():
    result = run("validate", env_extra={"AZURE_SUBSCRIPTION_ID": SUB})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "deployments.yaml: valid (2 deployments: mistral-medium-chat, codestral)\n"
    assert result.stderr == ""


def test_invalid_spec_exits_2_with_one_line_per_problem_and_no_traceback(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(f"defaults: {{subscription: {SUB}, resource_group: rg, project: proj}}\ndeployments:\n  - {{name: a_b, model: mistral-medium-2505, regoin: x}}\n")
    result = run("-f", str(spec), "validate")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: {spec}:3: deployments[0].regoin: unknown field (allowed: name, target, model, subscription, resource_group, project, account, allowed_regions, required_role, content_safety, sku, capacity, version, content_filter, tags, secrets)",
        f"error: {spec}:3: deployments[0].name: 'a_b' is not a valid endpoint name: start with a letter; letters, digits and hyphens only; at most 52 characters",
    ]
    assert "Traceback" not in result.stderr


def test_invalid_spec_as_json(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("deployments: []\n")
    result = run("-f", str(spec), "--output", "json", "validate")
    assert result.returncode == 2
    problem = "at least one deployment is required (a list of mappings with name and model)"
    assert json.loads(result.stdout) == {"ok": False, "valid": False, "problems": [{"file": str(spec), "line": 1, "path": "deployments", "message": problem}],
                                         "error": f"{spec}:1: deployments: {problem}", "exit_code": 2}


def test_missing_file_and_debug_traceback(tmp_path):
    result = run("-f", str(tmp_path / "none.yaml"), "validate")
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path / 'none.yaml'}: no such file; pass the spec with -f FILE (default deployments.yaml)\n"
    debug = run("-f", str(tmp_path / "none.yaml"), "--debug", "validate")
    assert debug.returncode == 2, "--debug adds the traceback and keeps the exit code"
    assert debug.stderr.startswith(result.stderr + "Traceback (most recent call last):\n")
    assert debug.stderr.rstrip().splitlines()[-1] == f"provision.errors.SpecError: {tmp_path / 'none.yaml'}: no such file; pass the spec with -f FILE (default deployments.yaml)"


@pytest.mark.parametrize("output", ["text", "json"])
@pytest.mark.parametrize("stdout, reason", [("full", "No space left on device"), ("closed pipe", "Broken pipe")])
def test_a_stdout_that_cannot_be_written_is_one_line_and_exit_1(output, stdout, reason):
    """`validate >/dev/full`, `validate | head -c0`: the environment's problem, said once on stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    env["AZURE_SUBSCRIPTION_ID"] = SUB
    if stdout == "full":
        target, keep = open("/dev/full", "w"), None
    else:
        keep, target = os.pipe()
        os.close(keep)  # nobody reads: every write fails with EPIPE
        target = os.fdopen(target, "w")
    with target:
        result = subprocess.run([sys.executable, "-m", "provision", "--output", output, "validate"], stdout=target, stderr=subprocess.PIPE,
                                text=True, env=env, cwd=ROOT, timeout=60)
    assert (result.returncode, result.stderr) == (1, f"error: cannot write to standard output ({reason})\n")


def test_an_internal_error_names_the_place_in_provision_not_a_file_named_like_it(tmp_path):
    import importlib.util

    from provision.cli import _bug
    from provision.refresh import _attempt

    lib = tmp_path / "provisioning-helpers" / "lib.py"
    lib.parent.mkdir()
    lib.write_text("def explode():\n    raise KeyError('x')\n")
    spec = importlib.util.spec_from_file_location("lib", lib)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        _attempt({}, "what", module.explode)
    except KeyError as exc:
        message = _bug(exc)
    assert message.startswith("internal error (KeyError at refresh.py:"), message


def test_usage_error_exits_2():
    result = run("frobnicate")
    assert result.returncode == 2
    assert "No such command 'frobnicate'" in result.stderr


def test_schema_is_json():
    result = run("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout)["title"] == "provision deployments.yaml"


def test_validate_does_not_import_azure_sdks():
    code = "import sys; from provision.cli import main\ntry:\n    main(['validate'])\nexcept SystemExit:\n    pass\nprint(sorted(m for m in sys.modules if m.startswith('azure')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env={**os.environ, "AZURE_SUBSCRIPTION_ID": SUB}, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_version_names_the_distribution():
    from importlib.metadata import version

    result = run("--version")
    assert result.returncode == 0 and result.stdout == f"provision {version('mistral-azure-provision')} (mistral-azure-provision)\n"


def test_a_bug_is_reported_as_a_bug_without_its_text(monkeypatch, capsys):
    """An exception that is not an Azure or usage failure is a bug: one line saying so and where,
    exit 1, never the exception's text (it could hold anything); JSON mode still gets its document."""
    from provision import cli as cli_module, spec as spec_module

    def broken(path, environ=None):
        raise KeyError("sk-not-to-be-shown")

    monkeypatch.setattr(spec_module, "load_spec", broken)
    assert cli_module._run(["validate"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: internal error (KeyError at cli.py:") and "this is a bug in provision" in err
    assert "sk-not-to-be-shown" not in err and "Traceback" not in err
    assert cli_module._run(["validate", "--output", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False and document["exit_code"] == 1 and "sk-not-to-be-shown" not in json.dumps(document)
    assert cli_module._run(["--debug", "validate"]) == 1, "with --debug, the traceback too, and the same exit code"
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.rstrip().endswith("KeyError: 'sk-not-to-be-shown'")
