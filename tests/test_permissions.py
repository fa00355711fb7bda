"""The permission reference: complete, with every reason, and right about when each applies."""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from clazar_templates import permissions, policies
from clazar_templates.cli import cli
from clazar_templates.review.docs import PERMISSIONS_DOC, generated_files
from clazar_templates.review.permissions import _Reader, stack_markdown
from clazar_templates.stacks import STACKS, Stack
from clazar_templates.template.conditions import Cond, Lit, Op, describe, literals, simplify
from clazar_templates.template.resolve import Refused, refusals, resolve
from support import DEPLOY_VALUES

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", params=list(STACKS))
def stack(request: pytest.FixtureRequest) -> Stack:
    return STACKS[request.param]


@pytest.fixture(scope="module")
def template(stack: Stack) -> dict[str, Any]:
    return dict(stack.build().to_dict())


def statements_in(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM statement anywhere in a template (inside Fn::If branches too)."""
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield node
        for value in node.values():
            yield from statements_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from statements_in(item)


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_every_statement_has_a_sid_with_a_reason(template: dict[str, Any]) -> None:
    found = list(statements_in(template["Resources"]))
    assert found
    for st in found:
        assert st.get("Sid") in policies.WHY, st
        assert policies.WHY[st["Sid"]].strip()


def test_every_sid_appears_with_its_reason(stack: Stack, template: dict[str, Any]) -> None:
    text = permissions(stack.short)
    for st in statements_in(template["Resources"]):
        sid = st["Sid"]
        assert f"**`{sid}`** ({st['Effect']}). {one_line(policies.WHY[sid])}" in text


def test_json_has_the_same_statements(stack: Stack, template: dict[str, Any]) -> None:
    data = json.loads(permissions(stack.short, "json"))
    (section,) = data["stacks"]
    documented = [
        st["sid"]
        for role in section["roles"]
        for policy in role["policies"]
        for st in policy["statements"]
    ] + [st["sid"] for rp in section["resource_policies"] for st in rp["statements"]]
    in_template = [st["Sid"] for st in statements_in(template["Resources"])]
    assert sorted(documented) == sorted(in_template)
    roles = [k for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::Role"]
    assert [role["logical_id"] for role in section["roles"]] == roles


def by_sid(stack: Stack) -> dict[str, dict[str, Any]]:
    (section,) = json.loads(permissions(stack.short, "json"))["stacks"]
    found = {}
    for role in section["roles"]:
        for policy in role["policies"]:
            found.update({st["sid"]: st for st in policy["statements"]})
    return found


def test_an_options_condition_is_written_in_its_parameter() -> None:
    marketplace = by_sid(STACKS["marketplace"])
    assert marketplace["ManageMarketplace"]["present_when"] == "AllowMarketplaceAccess=true"
    assert marketplace["ReadOwnRole"]["present_when"] == "always"
    assert marketplace["GenerateCasDataSets"]["present_when"] == "EnableCas=true"
    cosell = by_sid(STACKS["cosell"])
    assert cosell["DenyProductionCatalog"]["present_when"] == "ExistingSandboxRole is empty"
    kms = marketplace["DecryptExistingFeedObjects"]
    assert kms["present_when"] == (
        "(EnableCas=true and CasBucketName is set) or SddsBucketName is set"
    )
    resources = marketplace["ReadFeedObjects"]["resources"]
    assert "${SddsBucket.Arn}/* (when SddsBucketName is empty)" in resources
    template = STACKS["marketplace"].build().to_dict()["Resources"]
    (read_own_role,) = [st for st in statements_in(template) if st["Sid"] == "ReadOwnRole"]
    assert marketplace["ReadOwnRole"]["actions"] == read_own_role["Action"]
    markdown = permissions("marketplace")
    assert "- **`ManageMarketplace`** (Allow)." in markdown
    assert "Present when `AllowMarketplaceAccess=true`." in markdown


def test_a_build_time_option_removes_its_statement() -> None:
    fixed = STACKS["marketplace"].options(allow_marketplace_access=False)
    template = STACKS["marketplace"].build(fixed).to_dict()
    sids = {st["Sid"] for st in statements_in(template["Resources"])}
    assert "ManageMarketplace" not in sids
    assert "ManageMarketplace" in by_sid(STACKS["marketplace"])  # the reference: deploy time


def holds(cond: Cond, values: dict[str, str]) -> bool:
    if isinstance(cond, bool):
        return cond
    if isinstance(cond, Lit):
        return (values.get(cond.parameter) == cond.value) == cond.equal
    results = [holds(item, values) for item in cond.items]
    return all(results) if cond.kind == "and" else any(results)


def combinations(reader: _Reader) -> Iterator[dict[str, str]]:
    """Ways to set the parameters the Conditions test (flags, empty or given), in a region
    where AWS publishes Marketplace events and one where it does not: every combination
    within each group of parameters whose Conditions meet on one resource (its Condition and
    those inside its policy documents, all this test judges), the other groups at their
    first value. Independent options add their own few cases instead of doubling the
    product (a group is exhaustive: a wrong reading of combined Conditions is still found)."""
    tested = [p for p in reader.parameters if _refers(reader.conditions, p)]
    choices = {
        p: [str(v) for v in reader.parameters[p].get("AllowedValues", [])] or ["", f"given-{p}"]
        for p in tested
    }
    choices["AWS::Region"] = ["us-east-1", "eu-west-1"]
    base = {p: values[0] for p, values in choices.items()}
    seen: set[str] = set()
    for group in _groups(reader, list(choices)):
        for combo in itertools.product(*[choices[p] for p in group]):
            values = {**base, **dict(zip(group, combo, strict=True))}
            if (key := json.dumps(values, sort_keys=True)) not in seen:
                seen.add(key)
                yield values


def _refers(node: Any, name: str) -> bool:
    return json.dumps({"Ref": name}) in json.dumps(node)


def _groups(reader: _Reader, names: list[str]) -> list[list[str]]:
    """``names`` split into the groups whose Conditions meet on one resource."""

    def params(condition: str, seen: frozenset[str] = frozenset()) -> set[str]:
        node = reader.conditions[condition]
        found = {n for n in names if _refers(node, n)}
        text = json.dumps(node)
        for other in reader.conditions:
            if other not in seen and json.dumps({"Condition": other}) in text:
                found |= params(other, seen | {condition})
        return found

    linked: list[set[str]] = [{n} for n in names]
    for res in reader.resources.values():
        props = res.get("Properties", {})
        documents = [props.get(k) for k in ("PolicyDocument", "AssumeRolePolicyDocument")]
        text = json.dumps([res.get("Condition"), props.get("KeyPolicy"), *documents])
        met: set[str] = set()
        for condition in reader.conditions:
            if json.dumps(condition) in text:
                met |= params(condition)
        joined = [g for g in linked if g & met]
        linked = [g for g in linked if not g & met] + [set().union(met, *joined)]
    return [[n for n in names if n in g] for g in linked if g]


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_presence_agrees_with_cloudformations_reading(
    stack: Stack, template: dict[str, Any]
) -> None:
    """For every combination of parameters, a resource, statement, resource or condition
    value is documented as present exactly when resolving the template (as CloudFormation
    would) keeps it."""
    reader = _Reader(template)
    required = {k: v for k, v in DEPLOY_VALUES.items() if k in template["Parameters"]}
    for values in combinations(reader):
        region = values["AWS::Region"]
        given = {**required, **{k: v for k, v in values.items() if k != "AWS::Region"}}
        deployed = functools.partial(deployed_value, template, given, region)
        if refusals(template, given, region=region):  # CloudFormation creates nothing
            with pytest.raises(Refused):
                resolve(template, given, region=region)
            continue
        resolved = resolve(template, given, region=region)["Resources"]
        for logical, res in template["Resources"].items():
            present = reader.present(res)
            assert holds(present, values) == (logical in resolved), (logical, values)
            for key in ("PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy"):
                document = res.get("Properties", {}).get(key)
                if document is None or logical not in resolved:
                    continue
                kept = {st["Sid"]: st for st in statements_in(resolved[logical])}
                for st, cond in reader.choices(document["Statement"], present):
                    when = simplify(cond)
                    assert holds(when, values) == (st["Sid"] in kept), (st["Sid"], values)
                    if st["Sid"] in kept:
                        check_items(reader, st, kept[st["Sid"]], when, values, deployed)


def deployed_value(template: dict[str, Any], given: dict[str, str], region: str, node: Any) -> Any:
    """``node`` (a value in ``template``) as CloudFormation would deploy it."""
    probe = {**template, "Resources": {"P": {"Type": "T", "Properties": {"V": node}}}}
    return resolve(probe, given, region=region)["Resources"]["P"]["Properties"]["V"]


def check_items(
    reader: _Reader,
    st: dict[str, Any],
    deployed_st: dict[str, Any],
    when: Cond,
    values: dict[str, str],
    deployed: Any,
) -> None:
    """Each resource and condition value of ``st`` is shown "when" it is deployed."""
    pairs = [(st.get("Resource", []), deployed_st.get("Resource", []))]
    for operator, tests in st.get("Condition", {}).items():
        for key, value in tests.items():
            pairs.append((value, deployed_st["Condition"][operator][key]))
    for template_values, deployed_values in pairs:
        for item, cond in reader.choices(listed(template_values)):
            shown = simplify(cond, literals(when))
            assert holds(shown, values) == (deployed(item) in listed(deployed_values)), (
                st["Sid"],
                item,
                values,
            )


def test_resource_policies_have_their_own_section() -> None:
    text = stack_markdown(STACKS["marketplace"])
    roles, resource_policies = text.split("### Resource policies", 1)
    assert "#### `ClazarSqsSendPolicy` (queue policy)" in resource_policies
    assert "Applies to `ClazarSqsQueue`." in resource_policies
    assert "`ClazarKmsKey` (key policy)" in resource_policies
    assert "(bucket policy)" in resource_policies
    assert "(topic policy)" in resource_policies
    assert "DeliverTopicsToQueue" not in roles


def test_managed_policies_are_named_and_explained() -> None:
    text = stack_markdown(STACKS["cosell"])
    for name in (policies.PARTNER_CENTRAL_SANDBOX, policies.PARTNER_CENTRAL_PRODUCTION):
        section = text.split(f"##### `{name}` (AWS managed policy)", 1)[1]
        assert section.split("\n\n")[2].startswith("AWS managed policy: ")


def test_committed_document_is_generated() -> None:
    """The drift check: docs/permissions.md is what the generator writes now."""
    path = ROOT / PERMISSIONS_DOC
    committed = path.read_text(encoding="utf-8")
    assert committed == generated_files(ROOT)[path], "run `make templates`"
    for target in STACKS.values():
        assert stack_markdown(target) in committed


def test_bad_stack_or_format_is_refused() -> None:
    with pytest.raises(ValueError, match="stack: unknown stack 'nope'"):
        permissions("nope")
    with pytest.raises(ValueError, match="format: 'html' is not valid; expected markdown or json"):
        permissions(fmt="html")


def test_command_prints_one_stack_or_all() -> None:
    runner = CliRunner()
    one = runner.invoke(cli, ["permissions", "cosell"])
    assert one.exit_code == 0
    assert one.output == permissions("cosell")
    assert "(`clazar-marketplace`)" not in one.output
    everything = runner.invoke(cli, ["permissions", "--format", "json"])
    assert everything.exit_code == 0
    assert [s["short"] for s in json.loads(everything.output)["stacks"]] == list(STACKS)
    bad = runner.invoke(cli, ["permissions", "nope"])
    assert bad.exit_code == 2
    assert "STACK" in bad.output
    assert "expected one of marketplace, cosell" in bad.output
    bad_format = runner.invoke(cli, ["permissions", "--format", "html"])
    assert bad_format.exit_code == 2
    assert "'markdown', 'json'" in bad_format.output


def test_docs_check_fails_on_a_stale_permission_document(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("no markers\n", encoding="utf-8")
    runner = CliRunner()
    missing = runner.invoke(cli, ["docs", "--check", "--root", str(tmp_path)])
    assert missing.exit_code == 1
    assert "permissions.md is out of date" in missing.output
    written = runner.invoke(cli, ["docs", "--root", str(tmp_path)])
    assert written.exit_code == 0
    assert (tmp_path / PERMISSIONS_DOC).read_text(encoding="utf-8") == permissions()
    assert runner.invoke(cli, ["docs", "--check", "--root", str(tmp_path)]).exit_code == 0


TOY = {
    "Parameters": {
        "Flag": {"Type": "String", "AllowedValues": ["true", "false"]},
        "Name": {"Type": "String", "Default": ""},
    },
    "Conditions": {
        "FlagOn": {"Fn::Equals": [{"Ref": "Flag"}, "true"]},
        "NoName": {"Fn::Equals": ["", {"Ref": "Name"}]},
        "Both": {"Fn::And": [{"Condition": "FlagOn"}, {"Condition": "NoName"}]},
        "NotBoth": {"Fn::Not": [{"Condition": "Both"}]},
        "Never": {"Fn::And": [{"Condition": "NoName"}, {"Fn::Not": [{"Condition": "NoName"}]}]},
        "InUsEast1": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
    },
}


@pytest.mark.parametrize(
    ("condition", "text"),
    [
        ("FlagOn", "`Flag=true`"),
        ("NoName", "`Name` is empty"),
        ("Both", "`Flag=true` and `Name` is empty"),
        ("NotBoth", "`Flag=false` or `Name` is set"),
        ("Never", "never"),
        ("InUsEast1", "this stack's region is `us-east-1`"),
    ],
)
def test_conditions_read_as_parameters(condition: str, text: str) -> None:
    reader = _Reader(TOY)
    assert describe(simplify(reader.condition(condition))) == text


def test_what_a_conjunction_already_says_is_not_repeated() -> None:
    reader = _Reader(TOY)
    flag, both, not_both = (reader.condition(c) for c in ("FlagOn", "Both", "NotBoth"))
    assert describe(simplify(Op("and", (flag, Op("or", (both, not_both)))))) == "`Flag=true`"
    assert describe(simplify(Op("and", (flag, not_both)))) == "`Flag=true` and `Name` is set"
    assert simplify(Op("and", (both, not_both))) is False
    assert simplify(both, frozenset([Lit("Name", "")])) == Lit("Flag", "true")
    assert simplify(both, frozenset([Lit("Name", "x")])) is False
