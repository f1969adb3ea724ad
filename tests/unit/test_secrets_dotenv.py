"""The dotenv writer, property-tested: whatever it writes, bash `source`, python-dotenv and provision's
own reader read back exactly; whatever it refuses, one of them would not. Also through a merge into
a file with `export`, comments and a multi-line value of someone else's."""
from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta

import dotenv  # python-dotenv, in the test extra
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provision.errors import ProvisionError
from provision.secrets import dotenv_value, merge_secrets, parse_secrets

BASH = shutil.which("bash")
EXISTING = "# settings of the team\nexport V0=old # keep this comment\nOTHER='two\nlines'\nV1=\"x\" # and this\n"
TRICKY = list("'\"\\$`{}#= \t\n\r\0!:-_~*?[]()<>|&;\x01\x7f\x85\u2028é")
VALUES = st.lists(st.text(st.one_of(st.sampled_from(TRICKY), st.characters()), max_size=24), min_size=1, max_size=6)


def refusable(value: str) -> bool:
    """What the writer may refuse: what one of the readers cannot read back as it is."""
    double_quotable = not re.search(r'["\\$`]', value)
    single_quotable = "'" not in value and not re.search(r"\\(?:\\|\Z)", value)
    unencodable = bool(re.search("[\ud800-\udfff]", value))  # a lone surrogate is not text a file can hold
    return unencodable or "\0" in value or "\r" in value or bool(re.search(r"\$\{[^}:]*(?::-[^}]*)?\}", value)) or not (single_quotable or double_quotable)


def bash_reads(path, names: list[str]) -> list[str]:
    script = 'source "$1" || exit 9; shift; for n; do printf "%s\\0" "${!n}"; done'
    out = subprocess.run([BASH, "--norc", "--noprofile", "-c", script, "_", str(path), *names], capture_output=True, timeout=10)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return out.stdout.decode("utf-8").split("\0")[:-1]


@pytest.mark.skipif(BASH is None, reason="needs bash")
@settings(max_examples=80, deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=VALUES, merge=st.booleans())
def test_what_is_written_reads_back_exactly_in_bash_python_dotenv_and_provision(tmp_path, values, merge):
    written: dict[str, str] = {}
    for i, value in enumerate(values):
        try:
            dotenv_value(f"V{i}", value)
        except ProvisionError as exc:
            assert refusable(value), f"refused a value every reader reads back: {value!r}"
            assert f"V{i}" in str(exc) and "nothing was written" in str(exc)
            continue
        written[f"V{i}"] = value
    text = merge_secrets(EXISTING if merge else "", "dotenv", written, "s.env")
    path = tmp_path / "s.env"
    path.write_bytes(text.encode("utf-8"))

    expected = {**({"OTHER": "two\nlines", "V0": "old", "V1": "x"} if merge else {}), **written}
    assert parse_secrets(text, "dotenv", "s.env") == expected
    assert dict(dotenv.dotenv_values(path)) == expected
    assert bash_reads(path, list(expected)) == list(expected.values())
    if merge:
        assert text.startswith("# settings of the team\n")
        if "V0" in written:
            assert re.search(r"^export V0=.* # keep this comment$", text, re.M | re.S), "export and the comment are kept"
    assert merge_secrets(text, "dotenv", written, "s.env") == text, "writing the same values again changes nothing"


@pytest.mark.parametrize("value", ["plain-0123456789abcdef", "with space", "it's", 'say "hi"', "$HOME", "`id`", "a\\b", "two\nlines", "", "x=y", "#hash"])
def test_common_values_are_written_not_refused(value):
    encoded = dotenv_value("V", value)
    assert parse_secrets(f"V={encoded}\n", "dotenv", "s.env") == {"V": value}
