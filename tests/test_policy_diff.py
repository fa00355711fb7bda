"""Permission diffs between template versions: real pairs, in tests/data/diff and built."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from clazar_templates import MarketplaceOptions, build_marketplace, to_json, to_yaml
from clazar_templates import policies as p
from clazar_templates.cli import cli
from clazar_templates.review.diff import DiffError, Grant, covers, diff
from clazar_templates.stacks import STACKS

DATA = Path(__file__).parent / "data" / "diff"


def fixture(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["diff", *args])


def shuffled(template: dict[str, Any], seed: int) -> dict[str, Any]:
    """The same template with every mapping and every policy list in another order."""
    rng = random.Random(seed)

    def walk(node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            items = [(k, walk(v, k)) for k, v in node.items()]
            rng.shuffle(items)
            return dict(items)
        if isinstance(node, list):
            items = [walk(v) for v in node]
            if key in ("Statement", "Action", "Resource"):
                rng.shuffle(items)
            return items
        return node

    return dict(walk(template))


# --- no change --------------------------------------------------------------------------


@pytest.mark.parametrize("short", sorted(STACKS))
def test_identical_templates_have_no_changes(short: str, tmp_path: Path) -> None:
    text = to_yaml(STACKS[short].build())
    (tmp_path / "a.yaml").write_text(text)
    result = run(str(tmp_path / "a.yaml"), str(tmp_path / "a.yaml"))
    assert result.exit_code == 0, result.output
    assert "No permission changes" in result.output
    assert diff(text, text).subjects == ()


@pytest.mark.parametrize("short", sorted(STACKS))
@pytest.mark.parametrize("seed", [1, 2])
def test_reordered_and_reformatted_is_no_change(short: str, seed: int) -> None:
    template = STACKS[short].build().to_dict()
    assert diff(to_yaml(template), to_json(shuffled(template, seed))).subjects == ()


def test_hand_reordered_json_with_long_forms_is_no_change() -> None:
    found = diff(fixture("base.yaml"), fixture("reordered.json"))
    assert found.subjects == ()
    assert not found.grew


# --- growth -----------------------------------------------------------------------------


def test_one_action_added() -> None:
    result = run(str(DATA / "base.yaml"), str(DATA / "action-added.yaml"), "--format", "json")
    assert result.exit_code == 1
    (report,) = json.loads(result.stdout)  # always a list, one diff per template (issue 25)
    assert report["grew"] is True
    (subject,) = report["subjects"]
    assert (subject["name"], subject["kind"]) == ("VendorRole", "role")
    (change,) = subject["changes"]
    assert change["change"] == "action added"
    assert change["actions"] == ["s3:putobject"]
    assert change["resources"] == ["${Reports.Arn}/*"]
    assert change["grew"] is True


def test_wildcard_narrowed_is_no_growth() -> None:
    result = run(str(DATA / "base.yaml"), str(DATA / "wildcard-narrowed.yaml"))
    assert result.exit_code == 0, result.output
    found = diff(fixture("base.yaml"), fixture("wildcard-narrowed.yaml"))
    (subject,) = found.subjects
    (change,) = subject.changes
    assert change.change == "action and resource narrowed"
    assert (change.actions, change.resources) == (("s3:getobject",), ("${Reports.Arn}/reports/*",))
    assert change.previous == ("s3:get* on ${Reports.Arn}/*",)
    assert not change.grew
    assert diff(fixture("wildcard-narrowed.yaml"), fixture("base.yaml")).grew  # and back


def test_conditional_policy_enabled() -> None:
    found = diff(fixture("base.yaml"), fixture("extra-enabled.yaml"))
    (change,) = found.subjects[0].changes
    assert (change.actions, change.resources, change.grew) == (("aws-marketplace:*",), ("*",), True)
    # The same template compared with the parameter set sees no change: both get it.
    same = diff(fixture("base.yaml"), fixture("base.yaml"), parameters={"EnableExtra": "true"})
    assert same.subjects == ()


def inline_queue_policy(service: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sqs:SendMessage"}
    policy = {"Queue": {"Ref": "Queue"}, "PolicyDocument": {"Statement": [statement]}}
    return json.dumps(
        {
            "Resources": {
                "Queue": {"Type": "AWS::SQS::Queue"},
                "QueuePolicy": {"Type": "AWS::SQS::QueueInlinePolicy", "Properties": policy},
            }
        }
    )


def test_an_inline_queue_policy_is_compared_like_a_queue_policy() -> None:
    """Every place the one table of policy documents names is read, the newer
    AWS::SQS::QueueInlinePolicy too: another service let in is growth on the queue."""
    found = diff(inline_queue_policy("sns.amazonaws.com"), inline_queue_policy("s3.amazonaws.com"))
    (subject,) = found.subjects
    assert (subject.name, subject.kind, subject.grew) == ("Queue", "queue policy", True)
    assert {c.principals for c in subject.changes} == {
        ("Service:s3.amazonaws.com",),
        ("Service:sns.amazonaws.com",),
    }


def test_marketplace_access_enabled_in_the_real_template() -> None:
    old = to_yaml(build_marketplace())
    new = to_yaml(build_marketplace(MarketplaceOptions(allow_marketplace_access=True)))
    found = diff(old, new)
    allowed = {a.JSONrepr().lower() for a in p.manage_marketplace().Action}
    denied = {a.lower() for a in p.MARKETPLACE_DENIED}
    (subject,) = found.subjects
    assert (subject.name, subject.kind) == ("ClazarRole", "role")
    by_effect = {c.effect: c for c in subject.changes}
    assert set(by_effect) == {"Allow", "Deny"}
    assert (set(by_effect["Allow"].actions), by_effect["Allow"].grew) == (allowed, True)
    assert (set(by_effect["Deny"].actions), by_effect["Deny"].grew) == (denied, False)
    assert all(c.resources == ("*",) for c in subject.changes)
    # Turning it off also removes its Deny, which diff counts as growth (documented: a Deny
    # no longer there cannot stop a grant from elsewhere); nothing else grows.
    (back,) = diff(new, old).subjects
    assert [(c.effect, c.grew) for c in back.changes if c.grew] == [("Deny", True)]
    # a deploy-time template compared with the opt-in parameter: the same grants
    assert diff(old, new, parameters={"AllowMarketplaceAccess": "true"}).subjects == ()


def test_relaxed_deny_and_dropped_trust_condition_grow() -> None:
    found = diff(fixture("base.yaml"), fixture("deny-relaxed.yaml"))
    by_kind = {s.kind: s for s in found.subjects}
    (deny,) = by_kind["role"].changes
    assert deny.effect == "Deny"
    assert deny.grew  # the deny now spares ap-south-1
    (trust,) = by_kind["trust"].changes
    assert trust.change == "conditions widened"
    assert trust.principals == ("AWS:<VendorAccountId>",)
    assert trust.conditions == ()
    assert trust.previous == ("if StringEquals sts:externalid = <ExternalId>",)
    assert trust.grew


def test_removed_resources_do_not_count_their_denies_as_growth() -> None:
    """Turning CAS off removes its bucket and topic with their deny-TLS statements."""
    on = to_yaml(build_marketplace(MarketplaceOptions(enable_cas=True)))
    off = to_yaml(build_marketplace(MarketplaceOptions(enable_cas=False)))
    found = diff(on, off)
    assert found.subjects
    assert not found.grew
    assert diff(off, on).grew


def test_a_region_that_refuses_the_template_is_said_not_skipped(tmp_path: Path) -> None:
    """EventBridge is refused outside us-east-1 (the template's Rules): diff says so rather
    than compare a stack CloudFormation would never create."""
    off = to_yaml(build_marketplace(MarketplaceOptions(enable_event_bridge=False)))
    on = to_yaml(build_marketplace(MarketplaceOptions(enable_event_bridge=True)))
    assert diff(off, on).grew
    with pytest.raises(DiffError, match=r"^NEW: refused: .*EnableEventBridge=false"):
        diff(off, on, region="eu-west-1")
    (tmp_path / "off.yaml").write_text(off)
    (tmp_path / "on.yaml").write_text(on)
    result = run(str(tmp_path / "off.yaml"), str(tmp_path / "on.yaml"), "--region", "eu-west-1")
    assert result.exit_code == 2, result.output
    assert "refused: AWS publishes" in result.output
    both = to_yaml(build_marketplace())
    assert diff(both, both, region="eu-west-1", parameters={"EnableEventBridge": "false"})


def test_markdown_names_each_change() -> None:
    text = diff(fixture("base.yaml"), fixture("action-added.yaml")).to_markdown()
    assert "fixture 1.0.0 → fixture 1.1.0" in text
    assert "**Permissions grew**" in text
    assert "| **yes** | action added | Allow |  | `s3:putobject` | `${Reports.Arn}/*` |" in text


# --- the rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wide", "narrow", "expected"),
    [
        (
            Grant("Allow", "", "s3:get*", "arn:b/*"),
            Grant("Allow", "", "s3:getobject", "arn:b/x/*"),
            True,
        ),
        (
            Grant("Allow", "", "s3:getobject", "arn:b/*"),
            Grant("Allow", "", "s3:get*", "arn:b/*"),
            False,
        ),
        (
            Grant("Allow", "", "s3:get?bject", "*"),
            Grant("Allow", "", "s3:getobject", "arn:b"),
            True,
        ),
        (
            Grant("Allow", "*", "sqs:send", "q"),
            Grant("Allow", "Service:sns", "sqs:send", "q"),
            True,
        ),
        (Grant("Deny", "", "*", "*"), Grant("Allow", "", "s3:x", "y"), False),
        (
            Grant(
                "Allow", "", "a:b", "r", frozenset({("StringEquals", "k", frozenset({"1", "2"}))})
            ),
            Grant("Allow", "", "a:b", "r", frozenset({("StringEquals", "k", frozenset({"1"}))})),
            True,
        ),
        (
            Grant("Allow", "", "a:b", "r", frozenset({("StringEquals", "k", frozenset({"1"}))})),
            Grant("Allow", "", "a:b", "r"),
            False,
        ),
        (
            Grant("Allow", "", "a:b", "r", frozenset({("StringLike", "k", frozenset({"x*"}))})),
            Grant("Allow", "", "a:b", "r", frozenset({("StringLike", "k", frozenset({"xy"}))})),
            True,
        ),
        (  # StringEquals compares literally: "x*" is not a pattern there
            Grant("Allow", "", "a:b", "r", frozenset({("StringEquals", "k", frozenset({"x*"}))})),
            Grant("Allow", "", "a:b", "r", frozenset({("StringEquals", "k", frozenset({"xy"}))})),
            False,
        ),
        (  # a negative operator excluding more values applies to less
            Grant("Deny", "", "*", "*", frozenset({("StringNotEquals", "k", frozenset({"a"}))})),
            Grant(
                "Deny", "", "*", "*", frozenset({("StringNotEquals", "k", frozenset({"a", "b"}))})
            ),
            True,
        ),
    ],
)
def test_covers(wide: Grant, narrow: Grant, expected: bool) -> None:
    assert covers(wide, narrow) is expected


# --- bad input and published versions ----------------------------------------------------


def test_bad_input_exits_2_not_1(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("just: [a, list\n")
    result = run(str(tmp_path / "x.yaml"), str(DATA / "base.yaml"))
    assert result.exit_code == 2
    assert "OLD: not a CloudFormation template" in result.output
    missing = run(str(tmp_path / "nope.yaml"), str(DATA / "base.yaml"))
    assert missing.exit_code == 2
    assert "cannot read" in missing.output
    with pytest.raises(DiffError, match="--param Nope"):
        diff(fixture("base.yaml"), fixture("base.yaml"), parameters={"Nope": "x"})
    assert run(str(DATA / "base.yaml"), str(DATA / "base.yaml"), "--param", "x").exit_code == 2


def test_published_versions_from_s3(aws: None) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="clazar-templates")
    versions = {
        "1.0.0": MarketplaceOptions(),
        "1.1.0": MarketplaceOptions(allow_marketplace_access=True),
    }
    for version, options in versions.items():
        for target in STACKS.values():
            built = target.build(options if target.short == "marketplace" else None)
            key = f"releases/{version}/{target.name}.yaml"
            s3.put_object(Bucket="clazar-templates", Key=key, Body=to_yaml(built).encode())
    common = ["--bucket", "clazar-templates", "--prefix", "releases/"]
    grew = run("1.0.0", "1.1.0", *common, "--format", "json")
    assert grew.exit_code == 1, grew.output
    assert [r["grew"] for r in json.loads(grew.stdout)] == [
        s.short == "marketplace" for s in STACKS.values()
    ]
    assert run("1.1.0", "1.1.0", *common, "--stack", "marketplace").exit_code == 0
    off = run("1.1.0", "1.0.0", *common, "--stack", "marketplace")  # drops DenyBeyondSelling
    assert off.exit_code == 1, off.output
    missing = run("1.0.0", "9.9.9", *common, "--stack", "cosell")
    assert missing.exit_code == 2
    assert "s3://clazar-templates/releases/9.9.9/clazar-cosell.yaml" in missing.output
