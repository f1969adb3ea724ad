"""The spec: interpolation, normalisation, and every validation rule, each with file:line."""
from __future__ import annotations

import textwrap

import pytest

from provision.errors import SpecError
from provision.spec import json_schema, parse_spec

SUB = "6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11"
ENV = {"AZURE_SUBSCRIPTION_ID": SUB}


def problems(text: str, env=ENV) -> list[str]:
    with pytest.raises(SpecError) as err:
        parse_spec(textwrap.dedent(text), "spec.yaml", env)
    return [str(p) for p in err.value.problems]


def test_example_spec_is_valid_and_normalised():
    spec = parse_spec(open("deployments.yaml").read(), "deployments.yaml", ENV)
    (d, f) = spec.deployments
    assert d.name == "mistral-medium-chat"
    assert d.model_id == "azureml://registries/azureml-mistral/models/mistral-medium-2505"
    assert d.subscription == SUB and d.resource_group == "rg-genai" and d.project == "contoso-chat"
    assert d.allowed_regions == ("eastus2", "francecentral")
    assert d.required_role == "Azure AI Developer"
    assert d.content_safety is True and dict(d.tags) == {"team": "chat"}
    assert (d.url_var, d.key_var) == ("MISTRAL_MEDIUM_URL", "MISTRAL_MEDIUM_KEY")
    assert spec.secrets.path == ".secrets/deployments.env" and spec.secrets.format == "dotenv"
    assert not d.microsoft_sold and d.target == "serverless"
    assert (f.name, f.target, f.account, f.model_id, f.sku, f.version, f.project) == ("codestral", "foundry", "contoso-foundry", "Codestral-2501", "GlobalStandard", None, "")
    assert f.required_role == "Cognitive Services Contributor" and f.allowed_regions == ("eastus2", "francecentral")
    assert (f.url_var, f.key_var, f.model_var) == ("CODESTRAL_URL", "CODESTRAL_KEY", "CODESTRAL_MODEL")


def test_defaults_interpolation_and_derived_names():
    spec = parse_spec(textwrap.dedent("""
        defaults:
          subscription: ${SUB_ID:-%s}
          resource_group: ${RG}
          project: p-one
          allowed_regions: [East US 2]
        deployments:
          - {name: small-one, model: Mistral-small, project: p-two, tags: {cost: 12, shared: true}}
          - {name: phi, model: "azureml://registries/azureml/models/Phi-3.5-mini-instruct"}
    """ % SUB), "s.yaml", {"RG": "rg-x"})
    small, phi = spec.deployments
    assert small.project == "p-two" and small.resource_group == "rg-x" and small.subscription == SUB
    assert small.allowed_regions == ("eastus2",)
    assert dict(small.tags) == {"cost": "12", "shared": "true"}
    assert (small.url_var, small.key_var) == ("SMALL_ONE_URL", "SMALL_ONE_KEY")
    assert phi.microsoft_sold and phi.content_safety is None


def test_unset_variable_is_named_with_its_line_once():
    found = problems("""
        defaults:
          subscription: ${AZURE_SUBSCRIPTION_ID}
          resource_group: rg
          project: proj
        deployments:
          - {name: a, model: Mistral-large}
          - {name: b, model: Mistral-small}
    """, env={})
    assert found == ["spec.yaml:3: defaults.subscription: environment variable AZURE_SUBSCRIPTION_ID is not set or is empty (set it, or write ${AZURE_SUBSCRIPTION_ID:-default})"]


def test_every_problem_is_reported_at_once():
    found = problems(f"""
        version: 1
        defaults:
          subscription: {SUB}
          resource_group: rg-genai
          project: contoso-chat
          alowed_regions: [eastus2]
        secrets:
          path: s.env
          format: toml
        deployments:
          - name: Mistral_Large
            model: Mistral-large
          - name: pinned
            model: azureml://registries/azureml-mistral/models/Mistral-large/versions/2
          - name: large-a
            model: Mistral-large
            allowed_regions: [eastus3]
          - name: large-b
            model: Mistral-large
            contnet_safety: enabled
          - name: large-a
            model: Mistral-small
            content_safety: maybe
          - name: clash
            model: Mistral-Nemo
            secrets: {{url: LARGE_B_URL, key: 1KEY}}
    """)
    assert found == [
        "spec.yaml:7: defaults.alowed_regions: unknown field (did you mean 'allowed_regions'?)",
        "spec.yaml:10: secrets.format: 'toml' is not one of dotenv, json",
        "spec.yaml:12: deployments[0].name: 'Mistral_Large' is not a valid endpoint name: start with a letter; letters, digits and hyphens only; at most 52 characters",
        "spec.yaml:15: deployments[1].model: 'azureml://registries/azureml-mistral/models/Mistral-large/versions/2' pins a version; serverless deployments always run the latest version: remove '/versions/…'",
        "spec.yaml:17: deployments[2].model: deployments[0] already deploys Mistral-large in project contoso-chat; Azure allows one deployment per model per project",
        "spec.yaml:18: deployments[2].allowed_regions[0]: unknown Azure region 'eastus3' (did you mean 'eastus'?)",
        "spec.yaml:20: deployments[3].model: deployments[0] already deploys Mistral-large in project contoso-chat; Azure allows one deployment per model per project",
        "spec.yaml:21: deployments[3].contnet_safety: unknown field (did you mean 'content_safety'?)",
        "spec.yaml:22: deployments[4].name: 'large-a' is already the name of deployments[2]; endpoint names must be unique",
        "spec.yaml:22: deployments[4].secrets.url: variable LARGE_A_URL is already used by deployments[2].secrets.url; give it another name",
        "spec.yaml:22: deployments[4].secrets.key: variable LARGE_A_KEY is already used by deployments[2].secrets.key; give it another name",
        "spec.yaml:24: deployments[4].content_safety: 'maybe' is not 'enabled' or 'disabled'",
        "spec.yaml:27: deployments[5].secrets.key: '1KEY' is not a valid variable name (letters, digits, '_'; not starting with a digit)",
        "spec.yaml:27: deployments[5].secrets.url: variable LARGE_B_URL is already used by deployments[3].secrets.url; give it another name",
    ]


def test_duplicate_names_and_clashing_variables():
    found = problems(f"""
        defaults: {{subscription: {SUB}, resource_group: rg, project: proj}}
        deployments:
          - {{name: chat, model: Mistral-large}}
          - {{name: CHAT, model: Mistral-small, project: other}}
          - {{name: code, model: Codestral-2501, secrets: {{url: CHAT_URL}}}}
    """)
    assert found == [
        "spec.yaml:5: deployments[1].name: 'CHAT' is already the name of deployments[0]; endpoint names must be unique",
        "spec.yaml:5: deployments[1].secrets.url: variable CHAT_URL is already used by deployments[0].secrets.url; give it another name",
        "spec.yaml:5: deployments[1].secrets.key: variable CHAT_KEY is already used by deployments[0].secrets.key; give it another name",
        "spec.yaml:6: deployments[2].secrets.url: variable CHAT_URL is already used by deployments[0].secrets.url; give it another name",
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("deployments: []", "spec.yaml:1: deployments: at least one deployment is required (a list of mappings with name and model)"),
        ("- a\n- b", "spec.yaml:1: the spec must be a mapping with version, defaults, secrets and deployments"),
        ("deployments: [\n", "spec.yaml:2: not valid YAML: did not find expected node content"),
        ("version: 2\ndeployments: [{name: a, model: m, subscription: %s, resource_group: r, project: ppp}]" % SUB,
         "spec.yaml:1: version: unsupported version 2 (this provision reads version 1)"),
        ("deployments: [{name: a, model: m, subscription: nope, resource_group: r, project: ppp}]",
         "spec.yaml:1: deployments[0].subscription: 'nope' is not a subscription id (a GUID)"),
        ("deployments: [{name: a, model: m, subscription: %s, resource_group: r, project: ppp, tags: {provision:managed: x}}]" % SUB,
         "spec.yaml:1: deployments[0].tags: tag names starting with 'provision:' are reserved for the tool's ownership tags"),
    ],
)
def test_single_problems(text, expected):
    assert problems(text) == [expected]


def test_schema_covers_every_field():
    from provision import fields, spec as spec_module

    schema = json_schema()
    items = schema["properties"]["deployments"]["items"]
    assert set(items["properties"]) == set(fields.names(fields.DEPLOYMENT))
    assert set(schema["properties"]["defaults"]["properties"]) == set(spec_module.DEFAULTABLE)
    assert set(schema["properties"]) == set(fields.names(fields.TOP))


def test_schema_validates_the_example_and_rejects_a_typo():
    import jsonschema
    import yaml

    data = yaml.safe_load(open("deployments.yaml"))
    jsonschema.validate(data, json_schema())
    data["deployments"][0]["modle"] = "x"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json_schema())


def test_openai_url_variable_is_optional_validated_and_clash_checked():
    from provision.errors import SpecError
    from provision.spec import parse_spec

    text = """
version: 1
defaults: {subscription: 6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11, resource_group: rg-genai, project: contoso-chat}
deployments:
  - {name: a, model: Mistral-large, secrets: {openai_url: A_OPENAI}}
  - {name: b, model: Mistral-small}
"""
    spec = parse_spec(text, environ={})
    assert spec.deployments[0].openai_url_var == "A_OPENAI" and spec.deployments[1].openai_url_var is None
    assert spec.deployments[0].secret_vars == ("A_URL", "A_KEY", "A_OPENAI")
    try:
        parse_spec(text.replace("A_OPENAI", "B_URL"), environ={})
    except SpecError as err:
        assert [str(p) for p in err.problems] == [
            "deployments.yaml:6: deployments[1].secrets.url: variable B_URL is already used by deployments[0].secrets.openai_url; give it another name"]
    else:
        raise AssertionError("a clash must be reported")
