"""The pure stages: plan_changes and run_checks on hand-made live state (no Azure, no emulator)."""
from __future__ import annotations

from provision.checks import allowed, run_checks
from provision.live import Endpoint, Identity, LiveState, MarketplaceSubscription, Permission, ProjectState, RoleAssignment, RoleDefinition, SubscriptionState, Workspace
from provision.plan import plan_changes
from provision.spec import parse_spec

SUB = "6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-genai"
WS = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces"
LARGE = "azureml://registries/azureml-mistral/models/Mistral-large"
AI_DEV = "64702f94-c441-49e6-a78b-ef80e0188fee"
ME = "3c5e8a1d-2b4f-4c6e-9d8a-7f1e2d3c4b5a"
AI_DEV_PERMISSIONS = Permission(
    ("Microsoft.MachineLearningServices/workspaces/*/read", "Microsoft.MachineLearningServices/workspaces/*/action",
     "Microsoft.MachineLearningServices/workspaces/*/delete", "Microsoft.MachineLearningServices/workspaces/*/write"),
    ("Microsoft.MachineLearningServices/workspaces/write", "Microsoft.MachineLearningServices/workspaces/listKeys/action"),
)
MARKETPLACE = Permission(("Microsoft.MarketplaceOrdering/*", "Microsoft.SaaS/*"), ())
MKT = "2f6c8e1a-9b3d-4f5e-8a7c-6d1e2f3a4b5c"

SPEC = parse_spec(f"""
version: 1
defaults: {{subscription: "{SUB}", resource_group: rg-genai, project: contoso-chat}}
deployments:
  - {{name: mistral-large-chat, model: Mistral-large, content_safety: enabled, tags: {{team: chat}}}}
""", environ={})


def live(endpoints=(), subs=(), region="eastus2", permissions=(AI_DEV_PERMISSIONS, MARKETPLACE), assignments=None, saas="Registered"):
    project = ProjectState(SUB, "rg-genai", "contoso-chat")
    project.workspace = Workspace(f"{WS}/contoso-chat", "contoso-chat", "Project", region, f"{WS}/contoso-hub")
    project.hub = Workspace(f"{WS}/contoso-hub", "contoso-hub", "Hub", region, None)
    project.endpoints = tuple(endpoints)
    project.marketplace_subscriptions = tuple(subs)
    project.permissions = tuple(permissions)
    market = MARKETPLACE in permissions  # held as a role over the whole subscription, where the terms are signed
    project.assignments = tuple(assignments if assignments is not None else [
        RoleAssignment("a1", RG, f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{AI_DEV}", ME, "ServicePrincipal")]
        + ([RoleAssignment("a2", f"/subscriptions/{SUB}", f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{MKT}", ME, "ServicePrincipal")] if market else []))
    sub = SubscriptionState(SUB, {"microsoft.machinelearningservices": "Registered", "microsoft.saas": saas}, {"azure ai developer": AI_DEV},
                            roles={MKT: RoleDefinition(MKT, "Marketplace Model Subscriber", (MARKETPLACE,))})
    return LiveState(Identity(ME, "t", "service principal", "app"), None, {SPEC.deployments[0].project_key: project}, {SUB: sub})


def endpoint(name="mistral-large-chat", model=LARGE, tags=None, state="Succeeded", safety=True):
    tags = {"team": "chat", "provision:managed": "true", "provision:deployment": name} if tags is None else tags
    return Endpoint(f"{WS}/contoso-chat/serverlessEndpoints/{name}", name, model, "eastus2", tags, state, "Online", safety, f"https://{name}.eastus2.models.ai.azure.com", None)


def actions(plan):
    return [(s.action, s.name) for s in plan.deployments[0].steps]


def test_nothing_live_plans_subscribe_then_create():
    assert actions(plan_changes(SPEC, live())) == [("subscribe", "Mistral-large-provision"), ("create", "mistral-large-chat")]


def test_an_existing_subscription_under_any_name_is_used():
    subs = [MarketplaceSubscription("id", "portal-made", LARGE.lower(), "Subscribed", "Succeeded")]
    plan = plan_changes(SPEC, live(subs=subs))
    assert actions(plan) == [("create", "mistral-large-chat")]
    assert plan.deployments[0].subscription_name == "portal-made"


def test_in_sync_is_no_change_and_drift_is_an_update():
    subs = [MarketplaceSubscription("id", "Mistral-large-provision", LARGE, "Subscribed", "Succeeded")]
    assert not plan_changes(SPEC, live([endpoint()], subs)).changes
    assert actions(plan_changes(SPEC, live([endpoint(safety=False)], subs))) == [("update", "mistral-large-chat")]
    assert actions(plan_changes(SPEC, live([endpoint(tags={"team": "other", "provision:managed": "true", "provision:deployment": "mistral-large-chat"})], subs))) == [("retag", "mistral-large-chat")]
    assert actions(plan_changes(SPEC, live([endpoint(state="Creating")], subs))) == [("resume", "mistral-large-chat")]
    assert actions(plan_changes(SPEC, live([endpoint(model=LARGE + "-2407")], subs))) == [("replace", "mistral-large-chat")]
    assert actions(plan_changes(SPEC, live([endpoint(tags={})], subs))) == [("adopt", "mistral-large-chat")]


def test_a_failed_subscription_is_retried_under_its_name():
    subs = [MarketplaceSubscription("id", "Mistral-large-provision", LARGE, "Unsubscribed", "Failed")]
    assert actions(plan_changes(SPEC, live(subs=subs)))[0] == ("subscribe", "Mistral-large-provision")


def test_checks_pass_and_fail_with_remedies():
    ok = live()
    findings = run_checks(SPEC, ok, plan_changes(SPEC, ok))
    assert all(f.ok for f in findings), [f for f in findings if not f.ok]
    west = live(region="westeurope")
    [region] = [f for f in run_checks(SPEC, west, plan_changes(SPEC, west)) if f.check == "region"]
    assert not region.ok and "allowed_regions" in region.remedy
    no_market = live(permissions=(AI_DEV_PERMISSIONS,))
    [perm] = [f for f in run_checks(SPEC, no_market, plan_changes(SPEC, no_market)) if f.check == "permissions"]
    assert not perm.ok and "Microsoft.MarketplaceOrdering/agreements/offers/plans/sign/action" in perm.message
    no_role = live(assignments=[])
    [role] = [f for f in run_checks(SPEC, no_role, plan_changes(SPEC, no_role)) if f.check == "role"]
    assert not role.ok and f"--scope {RG}" in role.remedy
    conflict = live([endpoint(name="other-large")])
    failed = [f for f in run_checks(SPEC, conflict, plan_changes(SPEC, conflict)) if not f.ok]
    assert [f.check for f in failed] == ["conflict"] and "'other-large'" in failed[0].message


def test_wildcards_and_not_actions_follow_azure():
    assert allowed([AI_DEV_PERMISSIONS], "Microsoft.MachineLearningServices/workspaces/serverlessEndpoints/write")
    assert allowed([AI_DEV_PERMISSIONS], "Microsoft.MachineLearningServices/workspaces/serverlessEndpoints/listKeys/action")
    assert not allowed([AI_DEV_PERMISSIONS], "Microsoft.MachineLearningServices/workspaces/write")  # notActions
    assert not allowed([AI_DEV_PERMISSIONS], "Microsoft.SaaS/resources/write")
    assert allowed([Permission(("*",), ())], "Microsoft.SaaS/resources/write")
    assert not allowed([Permission(("*/read",), ())], "Microsoft.SaaS/resources/write")


def test_ownership_marks_must_all_match_exactly():
    """A partial or forged mark is not ownership: the endpoint must be adopted, and destroy refuses it."""
    from provision.destroy import REFUSE, plan_destroy

    subs = [MarketplaceSubscription("id", "Mistral-large-provision", LARGE, "Subscribed", "Succeeded")]
    forged = [
        {"provision:managed": "true"},  # no deployment mark
        {"provision:managed": "TRUE", "provision:deployment": "mistral-large-chat"},  # not exactly "true"
        {"provision:managed": "true", "provision:deployment": "someone-else"},  # another deployment's mark
        {"provision:managed": "true", "provision:deployment": "mistral-large-chat", "provision:stack": "team-b"},  # another spec's
    ]
    for tags in forged:
        state = live([endpoint(tags={"team": "chat", **tags})], subs)
        assert actions(plan_changes(SPEC, state)) == [("adopt", "mistral-large-chat")], tags
        [item] = plan_destroy(SPEC, state)
        assert item.endpoint_action == REFUSE and item.subscription_action != "delete", tags


def test_a_stack_marks_its_endpoints_and_names_its_subscriptions():
    team_b = parse_spec(f"""
stack: team-b
defaults: {{subscription: "{SUB}", resource_group: rg-genai, project: contoso-chat}}
deployments:
  - {{name: mistral-large-chat, model: Mistral-large, content_safety: enabled, tags: {{team: chat}}}}
""", environ={})
    plan = plan_changes(team_b, live())
    assert actions(plan) == [("subscribe", "Mistral-large-team-b-provision"), ("create", "mistral-large-chat")]
    assert plan.deployments[0].endpoint_tags["provision:stack"] == "team-b"
    # the default stack's subscription is not team-b's, and a name that merely ends in -provision is nobody's
    assert not MarketplaceSubscription("id", "Mistral-large-provision", LARGE, "Subscribed", "Succeeded").owned_by("team-b")
    assert not MarketplaceSubscription("id", "finance-provision", LARGE, "Subscribed", "Succeeded").owned_by("default")


def test_a_replacement_unsubscribes_the_old_models_subscription_when_nothing_else_uses_it():
    small = "azureml://registries/azureml-mistral/models/Mistral-small"
    subs = [MarketplaceSubscription("s1", "Mistral-small-provision", small, "Subscribed", "Succeeded"),
            MarketplaceSubscription("s2", "Mistral-large-provision", LARGE, "Subscribed", "Succeeded")]
    assert actions(plan_changes(SPEC, live([endpoint(model=small)], subs))) == [("replace", "mistral-large-chat"), ("unsubscribe", "Mistral-small-provision")]
    # not when it is not this spec's, or another endpoint uses it
    mine_not = [MarketplaceSubscription("s1", "portal-small", small, "Subscribed", "Succeeded"), subs[1]]
    assert actions(plan_changes(SPEC, live([endpoint(model=small)], mine_not))) == [("replace", "mistral-large-chat")]
    other = endpoint(name="small-two", model=small)
    assert actions(plan_changes(SPEC, live([endpoint(model=small), other], subs))) == [("replace", "mistral-large-chat")]


def test_orphans_are_only_this_stacks():
    from provision.destroy import plan_orphans

    small = "azureml://registries/azureml-mistral/models/Mistral-small"
    mine = endpoint(name="old-small", model=small)
    theirs = endpoint(name="their-small", model=small, tags={"provision:managed": "true", "provision:deployment": "their-small", "provision:stack": "team-b"})
    subs = [MarketplaceSubscription("s1", "Mistral-small-provision", small, "Subscribed", "Succeeded"),
            MarketplaceSubscription("s2", "Ministral-3B-provision", "azureml://registries/azureml-mistral/models/Ministral-3B", "Subscribed", "Succeeded")]
    items = plan_orphans(SPEC, live([endpoint(), mine], subs))
    assert [(i.deployment.name, i.endpoint_action, i.subscription.name if i.subscription else None, i.subscription_action) for i in items] == [
        ("old-small", "delete", "Mistral-small-provision", "delete"), ("Ministral-3B-provision", "gone", "Ministral-3B-provision", "delete")]
    # another stack's endpoint is not an orphan, and keeps the subscription it uses
    items = plan_orphans(SPEC, live([endpoint(), theirs], subs))
    assert [(i.deployment.name, i.subscription_action) for i in items] == [("Ministral-3B-provision", "delete")]


def test_the_subscription_an_endpoint_relies_on_is_the_one_it_names_else_its_models():
    """One rule for audit and destroy (live.subscription_of)."""
    import dataclasses

    from provision.live import subscription_of

    named = MarketplaceSubscription(f"{WS}/contoso-chat/marketplaceSubscriptions/portal-made", "portal-made", LARGE, "Subscribed", "Succeeded")
    by_model = MarketplaceSubscription(f"{WS}/contoso-chat/marketplaceSubscriptions/Mistral-large-provision", "Mistral-large-provision", LARGE, "Subscribed", "Succeeded")
    pointing = dataclasses.replace(endpoint(), marketplace_subscription_id=named.id.upper())
    assert subscription_of(LARGE, pointing, [by_model, named]) is named
    assert subscription_of(LARGE, endpoint(), [by_model, named]) is by_model
    assert subscription_of(LARGE, None, []) is None
    assert pointing.uses(named) and endpoint().uses(by_model) and not dataclasses.replace(endpoint(), model_id="other").uses(named)
