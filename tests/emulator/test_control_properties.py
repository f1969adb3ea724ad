"""The emulator's inputs, property-tested with a time bound per input: any world file ends in a
World or WorldError (never another exception), and any JSON body for faults or config ends in
the checked value or BodyError, never anything else (a 500 or a dead thread in the server)."""
from __future__ import annotations

import string
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from azure_emulator import bodies
from azure_emulator.store import Config
from azure_emulator.world import WorldError, decode_world, load_world

BOUNDED = settings(deadline=timedelta(seconds=1), max_examples=150, suppress_health_check=[HealthCheck.too_slow])
YAML_CHARS = string.ascii_letters[:6] + string.digits[:3] + " \t\n:-[]{},&*!|>'\"#%@?$._\x00\u00e9"
JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False), st.text(max_size=12)),
                    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=10)
FAULT_KEYS = st.sampled_from(["error_rate", "drop_rate", "latency_ms", "hosts", "routes", "lro_failures", "seed", "rate", "error"])
CONFIG_KEYS = st.sampled_from(list(bodies.CONFIG_FIELDS) + ["pase", "throttle"])


def ends_well(call) -> None:
    try:
        call()
    except (WorldError, bodies.BodyError):
        pass


@BOUNDED
@given(st.binary(max_size=2000))
def test_any_world_bytes(data):
    ends_well(lambda: load_world(text=decode_world(data, "w.yaml")))


@BOUNDED
@given(st.text(alphabet=YAML_CHARS, max_size=400))
def test_yaml_like_world_text(text):
    ends_well(lambda: load_world(text=text))


@BOUNDED
@given(st.dictionaries(FAULT_KEYS, JSON, max_size=4))
def test_any_faults_body(data):
    ends_well(lambda: bodies.faults(data))


@BOUNDED
@given(st.dictionaries(CONFIG_KEYS, JSON, max_size=4))
def test_any_config_body(data):
    ends_well(lambda: bodies.config(Config(), data))


# --- the catalog's fields: version, lifecycle, reserved endpoint names ---------------------------
import datetime as dt  # noqa: E402

import yaml  # noqa: E402

from azure_emulator.world import LIFECYCLE_STAGES  # noqa: E402

BASE_WORLD = {"subscriptions": [{"id": "6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11"}], "principals": [{"name": "ci"}]}
DATES = st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31))
DATE_LIKE = st.one_of(DATES, DATES.map(str), st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2030, 1, 1)),
                      st.sampled_from(["2026-02-30", "2026-1-5", "tomorrow", "", "2026-01-30T00:00:00Z"]), st.integers(-5, 5), st.none())
LIFECYCLE = st.one_of(st.dictionaries(st.sampled_from([*LIFECYCLE_STAGES, "retierd", "sunset"]), DATE_LIKE, max_size=4), JSON)
MODEL = st.fixed_dictionaries({"name": st.sampled_from(["mistral-medium-2505", "Ministral-3B"])},
                              optional={"version": st.one_of(st.integers(-3, 20_000), st.booleans(), st.text(max_size=3), st.floats(allow_nan=False)),
                                        "lifecycle": LIFECYCLE, "regions": st.one_of(st.lists(st.sampled_from(["eastus2", "East US 2"]), max_size=3), JSON),
                                        "microsoft": st.booleans()})
RESERVED = st.one_of(st.dictionaries(st.sampled_from(["eastus2", "West US"]),
                                     st.one_of(st.lists(st.one_of(st.sampled_from(["mistral-chat", "a", "1bad", "x" * 60]), st.integers()), max_size=3), JSON),
                                     max_size=2), JSON)


class _Plain(yaml.SafeDumper):
    def ignore_aliases(self, data):  # a world file may hold no aliases: write repeated values out
        return True


def world_text(models, reserved=None) -> str:
    data = dict(BASE_WORLD, models=models)
    if reserved is not None:
        data["reserved_endpoint_names"] = reserved
    return yaml.dump(data, Dumper=_Plain)


@BOUNDED
@given(st.lists(MODEL, max_size=3), st.one_of(st.none(), RESERVED))
def test_any_catalog_fields_end_in_a_world_or_errors_that_name_the_field(models, reserved):
    try:
        world = load_world(path="w.yaml", text=world_text(models, reserved))
    except WorldError as err:
        for problem in err.problems:  # `w.yaml:LINE: FIELD: message`, FIELD under the catalog's keys
            field = problem.split(": ", 2)[1]
            assert field.startswith(("models[", "reserved_endpoint_names")), problem
        return
    for model in world.models.values():
        assert 1 <= model.version <= 10_000 and model.status() in ("active", *LIFECYCLE_STAGES)


@BOUNDED
@given(st.lists(DATES, min_size=1, max_size=3), st.sets(st.sampled_from(LIFECYCLE_STAGES), min_size=1), DATES)
def test_lifecycle_dates_in_order_load_and_decide_the_status(days, stages, today):
    stages_in_order = [s for s in LIFECYCLE_STAGES if s in stages]
    dates = dict(zip(stages_in_order, sorted(days * 3)[: len(stages_in_order)]))
    world = load_world(text=world_text([{"name": "Ministral-3B", "lifecycle": dates}]))
    [model] = world.models.values()
    reached = [s for s in LIFECYCLE_STAGES if s in dates and today >= dates[s]]
    assert model.status(today) == (reached[-1] if reached else "active")


@BOUNDED
@given(DATES, st.integers(1, 400), st.sampled_from([("legacy", "deprecated"), ("deprecated", "retired"), ("legacy", "retired")]))
def test_lifecycle_dates_out_of_order_are_refused_naming_the_later_stage(day, gap, pair):
    first, then = pair
    text = world_text([{"name": "Ministral-3B", "lifecycle": {first: day, then: day - dt.timedelta(days=gap)}}])
    try:
        load_world(path="w.yaml", text=text)
    except WorldError as err:
        assert any(f"models[0].lifecycle.{then}: " in p and f"is before the {first} date" in p for p in err.problems), err.problems
    else:
        raise AssertionError("out-of-order dates were accepted")


@BOUNDED
@given(st.one_of(st.fixed_dictionaries({"model": st.one_of(st.text(max_size=8), JSON)}, optional={"lifecycle": LIFECYCLE}),
                 st.dictionaries(st.sampled_from(["model", "lifecycle", "modle"]), JSON, max_size=3)))
def test_any_lifecycle_body(data):
    ends_well(lambda: bodies.model_lifecycle(data))
