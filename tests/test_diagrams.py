"""The Mermaid picture of each stack against the template it is drawn from.

Expectations are read from the template by plain text search (which logical IDs a
statement's JSON mentions), not by the walk diagrams.py does, so the two can disagree.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from click.testing import CliRunner

from clazar_templates.cli import cli
from clazar_templates.options import option_fields
from clazar_templates.review.diagrams import diagram, mermaid
from clazar_templates.stacks import STACKS, Stack
from conftest import flag_samples

NODE = re.compile(r"^\s*([A-Za-z0-9_]+)(?:\[|\(|\{\{|>)")
EDGE = re.compile(r'^\s*(\w+) (-->|--x|==>|-\.->)(?:\|"([^"]*)"\|)? (\w+)$')


def parse(text: str) -> tuple[list[str], set[tuple[str, str, str]], set[str]]:
    """(node ids in definition order, edges as (source, arrow, target), dashed nodes)."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    nodes = [m.group(1) for line in lines if (m := NODE.match(line)) and not EDGE.match(line)]
    edges = {(m.group(1), m.group(2), m.group(4)) for line in lines if (m := EDGE.match(line))}
    dashed = {
        n for line in lines if line.startswith("  class ") for n in line.split()[1].split(",")
    }
    return nodes, edges, dashed


def variants() -> list[tuple[Stack, Any]]:
    """Each stack with everything at deploy time, and its flags sampled (``flag_samples``:
    every flag on and off, without the 2^n product)."""
    found: list[tuple[Stack, Any]] = []
    for target in STACKS.values():
        found.append((target, None))
        found += [(target, target.options(**s)) for s in flag_samples(target.options)]
    return found


def case_id(target: Stack, options: Any) -> str:
    if options is None:
        return f"{target.short}-deploy"
    flags = [n for n, spec in option_fields(target.options) if spec.kind.is_flag]
    return target.short + "".join(f"-{n}={getattr(options, n)}" for n in flags)


CASES = [pytest.param(t, o, id=case_id(t, o)) for t, o in variants()]


def mentions(value: Any, names: set[str]) -> set[str]:
    """Logical IDs that ``value``'s JSON refers to (Ref, GetAtt, or ${Name...} in a Sub)."""
    text = json.dumps(value)
    return {
        n for n in names if re.search(rf'"Ref": "{n}"|"Fn::GetAtt": \["{n}"|\$\{{{n}[.}}]', text)
    }


def statements(document: Any) -> list[Any]:
    """Statements of a policy document, both branches of a conditional one included."""
    found = []
    for item in document["Statement"]:
        if "Fn::If" in item:
            found += [b for b in item["Fn::If"][1:] if "Effect" in b]
        else:
            found.append(item)
    return found


def role_reach(resources: dict[str, Any]) -> set[tuple[str, str]]:
    """(role, resource) for every resource a policy statement grants or denies a role."""
    names = set(resources)
    roles = {n for n, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    reach = set()
    for logical, res in resources.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::IAM::Role":
            for inline in props.get("Policies", []):
                for st in statements(inline["PolicyDocument"]):
                    reach |= {(logical, t) for t in mentions(st.get("Resource"), names)}
        if res["Type"] == "AWS::IAM::Policy":
            for role in mentions(props["Roles"], roles):
                for st in statements(props["PolicyDocument"]):
                    reach |= {(role, t) for t in mentions(st.get("Resource"), names)}
        if res["Type"].endswith("Policy") and res["Type"] != "AWS::IAM::Policy":
            for st in statements(props["PolicyDocument"]):
                principal = json.dumps(st.get("Principal", {}))
                for role in (r for r in roles if f'"{r}"' in principal or f"{r}Arn" in principal):
                    reach |= {(role, t) for t in mentions(st.get("Resource"), names)}
    return {(role, t) for role, t in reach if role != t}


@pytest.mark.parametrize(("target", "options"), CASES)
def test_every_resource_is_a_node_and_every_edge_joins_nodes(target: Stack, options: Any) -> None:
    template = target.build(options).to_dict()
    nodes, edges, dashed = parse(diagram(target, options))
    assert len(nodes) == len(set(nodes)), "a node is defined twice"
    assert set(template["Resources"]) <= set(nodes)
    assert {n for s, _, t in edges for n in (s, t)} <= set(nodes)
    conditional = {n for n, r in template["Resources"].items() if "Condition" in r}
    assert dashed & set(template["Resources"]) == conditional


@pytest.mark.parametrize(("target", "options"), CASES)
def test_grant_edges_are_the_policy_resources(target: Stack, options: Any) -> None:
    resources = target.build(options).to_dict()["Resources"]
    _, edges, _ = parse(diagram(target, options))
    roles = {n for n, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    drawn = {(s, t) for s, arrow, t in edges if s in roles and t in resources and arrow != "-.->"}
    assert drawn == role_reach(resources)


@pytest.mark.parametrize(("target", "options"), CASES)
def test_deliveries_follow_subscriptions_and_service_policies(target: Stack, options: Any) -> None:
    template = target.build(options).to_dict()
    resources = template["Resources"]
    _, edges, _ = parse(mermaid(template))
    delivered = {(s, t) for s, arrow, t in edges if arrow == "==>"}
    for logical, res in resources.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::SNS::Subscription":
            for topic in mentions(props["TopicArn"], set(resources)):
                assert (topic, logical) in delivered
            for endpoint in mentions(props["Endpoint"], set(resources)):
                assert (logical, endpoint) in delivered
        feed = "reports.marketplace.amazonaws.com" in json.dumps(props.get("PolicyDocument"))
        if res["Type"] in ("AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy") and feed:
            for owner in mentions(props.get("Bucket", props.get("Topics")), set(resources)):
                assert ("data_feed", owner) in delivered
        if res["Type"].startswith("Custom::"):
            assert (logical, "clazar_api") in delivered
    trusted = {t for s, _, t in edges if s == "clazar"}
    assert trusted == {
        n
        for n, r in resources.items()
        if r["Type"] == "AWS::IAM::Role"
        and "ClazarAccountId" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
    }


def test_conditions_are_spelled_out() -> None:
    text = diagram("marketplace")
    assert re.search(r"CasBucket\[.*if EnableCas=true and CasBucketName empty", text)
    assert re.search(r"ClazarMarketplaceAccessPolicy\[.*if AllowMarketplaceAccess=true", text)


def test_command(tmp_path: Any) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["diagram", "marketplace", "--set", "enable_cas=false"])
    assert result.exit_code == 0, result.output
    nodes, _, _ = parse(result.output)
    assert "CasBucket" not in nodes
    assert "SddsBucket" in nodes
    fenced = runner.invoke(cli, ["diagram", "cosell", "--fenced"])
    assert fenced.output.startswith("```mermaid\nflowchart LR\n")
    assert fenced.output.endswith("```\n")
    assert fenced.output == f"```mermaid\n{diagram('cosell')}```\n"
    bad = runner.invoke(cli, ["diagram", "marketplace", "--set", "enable_cas=maybe"])
    assert bad.exit_code == 2
    assert "enable_cas" in bad.output


def test_same_picture_whatever_the_hash_seed() -> None:
    """The docs embed it and are drift-checked: set iteration order must not leak in."""
    import os
    import subprocess
    import sys

    code = "from clazar_templates import diagram; print(diagram('marketplace'), end='')"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert outputs == {diagram("marketplace")}


@pytest.mark.parametrize("enable_cas", [None, True])
def test_given_resources_are_drawn_by_their_arn_even_when_conditional(
    enable_cas: bool | None,
) -> None:
    """A seller's existing topic or bucket fixed at build time, with CAS left to deploy time,
    sits in the policies as a conditional list item: it is drawn as the resource, not as the
    intrinsic function around it."""
    topic = "arn:aws:sns:us-west-2:111122223333:seller-feed"
    options = STACKS["marketplace"].options(
        enable_cas=enable_cas, cas_sns_topic_arn=topic, cas_bucket_name="seller-feed-bucket"
    )
    text = diagram("marketplace", options)
    labels = [line for line in text.splitlines() if NODE.match(line) and not EDGE.match(line)]
    assert not [line for line in labels if "Fn::" in line or "quot;" in line]
    assert any(topic in line for line in labels)
    assert any("seller-feed-bucket/*" in line for line in labels)
