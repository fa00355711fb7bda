"""A build-time template is exactly what the deploy-time template becomes with the same
values: same resources, same policy documents, same outputs, once Conditions resolve.

The two sides are read by different code: the build-time template by the project's
:func:`~clazar_templates.template.resolve.resolve`, the deploy-time template by the small
reader below, written only from CloudFormation's documented semantics. A bug in either
reader (or a builder whose build-time branch differs from its deploy-time one) is a
difference, rather than the same mistake on both sides.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from clazar_templates import CosellOptions, MarketplaceOptions, build_cosell, build_marketplace
from clazar_templates.options import option_fields
from clazar_templates.template.resolve import Refused, resolve
from conftest import flag_samples, valid_value
from support import DEPLOY_VALUES, EXTERNAL_ID, UID, VENDOR, as_dict

COMMON = {"clazar_account_id": VENDOR, "external_id": EXTERNAL_ID, "clazar_account_uid": UID}

MARKETPLACE_CHOICES = {
    "allow_marketplace_access": [True, False],
    "enable_cas": [True, False],
    "cas_sns_topic_arn": ["", "arn:aws:sns:eu-west-1:111122223333:old-cas"],
    "cas_bucket_name": ["", "old-cas-bucket"],
    "sdds_sns_topic_arn": ["", "arn:aws:sns:us-east-1:111122223333:old-sdds"],
    "sdds_bucket_name": ["", "old-sdds-bucket"],
    "enable_event_bridge": [True, False],
    "role_name": ["", "SellerRole"],
}
COSELL_CHOICES = {
    "existing_sandbox_role": ["", "team-sandbox", "arn:aws:iam::111122223333:role/co/sell/Prod"],
    "existing_production_role": ["", "arn:aws:iam::111122223333:role/Production"],
    "enable_event_bridge": [True, False],
}


def combinations(choices: dict[str, list[Any]]) -> list[dict[str, Any]]:
    return [
        dict(zip(choices, values, strict=True)) for values in itertools.product(*choices.values())
    ]


def as_parameters(options_class: type[Any], values: dict[str, Any]) -> dict[str, str]:
    specs = dict(option_fields(options_class))
    out = dict(DEPLOY_VALUES)
    for name, value in values.items():
        out[specs[name].parameter] = (
            ("true" if value else "false") if isinstance(value, bool) else str(value)
        )
    return out


# --- The deploy-time reader (independent of clazar_templates.template.resolve) ---------

NO_VALUE = object()  # what {"Ref": "AWS::NoValue"} leaves: the key or list item goes
PARAMETER_IN_SUB = re.compile(r"\$\{([A-Za-z0-9]+)\}")  # ${Name}; not ${AWS::...}, ${X.Attr}


def read_deployed(template: dict[str, Any], given: dict[str, str], region: str) -> dict[str, Any]:
    """Resources and Outputs of ``template`` as CloudFormation deploys them with the
    parameter values ``given`` (others take their Default) in ``region``."""
    declared = template.get("Parameters", {})
    values = {name: given.get(name, spec.get("Default")) for name, spec in declared.items()}
    assert None not in values.values(), f"no value for a parameter: {values}"
    refused = evaluate_rules(template.get("Rules", {}), values, region)
    if refused:
        return {"Refused": refused}
    truth = evaluate_conditions(template.get("Conditions", {}), values, region)

    def substitute(node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in map(substitute, node) if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Fn::If":
                name, yes, no = arg
                return substitute(yes if truth[name] else no)
            if key == "Ref":
                return NO_VALUE if arg == "AWS::NoValue" else values.get(arg, node)
            if key == "Fn::Sub":
                assert isinstance(arg, str), f"only the one-string Fn::Sub is read here: {arg}"
                text = PARAMETER_IN_SUB.sub(lambda m: values.get(m[1], m[0]), arg)
                return {"Fn::Sub": text} if "${" in text else text
            if key == "Fn::Select":
                index, items = substitute(arg)
                return items[index] if isinstance(items, list) else {key: [index, items]}
            if key == "Fn::Split":
                delimiter, text = substitute(arg)
                return text.split(delimiter) if isinstance(text, str) else {key: [delimiter, text]}
            if key == "Fn::Join":
                delimiter, items = substitute(arg)
                plain = all(isinstance(item, str) for item in items)
                return delimiter.join(items) if plain else {key: [delimiter, items]}
            assert not key.startswith("Fn::") or key == "Fn::GetAtt", f"cannot read {key}"
        out = {key: substitute(value) for key, value in node.items()}
        return {key: value for key, value in out.items() if value is not NO_VALUE}

    return {
        section: {
            name: substitute({k: v for k, v in body.items() if k != "Condition"})
            for name, body in template.get(section, {}).items()
            if truth.get(body.get("Condition"), True)
        }
        for section in ("Resources", "Outputs")
    }


def evaluate_rules(rules: Mapping[str, Any], values: Mapping[str, str], region: str) -> list[str]:
    """The AssertDescription of each assertion CloudFormation checks before creating anything
    (its rule has no RuleCondition, or the RuleCondition holds) and finds false. A Rule's
    expressions are Condition expressions without named Conditions, so the same reader serves."""

    def holds(node: dict[str, Any]) -> bool:
        return evaluate_conditions({"it": node}, values, region)["it"]

    return [
        assertion["AssertDescription"]
        for rule in rules.values()
        if holds(rule.get("RuleCondition", {"Fn::Equals": ["x", "x"]}))
        for assertion in rule["Assertions"]
        if not holds(assertion["Assert"])
    ]


def evaluate_conditions(
    conditions: Mapping[str, Any], values: Mapping[str, str], region: str
) -> dict[str, bool]:
    """Every Condition's truth: Fn::Equals of parameters, AWS::Region and literals, joined
    by Fn::And, Fn::Or, Fn::Not and references to other Conditions."""
    truth: dict[str, bool] = {}

    def operand(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Ref"}:
            return region if node["Ref"] == "AWS::Region" else values[node["Ref"]]
        assert isinstance(node, str), f"cannot compare {node}"
        return node

    def holds(node: dict[str, Any]) -> bool:
        ((key, arg),) = node.items()
        operators: dict[str, Callable[[], bool]] = {
            "Fn::Equals": lambda: operand(arg[0]) == operand(arg[1]),
            "Fn::And": lambda: all(holds(item) for item in arg),
            "Fn::Or": lambda: any(holds(item) for item in arg),
            "Fn::Not": lambda: not holds(arg[0]),
            "Condition": lambda: named(arg),
        }
        return operators[key]()

    def named(name: str) -> bool:
        if name not in truth:
            truth[name] = holds(conditions[name])
        return truth[name]

    for name in conditions:
        named(name)
    return truth


# --- The comparison -----------------------------------------------------------------------


@functools.cache
def deploy_time(build: Callable[[], Any]) -> dict[str, Any]:
    """The deploy-time template (the same for every variant: made once, only read)."""
    return as_dict(build())


def as_text(node: Any) -> Any:
    """``node`` with its numbers written as text. A Ref to a Number parameter is a string
    (CloudFormation's documented semantics) where a build-time value is a number, and
    CloudFormation converts either to a property's integer type: the same template."""
    if isinstance(node, dict):
        return {k: as_text(v) for k, v in node.items()}
    if isinstance(node, list):
        return [as_text(v) for v in node]
    return str(node) if isinstance(node, int) and not isinstance(node, bool) else node


def assert_equivalent(built: Any, deployed: Callable[[], Any], parameters: dict[str, str]) -> None:
    fixed = as_dict(built)
    declared = fixed.get("Parameters", {})
    values = {k: v for k, v in {**DEPLOY_VALUES, **parameters}.items() if k in declared}
    for region in ("us-east-1", "eu-west-1"):  # EventBridge is refused outside us-east-1
        expected = read_deployed(deploy_time(deployed), {**DEPLOY_VALUES, **parameters}, region)
        if "Refused" in expected:
            with pytest.raises(Refused) as refused:
                resolve(fixed, values, region=region)
            assert refused.value.descriptions == expected["Refused"]
            continue
        actual = resolve(fixed, values, region=region)
        assert sorted(actual["Resources"]) == sorted(expected["Resources"])
        for logical, resource in expected["Resources"].items():
            assert as_text(actual["Resources"][logical]) == as_text(resource), logical
        assert actual["Outputs"] == expected["Outputs"]


@pytest.mark.parametrize("values", combinations(MARKETPLACE_CHOICES), ids=str)
def test_marketplace_build_time_equals_resolved_deploy_time(values: dict[str, Any]) -> None:
    built = build_marketplace(MarketplaceOptions(**COMMON, **values))
    assert_equivalent(built, build_marketplace, as_parameters(MarketplaceOptions, values))


@pytest.mark.parametrize("values", combinations(COSELL_CHOICES), ids=str)
def test_cosell_build_time_equals_resolved_deploy_time(values: dict[str, Any]) -> None:
    built = build_cosell(CosellOptions(**COMMON, **values))
    assert_equivalent(built, build_cosell, as_parameters(CosellOptions, values))


SAMPLED = [
    pytest.param(target, build, values, id=f"{target.__name__}-{values}")
    for target, build in ((MarketplaceOptions, build_marketplace), (CosellOptions, build_cosell))
    for values in flag_samples(target)
]


@pytest.mark.parametrize(("options_class", "build", "values"), SAMPLED)
def test_every_flag_and_number_both_ways(
    options_class: type[Any], build: Callable[..., Any], values: dict[str, Any]
) -> None:
    """The flags and numbers read from the options (a new one cannot be left out), sampled
    by ``flag_samples`` rather than added to the exhaustive products above (each would
    double them), with every other option at deploy time."""
    built = build(options_class(**COMMON, **values))
    assert_equivalent(built, build, as_parameters(options_class, values))


@pytest.mark.parametrize("fixed", ["allow_marketplace_access", "enable_cas", "sdds_bucket_name"])
def test_mixed_modes_match_too(fixed: str) -> None:
    values = {"allow_marketplace_access": True, "enable_cas": True, "sdds_bucket_name": "old-sdds"}
    built = build_marketplace(MarketplaceOptions(**{fixed: values[fixed]}))
    assert_equivalent(built, build_marketplace, as_parameters(MarketplaceOptions, values))


def test_fixed_options_leave_no_parameter_behind() -> None:
    every = {**COMMON, **{k: v[1] for k, v in MARKETPLACE_CHOICES.items()}, "role_name": "R"}
    every |= {n: valid_value(s) for n, s in option_fields(MarketplaceOptions) if n not in every}
    template = as_dict(build_marketplace(MarketplaceOptions(**every)))
    assert set(template["Parameters"]) == {"ClazarSecretKey"}
