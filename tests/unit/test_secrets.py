"""The secrets sink: merging, formats, atomicity and permissions (files only)."""
from __future__ import annotations

import json
import os
import stat

import pytest

from provision.errors import SpecError
from provision.secret import Secret
from provision.secrets import SecretEntry, read_secrets, write_secrets
from provision.spec import SecretsSink

ENTRY = SecretEntry("large", "LARGE_URL", "https://large.eastus2.models.ai.azure.com", "LARGE_KEY", Secret("k" * 32))


def test_secret_never_shows_in_repr_or_str():
    s = Secret("abc123")
    assert "abc123" not in repr(s) and "abc123" not in str(s) and "abc123" not in f"{s}" and "abc123" not in repr([s])


def test_dotenv_merge_keeps_other_lines_and_replaces_in_place(tmp_path):
    path = tmp_path / "dir" / "s.env"
    path.parent.mkdir()
    path.write_text("# keep me\nexport LARGE_URL=old\nOTHER='x y'\nLARGE_URL=duplicate\n")
    write_secrets(SecretsSink(str(path), "dotenv"), [ENTRY])
    assert path.read_text() == f"# keep me\nLARGE_URL=https://large.eastus2.models.ai.azure.com\nOTHER='x y'\nLARGE_KEY={'k' * 32}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_secrets(SecretsSink(str(path), "dotenv"))["OTHER"] == "x y"
    write_secrets(SecretsSink(str(path), "dotenv"), [], remove=("LARGE_URL", "LARGE_KEY"))
    assert path.read_text() == "# keep me\nOTHER='x y'\n"


def test_new_directory_is_0700_and_json_is_sorted(tmp_path):
    path = tmp_path / "new" / "s.json"
    write_secrets(SecretsSink(str(path), "json"), [ENTRY])
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {"LARGE_KEY": "k" * 32, "LARGE_URL": "https://large.eastus2.models.ai.azure.com"}


def test_invalid_json_is_a_usage_error_and_the_file_is_untouched(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{not json")
    with pytest.raises(SpecError) as err:
        write_secrets(SecretsSink(str(path), "json"), [ENTRY])
    assert err.value.exit_code == 2 and "s.json:1" in str(err.value) and "k" * 32 not in str(err.value)
    assert path.read_text() == "{not json"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "s.env"
    path.write_text("OLD=1\n")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(Exception) as err:
        write_secrets(SecretsSink(str(path), "dotenv"), [ENTRY])
    assert "No space left on device" in str(err.value) and "k" * 32 not in str(err.value)
    assert path.read_text() == "OLD=1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.env"]
