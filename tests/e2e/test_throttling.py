"""Throttling is weather: a fleet larger than ARM's write bucket runs at ARM's rate, not into it."""
from __future__ import annotations

from .helpers import many_projects_world, spec_text

MODELS = ("mistral-medium-2505", "mistral-small-2503", "Codestral-2501", "Ministral-3B")


def test_a_fleet_beyond_arms_write_bucket_gets_no_429(cli, emu):
    # 80 deployments: 240 writes (subscribe, create, listKeys each) against ARM's bucket of 200
    # refilled at 10 per second, and as many reads (polls, final GETs) against its 250 at 25.
    emu.control.load_world(many_projects_world(20))
    deployments = [{"name": f"p{i:02d}-{m.split('-')[1].lower()}", "model": m, "project": f"proj-{i:02d}"} for i in range(20) for m in MODELS]
    cli.spec(spec_text(*deployments))
    emu.control.clear_requests()
    run = cli("apply", "--yes", timeout=300)
    assert run.code == 0, run
    log = emu.control.requests()
    writes = [r for r in log if r["kind"] == "arm" and r["method"] not in ("GET", "HEAD")]
    assert len(writes) > 200, "the workload must exceed the write bucket to prove anything"
    assert [r for r in log if r["status"] == 429] == [], "the client waited for ARM's tokens instead of running into the limit"
    assert len(cli.secrets_file()) == 2 * len(deployments)
    # a second apply writes nothing (listKeys is read-only, though ARM meters its POST as a write)
    emu.control.clear_requests()
    again = cli("apply", "--yes", timeout=300)
    assert again.code == 0, again
    assert [r for r in emu.control.requests() if r["method"] in ("PUT", "PATCH", "DELETE")] == []
