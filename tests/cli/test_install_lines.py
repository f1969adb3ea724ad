"""Every line that installs this project in the pipelines, the action and the docs installs it
pinned: a local path, or its git repository at a full commit SHA. Never a name from an index (the
bare name `provision` on PyPI is an unrelated package, and an index pin such as `==0.1.0` is
still a name anyone can publish under), never a branch or tag (they move)."""
from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DISTRIBUTION = "mistral-azure-provision"
OURS = {"provision", DISTRIBUTION}  # the command and import package, and the distribution
FILES = sorted([*REPO.glob("scripts/ci/*.yml"), REPO / "action.yml", REPO / "README.md", *REPO.glob("docs/*.md")])

INSTALL = re.compile(r"\b(?:python3?\s+-m\s+pip|uv\s+pip|uv\s+tool|pip3?|pipx)\s+install\b(?P<args>.*)")
USES = re.compile(r"\buses:\s*[\"']?(?P<ref>[^\s\"'`#]+)")
AT_COMMIT = re.compile(r"@[0-9a-f]{40}")
GIT_AT_COMMIT = re.compile(r"^git\+[a-z]+://\S+@[0-9a-f]{40}(#\S*)?$")
NAME_AT_URL = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*@\s*(?P<url>\S+)$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
ACTION_PATH = re.compile(r"^(\$GITHUB_ACTION_PATH|\$\{GITHUB_ACTION_PATH\}|\$\{\{\s*github\.action_path\s*\}\})(/\S*)?$")
# options whose value is not a requirement (-e/--editable's value is, and is checked)
OPTION_VALUES = {"-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "--extra-index-url", "-f", "--find-links",
                 "-t", "--target", "--prefix", "--root", "--python", "--report", "--config-settings", "-C", "--upgrade-strategy",
                 "--no-binary", "--only-binary", "--trusted-host", "--cache-dir", "--log", "--timeout", "--retries", "--cert"}


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _words(args: str) -> list[str]:
    """The install command's arguments, as the shell splits them, up to a comment or the next command."""
    lexer = shlex.shlex(args, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""  # shlex would end a word at `#`, as in git+https://…@<sha>#egg=…
    words: list[str] = []
    try:
        for word in lexer:
            if word.startswith("#") or set(word) <= set("();<>|&"):
                break
            words.append(word)
    except ValueError:  # an unbalanced quote (the line's quoting began before the command)
        words = [w.strip("\"'") for w in args.split()]
    return words


def _is_local(word: str) -> bool:
    if ACTION_PATH.match(word):
        return True
    if "://" in word or word.startswith("git+"):
        return False
    return word.startswith((".", "/", "~")) or "/" in word or word.endswith((".whl", ".tar.gz", ".zip"))


def _requirement_problem(word: str) -> str | None:
    """Why this install argument installs this project unpinned; None if it is pinned, local, or another package."""
    if _is_local(word):
        return None
    if word.startswith("$"):
        return f"{word}: a variable; write the pinned reference out so it can be checked"
    at_url = NAME_AT_URL.match(word)
    url = at_url.group("url") if at_url else word if ("://" in word or word.startswith("git+")) else None
    if url is not None:
        path = url.split("#")[0].split("://", 1)[-1].split("/")[1:]  # …/YOUR-ORG/provision.git@ref, …/provision/archive/…
        segments = {_normalized(re.sub(r"(\.git)?(@.*)?$", "", segment)) for segment in path}
        if not (at_url and _normalized(at_url.group("name")) in OURS) and not segments & OURS:
            return None
        if GIT_AT_COMMIT.match(url):
            return None
        return f"{word}: a URL of this project not at a full commit SHA (git+https://…/provision@<40-hex sha>); branches and tags move"
    name = NAME.match(word)
    if name and _normalized(name.group()) in OURS:
        return f"{word}: a name from an index; `provision` on PyPI is an unrelated package, and any index name can be claimed"
    return None


def line_problems(line: str, markdown: bool = False) -> list[str]:
    """What is unpinned about this project in one line (an empty list: nothing)."""
    problems = []
    for m in INSTALL.finditer(line):
        args = m.group("args")
        if markdown and line[: m.start()].count("`") % 2:  # inline code: the command ends at the next backtick
            args = args.split("`", 1)[0]
        words = _words(args)
        i = 0
        while i < len(words):
            word = words[i]
            if word in OPTION_VALUES:
                i += 2
                continue
            if word in ("-e", "--editable"):
                i += 1
                continue
            if not word.startswith("-") and (problem := _requirement_problem(word)):
                problems.append(problem)
            i += 1
    for m in USES.finditer(line):
        ref = m.group("ref")
        if ref.startswith(("./", "docker://")):
            continue
        repository = ref.split("@")[0].split("/")
        if len(repository) >= 2 and _normalized(repository[1]) in OURS and not re.fullmatch(r"[^@]+@[0-9a-f]{40}", ref):
            problems.append(f"uses: {ref}: this project's action not at a full commit SHA; branches and tags move")
    return problems


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with shell continuations (a trailing backslash) joined, with the first line's number."""
    joined: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if pending:
            number, line = pending[0], pending[1] + " " + line.lstrip()
        pending = (number, line[:-1]) if line.endswith("\\") else None
        if not pending:
            joined.append((number, line))
    return joined


def install_lines(path: Path) -> list[tuple[int, str]]:
    """The lines of a file that install this project or use its action (and every install line)."""
    found = []
    for number, line in _logical_lines(path.read_text()):
        uses_ours = any(len(p := m.group("ref").split("@")[0].split("/")) >= 2 and _normalized(p[1]) in OURS for m in USES.finditer(line))
        if INSTALL.search(line) or uses_ours:
            found.append((number, line.strip()))
    return found


SHA = "0123456789abcdef0123456789abcdef01234567"
BAD = [
    "pip install provision",
    "- run: pip install provision   # this repository (README: quick start)",
    "- script: pip install provision",
    "pip install mistral-azure-provision",
    "pip install mistral_azure_provision",
    "pip install mistral-azure-provision==0.1.0",
    "pip install 'mistral-azure-provision==0.1.0'",
    'python -m pip install -U "provision[test]>=0.1"',
    "pip3 install --index-url https://pypi.org/simple mistral-azure-provision",
    "pip install --find-links dist mistral-azure-provision",
    "uv pip install pytest provision",
    "pipx install mistral-azure-provision",
    "pip install git+https://github.com/YOUR-ORG/provision",
    "pip install git+https://github.com/YOUR-ORG/provision.git@main",
    'pip install "mistral-azure-provision @ git+https://github.com/YOUR-ORG/provision@main"',
    'pip install "mistral-azure-provision @ git+https://github.com/YOUR-ORG/provision@v0.1.0"',
    'pip install "mistral-azure-provision @ git+https://github.com/YOUR-ORG/provision@b233884"',
    'pip install "mistral-azure-provision @ git+https://github.com/YOUR-ORG/somewhere-else@main"',
    "pip install https://github.com/YOUR-ORG/provision/archive/refs/heads/main.zip",
    f"pip install mistral-azure-provision @ git+https://github.com/YOUR-ORG/provision@{SHA}",  # unquoted: the shell splits it
    'pip install "$PACKAGE"',
    "pip install \\\n  provision",
    "To install: `pip install provision`.",
    "uses: YOUR-ORG/provision@main",
    "- uses: YOUR-ORG/provision@v1",
    "  uses: 'YOUR-ORG/provision@v0.1.0'",
    "- uses: YOUR-ORG/provision",
    "- uses: YOUR-ORG/provision@b233884   # short",
    f"- uses: YOUR-ORG/mistral-azure-provision@{SHA[:39]}",
]
GOOD = [
    "pip install .",
    "pip install -e .",
    "python -m pip install -e '.[test]' -q",
    "pip install ../provision",
    'python -m pip install --disable-pip-version-check -q "$GITHUB_ACTION_PATH"',
    'pip install "${{ github.action_path }}"',
    "pip install dist/mistral_azure_provision-0.1.0-py3-none-any.whl",
    "pip install dist/*.whl",
    f'pip install "mistral-azure-provision @ git+https://github.com/YOUR-ORG/provision@{SHA}"',
    f'- run: pip install "mistral-azure-provision @ git+https://github.com/YOUR-ORG/provision@{SHA}"   # this repository at a commit',
    f"pip install 'git+https://github.com/YOUR-ORG/provision.git@{SHA}#egg=mistral-azure-provision'",
    f'uv pip install "mistral-azure-provision[test] @ git+ssh://git@github.com/YOUR-ORG/provision@{SHA}"',
    "pip install azure-ai-ml pytest && pip install -e .",
    "pip install -r requirements.txt",
    f"- uses: YOUR-ORG/provision@{SHA}   # a commit of this repository",
    f"  uses: 'YOUR-ORG/provision@{SHA}'",
    "- uses: ./",
    "- uses: actions/setup-python@v5",
    "one `uses:` line at a commit",
    "the name `provision` on PyPI is an unrelated package and must never be installed",
]


@pytest.mark.parametrize("line", BAD)
def test_the_checker_catches(line):
    assert any(line_problems(text, markdown=True) for _, text in _logical_lines(line)), line


@pytest.mark.parametrize("line", GOOD)
def test_the_checker_passes(line):
    assert line_problems(line, markdown=True) == []


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(REPO)) for p in FILES])
def test_every_install_line_is_pinned(path):
    problems = [f"{path.relative_to(REPO)}:{number}: {problem}"
                for number, line in _logical_lines(path.read_text())
                for problem in line_problems(line, markdown=path.suffix == ".md")]
    assert problems == []


def test_the_checker_sees_the_install_lines():
    assert len(install_lines(REPO / "scripts/ci/github-actions.yml")) == 3
    assert len(install_lines(REPO / "scripts/ci/azure-pipelines.yml")) == 3
    assert [line for _, line in install_lines(REPO / "action.yml")] == ['run: python -m pip install --disable-pip-version-check -q "$GITHUB_ACTION_PATH"']
    assert any("uses:" in line for _, line in install_lines(REPO / "README.md"))


def test_the_distribution_name():
    assert re.search(rf'^\[project\]\nname = "{DISTRIBUTION}"$', (REPO / "pyproject.toml").read_text(), re.MULTILINE)


def test_one_pin_and_it_is_a_commit_of_this_repository_with_the_distribution_and_the_action():
    pins = {m.group()[1:] for path in FILES for m in AT_COMMIT.finditer(path.read_text())}
    assert len(pins) == 1, f"pin every file to the same commit (update them together): {sorted(pins)}"
    [sha] = pins

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)

    try:
        shallow = git("rev-parse", "--is-shallow-repository")
    except FileNotFoundError:
        pytest.skip("git is not installed")
    if shallow.returncode != 0 or shallow.stdout.strip() != "false":
        pytest.skip("not a complete git clone")
    pyproject = git("show", f"{sha}:pyproject.toml")
    assert pyproject.returncode == 0, f"{sha} is not a commit of this repository: pin one (git rev-parse HEAD)"
    assert f'name = "{DISTRIBUTION}"' in pyproject.stdout, f"{sha} predates the distribution name {DISTRIBUTION}: pip would refuse it"
    assert git("cat-file", "-e", f"{sha}:action.yml").returncode == 0, f"{sha} has no action.yml"


def test_the_action_runs_bash_and_passes_inputs_through_the_environment():
    action = yaml.safe_load((REPO / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    runs = [step for step in action["runs"]["steps"] if "run" in step]
    assert runs and all(step.get("shell") == "bash" for step in runs)
    assert not any("${{ inputs." in step["run"] for step in runs), "an input in a script is a script injection: pass it in env"
