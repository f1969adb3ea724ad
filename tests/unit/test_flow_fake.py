"""The tool's logic through the AzureApi protocol against FakeAzure: refresh, checks, plan, apply,
secrets, destroy and rotate in milliseconds (the emulator tests the same flows on the wire)."""
from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from provision.azureapi import AzureApi
from provision.checks import failed
from provision.errors import AzureError
from provision.gateway import Gateway
from provision.live import project_id
from provision.rotate import rotate_key
from provision.secrets import read_secrets, spec_directory
from provision.spec import Spec, parse_spec
from provision.workflow import apply_and_store, destroy_and_forget, destroy_preflight, preflight
from tests.fake_azure import READER, RESOURCE_GROUP, SUBSCRIPTION, FakeAzure

PROJECT = project_id(SUBSCRIPTION, RESOURCE_GROUP, "contoso-chat")


def spec_of(tmp_path: Path, *deployments: str) -> Spec:
    text = "\n".join([
        "version: 1",
        f"defaults: {{subscription: {SUBSCRIPTION}, resource_group: {RESOURCE_GROUP}, project: contoso-chat}}",
        "deployments:",
        *(f"  - {d}" for d in deployments),
    ])
    path = tmp_path / "deployments.yaml"
    path.write_text(text)
    return parse_spec(text, str(path), environ={})


def apply(spec: Spec, azure: FakeAzure, **options: bool) -> tuple[list[tuple[str, str]], bool]:
    """Preflight then apply; (the failed checks as (check, remedy), whether apply ran and succeeded)."""
    pre = preflight(spec, azure, 4, **options)
    if not pre.ok:
        return [(str(f.check), f.remedy) for f in failed(pre.findings)], False
    return [], apply_and_store(pre, azure, 4, lambda subject, message: None, environ={}, grace=0).ok


def secrets(spec: Spec) -> dict[str, str]:
    return read_secrets(spec.secrets, spec_directory(spec))


MEDIUM = "{name: medium-chat, model: mistral-medium-2505}"


def test_the_fake_and_the_gateway_both_implement_the_protocol():
    members = {name for name, _ in inspect.getmembers(AzureApi) if not name.startswith("_")}
    assert len(members) > 25
    for implementation in (Gateway, FakeAzure):
        for name in members:
            assert hasattr(implementation, name), (implementation.__name__, name)
            if callable(getattr(AzureApi, name)):
                wanted = list(inspect.signature(getattr(AzureApi, name)).parameters)
                assert list(inspect.signature(getattr(implementation, name)).parameters) == wanted, (implementation.__name__, name)


def test_apply_subscribes_then_deploys_writes_the_key_and_a_second_apply_writes_nothing(tmp_path):
    azure, spec = FakeAzure(), spec_of(tmp_path, MEDIUM)
    assert apply(spec, azure) == ([], True)
    assert azure.writes == [("create_marketplace_subscription", "mistral-medium-2505-provision"), ("put_endpoint", "medium-chat")]
    values = secrets(spec)
    assert values["MEDIUM_CHAT_URL"] == "https://medium-chat.eastus2.models.ai.azure.com"
    assert values["MEDIUM_CHAT_KEY"] == azure.list_keys(PROJECT, "medium-chat").primary.reveal()
    azure.writes.clear()
    pre = preflight(spec, azure, 4)
    assert pre.ok and not pre.plan.changes
    assert apply(spec, azure) == ([], True) and azure.writes == []


def test_a_failed_endpoint_leaves_no_subscription_behind(tmp_path):
    azure, spec = FakeAzure(), spec_of(tmp_path, MEDIUM)
    azure.fail("put_endpoint", AzureError("Quota exceeded.", "UserError", "QuotaExceeded", 400))
    assert apply(spec, azure) == ([], False)
    assert azure.writes == [("create_marketplace_subscription", "mistral-medium-2505-provision"),
                            ("delete_marketplace_subscription", "mistral-medium-2505-provision")]
    assert azure.list_marketplace_subscriptions(PROJECT) == [] and "MEDIUM_CHAT_KEY" not in secrets(spec)
    assert apply(spec, azure) == ([], True)  # the next run makes both


def test_a_model_change_needs_allow_replace_and_then_leaves_nothing_of_the_old_model(tmp_path):
    azure = FakeAzure()
    assert apply(spec_of(tmp_path, MEDIUM), azure) == ([], True)
    changed = spec_of(tmp_path, "{name: medium-chat, model: mistral-small-2503}")
    azure.writes.clear()
    assert apply(changed, azure) == ([("conflict", "re-run with --allow-replace")], False) and azure.writes == []
    assert apply(changed, azure, allow_replace=True) == ([], True)
    assert [s.model_id.rsplit("/", 1)[-1] for s in azure.list_marketplace_subscriptions(PROJECT)] == ["mistral-small-2503"]
    assert [e.model_id.rsplit("/", 1)[-1] for e in azure.list_endpoints(PROJECT)] == ["mistral-small-2503"]


def test_a_caller_without_the_role_is_refused_before_any_write(tmp_path):
    azure, spec = FakeAzure(role=READER), spec_of(tmp_path, MEDIUM)
    refused, ran = apply(spec, azure)
    assert not ran and azure.writes == []
    assert {check for check, _ in refused} == {"role", "permissions"}


def test_destroy_removes_the_endpoint_its_subscription_and_the_entries(tmp_path):
    azure, spec = FakeAzure(), spec_of(tmp_path, MEDIUM)
    assert apply(spec, azure) == ([], True)
    pre = destroy_preflight(spec, azure, 4, (), keep_subscription=False, include_unmanaged=False)
    assert pre.ok
    results = destroy_and_forget(pre, azure, 4, lambda subject, message: None)
    assert all(r.ok for r in results)
    assert azure.list_endpoints(PROJECT) == [] and azure.list_marketplace_subscriptions(PROJECT) == []
    assert "MEDIUM_CHAT_KEY" not in secrets(spec) and "MEDIUM_CHAT_URL" not in secrets(spec)


def test_rotation_moves_the_file_to_a_fresh_key_that_works(tmp_path):
    azure, spec = FakeAzure(), spec_of(tmp_path, MEDIUM)
    assert apply(spec, azure) == ([], True)
    before = secrets(spec)["MEDIUM_CHAT_KEY"]
    d = spec.deployments[0]
    rotate_key(spec, d, azure, "primary", 0.0, lambda subject, message: None, environ={})
    after = secrets(spec)["MEDIUM_CHAT_KEY"]
    keys = azure.list_keys(PROJECT, "medium-chat")
    assert after != before and before not in (keys.primary.reveal(), keys.secondary.reveal())
    from provision.secret import Secret

    assert azure.chat(secrets(spec)["MEDIUM_CHAT_URL"], Secret(after)).ok


@pytest.mark.parametrize("failure", [AzureError("The client does not have authorization.", "AuthorizationFailed", status=403)])
def test_keys_that_cannot_be_read_keep_what_the_file_had(tmp_path, failure):
    azure, spec = FakeAzure(), spec_of(tmp_path, MEDIUM)
    azure.fail("list_keys", failure)
    assert apply(spec, azure) == ([], False)
    assert "MEDIUM_CHAT_KEY" not in secrets(spec)
    assert apply(spec, azure) == ([], True) and "MEDIUM_CHAT_KEY" in secrets(spec)


# --- target: foundry --------------------------------------------------------------------------
from provision.live import account_id  # noqa: E402

ACCOUNT = account_id(SUBSCRIPTION, RESOURCE_GROUP, "contoso-foundry")
CODESTRAL = "{name: codestral, target: foundry, account: contoso-foundry, model: Codestral-2501}"
SMALL_ON_FOUNDRY = "{name: small, target: foundry, account: contoso-foundry, model: mistral-small-2503}"


def test_foundry_apply_deploys_writes_the_entry_and_a_second_apply_writes_nothing(tmp_path):
    azure, spec = FakeAzure(), spec_of(tmp_path, CODESTRAL)
    assert apply(spec, azure) == ([], True)
    assert azure.writes == [("put_foundry_deployment", "codestral")]
    values = secrets(spec)
    assert values["CODESTRAL_URL"] == "https://contoso-foundry.services.ai.azure.com/models"
    assert values["CODESTRAL_MODEL"] == "codestral"
    assert values["CODESTRAL_KEY"] == azure.account_keys(ACCOUNT).primary.reveal()
    deployed = azure.get_foundry_deployment(ACCOUNT, "codestral")
    assert deployed is not None and (deployed.model_name, deployed.model_version, deployed.sku) == ("Codestral-2501", "2", "GlobalStandard")
    azure.writes.clear()
    assert apply(spec, azure) == ([], True) and azure.writes == []


def test_foundry_version_change_is_an_update_in_place_and_a_model_change_a_replacement(tmp_path):
    azure = FakeAzure()
    assert apply(spec_of(tmp_path, CODESTRAL), azure) == ([], True)
    azure.writes.clear()
    assert apply(spec_of(tmp_path, CODESTRAL.replace("}", ", version: '1'}")), azure) == ([], True)
    assert azure.writes == [("put_foundry_deployment", "codestral")] and azure.get_foundry_deployment(ACCOUNT, "codestral").model_version == "1"
    azure.writes.clear()
    other = spec_of(tmp_path, CODESTRAL.replace("Codestral-2501", "mistral-small-2503"))
    assert apply(other, azure) == ([("conflict", "re-run with --allow-replace")], False) and azure.writes == []
    assert apply(other, azure, allow_replace=True) == ([], True)
    assert azure.writes == [("delete_foundry_deployment", "codestral"), ("put_foundry_deployment", "codestral")]


def test_a_refused_purchase_leaves_no_foundry_deployment_behind(tmp_path):
    azure, spec = FakeAzure(), spec_of(tmp_path, CODESTRAL)
    azure.refuse_purchases(ACCOUNT)
    assert apply(spec, azure) == ([], False)
    assert azure.list_foundry_deployments(ACCOUNT) == [] and "CODESTRAL_KEY" not in secrets(spec)


def test_a_foundry_key_rotation_updates_every_entry_that_shares_the_key(tmp_path):
    azure, spec = FakeAzure(), spec_of(tmp_path, CODESTRAL, SMALL_ON_FOUNDRY)
    assert apply(spec, azure) == ([], True)
    before = secrets(spec)
    assert before["CODESTRAL_KEY"] == before["SMALL_KEY"]
    rotate_key(spec, spec.deployments[0], azure, "primary", 0.0, lambda subject, message: None, environ={})
    after = secrets(spec)
    assert after["CODESTRAL_KEY"] == after["SMALL_KEY"] != before["CODESTRAL_KEY"]
    keys = azure.account_keys(ACCOUNT)
    assert after["SMALL_KEY"] in (keys.primary.reveal(), keys.secondary.reveal()) and before["SMALL_KEY"] not in (keys.primary.reveal(), keys.secondary.reveal())


def test_destroy_removes_only_this_specs_foundry_deployments(tmp_path):
    azure, spec = FakeAzure(), spec_of(tmp_path, CODESTRAL)
    assert apply(spec, azure) == ([], True)
    azure.put_foundry_deployment(ACCOUNT, "someone-elses", "mistral-small-2503", None, "GlobalStandard", None, None, {})
    pre = destroy_preflight(spec, azure, 4, (), keep_subscription=False, include_unmanaged=False)
    assert pre.ok
    assert all(r.ok for r in destroy_and_forget(pre, azure, 4, lambda subject, message: None))
    assert [d.name for d in azure.list_foundry_deployments(ACCOUNT)] == ["someone-elses"]
    assert not any(k.startswith("CODESTRAL_") for k in secrets(spec))


def test_a_move_whose_new_deployment_fails_its_call_keeps_the_entry_and_the_old_one(tmp_path):
    azure = FakeAzure()
    homes = "{name: medium-chat, model: mistral-medium-2505}"
    spec = spec_of(tmp_path, homes)
    assert apply(spec, azure) == ([], True)
    before = secrets(spec)
    text = (tmp_path / "deployments.yaml").read_text().replace("project: contoso-chat}", "project: contoso-chat, account: contoso-foundry}")
    moved = parse_spec(text.replace(homes, "{name: medium-chat, model: mistral-medium-2505, target: foundry}"), str(tmp_path / "deployments.yaml"), environ={})
    azure.fail("chat", AzureError("unused"))
    assert apply(moved, azure, allow_replace=True) == ([], False)
    assert secrets(spec) == before  # clients keep the endpoint that works
    assert [e.name for e in azure.list_endpoints(PROJECT)] == ["medium-chat"]
    assert apply(moved, azure, allow_replace=True) == ([], True)  # the next apply finishes the move
    assert azure.list_endpoints(PROJECT) == [] and secrets(spec)["MEDIUM_CHAT_MODEL"] == "medium-chat"


def test_apply_reads_a_foundry_resources_shared_keys_once(tmp_path):
    azure, spec = FakeAzure(), spec_of(tmp_path, CODESTRAL, SMALL_ON_FOUNDRY)
    reads = []
    account_keys = azure.account_keys

    def counted(account: str):
        reads.append(account)
        return account_keys(account)

    azure.account_keys = counted  # type: ignore[method-assign]
    assert apply(spec, azure) == ([], True)
    assert reads == [ACCOUNT]
