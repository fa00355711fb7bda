"""What a template upgrade changes in permissions, for the security team that re-reviews it.

Both templates are read (YAML short forms included) and resolved for the same parameter
values, so only what CloudFormation would deploy is compared and a reordering or
reformatting is never a change. Every policy is then cut into *grants*: one effect,
principal, action and resource, with the statement's conditions. Grants are compared per
*subject*: a role's, user's or group's identity policies (inline, ``AWS::IAM::Policy``/
``ManagedPolicy``, managed policy ARNs), a role's trust policy, each resource policy (queue,
topic, bucket, key, secret, event bus, repository; ``AWS::Lambda::Permission``), and what
makes a principal or a way to act as one: an IAM user, its group memberships, access keys and
console password, and an output that shows an access key's secret. Every grant of access
lives in one table, :data:`~clazar_templates.template.reading.POLICY_PLACES`.

What the gate cannot read is never "no change": a resource of a type it does not know (a
nested stack, a module, a type outside both tables of :mod:`..template.reading`), a macro
(``Transform``, ``Fn::Transform``), or a change to a property that opens access without a
policy (a bucket's ``AccessControl``) counts as growth, named "cannot be reviewed".

Permissions *grew* when a new Allow grant is not covered by an old one, or an old Deny
grant is not covered by a new one. "Covered" understands IAM wildcards (``*``, ``?``) in
actions, resources and principals, and conditions: a grant is covered by one with the same
or fewer condition clauses, each allowing the same or fewer values. Anything else it cannot
prove narrower (``NotAction``, a new managed policy, an unknown condition) counts as growth.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import FieldError
from ..patterns import fullmatch
from ..template import reading
from ..template.reading import as_list, policy_documents, statements, unread_properties
from ..template.resolve import as_text as _text

__all__ = [
    "Change",
    "DiffError",
    "PermissionDiff",
    "SubjectDiff",
    "diff",
    "diff_files",
    "diff_published",
    "load_template",
]

Clause = tuple[str, str, frozenset[str]]  # (operator, key lower-cased, values)
COLUMNS = ("principals", "actions", "resources", "conditions", "before")
MANAGED = "(managed policy)"  # the "action" of attaching a managed policy
USER = "(IAM user)"  # the "action" of an IAM user's existence: someone can be it
MEMBER = "(group membership)"  # a user's membership of the group that is its "resource"
SHOWN_KEY = "(access key secret in an output)"  # anyone who reads the outputs has it
UNREVIEWED = "cannot be reviewed"
# The subject an attached policy applies to, by the property naming it.
TARGETS = {"Roles": "role", "RoleName": "role", "Users": "user", "UserName": "user"}
TARGETS |= {"Groups": "group", "GroupName": "group"}
OWN = {"AWS::IAM::Role": "role", "AWS::IAM::User": "user", "AWS::IAM::Group": "group"}


class DiffError(FieldError):
    """A template that cannot be read or resolved; ``field`` names it (``OLD``, ``NEW``), the
    parameter at fault (``--param Name``), or is None (a file or object that cannot be read,
    named in the message)."""


@dataclass(frozen=True)
class Grant:
    effect: str
    principal: str  # "" in identity policies (the role itself)
    action: str
    resource: str  # "" in trust policies
    conditions: frozenset[Clause] = frozenset()


@dataclass(frozen=True)
class Change:
    """Grants that changed the same way, grouped for reading."""

    change: str  # "action added", "resource narrowed", "principal removed", ...
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    principals: tuple[str, ...]
    conditions: tuple[str, ...]
    previous: tuple[str, ...]  # the resources/actions/conditions it replaced, if any
    grew: bool


@dataclass(frozen=True)
class SubjectDiff:
    name: str  # logical ID (or name) of the role, queue, topic, bucket or key
    kind: str  # "role", "trust", "queue policy", ...
    status: str  # "added", "removed" or "changed"
    changes: tuple[Change, ...]

    @property
    def grew(self) -> bool:
        return any(c.grew for c in self.changes)

    @property
    def unreviewed(self) -> bool:
        """What it grants cannot be read (a nested stack, a macro, an unknown type)."""
        return any(c.grew and UNREVIEWED in c.change for c in self.changes)


@dataclass(frozen=True)
class PermissionDiff:
    old: str
    new: str
    parameters: dict[str, str]
    region: str
    subjects: tuple[SubjectDiff, ...] = field(default=())

    @property
    def grew(self) -> bool:
        return any(s.grew for s in self.subjects)

    def to_json(self) -> str:
        data = {**asdict(self), "grew": self.grew}
        for subject, source in zip(data["subjects"], self.subjects, strict=True):
            subject["grew"] = source.grew
            subject["unreviewed"] = source.unreviewed
        return json.dumps(data, indent=2) + "\n"

    def to_markdown(self) -> str:
        lines = [f"### Permission changes: {self.old} → {self.new}", ""]
        changes = [c for s in self.subjects for c in s.changes]
        grew = sum(c.grew for c in changes)
        if not changes:
            lines.append("**No permission changes.**")
        elif grew:
            lines.append(f"**Permissions grew** ({grew} of {len(changes)} changes).")
        else:
            lines.append(f"**No permission grew** ({len(changes)} changes, none widening).")
        unreviewed = [s for s in self.subjects if s.unreviewed]
        if unreviewed:
            lines.append("")
            lines += [
                f"- **{s.kind} {s.name}: {UNREVIEWED}** (counted as growth)" for s in unreviewed
            ]
        given = ", ".join(f"`{k}={v}`" for k, v in self.parameters.items())
        lines += ["", f"Compared as deployed in {self.region} with: {given or 'the defaults'}."]
        for subject in self.subjects:
            lines += ["", f"#### `{subject.name}` ({subject.kind}, {subject.status})", ""]
            lines.append("| grew | change | effect | " + " | ".join(COLUMNS) + " |")
            lines.append("| --- " * (len(COLUMNS) + 3) + "|")
            for c in subject.changes:
                cells = [c.principals, c.actions, c.resources, c.conditions, c.previous]
                lines.append(
                    f"| {'**yes**' if c.grew else ''} | {c.change} | {c.effect} | "
                    + " | ".join(_cell(v) for v in cells)
                    + " |"
                )
        return "\n".join(lines) + "\n"


def _cell(values: tuple[str, ...]) -> str:
    return "<br>".join("`" + v.replace("|", "\\|").replace("`", "'") + "`" for v in values)


# --- reading ----------------------------------------------------------------------------


def load_template(text: str, label: str = "template") -> dict[str, Any]:
    """A YAML or JSON template as plain data; DiffError naming ``label`` if it is not one
    (a resource that is not a map is none: the gate could not say what it grants)."""
    try:
        template = reading.load_template(text)
    except ValueError as why:
        raise DiffError(label, f"not a CloudFormation template ({why})") from None
    resources = template["Resources"]
    bad = (
        [k for k, v in resources.items() if not isinstance(v, dict)]
        if isinstance(resources, dict)
        else ["(the section)"]
    )
    if bad:
        raise DiffError(label, f"not a CloudFormation template (Resources.{bad[0]} is not a map)")
    return template


def _values(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """``given`` where the template declares it; a placeholder for required parameters."""
    declared = template.get("Parameters", {})
    values = {n: f"<{n}>" for n, spec in declared.items() if "Default" not in spec}
    values.update((n, v) for n, v in given.items() if n in declared)
    return values


def diff(
    old_text: str,
    new_text: str,
    *,
    parameters: Mapping[str, str] | None = None,
    region: str = "us-east-1",
    old_label: str | None = None,
    new_label: str | None = None,
    new_parameters: Mapping[str, str] | None = None,
) -> PermissionDiff:
    """The permission changes from ``old_text`` to ``new_text`` (templates, YAML or JSON),
    both deployed in ``region`` with ``parameters`` (default: each parameter's Default;
    required ones get the same placeholder in both); ``new_parameters``, when given, are
    NEW's values instead (an upgrade that also changes parameter values)."""
    from ..patterns import region_problem
    from ..template.resolve import ResolveError, resolve

    if region_problem(region):
        raise DiffError("--region", str(region_problem(region)))
    given = dict(parameters or {})
    sides = [given, given if new_parameters is None else dict(new_parameters)]
    templates = [load_template(old_text, "OLD"), load_template(new_text, "NEW")]
    declared = {n for t in templates for n in t.get("Parameters", {})}
    unknown = sorted((set(given) | set(sides[1])) - declared)
    if unknown:
        raise DiffError(f"--param {unknown[0]}", "neither template has this parameter")
    deployed = []
    for template, side, values_given in zip(templates, ("OLD", "NEW"), sides, strict=True):
        try:
            values = _values(template, values_given)
            deployed.append(resolve(template, values, region=region))
        except ResolveError as error:
            raise DiffError(side, str(error)) from None
    old, new = (_subjects(resolved) for resolved in deployed)
    new_resources = deployed[1]["Resources"]
    subjects = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key, set()), new.get(key, set())
        changes = _compare(before, after, gone=key not in new and key[0] not in new_resources)
        if changes:
            status = "added" if key not in old else "removed" if key not in new else "changed"
            subjects.append(SubjectDiff(key[0], key[1], status, tuple(changes)))
    subjects += _unreviewed(templates, deployed)
    return PermissionDiff(
        old_label or _label(templates[0], "old"),
        new_label or _label(templates[1], "new"),
        given,
        region,
        tuple(subjects),
    )


def _label(template: Mapping[str, Any], default: str) -> str:
    meta = template.get("Metadata", {}).get("Clazar", {})
    return " ".join(str(meta[k]) for k in ("Template", "Version") if k in meta) or default


# --- cutting policies into grants -------------------------------------------------------


def _subjects(deployed: Mapping[str, Any]) -> dict[tuple[str, str], set[Grant]]:
    """Every grant of the resolved template ``deployed`` (its Resources and Outputs), by
    subject: (name, kind)."""
    resources = deployed.get("Resources", {})
    found: dict[tuple[str, str], set[Grant]] = {}

    def add(name: str, kind: str, grants: Iterable[Grant]) -> None:
        found.setdefault((name, kind), set()).update(grants)

    for logical, place, applies_to, document in policy_documents(resources):
        own = OWN.get(str(resources[logical].get("Type")), place.label)
        targets = as_list(applies_to) or [logical]  # (a default event bus: the resource)
        if place.kind == "trust":
            add(logical, "trust", _grants(document, principal=True))
        elif place.kind == "managed":
            for arn in as_list(document):
                add(logical, own, [Grant("Allow", "", MANAGED, _text(arn))])
        elif place.document == "Policies":  # inline: PolicyName and PolicyDocument each
            for inline in as_list(document):
                add(logical, own, _grants(inline.get("PolicyDocument")))
        elif place.kind == "identity":
            for target in as_list(applies_to):
                add(_name(target), TARGETS.get(place.applies_to, "role"), _grants(document))
        elif place.kind == "membership":
            groups = [document.get("GroupName")] if place.applies_to else as_list(document)
            for user in targets:
                add(_name(user), "user", [Grant("Allow", "", MEMBER, _name(g)) for g in groups])
        elif place.kind == "credential":
            if document is not None:
                what = logical if place.applies_to else ""
                for user in targets:
                    add(_name(user), "user", [Grant("Allow", "", f"({place.label})", what)])
        elif place.kind == "permission":
            for target in targets:
                add(_name(target), place.label, _permission(document, _text(target)))
        elif place.document == "Statement":  # one statement (an event bus policy)
            for target in targets:
                add(_name(target), place.label, _grants({"Statement": document}, True))
        else:
            for target in targets:
                add(_name(target), place.label, _grants(document, principal=True))
    for logical, resource in resources.items():
        if resource.get("Type") == "AWS::IAM::User":
            add(logical, "user", [Grant("Allow", "", USER, "")])
    for name, output in deployed.get("Outputs", {}).items():
        for key in sorted(_secrets_read(output.get("Value"), resources)):
            add(f"Outputs.{name}", "output", [Grant("Allow", "*", SHOWN_KEY, key)])
    return found


# Properties of a permission resource that act as a condition of its one statement.
PERMISSION_CONDITIONS = {
    "SourceArn": ("ArnLike", "aws:sourcearn"),
    "SourceAccount": ("StringEquals", "aws:sourceaccount"),
    "PrincipalOrgID": ("StringEquals", "aws:principalorgid"),
    "OrganizationId": ("StringEquals", "aws:principalorgid"),
    "FunctionUrlAuthType": ("StringEquals", "lambda:functionurlauthtype"),
    "EventSourceToken": ("StringEquals", "lambda:eventsourcetoken"),
}


def _permission(props: Any, resource: str) -> Iterator[Grant]:
    """The one Allow statement an ``AWS::Lambda::Permission`` (or a legacy event bus
    policy, or a layer permission) makes of its properties."""
    if not isinstance(props, Mapping) or "Statement" in props or "Action" not in props:
        return
    conditions = {
        (operator, key, frozenset({_text(props[name])}))
        for name, (operator, key) in PERMISSION_CONDITIONS.items()
        if name in props
    }
    legacy = props.get("Condition")  # an event bus policy's {Type, Key, Value}
    if isinstance(legacy, Mapping):
        clause = (str(legacy.get("Type")), str(legacy.get("Key")).lower(), legacy.get("Value"))
        conditions.add((clause[0], clause[1], frozenset({_text(clause[2])})))
    principal = _text(props.get("Principal", "*"))
    root = fullmatch(_ROOT, principal)
    if principal == "*":
        who = "*"
    elif principal.endswith(".amazonaws.com") or principal.endswith(".amazonaws.com.cn"):
        who = f"Service:{principal}"
    else:
        who = f"AWS:{root.group(1) if root else principal}"
    action = _text(props["Action"]).lower()
    yield Grant("Allow", who, action, resource, frozenset(conditions))


def _secrets_read(value: Any, resources: Mapping[str, Any]) -> set[str]:
    """The access keys whose SecretAccessKey ``value`` reads (GetAtt or Sub)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _secrets_read(item, resources)
    elif isinstance(value, Mapping):
        target = value.get("Fn::GetAtt")
        parts = target if isinstance(target, list) else str(target or "").split(".", 1)
        if len(parts) == 2 and parts[1] == "SecretAccessKey":
            found.add(str(parts[0]))
        sub = value.get("Fn::Sub")
        text = sub[0] if isinstance(sub, list) and sub else sub
        if isinstance(text, str):
            found |= set(re.findall(r"\$\{([^}.!]+)\.SecretAccessKey\}", text))
        for item in value.values():
            found |= _secrets_read(item, resources)
    return found


def _grants(document: Any, principal: bool = False) -> Iterator[Grant]:
    for st in statements(document):
        principals = _principals(st) if principal else {""}
        actions = _either(st, "Action", "NotAction", str.lower)
        resources = _either(st, "Resource", "NotResource", str) or {""}
        conditions = frozenset(_clauses(st.get("Condition", {})))
        effect = str(st.get("Effect", "Allow"))
        for p in principals:
            for a in actions:
                for r in resources:
                    yield Grant(effect, p, a, r, conditions)


def _either(st: Mapping[str, Any], key: str, negated: str, fold: Any) -> set[str]:
    if negated in st:
        return {"not " + ",".join(sorted(fold(_text(v)) for v in as_list(st[negated])))}
    return {fold(_text(v)) for v in as_list(st.get(key))}


_ROOT = re.compile(r"arn:(?:\$\{AWS::Partition\}|[^:]+):iam::([^:]+):root")


def _principals(st: Mapping[str, Any]) -> set[str]:
    negated = "NotPrincipal" in st
    value = st.get("NotPrincipal" if negated else "Principal", "*")
    found = set()
    if value == "*" or not isinstance(value, dict):
        found.add("*")
    else:
        for kind, items in value.items():
            for item in as_list(items):
                text = _text(item)
                root = fullmatch(_ROOT, text)
                found.add("*" if text == "*" else f"{kind}:{root.group(1) if root else text}")
    return {f"not {','.join(sorted(found))}"} if negated else found


def _clauses(condition: Any) -> Iterator[Clause]:
    if not isinstance(condition, dict):
        return
    for operator, pairs in condition.items():
        for key, values in (pairs or {}).items():
            yield str(operator), str(key).lower(), frozenset(_text(v) for v in as_list(values))


def _name(value: Any) -> str:
    """The logical ID a Ref/GetAtt points at, else the value as text."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else target.split(".")[0])
    return _text(value)


# --- what the gate cannot read -----------------------------------------------------------


def _unreviewed(
    templates: Sequence[Mapping[str, Any]], deployed: Sequence[Mapping[str, Any]]
) -> list[SubjectDiff]:
    """A subject that grew for each thing NEW adds or changes that cannot be reviewed: a
    macro, a resource of a type neither table of :mod:`..template.reading` knows (or holding
    ``Fn::Transform``), a changed property that opens access without a policy."""
    found = []
    old_template, new_template = templates
    transform = new_template.get("Transform")
    if transform is not None and new_template != old_template:
        names = ", ".join(str(t) for t in as_list(transform))
        status = "added" if old_template.get("Transform") is None else "changed"
        found.append(_grown(f"Transform {names}", "macro", status, UNREVIEWED))
    old, new = deployed[0]["Resources"], deployed[1]["Resources"]
    for logical in sorted(set(old) | set(new)):
        before, after = old.get(logical), new.get(logical)
        if not isinstance(after, Mapping) or before == after:
            continue  # removed (no growth) or unchanged
        kind = str(after.get("Type", ""))
        status = "added" if before is None else "changed"
        properties = unread_properties(kind)
        if properties is None or _transformed(after):
            found.append(_grown(logical, kind or "(no Type)", status, UNREVIEWED))
            continue
        was = before.get("Properties", {}) if isinstance(before, Mapping) else {}
        if not isinstance(before, Mapping) or before.get("Type") != kind:
            was = {}
        now = after.get("Properties", {})
        changed = [p for p in properties if (p in now or p in was) and now.get(p) != was.get(p)]
        if changed:
            found.append(_grown(logical, kind, status, f"{', '.join(changed)} {UNREVIEWED}"))
    return found


def _transformed(node: Any) -> bool:
    if isinstance(node, list):
        return any(_transformed(item) for item in node)
    if isinstance(node, Mapping):
        return "Fn::Transform" in node or any(_transformed(v) for v in node.values())
    return False


def _grown(name: str, kind: str, status: str, change: str) -> SubjectDiff:
    return SubjectDiff(name, kind, status, (Change(change, "", (), (), (), (), (), True),))


# --- comparing --------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    )


def _matches(pattern: str, value: str) -> bool:
    if pattern == value:
        return True
    return ("*" in pattern or "?" in pattern) and bool(_pattern(pattern).fullmatch(value))


def _implied(clause: Clause, others: frozenset[Clause]) -> bool:
    """``clause`` restricts no more than some clause of ``others`` (same operator and key)."""
    operator, key, values = clause
    for other_op, other_key, other_values in others:
        if (other_op, other_key) != (operator, key):
            continue
        if "Not" in operator:  # a negative operator excludes more with more values
            if values <= other_values:
                return True
        elif "Like" not in operator:  # values are literals: fewer is narrower
            if other_values <= values:
                return True
        elif all(any(_matches(v, o) for v in values) for o in other_values):
            return True
    return False


def covers(wide: Grant, narrow: Grant) -> bool:
    """``wide`` applies at least wherever ``narrow`` does."""
    return (
        wide.effect == narrow.effect
        and (wide.principal == "*" or _matches(wide.principal, narrow.principal))
        and _matches(wide.action, narrow.action)
        and _matches(wide.resource, narrow.resource)
        and all(_implied(c, narrow.conditions) for c in wide.conditions)
    )


def _grows(grant: Grant, added: bool, before: set[Grant], after: set[Grant]) -> bool:
    if added and grant.effect == "Allow":
        return not any(covers(o, grant) for o in before if o.effect == "Allow")
    if not added and grant.effect != "Allow":
        return not any(covers(n, grant) for n in after if n.effect != "Allow")
    return False


def _compare(before: set[Grant], after: set[Grant], gone: bool = False) -> list[Change]:
    """The changes from ``before`` to ``after``; ``gone``: the subject no longer exists, so
    the denies it carried protect nothing any more and their removal is no growth."""
    added, removed = after - before, before - after
    rows: list[dict[str, Any]] = []
    paired: set[Grant] = set()
    for grant in sorted(added, key=_order):
        change, previous = _classify(grant, removed, before, "added")
        paired.update(previous)
        grew = _grows(grant, True, before, after) or any(
            _grows(p, False, before, after) for p in previous
        )
        rows.append(_row(change, grant, grew, previous))
    for grant in sorted(removed - paired, key=_order):
        change, _ = _classify(grant, set(), after, "removed")
        grew = not gone and _grows(grant, False, before, after)
        rows.append(_row(change, grant, grew, set()))
    for dimension in ("actions", "resources", "principals"):
        rows = _merge(rows, dimension)
    rows.sort(key=lambda r: (not r["grew"], r["change"], sorted(r["actions"])))
    return [
        Change(
            change=r["change"],
            effect=r["effect"],
            actions=tuple(sorted(r["actions"])),
            resources=tuple(sorted(r["resources"])),
            principals=tuple(sorted(r["principals"])),
            conditions=r["conditions"],
            previous=r["previous"],
            grew=r["grew"],
        )
        for r in rows
    ]


def _order(grant: Grant) -> tuple[str, ...]:
    return (
        grant.effect,
        grant.principal,
        grant.action,
        grant.resource,
        str(sorted(grant.conditions)),
    )


def _classify(
    grant: Grant, removed: set[Grant], other_side: set[Grant], verb: str
) -> tuple[str, set[Grant]]:
    """What kind of change ``grant`` is, and the removed grants it replaced.

    A removed grant of the same effect and principal replaced it if one covers the other or
    only their conditions differ: "resource narrowed", "action and resource narrowed"...
    """
    twins = {
        r
        for r in removed
        if (r.effect, r.principal) == (grant.effect, grant.principal)
        and (covers(r, grant) or covers(grant, r) or _differ(r, grant) == ["conditions"])
    }
    if twins:
        dims = sorted({d for r in twins for d in _differ(r, grant)}, key=DIMENSIONS.index)
        wider = any(covers(grant, r) and not covers(r, grant) for r in twins)
        narrower = any(covers(r, grant) and not covers(grant, r) for r in twins)
        how = "widened" if wider and not narrower else "narrowed" if narrower else "changed"
        return f"{' and '.join(dims)} {how}", twins
    if grant.action == MANAGED:
        return ("managed policy attached" if verb == "added" else "managed policy detached"), set()
    if grant.action.startswith("("):  # an IAM user, a membership, an access key...
        return f"{grant.action.strip('()')} {verb}", set()
    kin = [o for o in other_side if (o.effect, o.principal) == (grant.effect, grant.principal)]
    if any(o.resource == grant.resource for o in kin):
        return f"action {verb}", set()
    if any(o.action == grant.action for o in kin):
        return f"resource {verb}", set()
    if grant.principal and not any(o.principal == grant.principal for o in other_side):
        return f"principal {verb}", set()
    return f"grant {verb}", set()


DIMENSIONS = ["action", "resource", "conditions"]


def _differ(a: Grant, b: Grant) -> list[str]:
    return [d for d in DIMENSIONS if getattr(a, d) != getattr(b, d)]


def _row(change: str, grant: Grant, grew: bool, previous: set[Grant]) -> dict[str, Any]:
    before = set()
    for p in previous:
        was = {d: getattr(p, d) for d in _differ(p, grant)}
        parts = [was.get("action", ""), f"on {was['resource']}" if "resource" in was else ""]
        if "conditions" in was:
            clauses = "; ".join(sorted(_clause_text(c) for c in p.conditions))
            parts.append(f"if {clauses}" if clauses else "without conditions")
        before.add(" ".join(x for x in parts if x))
    return {
        "change": change,
        "effect": grant.effect,
        "actions": frozenset({grant.action}),
        "resources": frozenset({grant.resource} - {""}),
        "principals": frozenset({grant.principal} - {""}),
        "conditions": tuple(sorted(_clause_text(c) for c in grant.conditions)),
        "previous": tuple(sorted(before)),
        "grew": grew,
    }


def _clause_text(clause: Clause) -> str:
    operator, key, values = clause
    return f"{operator} {key} = {', '.join(sorted(values))}"


def _merge(rows: list[dict[str, Any]], dimension: str) -> list[dict[str, Any]]:
    """Rows that differ only in ``dimension``, as one row."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(v for k, v in sorted(row.items()) if k != dimension)
        if key in merged:
            merged[key][dimension] = merged[key][dimension] | row[dimension]
        else:
            merged[key] = dict(row)
    return list(merged.values())


# --- files and published versions --------------------------------------------------


def diff_files(
    old: str | Path,
    new: str | Path,
    *,
    parameters: Mapping[str, str] | None = None,
    region: str = "us-east-1",
) -> PermissionDiff:
    """:func:`diff` of the template files ``old`` and ``new``; DiffError if one cannot be
    read."""
    return diff(_read(old), _read(new), parameters=parameters, region=region)


def diff_published(
    bucket: str,
    old: str,
    new: str,
    templates: Sequence[str],
    *,
    prefix: str = "",
    parameters: Mapping[str, str] | None = None,
    region: str = "us-east-1",
) -> list[PermissionDiff]:
    """:func:`diff` of each of ``templates`` (``clazar-marketplace``...) as published in
    ``bucket`` under ``prefix`` as version ``old`` and as ``new``.

    Both locations are checked before anything is read: PublishError naming a malformed
    bucket, prefix or version; DiffError for an object that cannot be read.
    """
    from ..aws.layout import LATEST
    from ..aws.publishing import check_location

    for version in (old, new):
        check_location(bucket, prefix, None if version == LATEST else version)
    texts = [
        (_fetch(bucket, prefix, old, name), _fetch(bucket, prefix, new, name)) for name in templates
    ]
    return [diff(a, b, parameters=parameters, region=region) for a, b in texts]


def _fetch(bucket: str, prefix: str, version: str, name: str) -> str:
    from ..aws.errors import aws_errors, aws_message
    from ..aws.publishing import read_published, template_key

    unreadable: tuple[type[Exception], ...] = (*aws_errors(), UnicodeDecodeError)
    try:
        return read_published(bucket, prefix, version, name)
    except unreadable as error:
        key = template_key(prefix, version, name)
        raise DiffError(None, f"cannot read s3://{bucket}/{key}: {aws_message(error)}") from None


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise DiffError(None, f"cannot read {path}: {error.strerror}") from None
