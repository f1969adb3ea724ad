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
