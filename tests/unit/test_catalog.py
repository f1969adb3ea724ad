"""The catalog preflight's pure parts: the packaged catalog, lifecycle stages, did-you-mean, and
the model / offer / name / role-by-effect findings on hand-made live state."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provision.catalog import Lifecycle, RegistryModel, Stage, lifecycle_from_tags, packaged, split_model_id, suggestions
from provision.checks import role_covers
from provision.live import Endpoint, LiveState, ModelState, NameScan, Permission, ProjectState, RoleDefinition, Workspace
from provision.modelchecks import model_finding, name_finding, offer_finding
from provision.plan import CREATE, UPDATE
from provision.regions import REGIONS
from provision.spec import parse_spec

TODAY = dt.date(2026, 11, 25)
CATALOG = packaged()
SUB = "6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11"
WS = f"/subscriptions/{SUB}/resourceGroups/rg-genai/providers/Microsoft.MachineLearningServices/workspaces"
REGISTRY_NAMES = ("mistral-medium-2505", "mistral-small-2503", "Ministral-3B", "Codestral-2501", "mistral-document-ai-2505",
                  "Mistral-large", "Mistral-large-2407", "Mistral-small", "Mistral-Large-2411", "Mistral-Nemo", "mistral-ocr-2503")


def deployment(model: str = "mistral-medium-2505", name: str = "chat", regions: str = "[eastus2, francecentral]"):
    spec = parse_spec(f"""
version: 1
defaults: {{subscription: "{SUB}", resource_group: rg-genai, project: contoso-chat, allowed_regions: {regions}}}
deployments:
  - {{name: {name}, model: {model}}}
""", environ={})
    return spec.deployments[0]


def found(name: str, lifecycle: Lifecycle = Lifecycle()) -> ModelState:
    return ModelState(f"azureml://registries/azureml-mistral/models/{name}", RegistryModel("azureml-mistral", name, "1", lifecycle), read=True)


def missing(name: str) -> ModelState:
    return ModelState(f"azureml://registries/azureml-mistral/models/{name}", None, read=True, names=REGISTRY_NAMES)


def project(region: str = "eastus2", endpoints=()) -> ProjectState:
    p = ProjectState(SUB, "rg-genai", "contoso-chat")
    p.workspace = Workspace(f"{WS}/contoso-chat", "contoso-chat", "Project", region, f"{WS}/contoso-hub")
    p.hub = Workspace(f"{WS}/contoso-hub", "contoso-hub", "Hub", region, None)
    p.endpoints = tuple(endpoints)
    return p


def endpoint(name: str, workspace: str = "other-project", region: str = "eastus2") -> Endpoint:
    wid = f"/subscriptions/0d6e4c3b-7a2f-4e8d-9b1c-5a4f3e2d1c01/resourceGroups/rg-other/providers/Microsoft.MachineLearningServices/workspaces/{workspace}"
    return Endpoint(f"{wid}/serverlessEndpoints/{name}", name, "m", region, {}, "Succeeded", "Online", True, None, None)


# --- the packaged catalog -------------------------------------------------------------------

def test_every_packaged_model_has_a_source_regions_azure_knows_and_a_current_replacement():
    dt.date.fromisoformat(CATALOG.as_of)
    assert CATALOG.models
    for m in CATALOG.models.values():
        assert m.source and m.seller in ("marketplace", "azure")
        assert set(m.regions) <= REGIONS, m.name
        assert m.regions or (m.seller == "azure" and m.note), m.name  # no hub region: says where it is deployed instead
        if m.lifecycle.stage(TODAY) == Stage.RETIRED:
            assert m.replacement is not None, m.name
        if m.replacement is not None:
            assert CATALOG.known(m.replacement).lifecycle.stage(TODAY) == Stage.CURRENT, m.name


def test_todays_lineup_and_the_retired_models():
    assert CATALOG.current(TODAY) == ["mistral-medium-2505", "mistral-small-2503", "Ministral-3B", "Codestral-2501", "mistral-document-ai-2505"]
    assert CATALOG.known("mistral-large").lifecycle == Lifecycle(dt.date(2024, 12, 15), dt.date(2025, 1, 15), dt.date(2025, 4, 15))
    assert "francecentral" not in {r for name in CATALOG.current(TODAY) for r in CATALOG.known(name).regions}


# --- lifecycle --------------------------------------------------------------------------------

def test_each_stage_begins_on_its_date_at_midnight():
    life = Lifecycle(dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 5, 1))
    assert [life.stage(dt.date(2025, m, d)) for m, d in ((1, 1), (1, 31), (2, 1), (4, 30), (5, 1))] == [
        Stage.LEGACY, Stage.LEGACY, Stage.DEPRECATED, Stage.DEPRECATED, Stage.RETIRED]
    assert life.stage(dt.date(2024, 12, 31)) == Stage.CURRENT
    assert Lifecycle().stage(TODAY) == Stage.CURRENT and not Lifecycle()


ORDER = [Stage.CURRENT, Stage.LEGACY, Stage.DEPRECATED, Stage.RETIRED]


@settings(deadline=1000, max_examples=200)
@given(st.lists(st.one_of(st.none(), st.dates()), min_size=3, max_size=3), st.dates(), st.dates())
def test_the_stage_never_goes_back_as_days_pass(dates, day1, day2):
    life = Lifecycle(*dates)
    early, late = sorted((day1, day2))
    assert ORDER.index(life.stage(early)) <= ORDER.index(life.stage(late))


def test_registry_tags_are_read_and_garbage_is_ignored():
    tags = {"InferenceLegacyDate": "2025-03-31T00:00:00.000000Z", "inferencedeprecationdate": "2025-04-30", "InferenceRetirementDate": "soon"}
    assert lifecycle_from_tags(tags) == Lifecycle(dt.date(2025, 3, 31), dt.date(2025, 4, 30), None)


@settings(deadline=1000, max_examples=200)
@given(st.dictionaries(st.text(max_size=30), st.one_of(st.text(max_size=40), st.integers(), st.none()), max_size=6))
def test_any_tags_give_a_lifecycle_never_an_exception(tags):
    assert isinstance(lifecycle_from_tags(tags), Lifecycle)


def test_model_ids_split_into_registry_and_name():
    assert split_model_id("azureml://registries/azureml-mistral/models/Ministral-3B") == ("azureml-mistral", "Ministral-3B")


# --- did-you-mean: a corpus of what users type ------------------------------------------------

@pytest.mark.parametrize("typed, first", [
    ("Mistral-smal", "mistral-small-2503"),
    ("mistral-medium", "mistral-medium-2505"),
    ("mistral-medium-2503", "mistral-medium-2505"),
    ("codestral", "Codestral-2501"),
    ("Codestral-2405", "Codestral-2501"),
    ("ministral-3b", "Ministral-3B"),
    ("Ministral-8B", "Ministral-3B"),
    ("mistral-document-ai", "mistral-document-ai-2505"),
    ("Mistral-Medium-2505", "mistral-medium-2505"),
])
def test_a_misspelled_model_names_the_current_model_meant(typed, first):
    f = model_finding(deployment(typed), missing(typed), {CREATE}, CATALOG, TODAY)
    assert not f.ok and f.check == "model"
    assert f"did you mean '{first}'" in f.message and f.remedy == f"set `model: {first}`"
    assert f.message.startswith(f"model '{typed}' is not in the azureml-mistral registry")


def test_nothing_close_lists_the_current_models():
    f = model_finding(deployment("gpt-4o"), missing("gpt-4o"), {CREATE}, CATALOG, TODAY)
    assert f.message == "model 'gpt-4o' is not in the azureml-mistral registry"
    assert f.remedy == ("set `model` to a model the registry has; current ones (per the catalog of 2026-11-25): "
                        "mistral-medium-2505, mistral-small-2503, Ministral-3B, Codestral-2501, mistral-document-ai-2505")


@settings(deadline=1000, max_examples=300)
@given(st.text(max_size=80), st.lists(st.text(max_size=40), max_size=30))
def test_suggestions_are_always_names_of_the_registry(typed, names):
    out = suggestions(typed, names)
    assert len(out) <= 3 and set(out) <= set(names)


# --- the model finding ------------------------------------------------------------------------

def test_a_retired_model_fails_naming_its_replacement():
    f = model_finding(deployment("Mistral-large"), found("Mistral-large"), {CREATE}, CATALOG, TODAY)
    assert (f.ok, f.message, f.remedy) == (False,
        "Mistral-large was retired on 2025-04-15 (per the catalog of 2026-11-25): Azure no longer deploys it and its endpoints answer 404",
        "set `model: mistral-medium-2505` (its replacement, per the catalog of 2026-11-25)")


def test_the_registrys_dates_win_over_the_packaged_ones():
    life = Lifecycle(dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2027, 1, 1))
    f = model_finding(deployment("Mistral-large"), found("Mistral-large", life), {CREATE}, CATALOG, TODAY)
    assert (f.ok, f.message) == (False, "Mistral-large is deprecated since 2026-02-01 (per the registry): Azure makes no new deployments of it; it retires on 2027-01-01")
    kept = model_finding(deployment("Mistral-large"), found("Mistral-large", life), {UPDATE}, CATALOG, TODAY)
    assert kept.ok and kept.warning and "the endpoint serves until it retires on 2027-01-01" in kept.message


def test_a_legacy_model_passes_with_a_warning_and_a_current_one_plainly():
    life = Lifecycle(dt.date(2026, 11, 1), dt.date(2026, 12, 1), dt.date(2027, 3, 1))
    f = model_finding(deployment("mistral-small-2503"), found("mistral-small-2503", life), {CREATE}, CATALOG, TODAY)
    assert f.ok and f.warning and f.message.startswith("mistral-small-2503 is legacy since 2026-11-01 (per the registry): deprecated on 2026-12-01, retired on 2027-03-01")
    plain = model_finding(deployment(), found("mistral-medium-2505"), {CREATE}, CATALOG, TODAY)
    assert (plain.ok, plain.warning, plain.message) == (True, False, "mistral-medium-2505 (version 1) is in the azureml-mistral registry")


def test_the_registrys_spelling_is_required():
    f = model_finding(deployment("Mistral-Medium-2505"), found("mistral-medium-2505"), {CREATE}, CATALOG, TODAY)
    assert (f.ok, f.remedy) == (False, "set `model: mistral-medium-2505`")


def test_an_unread_registry_is_a_failure_saying_why_not_a_pass():
    from provision.errors import AzureError
    m = ModelState("azureml://registries/azureml-mistral/models/x", failure=AzureError("connection refused", "ConnectionFailed"))
    f = model_finding(deployment("x"), m, {CREATE}, CATALOG, TODAY)
    assert not f.ok and f.unread and f.message.startswith("could not read x from the model registry azureml-mistral")
    assert model_finding(deployment(), None, {CREATE}, CATALOG, TODAY) is None


# --- the offer (region) finding -------------------------------------------------------------

def test_a_region_without_the_model_fails_naming_where_it_is():
    f = offer_finding(deployment(), project("francecentral"), {CREATE}, CATALOG, TODAY)
    assert not f.ok and f.message == (
        "mistral-medium-2505 is not offered as a serverless API in France Central (francecentral) (per the catalog of 2026-11-25); it is in: "
        "East US (eastus), East US 2 (eastus2), North Central US (northcentralus), South Central US (southcentralus), Sweden Central (swedencentral), "
        "West US (westus), West US 3 (westus3)")
    assert f.remedy == "point `project` at a project whose hub is in East US 2 (eastus2)"


def test_when_no_allowed_region_offers_it_the_fix_says_so():
    f = offer_finding(deployment(regions="[francecentral]"), project("francecentral"), {CREATE}, CATALOG, TODAY)
    assert f.remedy.startswith("none of allowed_regions (France Central (francecentral)) offers it")


def test_offered_unknown_or_already_live():
    ok = offer_finding(deployment(), project(), {CREATE}, CATALOG, TODAY)
    assert ok.ok and not ok.warning and ok.message.endswith("sold through Azure Marketplace: apply subscribes the project to its offer")
    unknown = offer_finding(deployment("Mistral-Large-4"), project(), {CREATE}, CATALOG, TODAY)
    assert unknown.ok and unknown.warning
    assert offer_finding(deployment(), project("francecentral"), {UPDATE}, CATALOG, TODAY) is None


# --- the name finding -------------------------------------------------------------------------

def live_with(scan: NameScan) -> LiveState:
    return LiveState(None, None, {}, {}, names={scan.region: scan})


def test_a_name_taken_in_the_region_fails_naming_where():
    p = project()
    f = name_finding(deployment(name="Shared-Chat"), p, live_with(NameScan("eastus2", (endpoint("shared-chat"),), 3, ())))
    assert not f.ok and f.message == ("endpoint name 'Shared-Chat' is already used in East US 2 (eastus2) by project other-project "
                                      "(resource group rg-other, subscription 0d6e4c3b-7a2f-4e8d-9b1c-5a4f3e2d1c01): endpoint names are unique per region")


def test_a_free_name_passes_and_a_partial_look_warns():
    p = project()
    assert name_finding(deployment(), p, live_with(NameScan("eastus2", (endpoint("chat", region="westus"),), 1, ()))).ok
    partial = name_finding(deployment(), p, live_with(NameScan("eastus2", (), 0, ("subscription x (denied)",))))
    assert partial.ok and partial.warning
    assert name_finding(deployment(), project(endpoints=[endpoint("chat", "contoso-chat")]), live_with(NameScan("eastus2", (), 0, ()))) is None


# --- the role check by effect -----------------------------------------------------------------

MLS = "Microsoft.MachineLearningServices"
AI_DEVELOPER = RoleDefinition("64702f94-c441-49e6-a78b-ef80e0188fee", "Azure AI Developer", (Permission(
    (f"{MLS}/workspaces/*/read", f"{MLS}/workspaces/*/action", f"{MLS}/workspaces/*/delete", f"{MLS}/workspaces/*/write",
     f"{MLS}/locations/*/read", "Microsoft.Authorization/*/read", "Microsoft.Resources/deployments/*"),
    (f"{MLS}/workspaces/delete", f"{MLS}/workspaces/write", f"{MLS}/workspaces/listKeys/action")),))
OWNER = RoleDefinition("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner", (Permission(("*",), ()),))
CONTRIBUTOR = RoleDefinition("b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor", (Permission(("*",), (
    "Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/elevateAccess/Action",
    "Microsoft.Resources/deploymentStacks/manageDenySetting/action")),))
READER = RoleDefinition("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader", (Permission(("*/read",), ()),))


@pytest.mark.parametrize("holder, covers", [
    (OWNER, True), (CONTRIBUTOR, True), (AI_DEVELOPER, True), (READER, False),
    (RoleDefinition("c", "ML admin", (Permission((f"{MLS}/*", "Microsoft.Authorization/*/read", "Microsoft.Resources/*"), ()),)), True),
    (RoleDefinition("c", "ML but no deployments", (Permission((f"{MLS}/*", "Microsoft.Authorization/*/read"), ()),)), False),
    (RoleDefinition("c", "all but ML writes", (Permission(("*",), (f"{MLS}/workspaces/*/write",)),)), False),
    (RoleDefinition("c", "all but authorization", (Permission(("*",), ("Microsoft.Authorization/*",)),)), False),
    (RoleDefinition("c", "no permissions", ()), False),
])
def test_a_role_covers_azure_ai_developer_only_if_it_allows_every_action(holder, covers):
    assert role_covers(holder, AI_DEVELOPER) is covers


def test_a_model_azure_sells_only_to_foundry_projects_fails_the_offer_check_and_needs_no_subscription():
    d = deployment("Mistral-Large-3")
    f = offer_finding(d, project(), {CREATE}, CATALOG, TODAY)
    assert (f.ok, f.message) == (False, "Mistral-Large-3 is not offered as a serverless API in hub-based projects (per the catalog of 2026-11-25): "
                                        "it is deployed in Foundry projects (Foundry Models), not as a serverless API of a hub-based project")
    assert d.microsoft_sold and not deployment().microsoft_sold


def test_only_a_write_makes_an_unread_registry_or_a_case_difference_a_failure():
    from provision.errors import AzureError
    down = ModelState("azureml://registries/azureml-mistral/models/mistral-medium-2505", failure=AzureError("timed out", "ConnectionFailed"))
    assert not model_finding(deployment(), down, {CREATE}, CATALOG, TODAY).ok
    kept = model_finding(deployment(), down, {UPDATE}, CATALOG, TODAY)
    assert kept.ok and kept.warning
    unknown = ModelState(down.model_id, failure=AzureError("the model registry of the cloud at https://x is not known", "RegistryUnknown"))
    f = model_finding(deployment(), unknown, {CREATE}, CATALOG, TODAY)
    assert f.ok and f.warning and f.remedy == "set REGISTRY_DISCOVERY_ENDPOINT_URL to this cloud's registry discovery host"
    case = model_finding(deployment("Mistral-Medium-2505"), found("mistral-medium-2505"), {UPDATE}, CATALOG, TODAY)
    assert case.ok and case.warning and case.remedy == "set `model: mistral-medium-2505`"


def test_a_retired_model_misspelled_in_case_is_told_its_replacement_at_once():
    f = model_finding(deployment("mistral-large"), found("Mistral-large"), {CREATE}, CATALOG, TODAY)
    assert not f.ok and f.remedy == "set `model: mistral-medium-2505` (its replacement, per the catalog of 2026-11-25)"
    live = model_finding(deployment("Mistral-large"), found("Mistral-large"), {UPDATE}, CATALOG, TODAY)
    assert live.remedy.endswith("and run `provision apply --allow-replace` (new URL and keys)")


def test_roles_at_a_management_group_or_the_root_apply_everywhere():
    from provision.live import covers
    project_id = f"{WS}/contoso-chat"
    assert covers("/providers/Microsoft.Management/managementGroups/contoso", project_id)
    assert covers("/", project_id)
    assert covers(f"/subscriptions/{SUB}", project_id)
    assert not covers(f"/subscriptions/{SUB}/resourceGroups/other", project_id)
