"""ARM templates: validation and the plan a deployment runs (pure: no state, no network).

plan(template, parameters, context) checks the template the way ARM's validation does (syntax
of every expression, functions and their argument counts, parameters and their types, allowed
values, resource types the emulator serves, dependsOn, cycles) and returns the resources in the
order they deploy. A resource's body and the outputs are evaluated later, through the Plan,
with reference()/listKeys() answered by the caller (the deployment, or a what-if that defers
them). Both template forms are read: classic (resources as an array, nested child resources,
copy loops) and languageVersion 2.0 (resources keyed by symbolic name, `existing` resources).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .template_builtins import stringify
from .template_expr import Deferred, Env, TemplateError, is_expression, parse, type_name
from .template_funcs import check, resolve
from .template_params import bind_parameters, type_label, typed

# Resource types a template may deploy: the ones the emulator serves (lower case -> ARM's spelling).
DEPLOYABLE = {t.lower(): t for t in (
    "Microsoft.MachineLearningServices/workspaces/serverlessEndpoints",
    "Microsoft.MachineLearningServices/workspaces/marketplaceSubscriptions",
    "Microsoft.Authorization/roleAssignments",
)}
# Types a template may only read (`existing`), as the emulator serves them read-only.
READABLE = {**DEPLOYABLE, "microsoft.machinelearningservices/workspaces": "Microsoft.MachineLearningServices/workspaces"}
TOP_LEVEL = {"$schema", "contentversion", "apiprofile", "parameters", "variables", "functions", "resources",
             "outputs", "metadata", "definitions", "languageversion"}
TEMPLATE_ONLY = {"type", "apiversion", "name", "dependson", "condition", "copy", "comments", "existing", "scope", "resources", "metadata"}
MAX_COPY = 800  # ARM's limit on one copy loop

Fetch = Callable[[str, str, bool], Any]  # (resource id, api-version, full) -> the resource (or raise Deferred)
ListKeys = Callable[[str, str], Any]


@dataclass(frozen=True)
class Context:
    subscription_id: str
    subscription_name: str
    tenant_id: str
    resource_group: str
    location: str
    deployment_name: str


@dataclass
class Planned:
    """One resource of the template, as deployed (or read, when `existing`)."""

    key: str  # symbolic name, or the template path of a classic resource
    path: str  # where it is in the template, for messages
    type: str
    api_version: str
    name: str
    id: str
    raw: dict[str, Any]
    existing: bool = False
    depends_on: list[str] = field(default_factory=list)  # keys
    copy: Optional[tuple[str, int]] = None  # (loop name, index)


def deferred_reference(resource_id: str, api: str, full: bool) -> Any:
    raise Deferred(resource_id)


def deferred_keys(resource_id: str, api: str) -> Any:
    raise Deferred(resource_id)


class Plan:
    def __init__(self, template: Any, supplied: Any, ctx: Context) -> None:
        if not isinstance(template, dict):
            raise TemplateError("The template must be a JSON object.")
        self.template = template
        self.ctx = ctx
        self.symbolic = str(template.get("languageVersion", "")).startswith("2")
        self._var_cache: dict[str, Any] = {}
        self._var_busy: set[str] = set()
        self.parameters: dict[str, dict[str, Any]] = {}
        self.resources: list[Planned] = []  # deploy order
        self.skipped: list[Planned] = []  # condition false
        self.loops: dict[str, list[str]] = {}
        _check_shape(template)
        _check_expressions(template, "")
        bind_parameters(self.template.get("parameters") or {}, supplied if isinstance(supplied, dict) else {}, self.parameters, self.env)
        self._plan_resources()

    # -- the environment expressions see ---------------------------------------------------
    def env(self, fetch: Fetch = deferred_reference, list_keys: ListKeys = deferred_keys, copy: Optional[tuple[str, int]] = None) -> Env:
        ctx = self.ctx
        return Env(
            parameters=self._parameter,
            variables=lambda name: self._variable(name, fetch, list_keys),
            resource_group={"id": f"/subscriptions/{ctx.subscription_id}/resourceGroups/{ctx.resource_group}", "name": ctx.resource_group,
                            "type": "Microsoft.Resources/resourceGroups", "location": ctx.location, "managedBy": None, "tags": {},
                            "properties": {"provisioningState": "Succeeded"}},
            subscription={"id": f"/subscriptions/{ctx.subscription_id}", "subscriptionId": ctx.subscription_id,
                          "tenantId": ctx.tenant_id, "displayName": ctx.subscription_name},
            deployment={"name": ctx.deployment_name, "properties": {"templateLink": None, "mode": "Incremental"}, "location": ""},
            reference=lambda target, api, full: fetch(*self._target(target, api, "reference"), full),
            list_keys=lambda target, api: list_keys(*self._target(target, api, "listKeys")),
            resource_id=self._resource_id,
            subscription_resource_id=self._subscription_resource_id,
            copy_index=lambda loop: _copy_index(copy, loop),
        )

    def _parameter(self, name: str) -> Any:
        for key, p in self.parameters.items():
            if key.lower() == name.lower():
                return p["value"]
        raise TemplateError(f"The template parameter '{name}' is not found.")

    def _variable(self, name: str, fetch: Fetch, list_keys: ListKeys) -> Any:
        variables = self.template.get("variables") or {}
        key = next((k for k in variables if k.lower() == name.lower()), None)
        if key is None:
            raise TemplateError(f"The template variable '{name}' is not found.")
        if key in self._var_cache:
            return self._var_cache[key]
        if key in self._var_busy:
            raise TemplateError(f"The template variable '{key}' refers to itself (a circular variable definition).", f"variables.{key}")
        self._var_busy.add(key)
        try:
            value = resolve(variables[key], self.env(fetch, list_keys), f"variables.{key}")
        finally:
            self._var_busy.discard(key)
        self._var_cache[key] = value
        return value

    # -- resources -----------------------------------------------------------------------
    def _entries(self) -> list[tuple[str, str, dict[str, Any], Optional[Planned]]]:
        """(key, path, raw, parent) of every resource, classic nested children flattened."""
        raw = self.template.get("resources")
        out: list[tuple[str, str, dict[str, Any], Optional[Planned]]] = []
        if isinstance(raw, dict):
            for key, res in raw.items():
                out.append((key, f"resources.{key}", _object(res, f"resources.{key}"), None))
        else:
            for i, res in enumerate(raw if isinstance(raw, list) else []):
                out.append((f"resources[{i}]", f"resources[{i}]", _object(res, f"resources[{i}]"), None))
        return out

    def _plan_resources(self) -> None:
        pending = self._entries()
        while pending:
            key, path, raw, parent = pending.pop(0)
            for planned in self._expand(key, path, raw, parent):
                if planned is None:
                    continue
                children = raw.get("resources") or []
                for j, child in enumerate(children if isinstance(children, list) else []):
                    pending.append((f"{planned.key}.resources[{j}]", f"{path}.resources[{j}]", _object(child, f"{path}.resources[{j}]"), planned))
        self.resources = _ordered(self.resources, self)

    def _expand(self, key: str, path: str, raw: dict[str, Any], parent: Optional[Planned]) -> list[Optional[Planned]]:
        copy = raw.get("copy")
        if copy is None:
            return [self._one(key, path, raw, parent, None)]
        if not isinstance(copy, dict) or not isinstance(copy.get("name"), str):
            raise TemplateError("A resource's 'copy' must be an object with a 'name' and a 'count'.", f"{path}.copy")
        count = resolve(copy.get("count"), self.env(), f"{path}.copy.count")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COPY:
            raise TemplateError(f"The copy count must be an integer from 0 to {MAX_COPY}, not '{count}'.", f"{path}.copy.count")
        loop = copy["name"]
        instances = [self._one(f"{key}[{i}]", path, raw, parent, (loop, i)) for i in range(count)]
        self.loops[loop.lower()] = [p.key for p in instances if p is not None]
        return instances

    def _one(self, key: str, path: str, raw: dict[str, Any], parent: Optional[Planned], copy: Optional[tuple[str, int]]) -> Optional[Planned]:
        env = self.env(copy=copy)
        rtype, api = raw.get("type"), raw.get("apiVersion")
        if not isinstance(rtype, str) or not isinstance(api, str) or is_expression(rtype) or is_expression(api):
            raise TemplateError("A resource needs a literal 'type' and 'apiVersion'.", path)
        if "@" in rtype and self.symbolic:
            rtype, api = rtype.split("@", 1)
        name = resolve(raw.get("name"), env, f"{path}.name")
        if not isinstance(name, str) or not name:
            raise TemplateError("A resource needs a 'name'.", f"{path}.name")
        if parent is not None and "/" not in rtype:
            rtype, name = f"{parent.type}/{rtype}", f"{parent.name}/{name}"
        existing = raw.get("existing") is True
        kinds = READABLE if existing else DEPLOYABLE
        if rtype.lower() not in kinds:
            raise TemplateError(
                f"The resource type '{rtype}' at '{path}' is not supported by the local Azure emulator; a template may deploy "
                f"{', '.join(sorted(DEPLOYABLE.values()))}" + (" and read existing Microsoft.MachineLearningServices/workspaces." if not existing else "."),
                path, code="InvalidTemplateDeployment")
        rtype = kinds[rtype.lower()]
        rid = self._id_of(rtype, name, raw.get("scope"), env, path)
        planned = Planned(key, path, rtype, api, name, rid, raw, existing, copy=copy)
        condition = resolve(raw.get("condition", True), env, f"{path}.condition")
        if not isinstance(condition, bool):
            raise TemplateError(f"The resource condition must be a Boolean, not {type_name(condition)}.", f"{path}.condition")
        planned.depends_on = [d for d in self._depends(raw, env, path)] + ([parent.key] if parent is not None and not parent.existing else [])
        (self.resources if condition else self.skipped).append(planned)
        return planned if condition else None

    def _id_of(self, rtype: str, name: str, scope: Any, env: Env, path: str) -> str:
        segments = rtype.split("/")
        names = name.split("/")
        if len(names) != len(segments) - 1:
            raise TemplateError(f"The resource name '{name}' of type '{rtype}' must have {len(segments) - 1} segment(s) separated by '/', not {len(names)}.", f"{path}.name")
        tail = "/".join([segments[0]] + [p for pair in zip(segments[1:], names) for p in pair])
        base = f"/subscriptions/{self.ctx.subscription_id}/resourceGroups/{self.ctx.resource_group}"
        if scope is None:
            return f"{base}/providers/{tail}"
        where = resolve(scope, env, f"{path}.scope")
        if isinstance(where, str) and where in self._keys():
            where = self._by_key(where).id
        if not isinstance(where, str) or not where:
            raise TemplateError("A resource's 'scope' must be a resource id or a symbolic name.", f"{path}.scope")
        where = where if where.startswith("/") else f"{base}/providers/{where}"
        return f"{where.rstrip('/')}/providers/{tail}"

    def _depends(self, raw: dict[str, Any], env: Env, path: str) -> list[str]:
        entries = raw.get("dependsOn") or []
        if not isinstance(entries, list):
            raise TemplateError("'dependsOn' must be an array.", f"{path}.dependsOn")
        return [resolve(d, env, f"{path}.dependsOn[{i}]") for i, d in enumerate(entries)]

    def _keys(self) -> set[str]:
        return {p.key for p in self.resources + self.skipped}

    def _by_key(self, key: str) -> Planned:
        return next(p for p in self.resources + self.skipped if p.key == key)

    def match(self, target: str) -> list[Planned]:
        """The template resources a dependsOn entry or reference() names: a symbolic name, a copy
        loop's name, a resource id, 'type/name' or a bare name (as ARM resolves them)."""
        every = self.resources + self.skipped
        if target in self._keys():
            return [self._by_key(target)]
        if target.lower() in self.loops:
            return [self._by_key(k) for k in self.loops[target.lower()]]
        t = target.lower().strip("/")
        return [p for p in every if p.id.lower().strip("/") == t or p.id.lower().endswith("/" + t)
                or f"{p.type}/{p.name}".lower() == t or p.name.lower() == t]

    def _target(self, target: str, api: Optional[str], fn: str) -> tuple[str, str]:
        found = self.match(target)
        if found:
            return found[0].id, api or found[0].api_version
        rid = target if target.startswith("/") else f"/subscriptions/{self.ctx.subscription_id}/resourceGroups/{self.ctx.resource_group}/providers/{target}"
        if api is None:
            raise TemplateError(f"The template function '{fn}' needs an api-version for '{target}', which is not a resource of this template.")
        return rid, api

    def _resource_id(self, args: list[Any]) -> str:
        texts = [stringify(a) for a in args]
        at = next((i for i, a in enumerate(texts) if "/" in a), None)
        if at is None or at > 2:
            raise TemplateError("Unable to evaluate template language function 'resourceId': the resource type (namespace/type) is missing.")
        sub = texts[0] if at == 2 else self.ctx.subscription_id
        rg = texts[at - 1] if at >= 1 else self.ctx.resource_group
        return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{_interleave('resourceId', texts[at], texts[at + 1:])}"

    def _subscription_resource_id(self, args: list[Any]) -> str:
        texts = [stringify(a) for a in args]
        at = next((i for i, a in enumerate(texts) if "/" in a), None)
        if at is None or at > 1:
            raise TemplateError("Unable to evaluate template language function 'subscriptionResourceId': the resource type (namespace/type) is missing.")
        sub = texts[0] if at == 1 else self.ctx.subscription_id
        return f"/subscriptions/{sub}/providers/{_interleave('subscriptionResourceId', texts[at], texts[at + 1:])}"

    # -- what runs -----------------------------------------------------------------------
    def body(self, r: Planned, fetch: Fetch = deferred_reference, list_keys: ListKeys = deferred_keys) -> dict[str, Any]:
        """The request body of a resource's PUT. With the deferring callbacks (validate, what-if) a
        value that needs a deployed resource keeps its expression text."""
        env = self.env(fetch, list_keys, r.copy)
        body = {k: v for k, v in r.raw.items() if k.lower() not in TEMPLATE_ONLY}
        value = resolve(body, env, r.path, keep_deferred=fetch is deferred_reference)
        assert isinstance(value, dict)
        return value

    def outputs(self, fetch: Fetch, list_keys: ListKeys) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name, spec in (self.template.get("outputs") or {}).items():
            path = f"outputs.{name}"
            env = self.env(fetch, list_keys)
            if "condition" in spec and resolve(spec["condition"], env, f"{path}.condition") is not True:
                continue
            if "copy" in spec:
                raise TemplateError("Output copy loops are not evaluated by the local Azure emulator.", f"{path}.copy")
            value = resolve(spec.get("value"), env, f"{path}.value")
            out[name] = {"type": type_label(spec.get("type", "string")), "value": typed(name, spec, value, path, what="output")}
        return out


def _check_shape(template: dict[str, Any]) -> None:
    unknown = [k for k in template if k.lower() not in TOP_LEVEL]
    if unknown:
        raise TemplateError(f"The template has unknown or unsupported top-level properties: '{', '.join(unknown)}'.")
    if template.get("functions"):
        raise TemplateError("User-defined functions ('functions') are not evaluated by the local Azure emulator.", "functions")
    if not isinstance(template.get("resources"), (list, dict)):
        raise TemplateError("The template must have 'resources' (an array, or an object of symbolic names with languageVersion 2.0).", "resources")
    for section in ("parameters", "variables", "outputs"):
        if not isinstance(template.get(section, {}), dict):
            raise TemplateError(f"The template's '{section}' must be an object.", section)
    if any(k.lower() == "copy" for k in template.get("variables", {})):
        raise TemplateError("Variable copy loops are not evaluated by the local Azure emulator.", "variables.copy")


def _check_expressions(value: Any, path: str) -> None:
    """Parse every expression and check its calls before anything is evaluated."""
    if isinstance(value, str):
        if is_expression(value):
            try:
                check(parse(value))
            except TemplateError as err:
                raise err.at(path or "template")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_expressions(v, f"{path}[{i}]")
    elif isinstance(value, dict):
        for k, v in value.items():
            if k != "metadata":
                _check_expressions(k, path)
                _check_expressions(v, f"{path}.{k}" if path else k)


def _ordered(resources: list[Planned], plan: Plan) -> list[Planned]:
    """Deploy order: dependencies first, template order otherwise; a cycle is InvalidTemplate."""
    deps: dict[str, set[str]] = {}
    live = {p.key for p in resources}
    for p in resources:
        deps[p.key] = set()
        for d in p.depends_on:
            found = plan.match(d) if d not in live else [plan._by_key(d)]
            if not found:
                raise TemplateError(f"The resource '{d}' is not defined in the template.", f"{p.path}.dependsOn")
            deps[p.key] |= {f.key for f in found if f.key in live and not f.existing and f.key != p.key}
        p.depends_on = sorted(deps[p.key])
    done: list[Planned] = []
    placed: set[str] = set()
    while len(done) < len(resources):
        ready = [p for p in resources if p.key not in placed and deps[p.key] <= placed]
        if not ready:
            stuck = next(p for p in resources if p.key not in placed)
            raise TemplateError(f"Deployment template validation failed: 'Circular dependency detected on resource: '{stuck.id}'. Please see https://aka.ms/arm-syntax-resources for usage details.'.", f"{stuck.path}.dependsOn")
        done.extend(ready[:1])
        placed.add(ready[0].key)
    return done


def _interleave(fn: str, rtype: str, names: list[str]) -> str:
    segments = rtype.split("/")
    if len(segments) - 1 != len(names):
        raise TemplateError(f"Unable to evaluate template language function '{fn}': the type '{rtype}' requires {len(segments) - 1} resource name argument(s), {len(names)} given.")
    return "/".join([segments[0]] + [p for pair in zip(segments[1:], names) for p in pair])


def _copy_index(copy: Optional[tuple[str, int]], loop: Optional[str]) -> int:
    if copy is None or (loop is not None and loop.lower() != copy[0].lower()):
        raise TemplateError("The template function 'copyIndex' is not expected at this location: it is only valid inside a 'copy' loop" + (f" named '{loop}'." if loop else "."))
    return copy[1]


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TemplateError("A resource must be a JSON object.", path)
    return value

