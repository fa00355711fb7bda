"""No statement in either stack grants more than the reviewed exceptions allow.

Every policy document in a template is found by walking its resources (identity policies,
trust policies, resource policies, key policies), following both branches of every
``Fn::If``, so one deploy-time template covers every statement any parameter values can
produce. Build-time variants add the literal forms (a fixed vendor account, given ARNs).

- ``Allow`` never uses a ``*`` action (``*``, ``service:*``, ``service:Get*``) outside the
  opt-in ClazarMarketplaceAccessPolicy, nor NotAction/NotResource/NotPrincipal.
- ``Resource: "*"`` only for actions without resource-level permissions (RESOURCELESS), in a
  key policy (where it means "this key"), or in the opt-in policy.
- Principals: the vendor account's root in trust policies (with the external ID), this
  account's root in a key policy, the co-sell roles (as the reporter resolved them) on the
  co-sell events queue, and the named AWS services (with aws:SourceAccount/SourceArn in
  resource policies). ``Deny`` may name any principal and action (TLS-only, catalog denies).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from clazar_templates import options as o
from clazar_templates import policies as p
from clazar_templates.stacks import STACKS
from clazar_templates.template.reading import POLICY_PLACES, policy_documents
from conftest import valid_value
from support import VENDOR, as_dict

OPT_IN_POLICY = "ClazarMarketplaceAccessPolicy"

RESOURCELESS = set(p.RESOURCELESS)
# Actions that support no resource-level permissions, so "*" is the only resource: read from
# the code, each with its reason; test_iam_reference checks each against AWS's reference.

SERVICES = {
    # service principal -> where it may appear, and why
    "lambda.amazonaws.com": {"trust"},  # runs the reporter function with its role
    "sns.amazonaws.com": {"resource"},  # delivers the CAS/SDDS/Marketplace topics to the queue
    "events.amazonaws.com": {"resource"},  # delivers EventBridge rules to the queues
    "reports.marketplace.amazonaws.com": {"resource", "key"},  # writes the data feeds
    p.SNAPSHOT_JOB_SERVICE: {"trust"},  # Partner Central's snapshot jobs, for this account
}
TRUSTED_FOR_THIS_ACCOUNT = {p.SNAPSHOT_JOB_SERVICE}  # trusts that need aws:SourceAccount
CONFUSED_DEPUTY_KEYS = {"aws:SourceAccount", "aws:SourceArn"}

VENDOR_ROOT = r"arn:\$\{AWS::Partition\}:iam::(\$\{ClazarAccountId\}|%s):root"
ACCOUNT_ROOT = "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
COSELL_ROLE_ARN = re.compile(r"Clazar\w*Reporter\.(Sandbox|Production)RoleArn")

# Where policy documents live (the library's one table): (resource type, property).
DOCUMENTS = {(kind, p.document) for kind, places in POLICY_PLACES.items() for p in places}


@dataclass(frozen=True)
class Found:
    """One statement, where it was found."""

    logical: str  # the resource
    resource_type: str
    policy: str  # the policy's name (inline PolicyName, else the resource's logical ID)
    kind: str  # identity, trust, resource or key
    statement: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.logical}/{self.policy} {self.statement.get('Sid', '')}"


def branches(value: Any) -> Iterator[Any]:
    """Every plain value ``value`` can take: both sides of each Fn::If, no NoValue."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _, yes, no = value["Fn::If"]
        yield from branches(yes)
        yield from branches(no)
    elif value != {"Ref": "AWS::NoValue"}:
        yield value


def flat(value: Any) -> list[Any]:
    """A statement field as a list of its possible items (strings or expressions)."""
    out = []
    for option in branches(value):
        for item in option if isinstance(option, list) else [option]:
            out.extend(branches(item))
    return out


def holds_statements(value: Any) -> bool:
    if isinstance(value, dict):
        return "Statement" in value or any(holds_statements(v) for v in value.values())
    return isinstance(value, list) and any(holds_statements(v) for v in value)


def statements(template: dict[str, Any]) -> Iterator[Found]:
    for logical, resource in template["Resources"].items():
        for prop, value in resource.get("Properties", {}).items():
            if (resource["Type"], prop) not in DOCUMENTS:
                assert not holds_statements(value), f"unreviewed policy in {logical}.{prop}"
    for logical, place, _, value in policy_documents(template["Resources"]):
        if value is None or place.kind == "managed":  # AWS holds a managed policy's document
            continue
        documents = (
            [(p["PolicyName"], p["PolicyDocument"]) for p in flat(value)]
            if place.document == "Policies"
            else [(logical, d) for d in branches(value)]
        )
        kind = template["Resources"][logical]["Type"]
        for name, document in documents:
            for st in flat(document["Statement"]):
                yield Found(logical, kind, name, place.kind, st)


def text(value: Any) -> str:
    """An ARN or expression as text: a Sub's template, a GetAtt as Logical.Attr."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        return str(value["Fn::Sub"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return ".".join(value["Fn::GetAtt"])
    return value if isinstance(value, str) else repr(value)


def variants(short: str) -> list[Any]:
    """The deploy-time options, and build-time ones with every flag on or off and every
    existing-resource option empty or given (values from ``valid_value``)."""
    cls = STACKS[short].options
    specs = dict(o.option_fields(cls))
    out = [cls()]
    for flag in (True, False):
        for given in (True, False):
            chosen = {n: valid_value(s) for n, s in specs.items()}
            for n, s in specs.items():
                if s.kind.is_flag:
                    chosen[n] = flag
                elif s.kind.optional and not given:
                    chosen[n] = ""
                elif s.kind.is_number and not given:
                    chosen[n] = s.kind.min_value or 0  # 0 turns something off
            out.append(cls(**chosen))
    return out


CASES = [
    pytest.param(short, options, id=f"{short}-{i}")
    for short in STACKS
    for i, options in enumerate(variants(short))
]


def found(short: str, options: Any) -> list[Found]:
    return list(statements(as_dict(STACKS[short].build(options))))


@pytest.mark.parametrize(("short", "options"), CASES)
def test_no_wildcard_action_is_allowed_outside_the_opt_in_policy(short: str, options: Any) -> None:
    for f in found(short, options):
        st = f.statement
        if st["Effect"] != "Allow":
            continue
        assert not {"NotAction", "NotResource", "NotPrincipal"} & set(st), f
        wild = [a for a in flat(st["Action"]) if "*" in a]
        assert not wild or f.policy == OPT_IN_POLICY, f"{f}: {wild}"


@pytest.mark.parametrize(("short", "options"), CASES)
def test_resource_star_only_where_there_is_no_resource(short: str, options: Any) -> None:
    for f in found(short, options):
        st = f.statement
        if st["Effect"] != "Allow" or "*" not in flat(st.get("Resource", [])):
            continue
        if f.kind == "key" or f.policy == OPT_IN_POLICY:
            continue  # a key policy's "*" is the key itself; the opt-in policy is reviewed
        actions = set(flat(st["Action"]))
        assert actions <= RESOURCELESS, f"{f}: {sorted(actions - RESOURCELESS)} on *"


@pytest.mark.parametrize(("short", "options"), CASES)
def test_only_the_vendor_this_account_and_named_services_are_principals(
    short: str, options: Any
) -> None:
    vendor_root = re.compile(VENDOR_ROOT % re.escape(options.clazar_account_id or "-"))
    for f in found(short, options):
        st = f.statement
        if st["Effect"] == "Deny":
            continue
        if f.kind == "identity":
            assert "Principal" not in st, f
            continue
        principal = st["Principal"]
        assert isinstance(principal, dict), f"{f}: {principal!r}"
        for key, value in principal.items():
            for who in flat(value):
                check_principal(f, key, text(who), vendor_root)


def check_principal(f: Found, key: str, who: str, vendor_root: re.Pattern[str]) -> None:
    conditions = f.statement.get("Condition", {})
    if key == "Service":
        assert f.kind in SERVICES.get(who, set()), f"{f}: service {who}"
        if f.kind != "trust" or who in TRUSTED_FOR_THIS_ACCOUNT:  # for this account only
            keys = {k for operator in conditions.values() for k in operator}
            assert keys & CONFUSED_DEPUTY_KEYS, f"{f}: {who} without aws:SourceAccount/Arn"
        return
    assert key == "AWS", f"{f}: {key} principal"
    if f.kind == "trust":
        assert vendor_root.fullmatch(who), f"{f}: trusts {who}"
        assert set(conditions.get("StringEquals", {})) == {"sts:ExternalId"}, f
    elif f.kind == "key":
        assert who == ACCOUNT_ROOT, f"{f}: {who} in the key policy"
    else:
        # The co-sell events queue: read by the roles Clazar assumes, as the reporter
        # resolved them (created here, or reused and checked to trust Clazar).
        assert f.resource_type == "AWS::SQS::QueuePolicy", f"{f}: {who}"
        assert COSELL_ROLE_ARN.fullmatch(who), f"{f}: {who}"


def test_the_walk_finds_every_kind_of_policy() -> None:
    """The checks above must not pass by finding nothing."""
    everything = [f for short in STACKS for f in found(short, STACKS[short].options())]
    kinds = {f.kind for f in everything}
    assert kinds == {"identity", "trust", "resource", "key"}
    sids = {f.statement.get("Sid") for f in everything}
    assert {"ManageMarketplace", "GenerateCasDataSets", "TrustClazarAccount"} <= sids
    principals = [f for f in everything if f.kind == "trust"]
    assert {text(f.statement["Principal"].get("AWS", "")) for f in principals} >= {
        "arn:${AWS::Partition}:iam::${ClazarAccountId}:root"
    }


def test_a_fixed_vendor_account_is_the_only_one_trusted() -> None:
    options = STACKS["marketplace"].options(clazar_account_id=VENDOR)
    trusted = {
        text(f.statement["Principal"]["AWS"])
        for f in found("marketplace", options)
        if f.kind == "trust" and "AWS" in f.statement["Principal"]
    }
    assert trusted == {f"arn:${{AWS::Partition}}:iam::{VENDOR}:root"}
