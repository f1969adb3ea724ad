"""The spec boundary: no input hangs, crashes or is misread.

- a checked-in corpus of what users get wrong (tests/corpus/specs, index.yaml says what each must
  give), run through the parser *and* the JSON Schema `provision schema` prints: they agree,
  except on the rules only the parser can check (listed per entry);
- property-based tests (hypothesis) over bytes, YAML-like text and spec-shaped documents, each
  input bounded in time (hypothesis' deadline; a hang guard stops a run that never ends).
"""
from __future__ import annotations

import contextlib
import re
import signal
import string
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provision import fields
from provision.errors import SpecError
from provision.spec import load_spec, parse_spec
from provision.specfile import MAX_SPEC_BYTES, decode, load_document

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "specs"
INDEX = yaml.safe_load((CORPUS / "index.yaml").read_text())
SUB = "6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11"
VALIDATOR = jsonschema.Draft202012Validator(fields.json_schema())
BOUNDED = settings(deadline=timedelta(seconds=1), max_examples=150, suppress_health_check=[HealthCheck.too_slow])
# Problems only the parser can find: across deployments, Azure's region list, the environment.
PARSER_ONLY = re.compile(r"already the name of|already deploys|is already used by|unknown Azure region|environment variable .* is not set|that is not a reference"
                         r"|applies to target: \w+ only")  # a field given for the other target: the schema allows every field everywhere


@contextlib.contextmanager
def hang_guard(seconds: float = 10):
    """Fail (instead of hanging the suite) if the parser never returns."""
    def expired(*_):
        raise AssertionError(f"the parser did not return within {seconds} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def verdict(parse) -> list[str]:
    """[] for a valid spec, else the problems as one-line strings (anything else fails the test)."""
    with hang_guard():
        try:
            parse()
            return []
        except SpecError as err:
            found = [str(p) for p in err.problems]
    assert found, "a SpecError names at least one problem"
    assert all("\n" not in p and "\r" not in p for p in found), found
    return found


def schema_errors(data) -> list[str]:
    return [e.message for e in VALIDATOR.iter_errors(data)]


# --- the corpus ---------------------------------------------------------------------------
def test_every_corpus_file_is_indexed():
    files = {p.name for p in CORPUS.iterdir() if p.name != "index.yaml"}
    assert files == set(INDEX), (files ^ set(INDEX))


@pytest.mark.parametrize("name", sorted(INDEX))
def test_corpus_entry(name):
    entry = INDEX[name]
    path = CORPUS / name
    found = verdict(lambda: load_spec(str(path), {}))
    if entry["expect"] == "valid":
        assert found == [], found
    else:
        assert found and any(entry["expect"] in p for p in found), found
        assert all(p.startswith(str(path)) for p in found), found
    if entry["schema"] == "unreadable":
        assert found, "a file the schema cannot read is one the parser refuses"
        return
    data = load_document(decode(path.read_bytes(), name), name).data
    errors = schema_errors(data)
    if entry["schema"] == "agrees":
        assert bool(errors) == bool(found), f"parser: {found}; schema: {errors}"
    else:
        assert entry["schema"].startswith("cannot tell: ")
        assert found and not errors, f"the schema accepts what only the parser can refuse; parser: {found}; schema: {errors}"
        assert all(PARSER_ONLY.search(p) for p in found), found


def test_the_example_spec_is_valid_for_the_schema_too():
    data = yaml.safe_load((Path(__file__).resolve().parents[2] / "deployments.yaml").read_text())
    assert schema_errors(data) == []
    assert verdict(lambda: load_spec("deployments.yaml", {"AZURE_SUBSCRIPTION_ID": SUB})) == []


def test_a_spec_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("#" * (10 * 1024 * 1024))
    assert verdict(lambda: load_spec(str(big), {})) == [f"{big}: is 10,485,760 bytes; a spec may be at most {MAX_SPEC_BYTES:,} bytes (256 KiB): split it into several specs"]


def test_the_largest_spec_allowed_is_valid(tmp_path):
    head = f"defaults: {{subscription: {SUB}, resource_group: rg, project: ppp}}\ndeployments:\n"
    items, size = [], len(head)
    while True:
        item = f"  - {{name: d{len(items)}, model: m{len(items)}, tags: {{team: chat}}}}\n"
        if size + len(item) > MAX_SPEC_BYTES:
            break
        items.append(item)
        size += len(item)
    path = tmp_path / "largest.yaml"
    path.write_text(head + "".join(items))
    assert verdict(lambda: load_spec(str(path), {})) == []


@pytest.mark.parametrize("where, message", [
    ("/dev/zero", "is not a regular file (a device or socket); pass the spec file with -f FILE"),
    ("/", "is a directory; pass the spec file with -f FILE"),
])
def test_devices_and_directories(where, message):
    assert verdict(lambda: load_spec(where, {})) == [f"{where}: {message}"]


# --- properties ---------------------------------------------------------------------------
@BOUNDED
@given(st.binary(max_size=3000))
def test_any_bytes_end_in_a_spec_or_named_problems(data):
    verdict(lambda: parse_spec(decode(data, "s.yaml"), "s.yaml", {}))


YAML_CHARS = string.ascii_letters[:8] + string.digits[:3] + " \t\n:-[]{},&*!|>'\"#%@`?$<=~._/\\\x00\u00e9\u2028"


@BOUNDED
@given(st.text(alphabet=YAML_CHARS, max_size=400))
def test_yaml_like_text_ends_in_a_spec_or_named_problems(text):
    verdict(lambda: parse_spec(text, "s.yaml", {}))


KEYS = st.sampled_from(["name", "model", "subscription", "resource_group", "project", "allowed_regions", "required_role",
                        "content_safety", "tags", "secrets", "url", "key", "openai_url", "path", "format", "nmae", "<<",
                        "target", "account", "sku", "capacity", "version", "content_filter"])
TEXT = st.one_of(
    st.sampled_from(["chat", "mistral-medium-2505", SUB, "rg-genai", "contoso-chat", "eastus2", "East US 2", "enabled", "Enabled",
                     "dotenv", "json", "CHAT_URL", "..", ".", "chat\n", "a_b", "1KEY", "${AZURE_SUBSCRIPTION_ID}", "${X:-y}", "provision:managed",
                     "azureml://registries/azureml-mistral/models/Codestral-2501", "azureml://registries/x/models/y/versions/1", "",
                     "foundry", "serverless", "contoso-foundry", "GlobalStandard", "Microsoft.DefaultV2", "2"]),
    st.text(max_size=20),
)
SCALARS = st.one_of(TEXT, st.integers(-10, 10**12), st.booleans(), st.none(), st.floats(allow_nan=False, allow_infinity=False))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.one_of(KEYS, st.text(max_size=6)), inner, max_size=4)), max_leaves=12)
DEPLOYMENT = st.dictionaries(KEYS, VALUES, max_size=8)
SPECS = st.fixed_dictionaries({}, optional={
    "version": st.one_of(st.just(1), SCALARS),
    "defaults": st.one_of(st.dictionaries(KEYS, VALUES, max_size=6), VALUES),
    "secrets": st.one_of(st.dictionaries(KEYS, VALUES, max_size=3), VALUES),
    "deployments": st.one_of(st.lists(DEPLOYMENT, max_size=4), VALUES),
    "deploymnets": VALUES,
})


@BOUNDED
@given(SPECS)
def test_spec_shaped_documents_the_parser_and_schema_agree_on(doc):
    """Whatever the parser accepts, the schema accepts (an editor never flags a valid spec), and
    whatever the schema refuses, the parser refuses; the parser refuses more only for the rules
    a schema cannot express. An accepted spec holds only full-matching values (no newline)."""
    text = yaml.safe_dump(doc, allow_unicode=True)
    env = {"AZURE_SUBSCRIPTION_ID": SUB}
    found = verdict(lambda: parse_spec(text, "s.yaml", env))
    data = load_document(text, "s.yaml").data
    errors = schema_errors(data)
    if not found:
        assert errors == [], errors
        spec = parse_spec(text, "s.yaml", env)
        for d in spec.deployments:
            for value in (d.name, d.model_id, d.subscription, d.resource_group, d.project, d.required_role, d.url_var, d.key_var):
                assert "\n" not in value and value == value.strip() and value not in (".", "..")
    elif not errors:
        # the schema sees ${VAR} before it is replaced: only a value from the environment may differ
        assert all(PARSER_ONLY.search(p) or "${" in text for p in found), (found, text)


NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)
MODELS = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}(\.[0-9]{1,3})?", fullmatch=True)


@BOUNDED
@given(st.lists(st.tuples(NAMES, MODELS, st.sampled_from([None, True, False, "enabled", "Disabled"]),
                          st.dictionaries(st.from_regex(r"[a-z][a-z0-9_.-]{0,10}", fullmatch=True), st.one_of(st.text(max_size=30).filter(lambda t: not re.search("[\r\n\x85\u2028\u2029]", t)), st.integers()), max_size=3)),
                min_size=1, max_size=6, unique_by=(lambda t: t[0].lower(), lambda t: t[1].lower(), lambda t: re.sub(r"[^A-Za-z0-9]+", "_", t[0]).strip("_").upper())))
def test_valid_specs_are_read_exactly_as_written(deployments):
    doc = {"defaults": {"subscription": SUB, "resource_group": "rg-genai", "project": "contoso-chat"},
           "deployments": [{"name": n, "model": m, **({"content_safety": c} if c is not None else {}), "tags": t} for n, m, c, t in deployments]}
    text = yaml.safe_dump(doc, allow_unicode=True)
    assert schema_errors(load_document(text, "s.yaml").data) == []
    found = verdict(lambda: parse_spec(text, "s.yaml", {}))
    if found:
        # names that differ only in characters the variable names drop clash: the one refusal allowed
        assert all("is already used by" in p for p in found), found
        return
    spec = parse_spec(text, "s.yaml", {})
    for d, (n, m, c, t) in zip(spec.deployments, deployments):
        assert (d.name, d.model_name) == (n, m)
        assert d.content_safety == (None if c is None else c in (True, "enabled"))
        assert dict(d.tags) == {k: (v if isinstance(v, str) else str(v)) for k, v in t.items()}


@BOUNDED
@given(st.integers(1, 60), st.integers(1, 12))
def test_nesting_and_aliases_never_exhaust_the_parser(depth, fan_out):
    nested = "x: " + "[" * depth + "]" * depth + "\n"
    aliases = "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fan_out)}]\n" for i in range(1, 12))
    for text in (nested + "deployments: []\n", aliases):
        assert verdict(lambda: parse_spec(text, "s.yaml", {}))


def test_a_value_from_the_environment_is_never_echoed():
    """A secret pasted into the wrong variable must not end up in an error message."""
    text = f"defaults: {{subscription: {SUB}, resource_group: rg, project: ppp}}\ndeployments:\n  - {{name: a, model: m, secrets: {{key: '${{ENDPOINT_KEY}}'}}, required_role: '${{ROLE}}x'}}\n"
    found = verdict(lambda: parse_spec(text, "s.yaml", {"ENDPOINT_KEY": "sk-abc123SECRET-xyz", "ROLE": "line\nbreak"}))
    assert found == ["s.yaml:3: deployments[0].required_role: '${ROLE}x' (its value from the environment) is not a role name (one line, no surrounding spaces)",
                     "s.yaml:3: deployments[0].secrets.key: '${ENDPOINT_KEY}' (its value from the environment) is not a valid variable name (letters, digits, '_'; not starting with a digit)"]
    assert not any("sk-abc123" in p for p in found)


def test_defaults_are_checked_once_and_kept_unless_overridden():
    text = (f"defaults: {{subscription: {SUB}, resource_group: rg, project: ppp, allowed_regions: [eastus9], required_role: Custom Deployer, tags: {{team: chat}}}}\n"
            "deployments:\n" + "".join(f"  - {{name: d{i}, model: m{i}}}\n" for i in range(50)))
    assert verdict(lambda: parse_spec(text, "s.yaml", {})) == ["s.yaml:1: defaults.allowed_regions[0]: unknown Azure region 'eastus9' (did you mean 'eastus'?)"]
    spec = parse_spec(text.replace("eastus9", "eastus2"), "s.yaml", {})
    assert {(d.required_role, tuple(d.tags.items())) for d in spec.deployments} == {("Custom Deployer", (("team", "chat"),))}


@pytest.mark.parametrize("shape", ["interpolation", "defaults", "tags", "numbers", "keys"])
def test_worst_case_shapes_of_the_largest_spec_finish(shape):
    """Shapes a reviewer found slow (minutes) when the parser re-checked defaults per deployment or
    backtracked on ${...}: under the hang guard; their times are in BENCHMARKS.md (scripts/bench)."""
    head = f"defaults: {{subscription: {SUB}, resource_group: rg, project: ppp}}\n"
    body = {
        "interpolation": "deployments: [{name: a, model: m, required_role: '" + "${a:-" * 40000 + "'}]\n",
        "defaults": "defaults2: x\n" + "deployments:\n" + "".join(f"  - {{name: d{i}, model: m}}\n" for i in range(8000)),
        "tags": "deployments:\n" + "".join(f"  - {{name: d{i}, model: m{i}, tags: {{a: b, c: d}}}}\n" for i in range(4000)),
        "numbers": "deployments: [{name: a, model: m, tags: {n: " + "1:" * 60000 + "1}}]\n",
        "keys": "deployments: [{name: a, model: m}]\nx: {" + ", ".join(f"k{i}: {i}" for i in range(20000)) + "}\n",
    }[shape]
    text = (head + body)[:MAX_SPEC_BYTES]
    with hang_guard(10):
        try:
            parse_spec(text, "s.yaml", {})
        except SpecError:
            pass


BASE = {"version": 1, "defaults": {"subscription": SUB, "resource_group": "rg-genai", "project": "contoso-chat", "allowed_regions": ["eastus2"]},
        "secrets": {"path": ".secrets/x.env", "format": "dotenv"},
        "deployments": [{"name": "chat", "model": "mistral-medium-2505", "content_safety": "enabled", "tags": {"team": "chat"},
                         "secrets": {"url": "CHAT_URL", "key": "CHAT_KEY"}}]}
PLACES = [("version",), ("stack",), ("defaults",), ("secrets",), ("deployments",), ("defaults", "subscription"), ("defaults", "resource_group"),
          ("defaults", "project"), ("defaults", "allowed_regions"), ("defaults", "required_role"), ("defaults", "tags"), ("secrets", "path"),
          ("secrets", "format"), ("deployments", 0), ("deployments", 0, "name"), ("deployments", 0, "model"), ("deployments", 0, "content_safety"),
          ("deployments", 0, "tags"), ("deployments", 0, "tags", "team"), ("deployments", 0, "secrets"), ("deployments", 0, "secrets", "key"),
          ("deployments", 0, "required_role"), ("deployments", 0, "allowed_regions")]
ODD = st.one_of(st.none(), st.just(""), st.booleans(), st.integers(-2, 10**20), st.floats(allow_nan=False, allow_infinity=False),
                st.sampled_from(["yes", "on", "2024-02-30", "1:30", "..", ".", "a\n", " a", "Enabled", "ENABLED", "json", "toml", "eastus2", "East US 2",
                                 "${X}", "${X:-y}", "${ X }", "provision:x", "x" * 300, "team-b", "-bad", "mistral-medium-2505.", "CHAT_URL"]),
                st.lists(st.sampled_from(["eastus2", "", "x", 3]), max_size=3), st.dictionaries(st.sampled_from(["a", "team", "url", "provision:x"]), st.sampled_from(["v", None, 1]), max_size=2),
                st.text(max_size=12))


@BOUNDED
@given(st.sampled_from(PLACES), ODD)
def test_one_field_changed_in_a_valid_spec(place, value):
    """The parser and the schema judge the same change alike; the parser refuses more only for
    what a schema cannot express (here: the region list, ${VAR} syntax and values)."""
    import copy

    doc = copy.deepcopy(BASE)
    target = doc
    for step in place[:-1]:
        target = target[step]
    target[place[-1]] = value
    text = yaml.safe_dump(doc, allow_unicode=True)
    found = verdict(lambda: parse_spec(text, "s.yaml", {"X": "eastus2"}))
    errors = schema_errors(load_document(text, "s.yaml").data)
    if not found:
        assert errors == [], (place, value, errors)
    elif not errors:
        assert all(PARSER_ONLY.search(p) or "${" in text for p in found), (place, value, found)
