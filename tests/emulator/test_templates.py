"""The template language and template validation, without a server: what parses, what a
template's functions answer, and the clear refusal for each thing template authors get wrong."""
from __future__ import annotations

import json
import pathlib
import string
import time
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azure_emulator.template_expr import Call, Lit, TemplateError, parse, render
from azure_emulator.template_funcs import evaluate, evaluate_text
from azure_emulator.templates import Context, Plan

CTX = Context("00000000-0000-0000-0000-000000000001", "Contoso", "tenant-1", "rg-genai", "eastus2", "dep1")
DOCS_TEMPLATE = json.loads((pathlib.Path(__file__).parent / "templates" / "serverless-endpoint.json").read_text())
MEDIUM = "azureml://registries/azureml-mistral/models/mistral-medium-2505"


def template(resources: Any, **extra: Any) -> dict[str, Any]:
    return {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0", "resources": resources, **extra}


def endpoint(name: str = "p/ep", **extra: Any) -> dict[str, Any]:
    return {"type": "Microsoft.MachineLearningServices/workspaces/serverlessEndpoints", "apiVersion": "2024-04-01",
            "name": name, "location": "eastus2", "properties": {"modelSettings": {"modelId": MEDIUM}}, **extra}


def value(expression: str, **extra: Any) -> Any:
    """An expression's value, evaluated as an output of a template with the given parameters/variables."""
    plan = Plan(template([], outputs={"o": {"type": "object", "value": "[createObject('v', " + expression[1:-1] + ")]"}}, **extra), {}, CTX)
    return plan.outputs(lambda i, a, f: {"id": i, "full": f}, lambda i, a: {"primaryKey": "k1"})["o"]["value"]["v"]


# --- parsing -------------------------------------------------------------------------------

@settings(deadline=2000, max_examples=400)
@given(st.text(alphabet=string.printable, max_size=200))
def test_arbitrary_text_parses_or_is_refused_clearly(text: str) -> None:
    for candidate in (text, f"[{text}]"):
        try:
            parse(candidate)
        except TemplateError as err:
            assert err.message


names = st.sampled_from(["concat", "format", "toLower", "if", "equals", "createArray", "parameters"])
leaves = st.one_of(st.text(max_size=12).map(Lit), st.integers(-10**6, 10**6).map(Lit))
trees = st.recursive(leaves, lambda kids: st.builds(lambda n, a: Call(n, tuple(a)), names, st.lists(kids, max_size=4)), max_leaves=25)


@settings(deadline=2000, max_examples=300)
@given(trees)
def test_render_and_parse_round_trip(tree: Any) -> None:
    assert parse(f"[{render(tree)}]") == tree


def test_nesting_and_length_are_bounded() -> None:
    deep = "[" + "not(" * 200 + "true()" + ")" * 200 + "]"
    with pytest.raises(TemplateError, match="nested deeper"):
        parse(deep)
    with pytest.raises(TemplateError, match="characters long"):
        parse("[concat('" + "a" * 30_000 + "')]")


def test_hostile_growth_is_stopped_quickly() -> None:
    """Variables that each double the one before would need 2^60 characters: refused at once."""
    variables = {"v0": "ab", **{f"v{i}": f"[concat(variables('v{i - 1}'), variables('v{i - 1}'))]" for i in range(1, 61)}}
    started = time.monotonic()
    with pytest.raises(TemplateError, match="limit|expensive"):
        value("[variables('v60')]", variables=variables)
    assert time.monotonic() - started < 5


@settings(deadline=5000, max_examples=200)
@given(trees)
def test_evaluation_never_crashes(tree: Any) -> None:
    plan = Plan(template([], parameters={"p": {"type": "string", "defaultValue": "x"}}), {}, CTX)
    try:
        evaluate(tree, plan.env())
    except TemplateError as err:
        assert err.message


# --- functions -------------------------------------------------------------------------------

@pytest.mark.parametrize("expression, expected", [
    ("[concat('a', 'b', 1)]", "ab1"),
    ("[concat(createArray(1), createArray(2, 3))]", [1, 2, 3]),
    ("[format('{0}/{1}', 'p', 'e')]", "p/e"),
    ("[format('{{x}} {0,-3}|', 'a')]", "{x} a  |"),
    ("[toLower('AbC')]", "abc"),
    ("[toUpper('abc')]", "ABC"),
    ("[startsWith('AzureML://x', 'azureml://')]", True),
    ("[if(equals(1, 1), 'yes', parameters('missing'))]", "yes"),
    ("[not(and(true(), or(false(), true())))]", False),
    ("[empty('')]", True),
    ("[empty(createObject())]", True),
    ("[length(createArray(1, 2))]", 2),
    ("[split('a/b/c', '/')[1]]", "b"),
    ("[last(split('a/b/c', '/'))]", "c"),
    ("[first('xyz')]", "x"),
    ("[replace('a.b.c', '.', '')]", "abc"),
    ("[contains('abc', 'b')]", True),
    ("[contains(createObject('Key', 1), 'key')]", True),
    ("[union(createObject('a', 1), createObject('b', 2)).b]", 2),
    ("[union(createArray(1, 2), createArray(2, 3))]", [1, 2, 3]),
    ("[string(true())]", "True"),
    ("[string(createObject('a', 1))]", '{"a":1}'),
    ("[int('42')]", 42),
    ("[bool('TRUE')]", True),
    ("[json('{\"a\": [1]}').a[0]]", 1),
    ("[substring('abcdef', add(lastIndexOf('abc/def', '/'), -2), 2)]", "bc"),
    ("[take(replace(replace('Mistral_Large.2', '_', '-'), '.', '-'), 7)]", "Mistral"),
    ("[resourceGroup().location]", "eastus2"),
    ("[subscription().subscriptionId]", CTX.subscription_id),
    ("[resourceId('Microsoft.MachineLearningServices/workspaces/serverlessEndpoints', 'p', 'e')]",
     f"/subscriptions/{CTX.subscription_id}/resourceGroups/rg-genai/providers/Microsoft.MachineLearningServices/workspaces/p/serverlessEndpoints/e"),
    ("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'r1')]",
     f"/subscriptions/{CTX.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/r1"),
    ("[guid('a', 'b')]", str(uuid.uuid5(uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830"), "a-b"))),
    ("[listKeys('/x', '2024-04-01').primaryKey]", "k1"),
    ("[reference('/x', '2024-04-01', 'Full').full]", True),
])
def test_functions(expression: str, expected: Any) -> None:
    assert value(expression) == expected


def test_unique_string_is_stable_and_13_characters() -> None:
    first, again = value("[uniqueString(resourceGroup().id)]"), value("[uniqueString(resourceGroup().id)]")
    assert first == again and len(first) == 13 and set(first) <= set(string.ascii_lowercase + "234567")


def test_escaped_bracket_is_a_literal() -> None:
    assert evaluate_text("[[not an expression]", Plan(template([]), {}, CTX).env()) == "[not an expression]"


# --- the docs' template ----------------------------------------------------------------------

def test_docs_template_plans_subscription_then_endpoint() -> None:
    plan = Plan(DOCS_TEMPLATE, {"projectName": {"value": "contoso-chat"}, "modelId": {"value": MEDIUM}}, CTX)
    kinds = [r.type.rsplit("/", 1)[-1] for r in plan.resources]
    assert kinds == ["marketplaceSubscriptions", "serverlessEndpoints"]
    assert plan.resources[0].name == "contoso-chat/mistral-medium-2505-subscription"
    assert plan.resources[1].depends_on == [plan.resources[0].key]
    assert plan.body(plan.resources[1])["location"] == "eastus2"  # the default: resourceGroup().location


def test_docs_template_skips_the_subscription_for_a_microsoft_model() -> None:
    plan = Plan(DOCS_TEMPLATE, {"modelId": {"value": "azureml://registries/azureml/models/Phi-4"}}, CTX)
    assert [r.type.rsplit("/", 1)[-1] for r in plan.resources] == ["serverlessEndpoints"]
    assert plan.resources[0].depends_on == []


def test_symbolic_names_and_existing_resources() -> None:
    t = template({
        "project": {"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "p", "existing": True},
        "sub": {"type": "Microsoft.MachineLearningServices/workspaces/marketplaceSubscriptions", "apiVersion": "2024-04-01",
                "name": "p/s", "properties": {"modelId": MEDIUM}},
        "ep": {**endpoint(), "dependsOn": ["sub", "project"]},
    }, languageVersion="2.0", outputs={"uri": {"type": "string", "value": "[reference('ep').inferenceEndpoint.uri]"}})
    plan = Plan(t, {}, CTX)
    assert [r.key for r in plan.resources if not r.existing] == ["sub", "ep"]
    assert plan.resources[-1].depends_on == ["sub"]
    assert plan.outputs(lambda i, a, f: {"inferenceEndpoint": {"uri": i}}, lambda i, a: {})["uri"]["value"].endswith("serverlessEndpoints/ep")


def test_copy_loop() -> None:
    t = template([{"copy": {"name": "eps", "count": 2}, **endpoint("[format('p/ep{0}', copyIndex(1))]")}])
    assert [r.name for r in Plan(t, {}, CTX).resources] == ["p/ep1", "p/ep2"]


def test_role_assignment_scoped_to_a_workspace() -> None:
    t = template([{"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01", "name": "[guid('x')]",
                   "scope": "Microsoft.MachineLearningServices/workspaces/p",
                   "properties": {"roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'r')]", "principalId": "o"}}])
    rid = Plan(t, {}, CTX).resources[0].id
    assert rid.endswith("/workspaces/p/providers/Microsoft.Authorization/roleAssignments/" + value("[guid('x')]"))


# --- what template authors get wrong ---------------------------------------------------------

@pytest.mark.parametrize("tmpl, params, code, message, path", [
    (template([endpoint("[concatenate('p', '/e')]")]), {}, "InvalidTemplate", "'concatenate' is not valid", "resources[0].name"),
    (template([endpoint("[utcNow()]")]), {}, "InvalidTemplate", "'utcNow' is an ARM function the local Azure emulator does not evaluate", "resources[0].name"),
    (template([endpoint("[toLower('a', 'b')]")]), {}, "InvalidTemplate", "function requires 1 argument(s) while 2 were provided", "resources[0].name"),
    (template([endpoint("[concat('p/', parameters('nope'))]")]), {}, "InvalidTemplate", "template parameter 'nope' is not found", "resources[0].name"),
    (template([endpoint()], parameters={"modelId": {"type": "string"}}), {}, "InvalidTemplate", "'modelId'", "parameters.modelId"),
    (template([endpoint()], parameters={"n": {"type": "int"}}), {"n": {"value": "x"}}, "InvalidTemplate", "expected 'Int'", "parameters.n"),
    (template([endpoint()], parameters={"sku": {"type": "string", "allowedValues": ["a", "b"]}}), {"sku": {"value": "c"}},
     "InvalidTemplate", "must be one of the allowed values: 'a, b'", "parameters.sku"),
    (template([endpoint()]), {"extra": {"value": 1}}, "InvalidTemplate", "'extra' in the parameters file are not valid", ""),
    (template([endpoint(dependsOn=["[resourceId('Microsoft.MachineLearningServices/workspaces/marketplaceSubscriptions', 'p', 'gone')]"])]), {},
     "InvalidTemplate", "is not defined in the template", "resources[0].dependsOn"),
    (template([endpoint("p/a", dependsOn=["p/b"]), endpoint("p/b", dependsOn=["p/a"])]), {}, "InvalidTemplate", "Circular dependency detected", "dependsOn"),
    (template([{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "st1"}]), {},
     "InvalidTemplateDeployment", "'Microsoft.Storage/storageAccounts' at 'resources[0]' is not supported", "resources[0]"),
    (template([endpoint("ep")]), {}, "InvalidTemplate", "must have 2 segment(s)", "resources[0].name"),
    (template([endpoint("[concat('p/', 'e']")]), {}, "InvalidTemplate", "expected ')'", "resources[0].name"),
    (template([], variables={"a": "[variables('b')]", "b": "[variables('a')]"}, outputs={"o": {"type": "string", "value": "[variables('a')]"}}),
     {}, "InvalidTemplate", "circular variable", "variables."),
])
def test_author_mistakes_are_refused_clearly(tmpl: dict[str, Any], params: dict[str, Any], code: str, message: str, path: str) -> None:
    with pytest.raises(TemplateError) as caught:
        plan = Plan(tmpl, params, CTX)
        plan.outputs(lambda i, a, f: {}, lambda i, a: {})
    assert caught.value.code == code
    assert message in caught.value.message
    assert path in caught.value.path
