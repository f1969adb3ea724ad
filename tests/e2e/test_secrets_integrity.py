"""The secrets file end to end: apply racing `keys rotate` (both orders) never leaves a dead key, a
link at the secrets path is refused before Azure, a path outside the spec's directory is refused,
stdout stays JSON under GitHub Actions, and the secrets directory stays out of git.

The races are made deterministic by stopping one process (SIGSTOP) at a point the request log
shows it has reached, running the other, then letting it go on (SIGCONT)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import dotenv
import pytest
import requests

from .helpers import Cli, arrived, logged, spec_text

LARGE = {"name": "mistral-large-chat", "model": "mistral-medium-2505", "secrets": {"url": "MISTRAL_LARGE_URL", "key": "MISTRAL_LARGE_KEY"}}
SMALL = {"name": "mistral-small-chat", "model": "mistral-small-2503", "secrets": {"url": "MISTRAL_SMALL_URL", "key": "MISTRAL_SMALL_KEY"}}


def wait_for(condition: Callable[[], Any], what: str, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + 60  # a guard against hanging, not a measure: the conditions are about order
    while not condition():
        assert time.monotonic() < deadline and alive(), f"never {what}"
        time.sleep(0.01)


class Client:
    """A client calling the deployment in a loop with the URL and key the secrets file holds (read
    with python-dotenv), as test_day_two's rotation test does."""

    def __init__(self, cli: Cli) -> None:
        env = cli.env()
        self.path = cli.dir / ".secrets/deployments.env"
        self.session = requests.Session()
        self.session.proxies = {"https": env["HTTPS_PROXY"]}
        self.session.verify = env["REQUESTS_CA_BUNDLE"]
        self.calls: list[tuple[str, Any]] = []  # (the key it read, the answer's status), in order
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        while not self.stop.is_set():
            values = dotenv.dotenv_values(self.path)
            try:  # ?caller=loop tells its calls apart from the tool's probes
                status: Any = self.session.post(f"{values['MISTRAL_LARGE_URL']}/chat/completions", params={"caller": "loop"}, timeout=10,
                                                headers={"Authorization": f"Bearer {values['MISTRAL_LARGE_KEY']}"},
                                                json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            self.calls.append((str(values["MISTRAL_LARGE_KEY"]), status))
            time.sleep(0.01)

    @contextmanager
    def calling(self) -> Iterator["Client"]:
        self.thread.start()
        try:
            wait_for(lambda: self.calls, "made a call", self.thread.is_alive)
            yield self
        finally:
            self.stop.set()
            self.thread.join()

    def keys_used(self, names: dict[str, str]) -> list[str]:
        used = [names.get(key, "another key") for key, _ in self.calls]
        return [k for i, k in enumerate(used) if i == 0 or k != used[i - 1]]


def list_keys(log: list[dict[str, Any]], principal: str, name: str = "mistral-large-chat") -> list[dict[str, Any]]:
    return [r for r in log if r["path"].lower().endswith(f"/serverlessendpoints/{name}/listkeys") and r["principal"] == principal]


def regenerations(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in log if r["path"].lower().endswith("/regeneratekeys")]


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def rotator(cli: Cli) -> Cli:
    """Another operator (another principal, so the request log tells the two runs apart), same project."""
    other = Cli(cli.emu, cli.dir)
    other.principal = "ai-developer-only"
    return other


def assert_the_file_ends_on_the_new_primary_and_no_call_failed(cli: Cli, client: Client, before: tuple[str, str]) -> None:
    after = cli.keys_of("mistral-large-chat")
    assert after[0] != before[0] and after[1] == before[1], "the primary was regenerated"
    assert cli.secrets_file()["MISTRAL_LARGE_KEY"] == after[0], "the file holds a key that works: the new primary"
    failures = [status for _, status in client.calls if status != 200]
    assert failures == [], f"{len(failures)} of {len(client.calls)} calls failed: {failures[:5]}"
    assert client.keys_used({before[0]: "old primary", before[1]: "secondary", after[0]: "new primary"})[-1] == "new primary"
    assert "another key" not in client.keys_used({before[0]: "old primary", before[1]: "secondary", after[0]: "new primary"})


def test_apply_started_during_a_rotation_waits_for_it_and_keeps_the_rotated_key(cli, emu):
    cli.spec(spec_text(LARGE))
    assert cli("apply", "--yes").code == 0
    before = cli.keys_of("mistral-large-chat")
    with Client(cli).calling() as client:
        rotate = rotator(cli).popen("keys", "rotate", "mistral-large-chat", "--yes", "--grace", "3")
        try:
            # the file moved to the secondary: the rotation is in its grace period, holding the lock
            wait_for(lambda: client.calls[-1][0] == before[1], "saw the secondary key", lambda: rotate.poll() is None)
            os.kill(rotate.pid, signal.SIGSTOP)
            assert regenerations(emu.control.requests()) == [], "stopped before the regeneration"
            apply = cli.popen("apply", "--yes")
            # apply waits for the lock, and says so; it reads keys only once it holds the file
            progress = []
            while not any("waiting (up to" in line for line in progress) and (line := apply.stderr.readline()):
                progress.append(line)
            assert f"for another provision run (pid {rotate.pid}) to finish with the secrets file" in "".join(progress), progress
            assert list_keys(emu.control.requests(), "provision-ci")[1:] == [], "no key read before it holds the file"
        finally:
            os.kill(rotate.pid, signal.SIGCONT)
        rotated, applied = finish(rotate), finish(apply)
        assert rotated[0] == 0 and applied[0] == 0, (rotated, applied)
        new_primary = cli.keys_of("mistral-large-chat")[0]
        wait_for(lambda: any(key == new_primary for key, _ in client.calls), "used the new key")
    assert_the_file_ends_on_the_new_primary_and_no_call_failed(cli, client, before)
    log = emu.control.requests()
    [regen] = regenerations(log)
    reads = list_keys(log, "provision-ci")[1:]  # the first was the setup's apply
    assert len(reads) == 1 and arrived(reads[0]) > regen["time"], "apply read the keys once, under the lock, after the rotation had finished"


def test_a_rotation_during_apply_is_not_undone_by_apply(cli, emu):
    cli.spec(spec_text(LARGE))
    assert cli("apply", "--yes").code == 0
    before = cli.keys_of("mistral-large-chat")
    cli.spec(spec_text(LARGE, SMALL))
    # the small one's first key reads answer 503: apply retries them (seconds of backoff) while it holds the file
    emu.control.faults(routes=[{"method": "POST", "path": "/serverlessEndpoints/mistral-small-chat/listKeys$", "status": 503, "code": "ServiceUnavailable", "times": 6}])
    with Client(cli).calling() as client:
        apply = cli.popen("apply", "--yes")
        try:
            # (an injected answer is logged without a principal)
            logged(emu, lambda log: [r for r in log if r["path"].endswith("/mistral-small-chat/listKeys") and r["status"] == 503])
            os.kill(apply.pid, signal.SIGSTOP)  # it holds the file, has read the large one's keys and is retrying the small one's
            rotate = rotator(cli).popen("keys", "rotate", "mistral-large-chat", "--yes", "--grace", "0.5")
            progress = []
            while not any("waiting (up to" in line for line in progress) and (line := rotate.stderr.readline()):
                progress.append(line)
            assert f"for another provision run (pid {apply.pid}) to finish with the secrets file" in "".join(progress), progress
            assert regenerations(emu.control.requests()) == [], "the rotation waits for apply before it changes anything"
        finally:
            os.kill(apply.pid, signal.SIGCONT)
        code, out, err = finish(apply)
        assert code == 0, out + err
        rotated = finish(rotate)
        assert rotated[0] == 0, rotated
        new_primary = cli.keys_of("mistral-large-chat")[0]
        wait_for(lambda: any(key == new_primary for key, _ in client.calls), "used the new key")
    assert_the_file_ends_on_the_new_primary_and_no_call_failed(cli, client, before)
    log = emu.control.requests()
    [regen] = regenerations(log)
    reads = list_keys(log, "provision-ci")[1:]
    assert len(reads) == 1 and arrived(reads[0]) < arrived(regen), "apply read the keys once, before the rotation, and wrote before it"
    assert cli.secrets_file()["MISTRAL_SMALL_KEY"] == cli.keys_of("mistral-small-chat")[0]


# --- the place ------------------------------------------------------------------------------------
def no_azure_call(emu) -> bool:
    return [r for r in emu.control.requests() if r["kind"] == "arm"] == []


@pytest.mark.parametrize("target", ["/proc/self/environ", "outside"])
def test_a_symlink_at_the_secrets_path_is_refused_before_azure_and_its_target_is_neither_read_nor_written(cli, emu, target):
    cli.spec(spec_text(LARGE))
    (cli.dir / ".secrets").mkdir(mode=0o700)
    if target == "outside":
        target = str(cli.dir.parent / f"{cli.dir.name}-target.env")
        with open(target, "w") as f:
            f.write("TARGET_ONLY=from-the-target\n")
        os.chmod(target, 0o644)
    link = cli.dir / ".secrets/deployments.env"
    link.symlink_to(target)
    cli.extra_env = {"TELLTALE": "from-the-environment"}
    writers = (["apply", "--yes"], ["plan"], ["keys", "rotate", "mistral-large-chat", "--yes"], ["destroy", "--yes"])
    readers = (["probe"], ["audit"])  # audit reads Azure first (read-only), then the file
    for i, command in enumerate(writers + readers if target.startswith("/proc") else writers[:1]):
        run = cli(*command)
        assert run.code == 2, run
        assert run.stderr.startswith("error: .secrets/deployments.env: the secrets file is a symbolic link") and "remove the link" in run.stderr, run
        assert "from-the-" not in run.stdout + run.stderr
        assert no_azure_call(emu) if command in writers else cli.writes() == []
    assert link.is_symlink() and os.readlink(link) == target
    assert sorted(p.name for p in (cli.dir / ".secrets").iterdir()) == ["deployments.env"], "no lock, no temporary, nothing else"
    if not target.startswith("/proc"):
        assert open(target).read() == "TARGET_ONLY=from-the-target\n" and os.stat(target).st_mode & 0o777 == 0o644


def test_a_symlinked_secrets_directory_is_refused_and_nothing_lands_in_its_target(cli, emu):
    elsewhere = cli.dir.parent / f"{cli.dir.name}-elsewhere"
    elsewhere.mkdir(mode=0o755)
    (cli.dir / ".secrets").symlink_to(elsewhere)
    cli.spec(spec_text(LARGE))
    run = cli("apply", "--yes")
    assert run.code == 2, run
    assert ".secrets, a directory of the secrets file's path, is a symbolic link" in run.stderr
    assert no_azure_call(emu) and list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("path", ["../outside.env", "absolute", "sub/../../outside.env"])
def test_a_secrets_path_outside_the_spec_directory_is_refused_before_azure(cli, emu, path):
    if path == "absolute":
        path = str(cli.dir.parent / f"{cli.dir.name}-outside.env")
    cli.spec(spec_text(LARGE, secrets={"path": path, "format": "dotenv"}))
    for command in (["apply", "--yes"], ["probe"]):
        run = cli(*command)
        assert run.code == 2, run
        assert "the secrets file is outside the spec's directory" in run.stderr and "such as .secrets/deployments.env" in run.stderr
    assert no_azure_call(emu)
    assert not os.path.lexists(os.path.normpath(os.path.join(cli.dir, path)))


def test_an_existing_file_that_is_not_a_secrets_file_is_refused_unchanged(cli, emu):
    rc = cli.dir / ".bashrc"
    rc.write_text("alias ll='ls -l'\nexport PATH=$HOME/bin:$PATH\n")
    rc.chmod(0o644)
    cli.spec(spec_text(LARGE, secrets={"path": ".bashrc", "format": "dotenv"}))
    run = cli("apply", "--yes")
    assert run.code == 2, run
    assert run.stderr.startswith("error: .bashrc:1: is not a NAME=value line, so this is not a dotenv file"), run
    assert no_azure_call(emu)
    assert rc.read_text() == "alias ll='ls -l'\nexport PATH=$HOME/bin:$PATH\n" and rc.stat().st_mode & 0o777 == 0o644


def test_the_secrets_directory_is_0700_and_the_one_provision_creates_stays_out_of_git(cli):
    if shutil.which("git") is None:
        pytest.skip("needs git")
    git = lambda *args: subprocess.run(["git", *args], cwd=cli.dir, capture_output=True, text=True, check=True).stdout  # noqa: E731
    git("init", "-q")
    cli.spec(spec_text(LARGE))
    assert cli("apply", "--yes").code == 0
    git("add", "-A")
    assert git("status", "--porcelain").splitlines() == ["A  deployments.yaml"], "git add -A takes no key"
    assert (cli.dir / ".secrets").stat().st_mode & 0o777 == 0o700


# --- GitHub Actions -------------------------------------------------------------------------------
def test_under_github_actions_stdout_stays_json_and_every_key_written_is_masked_on_stderr(cli):
    output = cli.dir / "github_output"
    cli.extra_env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output)}
    cli.spec(spec_text(LARGE))

    def masked(run) -> set[str]:
        report = json.loads(run.stdout)  # stdout is one JSON document, nothing else
        keys = set(cli.keys_of("mistral-large-chat"))
        assert report["ok"] is True and not any(key in run.stdout for key in keys)
        lines = [line for line in run.stderr.splitlines() if any(key in line for key in keys)]
        assert all(line.startswith("::add-mask::") for line in lines), lines
        return {line.removeprefix("::add-mask::") for line in lines}

    run = cli("apply", "--yes", "--output", "json")
    assert run.code == 0, run
    primary, secondary = cli.keys_of("mistral-large-chat")
    assert masked(run) == {primary}
    assert output.read_text() == "MISTRAL_LARGE_URL=https://mistral-large-chat.eastus2.models.ai.azure.com\n"
    run = cli("keys", "rotate", "mistral-large-chat", "--yes", "--grace", "0", "--output", "json")
    assert run.code == 0, run
    new_primary = cli.keys_of("mistral-large-chat")[0]
    assert masked(run) == {secondary, new_primary}, "the key it moved the file to and the regenerated one"


def test_entries_written_against_another_azure_are_not_replaced_unless_told(cli, emu):
    """The file records which cloud, tenant and subscription wrote each entry: a run against another
    stops with exit 2 before it changes Azure, unless --replace-foreign-secrets."""
    from .helpers import SUB_GENAI, SUB_JAPAN

    phi = {"name": "phi-chat", "model": "azureml://registries/azureml/models/Phi-3.5-mini-instruct"}
    cli.spec(spec_text(phi), "genai.yaml")
    assert cli("-f", "genai.yaml", "apply", "--yes").code == 0
    # another subscription's endpoint (names are unique per region) written to the same variables
    japan = spec_text(dict(phi, name="phi-jp", subscription=SUB_JAPAN, project="jp-chat", required_role="Contributor",
                           secrets={"url": "PHI_CHAT_URL", "key": "PHI_CHAT_KEY"}))
    cli.spec(japan, "japan.yaml")
    emu.control.clear_requests()
    run = cli("-f", "japan.yaml", "apply", "--yes")
    assert run.code == 2, run
    assert f"PHI_CHAT_KEY (written against AzureCloud, tenant " in run.stderr and f"subscription {SUB_GENAI}; this run:" in run.stderr
    assert "--replace-foreign-secrets" in run.stderr and cli.writes() == []
    assert cli("-f", "japan.yaml", "keys", "rotate", "phi-jp", "--yes").code == 2
    told = cli("-f", "japan.yaml", "apply", "--yes", "--replace-foreign-secrets")
    assert told.code == 0, told
    assert cli.secrets_file()["PHI_CHAT_URL"] == "https://phi-jp.eastus2.models.ai.azure.com" and cli.writes()
    # now the first spec's destroy would remove the other subscription's entries: refused, then told
    refused = cli("-f", "genai.yaml", "destroy", "--yes")
    assert refused.code == 2 and f"subscription {SUB_JAPAN}" in refused.stderr, refused
    assert "PHI_CHAT_KEY" in cli.secrets_file()
    assert cli("-f", "genai.yaml", "destroy", "--yes", "--replace-foreign-secrets").code == 0


@pytest.mark.parametrize("position", ["before", "after"])
def test_secrets_file_option_writes_elsewhere_and_leaves_the_spec_path_alone(cli, position):
    cli.spec(spec_text(LARGE))
    args = ("--secrets-file", "elsewhere/keys.json", "apply", "--yes") if position == "before" else ("apply", "--yes", "--secrets-file", "elsewhere/keys.json")
    run = cli(*args)
    assert run.code == 0, run
    assert not (cli.dir / ".secrets").exists()
    data = json.loads((cli.dir / "elsewhere/keys.json").read_text())
    assert data["MISTRAL_LARGE_KEY"] == cli.keys_of("mistral-large-chat")[0]
    assert cli("probe", "--secrets-file", "elsewhere/keys.json").code == 0
