"""The permission gate against hostile templates: every way a template can grant access
that the gate once could not see, each added to a real build of the Role & Access template.

Each case is data: resources (and outputs) a hostile upgrade adds. Each must make ``diff``
say the permissions grew (exit 1), naming the subject, and must never be "No permission
changes". The table of what grants nothing is held against cfn-lint's resource schemas.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from clazar_templates import build_marketplace, to_json
from clazar_templates.cli import cli
from clazar_templates.review.diff import diff
from clazar_templates.stacks import STACKS
from clazar_templates.template.reading import GRANTS_NOTHING, POLICY_PLACES
from clazar_templates.template.schemas import resource_schema

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
USER = {"Type": "AWS::IAM::User", "Properties": {"UserName": "backdoor"}}
GROUP = {"Type": "AWS::IAM::Group", "Properties": {}}


def base() -> dict[str, Any]:
    return json.loads(to_json(build_marketplace()))


# (case, resources added, outputs added, (subject name, subject kind) that must grow)
HOSTILE: list[tuple[str, dict[str, Any], dict[str, Any], tuple[str, str]]] = [
    (
        "admin user",
        {"Backdoor": {**USER, "Properties": {"ManagedPolicyArns": [ADMIN]}}},
        {},
        ("Backdoor", "user"),
    ),
    ("bare user", {"Backdoor": USER}, {}, ("Backdoor", "user")),
    (
        "access key as an output",
        {
            "Backdoor": USER,
            "BackdoorKey": {
                "Type": "AWS::IAM::AccessKey",
                "Properties": {"UserName": {"Ref": "Backdoor"}},
            },
        },
        {"Secret": {"Value": {"Fn::GetAtt": ["BackdoorKey", "SecretAccessKey"]}}},
        ("Outputs.Secret", "output"),
    ),
    (
        "policy on users",
        {
            "Backdoor": USER,
            "Everything": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyName": "x",
                    "Users": [{"Ref": "Backdoor"}],
                    "PolicyDocument": EVERYTHING,
                },
            },
        },
        {},
        ("Backdoor", "user"),
    ),
    (
        "managed policy on groups",
        {
            "Admins": GROUP,
            "Everything": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {"Groups": [{"Ref": "Admins"}], "PolicyDocument": EVERYTHING},
            },
        },
        {},
        ("Admins", "group"),
    ),
    (
        "group with an admin policy",
        {"Admins": {**GROUP, "Properties": {"ManagedPolicyArns": [ADMIN]}}},
        {},
        ("Admins", "group"),
    ),
    (
        "public lambda permission",
        {
            "Open": {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": {"Ref": "ClazarReporterFunction"},
                    "Principal": "*",
                },
            }
        },
        {},
        ("ClazarReporterFunction", "function policy"),
    ),
    (
        "secret resource policy",
        {
            "SecretPolicy": {
                "Type": "AWS::SecretsManager::ResourcePolicy",
                "Properties": {
                    "SecretId": "arn:aws:secretsmanager:us-east-1:111122223333:secret:x",
                    "ResourcePolicy": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": "*"},
                                "Action": "secretsmanager:GetSecretValue",
                                "Resource": "*",
                            }
                        ]
                    },
                },
            }
        },
        {},
        ("arn:aws:secretsmanager:us-east-1:111122223333:secret:x", "secret policy"),
    ),
    (
        "event bus policy statement",
        {
            "BusPolicy": {
                "Type": "AWS::Events::EventBusPolicy",
                "Properties": {
                    "StatementId": "open",
                    "Statement": {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "events:PutEvents",
                        "Resource": "*",
                    },
                },
            }
        },
        {},
        ("BusPolicy", "event bus policy"),
    ),
    (
        "event bus policy, legacy form",
        {
            "BusPolicy": {
                "Type": "AWS::Events::EventBusPolicy",
                "Properties": {
                    "StatementId": "open",
                    "EventBusName": "default",
                    "Action": "events:PutEvents",
                    "Principal": "444455556666",
                },
            }
        },
        {},
        ("default", "event bus policy"),
    ),
    (
        "nested stack",
        {
            "Nested": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {"TemplateURL": "https://example.com/admin.yaml"},
            }
        },
        {},
        ("Nested", "AWS::CloudFormation::Stack"),
    ),
    (
        "unknown type",
        {"Thing": {"Type": "AWS::IAM::OIDCProvider", "Properties": {"Url": "https://x"}}},
        {},
        ("Thing", "AWS::IAM::OIDCProvider"),
    ),
    (
        "public bucket ACL",
        {"Open": {"Type": "AWS::S3::Bucket", "Properties": {"AccessControl": "PublicReadWrite"}}},
        {},
        ("Open", "AWS::S3::Bucket"),
    ),
    (
        "a macro inside a resource",
        {
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"Fn::Transform": {"Name": "Evil", "Parameters": {}}},
            }
        },
        {},
        ("Queue", "AWS::SQS::Queue"),
    ),
]


@pytest.mark.parametrize(
    ("resources", "outputs", "subject"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_hostile_additions_grow_and_are_named(
    tmp_path: Path, resources: dict[str, Any], outputs: dict[str, Any], subject: tuple[str, str]
) -> None:
    old = base()
    new = copy.deepcopy(old)
    new["Resources"].update(copy.deepcopy(resources))
    new["Outputs"].update(outputs)
    found = diff(json.dumps(old), json.dumps(new))
    grown = {(s.name, s.kind) for s in found.subjects if s.grew}
    assert subject in grown, [(s.name, s.kind, s.changes) for s in found.subjects]
    assert found.grew
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    result = CliRunner().invoke(
        cli, ["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json")]
    )
    assert result.exit_code == 1, result.output
    assert "No permission changes" not in result.output
    assert "**Permissions grew**" in result.output


def test_what_cannot_be_reviewed_is_named() -> None:
    old = base()
    new = copy.deepcopy(old)
    new["Resources"]["Nested"] = {
        "Type": "AWS::CloudFormation::Stack",
        "Properties": {"TemplateURL": "https://example.com/admin.yaml"},
    }
    text = diff(json.dumps(old), json.dumps(new)).to_markdown()
    assert "**AWS::CloudFormation::Stack Nested: cannot be reviewed**" in text
    # its removal is a change, not growth
    back = diff(json.dumps(new), json.dumps(old))
    assert not back.grew


def test_a_macro_is_growth() -> None:
    old = base()
    new = copy.deepcopy(old)
    new["Transform"] = "AWS::Serverless-2016-10-31"
    found = diff(json.dumps(old), json.dumps(new))
    assert found.grew
    assert "**macro Transform AWS::Serverless-2016-10-31: cannot be reviewed**" in (
        found.to_markdown()
    )


def test_the_access_key_and_its_output_are_each_named() -> None:
    old = base()
    new = copy.deepcopy(old)
    (case,) = [c for c in HOSTILE if c[0] == "access key as an output"]
    new["Resources"].update(case[1])
    new["Outputs"].update(case[2])
    found = diff(json.dumps(old), json.dumps(new))
    changes = {(s.name, c.change) for s in found.subjects for c in s.changes if c.grew}
    assert ("Backdoor", "IAM user added") in changes
    assert ("Backdoor", "access key added") in changes
    assert ("Outputs.Secret", "access key secret in an output added") in changes


def test_a_narrower_lambda_permission_is_no_growth() -> None:
    """Permissions are modelled, not only counted: a SourceArn added narrows."""
    old = base()
    permission = {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Ref": "ClazarReporterFunction"},
            "Principal": "events.amazonaws.com",
        },
    }
    old["Resources"]["Invoke"] = permission
    new = copy.deepcopy(old)
    new["Resources"]["Invoke"]["Properties"]["SourceArn"] = "arn:aws:events:*:*:rule/x"
    found = diff(json.dumps(old), json.dumps(new))
    assert found.subjects
    assert not found.grew
    assert diff(json.dumps(new), json.dumps(old)).grew


# --- the table of what grants nothing, held against the resource schemas -----------------

ACCESS_WORDS = re.compile(r"Polic|Permission|Principal|Acl|AccessControl|Public|Grant|Trust")
# Properties whose names sound like access but grant none, each with the reason.
NAMES_NO_ACCESS = {
    "RedrivePolicy": "where failed messages go (a queue of the stack)",
    "DeliveryPolicy": "how SNS retries a delivery",
    "FilterPolicy": "which messages a subscription gets",
    "FilterPolicyScope": "what the filter policy reads",
    "ReplayPolicy": "which archived messages a subscription replays",
    "ArchivePolicy": "how long a FIFO topic keeps messages",
    "DataProtectionPolicy": "masks or audits sensitive data; it can only deny",
    "FieldIndexPolicies": "which log fields are indexed",
}


@pytest.mark.parametrize("resource_type", sorted(GRANTS_NOTHING))
def test_every_access_property_of_a_type_that_grants_nothing_is_listed(
    resource_type: str,
) -> None:
    properties = resource_schema(resource_type).get("properties", {})
    assert properties, f"{resource_type}: cfn-lint has no schema"
    listed = set(GRANTS_NOTHING[resource_type])
    assert listed <= set(properties)
    sounds = {p for p in properties if ACCESS_WORDS.search(p)}
    assert sounds - listed - set(NAMES_NO_ACCESS) == set()


def test_every_type_our_templates_use_is_reviewed() -> None:
    for stack in STACKS.values():
        for logical, resource in stack.build().to_dict()["Resources"].items():
            kind = resource["Type"]
            known = kind in POLICY_PLACES or kind in GRANTS_NOTHING or kind.startswith("Custom::")
            assert known, f"{stack.name} {logical}: {kind} is in neither table"


def test_every_policy_place_is_a_property_of_its_schema() -> None:
    for kind, places in POLICY_PLACES.items():
        properties = resource_schema(kind).get("properties", {})
        for place in places:
            for name in (place.document, place.applies_to):
                assert not name or name in properties, f"{kind}.{name}"


def test_a_permissions_boundary_removed_is_growth() -> None:
    old = base()
    role = old["Resources"]["ClazarRole"]["Properties"]
    role["PermissionsBoundary"] = "arn:aws:iam::111122223333:policy/boundary"
    new = copy.deepcopy(old)
    del new["Resources"]["ClazarRole"]["Properties"]["PermissionsBoundary"]
    found = diff(json.dumps(old), json.dumps(new))
    (subject,) = found.subjects
    assert (subject.name, subject.kind, subject.grew) == ("ClazarRole", "AWS::IAM::Role", True)
    assert subject.changes[0].change == "PermissionsBoundary cannot be reviewed"


def test_json_says_what_cannot_be_reviewed() -> None:
    old = base()
    new = copy.deepcopy(old)
    new["Resources"]["Nested"] = {"Type": "AWS::CloudFormation::Stack", "Properties": {}}
    report = json.loads(diff(json.dumps(old), json.dumps(new)).to_json())
    (subject,) = report["subjects"]
    assert (subject["name"], subject["kind"]) == ("Nested", "AWS::CloudFormation::Stack")
    assert (subject["grew"], subject["unreviewed"], report["grew"]) == (True, True, True)


def test_a_function_moved_to_a_role_outside_the_template_is_growth() -> None:
    """The gate reads the template's roles; a function made to run as another cannot be
    reviewed."""
    old = base()
    new = copy.deepcopy(old)
    function = new["Resources"]["ClazarReporterFunction"]["Properties"]
    function["Role"] = "arn:aws:iam::111122223333:role/Admin"
    (subject,) = diff(json.dumps(old), json.dumps(new)).subjects
    assert (subject.name, subject.grew) == ("ClazarReporterFunction", True)
    assert subject.changes[0].change == "Role cannot be reviewed"


@pytest.mark.parametrize("resources", [{"X": "not a resource"}, ["a list"]])
def test_a_malformed_resource_is_bad_input_not_a_traceback(tmp_path: Path, resources: Any) -> None:
    old = base()
    new = {**copy.deepcopy(old), "Resources": resources}
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    result = CliRunner().invoke(
        cli, ["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json")]
    )
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: NEW: not a CloudFormation template")
