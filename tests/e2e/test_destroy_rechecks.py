"""Deletes that re-check: destroy deletes nothing it should not and keeps every secrets entry of a
live endpoint when a list answers 404, when the project is mistyped, when the secrets file is
corrupt, and when someone deploys on a subscription while destroy runs."""
from __future__ import annotations

import json
import threading

from .helpers import logged, spec_text

MODEL = "azureml://registries/azureml-mistral/models/"
LARGE = {"name": "mistral-large-chat", "model": "mistral-medium-2505"}


def _applied(cli):
    cli.spec(spec_text(LARGE))
    assert cli("apply", "--yes").code == 0
    return cli.secrets_file()


def _deletes(cli):
    return [w for w in cli.writes() if w["method"] == "DELETE"]


def test_a_404_on_the_endpoint_list_is_a_read_failure_not_an_empty_project(cli, emu):
    before = _applied(cli)
    emu.control.faults(routes=[{"method": "GET", "path": "/workspaces/contoso-chat/serverlessEndpoints$", "status": 404, "code": "ResourceNotFound", "times": 100}])
    emu.control.clear_requests()
    run = cli("destroy", "--yes")
    assert run.code == 1, run
    assert "FAIL project     mistral-large-chat: could not read the endpoints of contoso-chat" in run.stdout
    assert "  ? endpoint mistral-large-chat (contoso-chat): could not be read; nothing is deleted" in run.stdout and "already gone" not in run.stdout
    [item] = json.loads(cli("destroy", "--dry-run", "--output", "json").stdout)["plan"]
    assert item["endpoint"] == {"action": "unread", "exists": None}
    assert _deletes(cli) == [] and cli.secrets_file() == before
    emu.control.clear_faults()
    audit = cli("audit")
    assert "does not exist" not in audit.stdout, "a failed list is never reported as a missing endpoint"


def test_a_mistyped_project_deletes_nothing_and_keeps_the_entries(cli, emu):
    before = _applied(cli)
    cli.spec(spec_text(dict(LARGE, project="contoso-chatt")))
    emu.control.clear_requests()
    run = cli("destroy", "--yes")
    assert run.code == 0, run
    assert "= endpoint mistral-large-chat: project contoso-chatt does not exist in rg-genai; nothing to delete, its secrets entries are kept" in run.stdout
    assert _deletes(cli) == [] and cli.secrets_file() == before


def test_a_corrupt_secrets_file_stops_destroy_before_any_delete(cli, emu):
    cli.spec(spec_text(LARGE, secrets={"path": ".secrets/deployments.json"}))
    assert cli("apply", "--yes").code == 0
    (cli.dir / ".secrets/deployments.json").write_text("{not json")
    emu.control.clear_requests()
    run = cli("destroy", "--yes")
    assert run.code == 2, run
    assert run.stderr.startswith("error: .secrets/deployments.json:1: is not valid JSON")
    assert _deletes(cli) == [] and [r for r in emu.control.requests() if r.get("kind") == "arm"] == []


def test_a_subscription_someone_deploys_on_during_destroy_is_kept(cli, emu):
    _applied(cli)
    emu.control.configure(pace={"serverlessEndpoints": {"polls": 0, "seconds": 1.0}, "default": {"polls": 0, "seconds": 0}})
    emu.control.clear_requests()
    proc = cli.popen("destroy", "--yes")

    def deploy_meanwhile():
        # as soon as the endpoint's DELETE arrived, another team deploys the same model in the project
        logged(emu, lambda log: any(r["method"] == "DELETE" and "/serverlessEndpoints/" in r["path"] for r in log))
        emu.control.seed(kind="serverlessEndpoints", workspace="contoso-chat", name="another-team-large", model_id=MODEL + "mistral-medium-2505")

    helper = threading.Thread(target=deploy_meanwhile)
    helper.start()
    out, err = proc.communicate(timeout=120)
    helper.join()
    assert proc.returncode == 0, out + err
    assert "kept marketplace subscription mistral-medium-2505-provision (endpoint another-team-large uses it now)" in out
    assert [r["name"] for r in cli.resources("marketplaceSubscriptions")] == ["mistral-medium-2505-provision"]
    assert [d["path"].split("/")[-2] for d in _deletes(cli)] == ["serverlessEndpoints"]
