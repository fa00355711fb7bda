"""The reporter as it sits in the templates: the shipped code is the tested code, and it
reports only after everything it reports exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clazar_templates.reporter import HANDLER, source
from clazar_templates.stacks import STACKS
from clazar_templates.template.reading import load_template
from support import as_dict, resources

ROOT = Path(__file__).resolve().parents[1]

REPORTERS = {"marketplace": "ClazarReporter", "cosell": "ClazarCosellReporter"}


@pytest.fixture(params=list(STACKS))
def built(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, as_dict(STACKS[request.param].build())


def test_inlined_code_is_the_module_source_and_compiles(built: tuple[str, dict[str, Any]]) -> None:
    short, template = built
    function = template["Resources"][f"{REPORTERS[short]}Function"]["Properties"]
    assert function["Code"]["ZipFile"] == source()
    compile(function["Code"]["ZipFile"], "index.py", "exec")
    assert function["Handler"] == "index.handler"
    assert function["Runtime"] in ("python3.12", "python3.13")
    assert (
        function["Timeout"]
        < template["Resources"][REPORTERS[short]]["Properties"]["ServiceTimeout"]
    )


@pytest.mark.parametrize("short", list(STACKS))
def test_committed_templates_ship_handler_py_byte_for_byte(short: str) -> None:
    """The code a reviewer reads in a committed template is the file in this repository:
    both stacks' Lambda ZipFile is handler.py's bytes, nothing stripped or cut."""
    name = STACKS[short].name
    committed = load_template((ROOT / "templates" / f"{name}.yaml").read_text(encoding="utf-8"))
    code = committed["Resources"][f"{REPORTERS[short]}Function"]["Properties"]["Code"]
    assert code["ZipFile"].encode("utf-8") == HANDLER.read_bytes()


def test_function_has_its_own_log_group_and_least_privilege(
    built: tuple[str, dict[str, Any]],
) -> None:
    short, template = built
    name = REPORTERS[short]
    res = template["Resources"]
    assert res[f"{name}LogGroup"]["Properties"]["RetentionInDays"] > 0
    function = res[f"{name}Function"]["Properties"]
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": f"{name}LogGroup"}}
    role = res[f"{name}FunctionRole"]["Properties"]
    assert "ManagedPolicyArns" not in role
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    (policy,) = role["Policies"]
    sids = {st["Sid"]: st for st in policy["PolicyDocument"]["Statement"]}
    assert sids["WriteOwnLogs"]["Resource"] == [{"Fn::GetAtt": [f"{name}LogGroup", "Arn"]}]
    assert sids["ReadOwnStack"]["Resource"] == [{"Ref": "AWS::StackId"}]
    expected = {"WriteOwnLogs", "ReadOwnStack"} | (
        {"ReadAccountRoles"} if short == "cosell" else set()
    )
    assert set(sids) == expected


def test_secret_is_noecho_and_only_passed_to_the_reporter(
    built: tuple[str, dict[str, Any]],
) -> None:
    short, template = built
    assert template["Parameters"]["ClazarSecretKey"]["NoEcho"] is True
    users = [
        logical
        for logical, res in template["Resources"].items()
        if "'Ref': 'ClazarSecretKey'" in str(res)
    ]
    assert users == [REPORTERS[short]]
    assert "ClazarSecretKey" not in str(template.get("Outputs", {}))


def test_api_endpoint_is_built_in_not_a_parameter(built: tuple[str, dict[str, Any]]) -> None:
    short, template = built
    props = template["Resources"][REPORTERS[short]]["Properties"]
    assert props["ApiUrl"].startswith("https://")
    assert not any("Url" in p or "Endpoint" in p for p in template["Parameters"])


def test_marketplace_report_waits_for_every_role_policy() -> None:
    """Conditional policies cannot be in DependsOn; the report refers to each one instead,
    so CloudFormation creates it only after all of them."""
    template = as_dict(STACKS["marketplace"].build())
    policies = resources(template, "AWS::IAM::Policy")
    referenced = template["Resources"]["ClazarReporter"]["Properties"]["Policies"]
    found = set()
    for item in referenced:
        ref = item["Fn::If"][1] if "Fn::If" in item else item
        found.add(ref["Ref"])
        if "Fn::If" in item:  # present exactly when the policy is
            assert item["Fn::If"][0] == policies[ref["Ref"]]["Condition"]
    assert found == set(policies)
