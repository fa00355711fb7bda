"""Resolve a template's Conditions for given parameter values.

The result is what CloudFormation would act on: resources and outputs whose Condition is
false are gone, ``Fn::If`` has taken its branch, ``AWS::NoValue`` has disappeared, parameter
Refs are their values, and ``Fn::Sub``/``Fn::Select``/``Fn::Split``/``Fn::Join`` are
evaluated where their inputs are now literal. Pseudo parameters and resource references
stay symbolic, so a build-time template and a deploy-time template resolved with the same
values compare equal exactly when they deploy the same thing.

The template's ``Rules`` are evaluated first, as CloudFormation does before it creates
anything: a failing assertion raises :class:`Refused`, "refused: <AssertDescription>".
Neither cfn-lint nor moto evaluates Rules, so every reader of ours that resolves a template
for a region and parameter values goes through here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ClazarError

__all__ = ["Refused", "ResolveError", "as_text", "refusals", "resolve"]

_NO_VALUE = object()
_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class ResolveError(ClazarError, ValueError):
    """The template uses a construct the resolver cannot evaluate."""


class Refused(ResolveError):
    """CloudFormation would refuse the stack: an assertion of the template's Rules fails."""

    def __init__(self, descriptions: list[str]) -> None:
        super().__init__("refused: " + "; ".join(descriptions))
        self.descriptions = descriptions


def resolve(
    template: Mapping[str, Any],
    parameters: Mapping[str, str] | None = None,
    *,
    region: str = "us-east-1",
) -> dict[str, Any]:
    """Resources and Outputs of ``template`` as deployed with ``parameters`` in ``region``.

    Parameters not given take their Default; a parameter with neither is an error. The
    region decides Conditions on ``AWS::Region``; elsewhere pseudo parameters stay symbolic.
    """
    values = _parameter_values(template, parameters or {})
    in_conditions = {**values, "AWS::Region": region}
    failed = _failed_assertions(template, in_conditions)
    if failed:
        raise Refused(failed)
    conditions: dict[str, bool] = {}
    raw_conditions = template.get("Conditions", {})

    def condition(name: str) -> bool:
        if name not in conditions:
            if name not in raw_conditions:
                raise ResolveError(f"unknown condition {name!r}")
            conditions[name] = bool(_evaluate(raw_conditions[name], in_conditions, condition))
        return conditions[name]

    out: dict[str, Any] = {}
    for section in ("Resources", "Outputs"):
        kept: dict[str, Any] = {}
        for name, body in template.get(section, {}).items():
            if "Condition" in body and not condition(body["Condition"]):
                continue
            unconditional = {k: v for k, v in body.items() if k != "Condition"}
            kept[name] = _evaluate(unconditional, values, condition)
        out[section] = kept
    return out


def refusals(
    template: Mapping[str, Any],
    parameters: Mapping[str, str] | None = None,
    *,
    region: str = "us-east-1",
) -> list[str]:
    """The AssertDescription of every Rules assertion that fails for ``parameters`` in
    ``region`` (others take their Default): empty when CloudFormation would go ahead."""
    values = _parameter_values(template, parameters or {})
    return _failed_assertions(template, {**values, "AWS::Region": region})


def _failed_assertions(template: Mapping[str, Any], values: Mapping[str, str]) -> list[str]:
    failed = []
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not _rule_truth(name, rule["RuleCondition"], values):
            continue
        for assertion in rule.get("Assertions", []):
            if not _rule_truth(name, assertion["Assert"], values):
                failed.append(str(assertion.get("AssertDescription", f"rule {name} fails")))
    return failed


def _rule_truth(rule: str, node: Any, values: Mapping[str, str]) -> Any:
    """A Rules expression (Fn::Equals, Fn::And, Fn::Or, Fn::Not, Fn::Contains over Refs of
    parameters and AWS::Region, and literals); anything else is an error, never skipped."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return [_rule_truth(rule, item, values) for item in node]
    if isinstance(node, dict) and len(node) == 1:
        ((key, arg),) = node.items()
        if key == "Ref":
            if arg not in values:
                raise ResolveError(f"rule {rule}: cannot evaluate Ref {arg} before deployment")
            return values[arg]
        operators = ("Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Fn::Contains")
        if key not in operators or not isinstance(arg, list):
            raise ResolveError(f"rule {rule}: cannot evaluate {json.dumps(node, sort_keys=True)}")
        items = [_rule_truth(rule, item, values) for item in arg]
        if key == "Fn::Equals":
            return items[0] == items[1]
        if key == "Fn::And":
            return all(items)
        if key == "Fn::Or":
            return any(items)
        if key == "Fn::Not":
            return not items[0]
        if key == "Fn::Contains":
            return items[1] in items[0]
    raise ResolveError(f"rule {rule}: cannot evaluate {json.dumps(node, sort_keys=True)}")


def _parameter_values(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    declared = template.get("Parameters", {})
    unknown = set(given) - set(declared)
    if unknown:
        raise ResolveError(f"parameters not in the template: {', '.join(sorted(unknown))}")
    values = {}
    for name, spec in declared.items():
        if name in given:
            values[name] = given[name]
        elif "Default" in spec:
            values[name] = str(spec["Default"])
        else:
            raise ResolveError(f"parameter {name} has no value and no Default")
    return values


def _evaluate(node: Any, values: Mapping[str, str], condition: Any) -> Any:
    if isinstance(node, list):
        items = [_evaluate(item, values, condition) for item in node]
        return [item for item in items if item is not _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, arg),) = node.items()
        handler = _FUNCTIONS.get(key)
        if handler is not None:
            return handler(arg, values, condition)
    out = {}
    for key, item in node.items():
        value = _evaluate(item, values, condition)
        if value is not _NO_VALUE:
            out[key] = value
    return out


def _ref(arg: str, values: Mapping[str, str], _condition: Any) -> Any:
    if arg == "AWS::NoValue":
        return _NO_VALUE
    return values.get(arg, {"Ref": arg})


def _if(arg: list[Any], values: Mapping[str, str], condition: Any) -> Any:
    name, yes, no = arg
    return _evaluate(yes if condition(name) else no, values, condition)


def _sub(arg: Any, values: Mapping[str, str], condition: Any) -> Any:
    if isinstance(arg, list):
        text, variables = arg[0], _evaluate(arg[1], values, condition)
    else:
        text, variables = arg, {}
    literal = {**values, **{k: v for k, v in variables.items() if isinstance(v, str)}}
    text = _VAR.sub(lambda m: literal.get(m.group(1), m.group(0)), text)
    symbolic = {k: v for k, v in variables.items() if not isinstance(v, str) and k in text}
    if symbolic:
        return {"Fn::Sub": [text, symbolic]}
    return {"Fn::Sub": text} if _VAR.search(text) else text


def _literal_or(key: str, arg: Any, values: Mapping[str, str], condition: Any, fn: Any) -> Any:
    arg = _evaluate(arg, values, condition)
    try:
        return fn(arg)
    except (TypeError, AttributeError, IndexError, ValueError):
        return {key: arg}


def _select(arg: Any, values: Mapping[str, str], condition: Any) -> Any:
    return _literal_or("Fn::Select", arg, values, condition, lambda a: _need_list(a[1])[int(a[0])])


def _split(arg: Any, values: Mapping[str, str], condition: Any) -> Any:
    return _literal_or("Fn::Split", arg, values, condition, lambda a: _need_str(a[1]).split(a[0]))


def _join(arg: Any, values: Mapping[str, str], condition: Any) -> Any:
    return _literal_or(
        "Fn::Join",
        arg,
        values,
        condition,
        lambda a: a[0].join(_need_str(x) for x in _need_list(a[1])),
    )


def _need_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError
    return value


def _need_str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


def _equals(arg: list[Any], values: Mapping[str, str], condition: Any) -> bool:
    left, right = (_evaluate(a, values, condition) for a in arg)
    return bool(left == right)


def _and(arg: list[Any], values: Mapping[str, str], condition: Any) -> bool:
    return all(_evaluate(a, values, condition) for a in arg)


def _or(arg: list[Any], values: Mapping[str, str], condition: Any) -> bool:
    return any(_evaluate(a, values, condition) for a in arg)


def _not(arg: list[Any], values: Mapping[str, str], condition: Any) -> bool:
    return not _evaluate(arg[0], values, condition)


def _condition(arg: Any, values: Mapping[str, str], condition: Any) -> Any:
    if isinstance(arg, str):
        return condition(arg)
    return {"Condition": _evaluate(arg, values, condition)}  # an IAM Condition block


_FUNCTIONS: dict[str, Callable[[Any, Mapping[str, str], Any], Any]] = {
    "Ref": _ref,
    "Fn::If": _if,
    "Fn::Sub": _sub,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::Join": _join,
    "Fn::Equals": _equals,
    "Fn::And": _and,
    "Fn::Or": _or,
    "Fn::Not": _not,
    "Condition": _condition,
}


def as_text(value: Any) -> str:
    """A value as text: ``${Logical}`` for Ref, ``${Logical.Attr}`` for GetAtt, Sub filled."""
    if isinstance(value, bool):
        return str(value).lower()
    if not isinstance(value, dict):
        return str(value)
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return "${" + str(arg) + "}"
        if key == "Fn::GetAtt":
            return "${" + (".".join(arg) if isinstance(arg, list) else str(arg)) + "}"
        if key == "Fn::Sub":
            text, variables = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})
            for name, var in variables.items():
                text = text.replace("${" + name + "}", as_text(var))
            return str(text)
        if key == "Fn::Join" and isinstance(arg, list) and isinstance(arg[1], list):
            return str(arg[0]).join(as_text(v) for v in arg[1])
    return json.dumps(value, sort_keys=True)
