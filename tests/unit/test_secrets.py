"""The secrets sink: merging, formats, atomicity, permissions, the place and the lock (files only)."""
from __future__ import annotations

import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from provision.errors import ProvisionError, SpecError
from provision.secret import Secret
from provision.secrets import SecretEntry, forget_entries, hold_secrets, mask_keys, publish_to_github, read_secrets, write_secrets
from provision.spec import SecretsSink

REPO = Path(__file__).resolve().parents[2]
ENTRY = SecretEntry("large", "LARGE_URL", "https://large.eastus2.models.ai.azure.com", "LARGE_KEY", Secret("k" * 32))


def entry(i: int, key: str = "") -> SecretEntry:
    return SecretEntry(f"d{i}", f"D{i}_URL", f"https://d{i}.eastus2.models.ai.azure.com", f"D{i}_KEY", Secret(key or f"{i:02d}" * 16))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_secret_never_shows_in_repr_or_str():
    s = Secret("abc123")
    assert "abc123" not in repr(s) and "abc123" not in str(s) and "abc123" not in f"{s}" and "abc123" not in repr([s])


# --- formats -------------------------------------------------------------------------------------
def test_dotenv_merge_keeps_other_lines_export_and_comments_and_replaces_in_place(tmp_path):
    path = tmp_path / "dir" / "s.env"
    path.parent.mkdir()
    path.write_text("# keep me\nexport LARGE_URL=old # the endpoint\nOTHER='x y'\nLARGE_URL=duplicate\n")
    write_secrets(SecretsSink(str(path), "dotenv"), [ENTRY])
    assert path.read_text() == (f"# keep me\nexport LARGE_URL=https://large.eastus2.models.ai.azure.com # the endpoint\nOTHER='x y'\n"
                                f"LARGE_KEY={'k' * 32}\n")
    assert mode(path) == 0o600, "a secrets file provision writes into is provision's: 0600"
    assert read_secrets(SecretsSink(str(path), "dotenv"))["OTHER"] == "x y"
    write_secrets(SecretsSink(str(path), "dotenv"), [], remove=("LARGE_URL", "LARGE_KEY"))
    assert path.read_text() == "# keep me\nOTHER='x y'\n"


def test_dotenv_reads_values_as_bash_and_python_dotenv_do(tmp_path):
    path = tmp_path / "s.env"
    path.write_text(textwrap.dedent("""\
        A=v # a comment
        B=v#not-a-comment
        export C='two
        lines' # after a quoted value
        D= # empty
        E="it's \\"quoted\\""
          F = spaced
        export G
        """))
    assert read_secrets(SecretsSink(str(path), "dotenv")) == {"A": "v", "B": "v#not-a-comment", "C": "two\nlines", "D": "", "E": 'it\'s "quoted"', "F": "spaced"}


def test_a_multi_line_value_is_replaced_whole_and_applying_twice_changes_nothing(tmp_path):
    path = tmp_path / "s.env"
    path.write_text("LARGE_KEY='old\nkey\nlines'\nOTHER=1\n")
    sink = SecretsSink(str(path), "dotenv")
    write_secrets(sink, [ENTRY])
    first = path.read_text()
    assert first == f"LARGE_KEY={'k' * 32}\nOTHER=1\nLARGE_URL=https://large.eastus2.models.ai.azure.com\n"
    inode = path.stat().st_ino
    write_secrets(sink, [ENTRY])
    assert path.read_text() == first and path.stat().st_ino == inode, "nothing to change: the file is not rewritten"


def test_a_value_with_newline_is_written_so_that_it_reads_back_and_a_second_write_replaces_it(tmp_path):
    path = tmp_path / "s.env"
    sink = SecretsSink(str(path), "dotenv")
    write_secrets(sink, [entry(1, key="first\nline's end")])
    write_secrets(sink, [entry(1, key="first\nline's end")])
    assert read_secrets(sink)["D1_KEY"] == "first\nline's end"
    assert path.read_text().count("D1_KEY=") == 1 and "line's end" in path.read_text()


@pytest.mark.parametrize("value", ["a\rb", "a\0b", "${HOME}", "it's \"x\"", "it's $HOME", "a\\\\b'", "ends\\", "\udc80"])
def test_a_value_dotenv_readers_would_read_differently_is_refused_and_nothing_is_written(tmp_path, value):
    path = tmp_path / "s.env"
    path.write_text("OTHER=1\n")
    path.chmod(0o600)
    with pytest.raises(ProvisionError) as err:
        write_secrets(SecretsSink(str(path), "dotenv"), [entry(1, key=value)])
    assert err.value.exit_code == 1 and "D1_KEY" in str(err.value) and "nothing was written" in str(err.value)
    assert value not in str(err.value)
    assert path.read_text() == "OTHER=1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".s.env.lock", "s.env"]


def test_json_takes_any_value(tmp_path):
    path = tmp_path / "s.json"
    write_secrets(SecretsSink(str(path), "json"), [entry(1, key="a\rb'\"${X}\\")])
    assert read_secrets(SecretsSink(str(path), "json"))["D1_KEY"] == "a\rb'\"${X}\\"


@pytest.mark.parametrize("text", ["version: 1\nsecrets:\n  path: x\n", "if [ -f ~/.bashrc ]; then\n  . ~/.bashrc\nfi\n", "A='never closed\n"])
def test_an_existing_file_that_is_not_a_dotenv_file_is_refused_untouched(tmp_path, text):
    path = tmp_path / "notes.env"
    path.write_text(text)
    path.chmod(0o644)
    with pytest.raises(SpecError) as err:
        write_secrets(SecretsSink(str(path), "dotenv"), [ENTRY])
    assert err.value.exit_code == 2 and "not a dotenv file" in str(err.value) and str(path) in str(err.value)
    assert path.read_text() == text and mode(path) == 0o644, "neither written nor re-moded"


def test_invalid_json_is_a_usage_error_and_the_file_is_untouched(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{not json")
    with pytest.raises(SpecError) as err:
        write_secrets(SecretsSink(str(path), "json"), [ENTRY])
    assert err.value.exit_code == 2 and "s.json:1" in str(err.value) and "k" * 32 not in str(err.value)
    assert path.read_text() == "{not json"


# --- the directory -------------------------------------------------------------------------------
def test_a_new_directory_is_0700_ignored_by_git_and_json_is_sorted(tmp_path):
    path = tmp_path / "new" / "s.json"
    write_secrets(SecretsSink(str(path), "json"), [ENTRY], root=str(tmp_path))
    assert mode(path.parent) == 0o700
    assert (path.parent / ".gitignore").read_text().splitlines()[-1] == "*"
    assert json.loads(path.read_text()) == {"LARGE_KEY": "k" * 32, "LARGE_URL": "https://large.eastus2.models.ai.azure.com"}


def test_an_existing_secrets_directory_is_tightened_but_the_spec_directory_never(tmp_path):
    (tmp_path / ".secrets").mkdir(mode=0o755)
    (tmp_path / ".secrets").chmod(0o755)
    tmp_path.chmod(0o755)
    write_secrets(SecretsSink(str(tmp_path / ".secrets/s.env"), "dotenv"), [ENTRY], root=str(tmp_path))
    assert mode(tmp_path / ".secrets") == 0o700
    assert not (tmp_path / ".secrets/.gitignore").exists(), "a directory provision did not create gets no .gitignore"
    write_secrets(SecretsSink(str(tmp_path / "top.env"), "dotenv"), [ENTRY], root=str(tmp_path))
    assert mode(tmp_path) == 0o755 and mode(tmp_path / "top.env") == 0o600
    assert not (tmp_path / ".gitignore").exists()


# --- the place: confined, no links ---------------------------------------------------------------
@pytest.mark.parametrize("where", ["../outside.env", "absolute", "sub/../../outside.env"])
def test_a_path_outside_the_spec_directory_is_refused(tmp_path, where):
    spec_dir = tmp_path / "project"
    spec_dir.mkdir()
    where = str(tmp_path / "elsewhere" / "outside.env") if where == "absolute" else where
    sink = SecretsSink(os.path.normpath(os.path.join(str(spec_dir), where)), "dotenv")
    for call in (lambda: read_secrets(sink, str(spec_dir)), lambda: write_secrets(sink, [ENTRY], root=str(spec_dir))):
        with pytest.raises(SpecError) as err:
            call()
        assert err.value.exit_code == 2 and "outside the spec's directory" in str(err.value) and ".secrets/deployments.env" in str(err.value)
    assert not os.path.lexists(sink.path) and not os.path.lexists(os.path.join(os.path.dirname(sink.path), ".outside.env.lock"))


def test_an_absolute_path_inside_the_spec_directory_is_fine(tmp_path):
    write_secrets(SecretsSink(str(tmp_path / "in" / "s.env"), "dotenv"), [ENTRY], root=str(tmp_path))
    assert read_secrets(SecretsSink(str(tmp_path / "in" / "s.env"), "dotenv"), str(tmp_path))["LARGE_KEY"] == "k" * 32


def test_a_symlink_at_the_path_is_neither_followed_for_reading_nor_for_writing(tmp_path):
    target = tmp_path / "target.env"
    target.write_text("TARGET_ONLY=from-the-target\n")
    target.chmod(0o644)
    (tmp_path / ".secrets").mkdir()
    link = tmp_path / ".secrets" / "s.env"
    link.symlink_to(target)
    sink = SecretsSink(str(link), "dotenv")
    for call in (lambda: read_secrets(sink), lambda: read_secrets(sink, str(tmp_path)), lambda: write_secrets(sink, [ENTRY], root=str(tmp_path))):
        with pytest.raises(SpecError) as err:
            call()
        assert err.value.exit_code == 2 and "symbolic link" in str(err.value) and str(link) in str(err.value) and "from-the-target" not in str(err.value)
    assert target.read_text() == "TARGET_ONLY=from-the-target\n" and mode(target) == 0o644 and link.is_symlink()


def test_a_symlinked_secrets_directory_is_refused_and_nothing_is_created_in_its_target(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    spec_dir = tmp_path / "project"
    spec_dir.mkdir()
    (spec_dir / ".secrets").symlink_to(elsewhere)
    sink = SecretsSink(str(spec_dir / ".secrets" / "s.env"), "dotenv")
    for call in (lambda: read_secrets(sink), lambda: write_secrets(sink, [ENTRY], root=str(spec_dir))):
        with pytest.raises(SpecError) as err:
            call()
        assert "symbolic link" in str(err.value)
    assert list(elsewhere.iterdir()) == [] and mode(elsewhere) == 0o755


def test_a_fifo_at_the_path_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "s.env")
    with pytest.raises(SpecError) as err:
        write_secrets(SecretsSink(str(tmp_path / "s.env"), "dotenv"), [ENTRY])
    assert "not a regular file" in str(err.value)


# --- atomicity and temporaries -------------------------------------------------------------------
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "s.env"
    path.write_text("OLD=1\n")

    def broken_replace(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ProvisionError) as err:
        write_secrets(SecretsSink(str(path), "dotenv"), [ENTRY])
    assert "No space left on device" in str(err.value) and "k" * 32 not in str(err.value)
    assert path.read_text() == "OLD=1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".s.env.lock", "s.env"]


def test_the_next_writer_removes_temporaries_a_killed_run_left_and_only_those(tmp_path):
    for name in (".provision-s.env.0123abcd.tmp", ".provision-x1y2z3_a.tmp", ".provision-other.env.0123abcd.tmp", "notes.tmp"):
        (tmp_path / name).write_text("LEFT=copy\n")
    write_secrets(SecretsSink(str(tmp_path / "s.env"), "dotenv"), [ENTRY])
    assert sorted(p.name for p in tmp_path.iterdir()) == [".provision-other.env.0123abcd.tmp", ".s.env.lock", "notes.tmp", "s.env"]


WRITER = """
import os, sys, time
import provision.secrets
from provision.secret import Secret
from provision.secrets import SecretEntry, write_secrets
from provision.spec import SecretsSink
if sys.argv[2] == "named":  # as where there are no unnamed files (not Linux, or a file system without O_TMPFILE)
    provision.secrets._unnamed_file = lambda dir_fd: None
def fsync(fd):
    print("writing", flush=True)
    time.sleep(60)
os.fsync = fsync
write_secrets(SecretsSink(sys.argv[1], "dotenv"), [SecretEntry("x", "X_URL", "https://x", "X_KEY", Secret("n" * 32))])
"""


@pytest.mark.parametrize("temporary", ["unnamed", "named"])
def test_a_writer_killed_mid_write_leaves_the_old_file_and_the_next_leaves_no_copy(tmp_path, temporary):
    path = tmp_path / "s.env"
    write_secrets(SecretsSink(str(path), "dotenv"), [ENTRY])
    before = path.read_text()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), temporary], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "writing\n"  # it holds the lock, its new file written but not yet renamed
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.wait()
    assert path.read_text() == before
    left = sorted(p.name for p in tmp_path.iterdir() if p.name not in (".s.env.lock", "s.env"))
    assert left == ([] if temporary == "unnamed" else [left[0]]) and all(re.fullmatch(r"\.provision-s\.env\.[0-9a-f]{8}\.tmp", n) for n in left)
    with hold_secrets(SecretsSink(str(path), "dotenv"), wait=5) as held:  # the killed run's lock died with it
        held.write([entry(2)])
    assert sorted(p.name for p in tmp_path.iterdir()) == [".s.env.lock", "s.env"], "no copy of the secrets left behind"
    assert set(read_secrets(SecretsSink(str(path), "dotenv"))) == {"LARGE_URL", "LARGE_KEY", "D2_URL", "D2_KEY"}


# --- one writer at a time ------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["dotenv", "json"])
def test_eight_concurrent_writers_lose_no_entry_in_repeated_trials(tmp_path, fmt):
    for trial in range(8):
        sink = SecretsSink(str(tmp_path / f"t{trial}" / "shared"), fmt)
        start = threading.Barrier(8)

        def write(i: int) -> None:
            start.wait()
            write_secrets(sink, [entry(i)])

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, range(8)))
        assert read_secrets(sink) == {v: value for i in range(8) for v, value in ((f"D{i}_URL", entry(i).url), (f"D{i}_KEY", entry(i).key.reveal()))}


PROCESS_WRITER = """
import sys
from provision.secret import Secret
from provision.secrets import SecretEntry, write_secrets
from provision.spec import SecretsSink
sink, i = SecretsSink(sys.argv[1], sys.argv[2]), int(sys.argv[3])
for round in range(5):
    write_secrets(sink, [SecretEntry(f"d{i}", f"D{i}_URL", f"https://d{i}", f"D{i}_KEY_{round}", Secret(f"{i}" * 32))])
"""


def test_eight_writer_processes_lose_no_entry(tmp_path):
    path = tmp_path / "shared.env"
    writers = [subprocess.Popen([sys.executable, "-c", PROCESS_WRITER, str(path), "dotenv", str(i)], cwd=REPO) for i in range(8)]
    assert [w.wait(timeout=60) for w in writers] == [0] * 8
    values = read_secrets(SecretsSink(str(path), "dotenv"))
    assert set(values) == {f"D{i}_URL" for i in range(8)} | {f"D{i}_KEY_{r}" for i in range(8) for r in range(5)}


def test_a_run_waits_for_the_lock_a_bounded_time_and_says_who_holds_it(tmp_path):
    sink = SecretsSink(str(tmp_path / "s.env"), "dotenv")
    heard: list[str] = []
    with hold_secrets(sink):
        with ThreadPoolExecutor(1) as pool:
            failure = pool.submit(lambda: hold_secrets(sink, wait=0.2, waiting=heard.append).__enter__()).exception()
    assert heard == [f"waiting (up to 0.2 s) for another provision run (pid {os.getpid()}) to finish with the secrets file"]
    assert isinstance(failure, ProvisionError) and failure.exit_code == 1
    assert f"another provision run (pid {os.getpid()}) holds the secrets file" in str(failure) and "waited 0.2 s" in str(failure)
    assert "the secrets file was not changed" in str(failure)


def test_a_writer_that_waited_writes_over_what_the_holder_wrote_not_over_what_it_read_before(tmp_path):
    sink = SecretsSink(str(tmp_path / "s.env"), "dotenv")
    write_secrets(sink, [entry(1, key="old" * 10)])
    waiting = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        with hold_secrets(sink) as held:
            other = pool.submit(lambda: (waiting.set(), write_secrets(sink, [entry(2)])))
            waiting.wait()
            held.write([entry(1, key="new" * 10)])
        other.result(timeout=30)  # it could only write once the lock was released
    assert read_secrets(sink)["D1_KEY"] == "new" * 10 and read_secrets(sink)["D2_KEY"] == entry(2).key.reveal()


# --- GitHub Actions ------------------------------------------------------------------------------
def test_masks_go_to_the_stream_given_and_a_key_of_several_lines_is_masked_line_by_line(tmp_path, capsys):
    stream = io.StringIO()
    output = tmp_path / "github_output"
    environ = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output)}
    publish_to_github([ENTRY, entry(2, key="line one\nline%two\r\n")], environ, stream)
    assert stream.getvalue().splitlines() == [f"::add-mask::{'k' * 32}", "::add-mask::line one%0Aline%25two%0D%0A", "::add-mask::line one",
                                              "::add-mask::line%25two"]
    assert capsys.readouterr() == ("", ""), "nothing on stdout (it may be JSON) nor stderr"
    assert output.read_text() == "LARGE_URL=https://large.eastus2.models.ai.azure.com\nD2_URL=https://d2.eastus2.models.ai.azure.com\n"


def test_nothing_is_masked_outside_github_actions():
    stream = io.StringIO()
    mask_keys([Secret("k" * 32)], {"GITHUB_ACTIONS": "false"}, stream)
    publish_to_github([ENTRY], {}, stream)
    assert stream.getvalue() == ""
