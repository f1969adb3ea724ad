"""A read that failed is never a report about Azure: audit, checks and destroy say "could not be
read" (with the read's own fix), never "nothing there" (pure stages on hand-made state, and read_live
with a fake gateway)."""
from __future__ import annotations

from provision.audit import AuditData, Kind, _saas_findings, audit_findings, collect
from provision.errors import AzureError
from provision.catalog import RegistryModel
from provision.live import RoleDefinition
from provision.live import Identity, LiveState, MarketplaceSubscription, ProjectState, Read, SaasResource, Workspace
from provision.spec import parse_spec

SUB = "00000000-0000-0000-0000-000000000000"
WS = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces"
HUB = f"{WS}/hub"
PHI = "azureml://registries/azureml/models/Phi-4"  # sold by Microsoft: no Marketplace subscription
LARGE = "azureml://registries/azureml-mistral/models/Mistral-large"
ME = Identity("oid", "tid", "user", "u")
DOWN = AzureError("could not reach management.azure.com (no proxy): ConnectionError", "ConnectionFailed")


def spec(model: str = PHI, projects: tuple[str, ...] = ("proj1", "proj2")):
    deployments = "\n".join(f"  - {{name: d{i + 1}, project: {p}}}" for i, p in enumerate(projects))
    return parse_spec(f"defaults: {{subscription: {SUB}, resource_group: rg, model: {model}}}\ndeployments:\n{deployments}\n", "s.yaml", {})


class Gateway:
    """Answers like Azure for a resource group of projects in one hub; `fail` names the reads that fail."""

    def __init__(self, fail: tuple[str, ...] = (), hub: bool = True, saas: tuple[SaasResource, ...] = (), subs: tuple[MarketplaceSubscription, ...] = ()):
        self.fail, self.hub, self.saas, self.subs = fail, hub, saas, subs

    def _maybe_fail(self, what: str) -> None:
        if what in self.fail:
            raise DOWN

    def prepare(self): pass
    def identity(self): return ME
    def get_workspace(self, wid):
        if wid == HUB:
            self._maybe_fail("hub")
            return Workspace(HUB, "hub", "Hub", "eastus2", None) if self.hub else None
        return Workspace(wid, wid.rsplit("/", 1)[-1], "Project", "eastus2", HUB)
    def role_assignments(self, *a): return []
    def permissions(self, *a):
        self._maybe_fail("permissions")
        return []
    def list_endpoints(self, p):
        self._maybe_fail("endpoints")
        return []
    def list_marketplace_subscriptions(self, p):
        self._maybe_fail("marketplace")
        return list(self.subs)
    def provider_state(self, *a): return "Registered"
    def role_definition(self, sub, name): return RoleDefinition("x", name, ())
    def subscription_display_name(self, sub): return "Contoso GenAI"
    def registry_model(self, registry, name): return RegistryModel(registry, name, "1")
    def list_keys(self, *a): raise AssertionError("no endpoint, no keys")
    def list_workspaces(self, sub, rg): return [Workspace(f"{WS}/proj1", "proj1", "Project", "eastus2", HUB)]
    def list_saas_resources(self, sub, rg): return list(self.saas)


SAAS = SaasResource("id1", "saas1", "mistral-ai-large", "Subscribed")


def test_an_unread_subscription_list_is_not_a_saas_orphan():
    p = ProjectState(SUB, "rg", "proj1", failures={Read.MARKETPLACE: DOWN})
    data = AuditData(LiveState(ME, None, {(SUB, "rg", "proj1"): p}, {}), {}, everything=True, saas={(SUB, "rg"): [SAAS]})
    [finding] = _saas_findings(data)
    assert (finding.kind, finding.subject) == (Kind.READ, "rg")
    assert finding.message == "the SaaS resources of rg were not weighed against its Marketplace subscriptions: those of proj1 could not be read"


def test_audit_all_lists_the_subscriptions_of_projects_refresh_did_not():
    """All deployments sold by Microsoft: refresh reads no subscription list; audit --all does, so a
    SaaS resource is weighed against what is there, not against nothing."""
    large = MarketplaceSubscription("s", "Mistral-large-provision", LARGE, "Subscribed", "Succeeded", "mistral-ai-large")
    the_spec = spec(projects=("proj1",))
    data = collect(the_spec, Gateway(saas=(SAAS,), subs=(large,)), 1, everything=True, probe=False)
    assert [f.kind for f in audit_findings(the_spec, data) if f.kind == Kind.ORPHAN and f.subject == "saas1"] == []
    failing = collect(the_spec, Gateway(saas=(SAAS,), fail=("marketplace",)), 1, everything=True, probe=False)
    findings = audit_findings(the_spec, failing)
    assert [f.kind for f in findings if "saas" in f.subject or f.subject == "rg"] == [Kind.READ]
    assert not any(f.kind == Kind.ORPHAN for f in findings)


def _checks(the_spec, gateway):
    from provision.checks import run_checks
    from provision.plan import plan_changes
    from provision.refresh import read_live

    live = read_live(the_spec, gateway, 1)
    return live, run_checks(the_spec, live, plan_changes(the_spec, live))


def test_a_failed_hub_read_is_every_sharing_projects_and_a_missing_hub_is_named():
    the_spec = spec()
    live, findings = _checks(the_spec, Gateway(fail=("hub",)))
    assert all(p.failures[Read.HUB] is DOWN for p in live.projects.values())
    hub = [f for f in findings if f.check == "project"]
    assert [(f.subject, f.ok, f.unread) for f in hub] == [("d1", False, True), ("d2", False, True)]
    assert hub[1].message == f"could not read the hub of project proj2 ({HUB}) (ConnectionFailed: could not reach management.azure.com (no proxy): ConnectionError)"
    assert hub[1].remedy.startswith("check the network and the proxy")
    audit = audit_findings(the_spec, AuditData(live, {}))
    assert [(f.kind, f.subject) for f in audit if "hub" in f.message] == [(Kind.READ, "d1"), (Kind.READ, "d2")]

    live, findings = _checks(the_spec, Gateway(hub=False))
    gone = [f for f in findings if f.check == "project"]
    assert [(f.ok, f.unread, f.message) for f in gone] == [(False, False, f"the hub of project proj{i} ({HUB}) does not exist") for i in (1, 2)]
    assert gone[0].remedy.startswith("a project whose hub is gone cannot serve endpoints")
    assert [f.kind for f in audit_findings(the_spec, AuditData(live, {})) if "hub" in f.message] == [Kind.MISSING, Kind.MISSING]


def test_destroy_never_calls_unread_endpoints_gone():
    from provision.destroy import destroy_checks, plan_destroy, plan_orphans
    from provision.refresh import read_live

    the_spec = spec()
    live = read_live(the_spec, Gateway(fail=("endpoints", "permissions")), 1)
    items = plan_destroy(the_spec, live)
    assert [i.lines() for i in items] == [[f"  ? endpoint d{n} (proj{n}): could not be read; nothing is deleted"] for n in (1, 2)]
    assert [i.as_dict()["endpoint"] for i in items] == [{"action": "unread", "exists": None}] * 2
    findings = destroy_checks(items, live)
    assert [(f.check, f.subject, f.ok, f.unread) for f in findings if not f.ok] == [
        ("project", "d1", False, True), ("permissions", "d1", False, True), ("project", "d2", False, True), ("permissions", "d2", False, True)]
    assert all(f.remedy.startswith("check the network and the proxy") for f in findings if not f.ok)
    # --orphans: a project it could not list gives no item, and still stops the run
    assert plan_orphans(the_spec, live) == []
    assert [f.subject for f in destroy_checks([], live, list(the_spec.deployments)) if not f.ok and f.unread] == ["d1", "d2"]


def test_destroy_never_calls_an_unread_subscription_list_gone():
    from provision.destroy import plan_destroy
    from provision.refresh import read_live

    the_spec = spec(model=LARGE, projects=("proj1",))
    [item] = plan_destroy(the_spec, read_live(the_spec, Gateway(fail=("marketplace",)), 1))
    assert item.as_dict()["subscription"] == {"name": None, "action": "unread"}
    assert item.lines() == ["  = endpoint d1 (proj1): already gone", "  ? marketplace subscription of d1 (proj1): could not be read; nothing is deleted"]


def test_an_identity_failure_gets_its_own_fix_and_an_unknown_one_a_neutral_fix():
    from provision.checks import identity_findings

    def remedy(code):
        [finding] = identity_findings(LiveState(None, AzureError("it failed", code), {}, {}))
        [audited] = audit_findings(spec(), AuditData(LiveState(None, AzureError("it failed", code), {}, {}), {}))
        assert (audited.kind, audited.remedy) == (Kind.READ, finding.remedy)
        return finding.remedy

    assert remedy("CloudMetadataUnavailable").startswith("ARM_CLOUD_METADATA_URL must answer with the cloud's endpoints")
    assert remedy("CloudMetadataInvalid").startswith("ARM_CLOUD_METADATA_URL must describe a cloud with a resourceManager endpoint")
    assert remedy("TokenWithoutObjectId").startswith("use a credential of a Microsoft Entra ID principal")
    assert remedy("SomethingNew") == "`provision whoami --debug` shows what the Azure SDK said about it"
    assert remedy("CredentialUnavailable").startswith("set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET")


def test_the_plan_headline_never_says_0_changes_when_a_deployment_could_not_be_planned():
    from types import SimpleNamespace

    from provision.plan import plan_changes
    from provision.refresh import read_live
    from provision.render import plan_dict, plan_summary

    class OneProjectDown(Gateway):
        def list_endpoints(self, p):
            if p.endswith("/proj2"):
                raise DOWN
            return []

    def headline(the_spec, gateway):
        live = read_live(the_spec, gateway, 1)
        plan = plan_changes(the_spec, live)
        return plan_summary(SimpleNamespace(live=live, plan=plan)), plan_dict(plan)["complete"]

    assert headline(spec(), Gateway()) == ("Plan: 2 to add, 0 to change, 0 to destroy", True)
    assert headline(spec(), OneProjectDown()) == ("Plan: not complete: 1 deployment could not be planned (below); 1 to add, 0 to change, 0 to destroy for the other", False)
    assert headline(spec(), Gateway(fail=("endpoints",))) == ("Plan: not made: none of the 2 deployments could be planned (below)", False)
    assert headline(spec(projects=("proj2",)), OneProjectDown()) == ("Plan: not made: the deployment could not be planned (below)", False)
