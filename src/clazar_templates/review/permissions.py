"""The permission reference: every statement of every role and resource policy, read from
the built deploy-time templates (every option a parameter, so it is what CloudFormation
deploys), with its reason from :mod:`clazar_templates.policies` and the parameters that add or
remove it. ``clazar-templates permissions`` prints it; ``docs/permissions.md`` is its Markdown.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import FieldError
from ..options import option_fields
from ..stacks import STACKS, Stack
from ..stacks import stack as stack_named
from ..template.conditions import (
    PSEUDO,
    Cond,
    Formulas,
    Op,
    describe,
    if_conditions,
    literals,
    simplify,
)
from ..template.conditions import parameters as parameters_of
from ..template.reading import Place, policy_documents

__all__ = ["permissions", "permissions_markdown", "stack_markdown", "stack_permissions"]


def markdown_cell(text: str) -> str:
    """``text`` made safe for one cell of a Markdown table."""
    return text.replace("|", "\\|").replace("\n", " ")


# === The permission reference ===========================================================
#
# Read from the built deploy-time templates (every option a parameter), so it describes
# exactly what CloudFormation deploys. A statement's presence is the formula of Conditions
# and Fn::If around it, simplified and written in terms of parameters.


@dataclass(frozen=True)
class StatementDoc:
    """One policy statement, every value in words, with why it exists and when."""

    sid: str
    effect: str
    why: str
    principals: list[str]
    actions: list[str]
    resources: list[str]
    conditions: list[str]
    present_when: str


@dataclass(frozen=True)
class PolicyDoc:
    """A trust policy, inline policy, AWS::IAM::Policy or AWS managed policy of a role."""

    name: str
    kind: str
    present_when: str
    statements: list[StatementDoc]
    note: str = ""


@dataclass(frozen=True)
class RoleDoc:
    logical_id: str
    description: str
    present_when: str
    policies: list[PolicyDoc]


@dataclass(frozen=True)
class ResourcePolicyDoc:
    """A bucket, queue, topic or key policy, and the resources it applies to."""

    logical_id: str
    kind: str
    applies_to: list[str]
    present_when: str
    statements: list[StatementDoc]


@dataclass(frozen=True)
class OptionDoc:
    """A parameter that adds or removes permissions, and its Python build option."""

    parameter: str
    python_option: str
    description: str


@dataclass(frozen=True)
class ActionDoc:
    """An action a statement denies, or one no statement grants: why, and what to do instead."""

    action: str
    why: str
    instead: str = ""


@dataclass(frozen=True)
class StackPermissions:
    short: str
    template: str
    title: str
    options: list[OptionDoc]
    roles: list[RoleDoc]
    resource_policies: list[ResourcePolicyDoc]
    denied: list[ActionDoc] = dataclasses.field(default_factory=list)
    not_granted: list[ActionDoc] = dataclasses.field(default_factory=list)


def managed_policy_note(name: str) -> str:
    """What the AWS managed policy ``name`` grants, for a reviewer."""
    from ..policies import PARTNER_CENTRAL_PRODUCTION, PARTNER_CENTRAL_SANDBOX

    return {
        PARTNER_CENTRAL_SANDBOX: "AWS managed policy: full access to AWS Partner "
        "Central, limited by AWS to the Sandbox catalog. AWS keeps it current as the API grows.",
        PARTNER_CENTRAL_PRODUCTION: "AWS managed policy: manage opportunities and "
        "related AWS Partner Central resources. It allows both the AWS and Sandbox catalogs; "
        "the role's inline deny keeps it to one. AWS keeps it current as the API grows.",
    }.get(name, "AWS managed policy: AWS defines its statements.")


_REF_IS = {
    "AWS::SNS::Topic": "ARN",
    "AWS::S3::Bucket": "name",
    "AWS::SQS::Queue": "URL",
    "AWS::IAM::Role": "name",
    "AWS::KMS::Key": "key ID",
}
_PRINCIPAL = {"AWS": "AWS principal", "Service": "service", "Federated": "federated user"}


def _why(sid: str) -> str:
    from ..policies import WHY

    return " ".join(WHY.get(sid, "(no reason recorded in policies.py)").split())


class _Reader(Formulas):
    """A template dict read as permissions: conditions as formulas, values in words."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.resources: dict[str, Any] = data.get("Resources", {})

    # --- values ---------------------------------------------------------------------
    def value(self, node: Any) -> str:
        if isinstance(node, dict) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                if arg in PSEUDO:
                    return PSEUDO[arg]
                if arg in self.parameters:
                    return f"the value of `{arg}`"
                kind = self.resources.get(arg, {}).get("Type", "")
                return f"`{arg}`'s {_REF_IS.get(kind, 'Ref')}"
            if key == "Fn::GetAtt":
                logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return f"`{logical}`'s " + ("ARN" if attr == "Arn" else f"`{attr}`")
            if key == "Fn::Sub" and isinstance(arg, str):
                return f"`{arg}`"
        if isinstance(node, str):
            return f"`{node}`"
        return f"`{json.dumps(node)}`"

    def items(
        self, node: Any, presence: Cond, show: Callable[[Any], str] | None = None
    ) -> list[str]:
        """Each value of ``node`` in words, with "(when ...)" beyond ``presence``."""
        out = []
        for item, cond in self.choices(node if isinstance(node, list) else [node]):
            when = simplify(cond, literals(presence))
            if when is False:
                continue
            text = (show or self.value)(item)
            out.append(text if when is True else f"{text} (when {describe(when)})")
        return out

    # --- statements -----------------------------------------------------------------
    def statements(self, document: dict[str, Any], presence: Cond) -> list[StatementDoc]:
        found = document.get("Statement", [])
        out = []
        for st, cond in self.choices(found if isinstance(found, list) else [found], presence):
            when = simplify(cond)
            if when is False:
                continue
            sid = st.get("Sid", "")
            out.append(
                StatementDoc(
                    sid=sid,
                    effect=st["Effect"],
                    why=_why(sid),
                    principals=self.principals(st.get("Principal"), when),
                    actions=self.items(st.get("Action", []), when)
                    + [
                        f"every action except {a}"
                        for a in self.items(st.get("NotAction", []), when)
                    ],
                    resources=self.items(st.get("Resource", []), when)
                    + [
                        f"every resource except {r}"
                        for r in self.items(st.get("NotResource", []), when)
                    ],
                    conditions=[
                        f"`{operator}` `{key}`: " + ", ".join(self.items(values, when))
                        for operator, tests in st.get("Condition", {}).items()
                        for key, values in tests.items()
                    ],
                    present_when=describe(when),
                )
            )
        return out

    def principals(self, principal: Any, presence: Cond) -> list[str]:
        if principal is None:
            return []
        if principal == "*":
            return ["anyone (`*`)"]
        return [
            f"{_PRINCIPAL.get(kind, kind)} {text}"
            for kind, value in principal.items()
            for text in self.items(value, presence)
        ]

    # --- roles and resource policies ------------------------------------------------
    def present(self, resource: dict[str, Any], within: Cond = True) -> Cond:
        return simplify(Op("and", (within, self.condition(resource.get("Condition")))))

    def roles(self) -> list[RoleDoc]:
        out = []
        for logical, res in self.resources.items():
            if res["Type"] == "AWS::IAM::Role":
                present = self.present(res)
                policies = [
                    policy
                    for _, place, _, document in policy_documents({logical: res})
                    for policy in self.role_policies(place, document, present)
                ]
                description = res.get("Properties", {}).get("Description", "")
                policies += self.attached_policies(logical, present)
                out.append(RoleDoc(logical, description, describe(present), policies))
        return out

    def role_policies(self, place: Place, document: Any, present: Cond) -> list[PolicyDoc]:
        """The role's own policies in ``place``: its trust policy, inline or managed ones."""
        if place.kind == "trust":
            statements = self.statements(document, present)
            return [PolicyDoc("Trust policy", place.label, describe(present), statements)]
        out = []
        for item, cond in self.choices(document or [], present):
            when = simplify(cond)
            if place.kind == "managed":
                text = item.get("Fn::Sub", "") if isinstance(item, dict) else item
                name = text.rsplit("/", 1)[-1] if ":iam::aws:policy/" in text else self.value(item)
                note = managed_policy_note(name)
                out.append(PolicyDoc(name, place.label, describe(when), [], note))
            else:  # inline: PolicyName and PolicyDocument
                statements = self.statements(item["PolicyDocument"], when)
                out.append(PolicyDoc(item["PolicyName"], place.label, describe(when), statements))
        return out

    def attached_policies(self, role: str, present: Cond) -> list[PolicyDoc]:
        """The template's policies that name ``role`` among the roles they apply to."""
        out = []
        for logical, place, applies_to, document in policy_documents(self.resources):
            if place.kind != "identity" or not place.applies_to:
                continue
            within = self.present(self.resources[logical], present)
            for ref, cond in self.choices(applies_to or [], within):
                if ref == {"Ref": role}:
                    when = simplify(cond)
                    statements = self.statements(document, when)
                    out.append(PolicyDoc(logical, place.label, describe(when), statements))
        return out

    def resource_policies(self) -> list[ResourcePolicyDoc]:
        out = []
        for logical, place, applies_to, document in policy_documents(self.resources):
            if place.kind not in ("resource", "key"):
                continue
            present = self.present(self.resources[logical])
            targets = (
                self.items(applies_to, present, self.target)
                if place.applies_to
                else [f"`{logical}`"]
            )
            statements = self.statements(document, present)
            out.append(
                ResourcePolicyDoc(logical, place.label, targets, describe(present), statements)
            )
        return out

    def target(self, node: Any) -> str:
        """A resource a policy applies to: its logical ID when the stack creates it."""
        ref = node.get("Ref") if isinstance(node, dict) else None
        return f"`{ref}`" if ref in self.resources else self.value(node)

    def mentioned(self) -> set[str]:
        """The parameters that add or remove permissions: those of the Condition of each
        resource holding a policy, and of every ``Fn::If`` in its policies and targets."""
        found: set[str] = set()
        for logical, _, applies_to, document in policy_documents(self.resources):
            found |= parameters_of(self.present(self.resources[logical]))
            for name in if_conditions([applies_to, document]):
                found |= parameters_of(self.condition(name))
        return found

    def options(self, options_class: type[Any]) -> list[OptionDoc]:
        """The parameters that add or remove permissions, with the Python option that fixes
        each."""
        fields = {spec.parameter: name for name, spec in option_fields(options_class)}
        mentioned = self.mentioned()
        return [
            OptionDoc(p, fields.get(p, ""), spec.get("Description", ""))
            for p, spec in self.parameters.items()
            if p in mentioned
        ]


# A statement's Sid -> the actions listed with their reasons beside it (from policies.py).
DENIED_WITH = "DenyBeyondSelling"
NOT_GRANTED_NEXT_TO = "CheckMarketplaceTopics"


def _listed_actions(roles: list[RoleDoc]) -> tuple[list[ActionDoc], list[ActionDoc]]:
    """The denied and the deliberately not granted actions, for a stack that has the
    statements they belong to."""
    from ..policies import MARKETPLACE_DENIED, NOT_GRANTED

    sids = {st.sid for role in roles for policy in role.policies for st in policy.statements}
    denied = [ActionDoc(a, why) for a, why in MARKETPLACE_DENIED.items()]
    withheld = [ActionDoc(a, w.why, w.instead) for a, w in NOT_GRANTED.items()]
    return (
        denied if DENIED_WITH in sids else [],
        withheld if NOT_GRANTED_NEXT_TO in sids else [],
    )


def stack_permissions(target: Stack) -> StackPermissions:
    """The permission reference of one stack, as data."""
    data = target.build().to_dict()
    reader = _Reader(data)
    title = data.get("Description", target.name).split(":", 1)[0].removeprefix("Clazar ")
    roles, resource_policies = reader.roles(), reader.resource_policies()
    options = reader.options(target.options)
    denied, not_granted = _listed_actions(roles)
    return StackPermissions(
        target.short, target.name, title, options, roles, resource_policies, denied, not_granted
    )


def _presence(when: str) -> str:
    return "Always present." if when == "always" else f"Present when {when}."


def _statement_markdown(st: StatementDoc, parent_present_when: str) -> list[str]:
    """A statement as a bullet list; its presence only where it differs from its policy's."""
    lines = [f"- **`{st.sid or '(no Sid)'}`** ({st.effect}). {st.why}"]
    for label, values in (
        ("Principal", st.principals),
        ("Actions", st.actions),
        ("Resources", st.resources),
        ("Conditions", st.conditions),
    ):
        if not values:
            continue
        if any(" (when " in v for v in values) or (label == "Conditions" and len(values) > 1):
            lines += [f"  - {label}:", *[f"    - {v}" for v in values]]
        else:
            lines.append(f"  - {label}: {', '.join(values)}")
    if st.present_when != parent_present_when:
        lines.append(f"  - {_presence(st.present_when)}")
    return lines


def _actions_markdown(perms: StackPermissions) -> list[str]:
    """The tables of denied and of deliberately not granted actions (when the stack has any)."""
    lines: list[str] = []
    if perms.denied:
        lines += [
            f"### Denied even with the Marketplace opt-in (`{DENIED_WITH}`)",
            "",
            "| Action | Why it is denied |",
            "| --- | --- |",
            *[f"| `{d.action}` | {markdown_cell(d.why)} |" for d in perms.denied],
            "",
        ]
    if perms.not_granted:
        lines += [
            "### Deliberately not granted",
            "",
            "| Action | Why not | What you do instead |",
            "| --- | --- | --- |",
            *[
                f"| `{d.action}` | {markdown_cell(d.why)} | {markdown_cell(d.instead)} |"
                for d in perms.not_granted
            ],
            "",
        ]
    return lines


def stack_markdown(target: Stack) -> str:
    """The Markdown section of one stack: options, roles, then resource policies."""
    perms = stack_permissions(target)
    lines = [f"## {perms.title} (`{perms.template}`)", ""]
    if perms.options:
        lines += [
            "Parameters that add or remove permissions (at build time, the Python option fixes "
            "the parameter and only what it implies is in the template):",
            "",
            "| Parameter | Python option | What it changes |",
            "| --- | --- | --- |",
            *[
                f"| `{o.parameter}` | `{o.python_option}` | {markdown_cell(o.description)} |"
                for o in perms.options
            ],
            "",
        ]
    lines += _refusals_markdown(target)
    lines += ["### Roles", ""]
    for role in perms.roles:
        lines += [
            f"#### `{role.logical_id}`",
            "",
            f"{role.description}. {_presence(role.present_when)}",
            "",
        ]
        for policy in role.policies:
            title = (
                policy.name if policy.kind == "trust policy" else f"`{policy.name}` ({policy.kind})"
            )
            lines += [f"##### {title}", "", _presence(policy.present_when), ""]
            if policy.note:
                lines += [policy.note, ""]
            for st in policy.statements:
                lines += _statement_markdown(st, policy.present_when)
            if policy.statements:
                lines.append("")
    lines += _actions_markdown(perms)
    lines += ["### Resource policies", ""]
    for rp in perms.resource_policies:
        lines += [
            f"#### `{rp.logical_id}` ({rp.kind})",
            "",
            f"Applies to {', '.join(rp.applies_to)}. {_presence(rp.present_when)}",
            "",
        ]
        for st in rp.statements:
            lines += _statement_markdown(st, rp.present_when)
        lines.append("")
    return "\n".join(lines)


def _refusals_markdown(target: Stack) -> list[str]:
    """The template's Rules: when CloudFormation refuses the stack before creating anything."""
    data = target.build().to_dict()
    rules = data.get("Rules", {})
    if not rules:
        return []
    reader = _Reader(data)
    lines = ["### Refusals", ""]
    for name, rule in rules.items():
        when = reader.formula(rule.get("RuleCondition", {"Fn::Equals": ["x", "x"]}))
        for assertion in rule["Assertions"]:
            required = describe(simplify(reader.formula(assertion["Assert"])))
            lines.append(
                f"- **`{name}`**: when {describe(simplify(when))}, the stack is refused before "
                f"anything is created unless {required}: "
                f"{markdown_cell(assertion['AssertDescription'])}."
            )
    return [*lines, ""]


PERMISSIONS_HEADER = """\
# Permissions

<!-- Generated by `clazar-templates docs` from src/clazar_templates/policies.py and the stack
builders; do not edit. `make test` fails when this file disagrees with the templates. -->

Every permission the templates grant: for each role, its trust policy and every statement of
its policies, and the resource policies of the buckets, queues, topics and key the stacks
create. Each statement says why it exists (from `src/clazar_templates/policies.py`) and when
it is present, in terms of the template's parameters.

"""


def picture(target: Stack) -> str:
    """``target``'s Mermaid diagram, fenced for Markdown (see :mod:`.diagrams`)."""
    from .diagrams import diagram, fenced_block

    return fenced_block(diagram(target))


def picture_section(target: Stack) -> str:
    return f"### Picture\n\n{picture(target)}"


def permissions_markdown(
    targets: Sequence[Stack],
    blocks: Sequence[Callable[[Stack], str]] = (stack_markdown, picture_section),
) -> str:
    """The Markdown document: a header, then for each stack every block, in order."""
    return PERMISSIONS_HEADER + "\n".join(block(t) for t in targets for block in blocks)


def _plain(data: Any) -> Any:
    """``data`` with the Markdown code marks taken out of its text (for JSON)."""
    if isinstance(data, dict):
        return {key: _plain(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_plain(item) for item in data]
    return data.replace("`", "") if isinstance(data, str) else data


def permissions(stack: str | None = None, fmt: str = "markdown") -> str:
    """The permission reference of ``stack`` (all stacks by default), as Markdown or JSON.

    Raises FieldError (a ValueError) naming ``stack`` or ``format`` for an unknown one.
    """
    try:
        targets = [stack_named(stack)] if stack else list(STACKS.values())
    except KeyError as error:
        raise FieldError("stack", str(error.args[0])) from None
    if fmt == "markdown":
        return permissions_markdown(targets)
    if fmt == "json":
        data = {"stacks": [_plain(dataclasses.asdict(stack_permissions(t))) for t in targets]}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    raise FieldError("format", f"{fmt!r} is not valid; expected markdown or json")
