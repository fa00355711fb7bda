"""A Mermaid picture of each stack, drawn from the built template so it cannot drift.

Every resource of the template is a node (its logical ID); resources created only under a
Condition are dashed and say when. Outside the seller's account: Clazar (its account, which
assumes the roles, and its API, which the reporter calls) and the AWS services that deliver
data (AWS Marketplace, its data-feed service, Partner Central). Edges:

- *grants* (``-->``, ``--x`` for a deny): a role to everything its policies' statements
  reach (identity policies, and resource policies naming it as principal);
- *deliveries* (``==>``): topic to subscription to queue, service to bucket/topic/key/queue
  from resource policies, EventBridge source to rule to target;
- *trust*: Clazar's account to the role it may assume;
- *uses* (``-.->``): one resource naming another (policy to role, queue to dead-letter
  queue, bucket to key, function to role and log group, reporter to function).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..policies import MARKETPLACE_ACCOUNT
from ..stacks import Stack
from ..stacks import stack as find_stack
from ..template.conditions import DIAGRAM, Formulas, describe
from ..template.reading import POLICY_PLACES, as_list, every_branch, policy_documents, statements
from ..template.resolve import as_text as _text

__all__ = ["diagram", "mermaid", "references"]

EXTERNAL = {
    # node id: (label, group)
    "clazar": ("Clazar AWS account", "vendor"),
    "clazar_api": ("Clazar API", "vendor"),
    "marketplace": ("AWS Marketplace", "aws"),
    "data_feed": ("Marketplace data-feed service<br/>reports.marketplace.amazonaws.com", "aws"),
    "partner_central": ("AWS Partner Central", "aws"),
}
GROUPS = {
    "vendor": "Clazar (outside your account)",
    "aws": "AWS services (outside your account)",
    "seller": "Your AWS account",
}
SERVICES = {
    "reports.marketplace.amazonaws.com": "data_feed",
    "aws.agreement-marketplace": "marketplace",
    "aws.marketplacecatalog": "marketplace",
    "aws.marketplace": "marketplace",
    "aws.partnercentral-selling": "partner_central",
    "aws.partnercentral-channel": "partner_central",
}
MARKETPLACE_PREFIXES = (
    "aws-marketplace",
    "aws-marketplace-management",
    "vendor-insights",
    "marketplacecommerceanalytics",
)
SHAPES = {  # Mermaid node shapes by resource type
    "AWS::S3::Bucket": ('[("', '")]'),
    "AWS::SQS::Queue": ('[("', '")]'),
    "AWS::Logs::LogGroup": ('[("', '")]'),
    "AWS::SNS::Topic": ('{{"', '"}}'),
    "AWS::SNS::Subscription": ('(["', '"])'),
    "AWS::KMS::Key": ('[["', '"]]'),
    "AWS::KMS::Alias": ('[["', '"]]'),
    "AWS::IAM::Policy": ('[/"', '"/]'),
    "AWS::IAM::ManagedPolicy": ('[/"', '"/]'),
    "AWS::SQS::QueuePolicy": ('[/"', '"/]'),
    "AWS::SNS::TopicPolicy": ('[/"', '"/]'),
    "AWS::S3::BucketPolicy": ('[/"', '"/]'),
    "AWS::Lambda::Function": ('("', '")'),
    "AWS::Events::Rule": ('>"', '"]'),
}
POLICY_PROPERTIES = {p.document for ps in POLICY_PLACES.values() for p in ps if p.kind != "managed"}
HANDLED = {  # properties drawn as grants or deliveries, not as "uses"
    "AWS::SNS::Subscription": {"TopicArn", "Endpoint"},
    "AWS::Events::Rule": {"Targets", "EventPattern"},
    "AWS::IAM::Role": {"ManagedPolicyArns"},
}
VERBS = {
    "RedrivePolicy": "dead letters to",
    "KmsMasterKeyId": "encrypted by",
    "BucketEncryption": "encrypted by",
    "TargetKeyId": "alias of",
    "Role": "runs as",
    "LoggingConfig": "logs to",
    "Queues": "applies to",
    "Topics": "applies to",
    "Bucket": "applies to",
    "Roles": "attached to",
    "ServiceToken": "runs",
}
ARROWS = {"grant": "-->", "deny": "--x", "delivery": "==>", "trust": "-->", "uses": "-.->"}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # a key of ARROWS
    label: str = ""


@dataclass
class Graph:
    """Nodes (id -> label, shape, group, dashed) and edges, in the order they were found."""

    template: Mapping[str, Any]
    nodes: dict[str, tuple[str, tuple[str, str], str, bool]] = field(default_factory=dict)
    edges: dict[Edge, None] = field(default_factory=dict)

    @property
    def resources(self) -> Mapping[str, Any]:
        return dict(self.template.get("Resources", {}))

    def external(self, node: str) -> str:
        label, group = EXTERNAL[node]
        self.nodes.setdefault(node, (label, ('("', '")'), group, False))
        return node

    def other(self, text: str, label: str | None = None, given: bool = False) -> str:
        """A node for something outside the template: an ARN, or (``given``) an existing
        resource named by a parameter, dashed like conditional resources."""
        node = "ext_" + hashlib.sha256(text.encode()).hexdigest()[:8]
        self.nodes.setdefault(node, (label or text, ('("', '")'), "seller", given))
        return node

    def given(self, parameter: str) -> str:
        """An existing resource the seller names with ``parameter`` (dashed: if given)."""
        labels = self.template.get("Metadata", {}).get("AWS::CloudFormation::Interface", {})
        label = labels.get("ParameterLabels", {}).get(parameter, {}).get("default")
        text = f"{label}<br/>({parameter}), if given" if label else f"{parameter}, if given"
        return self.other(f"param:{parameter}", text, given=True)

    def edge(self, source: str, target: str, kind: str, label: str = "") -> None:
        if source != target:
            self.edges.setdefault(Edge(source, target, kind, label), None)


def diagram(stack: Stack | str, options: Any = None) -> str:
    """``stack``'s template (built with ``options``, default: all deploy time) as Mermaid."""
    target = find_stack(stack) if isinstance(stack, str) else stack
    return mermaid(target.build(options).to_dict())


def fenced_block(text: str) -> str:
    """Mermaid text as a Markdown block (GitHub and GitLab draw it)."""
    return f"```mermaid\n{text}```\n"


def mermaid(template: Mapping[str, Any]) -> str:
    """A template (as a dict) as a Mermaid ``flowchart LR``."""
    graph = Graph(template)
    roles = _role_groups(graph.resources)
    for logical, resource in graph.resources.items():
        kind = resource.get("Type", "")
        label = f"{logical}<br/>{_type_label(kind)}"
        if "Condition" in resource:
            label += f"<br/><i>{_condition_text(template, resource['Condition'])}</i>"
        group = roles.get(logical, "seller")
        shape = SHAPES.get(kind, ('>"', '"]') if kind.startswith("Custom::") else ('["', '"]'))
        graph.nodes[logical] = (label, shape, group, "Condition" in resource)
    for logical, resource in graph.resources.items():
        _draw(graph, logical, resource)
    return _render(graph, roles)


# --- what each resource contributes -----------------------------------------------------


def _draw(graph: Graph, logical: str, resource: Mapping[str, Any]) -> None:
    kind, props = resource.get("Type", ""), resource.get("Properties", {})
    for _, where, applies_to, document in policy_documents({logical: resource}):
        if where.kind == "trust":
            _trust(graph, logical, document)
        elif where.kind == "managed":
            for arn in as_list(document):
                name = _text(arn).rsplit("/", 1)[-1]
                node = (
                    graph.external("partner_central")
                    if name.startswith("AWSPartnerCentral")
                    else graph.other(_text(arn), f"AWS managed policy {name}")
                )
                graph.edge(logical, node, "grant", name)
        elif where.document == "Policies":  # inline: PolicyName and PolicyDocument each
            for inline in as_list(document):
                _identity(graph, logical, inline.get("PolicyDocument"))
        elif where.kind == "identity":  # attached to the roles it names
            for role in every_branch(applies_to):
                for target in sorted(references(role) & set(graph.resources)):
                    _identity(graph, target, document)
        elif where.applies_to:  # a resource policy of the resources it names
            for item in every_branch(applies_to):
                for target in sorted(references(item) & set(graph.resources)):
                    _resource_policy(graph, target, document)
        else:  # a key policy: of its own resource
            _resource_policy(graph, logical, document)
    if kind == "AWS::SNS::Subscription":
        for source in sorted(_places(graph, props.get("TopicArn"))):
            graph.edge(source, logical, "delivery", "delivers")
        for target in sorted(_places(graph, props.get("Endpoint"))):
            graph.edge(logical, target, "delivery", props.get("Protocol", ""))
    elif kind == "AWS::Events::Rule":
        pattern = props.get("EventPattern", {})
        for source in every_branch(pattern.get("source") if isinstance(pattern, dict) else None):
            graph.edge(_service(graph, str(source)), logical, "delivery", str(source))
        for target in every_branch(props.get("Targets")):
            for place in sorted(_places(graph, target.get("Arn"))):
                graph.edge(logical, place, "delivery", "delivers")
            dead_letters = (target.get("DeadLetterConfig") or {}).get("Arn")
            for place in sorted(_places(graph, dead_letters)):
                graph.edge(logical, place, "delivery", "undelivered to")
    if kind.startswith("Custom::") and "ApiUrl" in props:
        graph.edge(logical, graph.external("clazar_api"), "delivery", "reports once, signed")
    _uses(graph, logical, kind, props)


def _identity(graph: Graph, role: str, document: Any) -> None:
    for st in statements(document, branches=True):
        actions = [_text(a) for a in every_branch(st.get("Action") or st.get("NotAction"))]
        deny = st.get("Effect") == "Deny"
        for item in every_branch(st.get("Resource") or st.get("NotResource")):
            for target in sorted(_reached(graph, item, actions)):
                label = ("deny " if deny else "") + _summary(_for(graph, target, actions))
                graph.edge(role, target, "deny" if deny else "grant", label)


def _for(graph: Graph, target: str, actions: list[str]) -> list[str]:
    """The actions that apply to ``target``'s service (a statement may mix services)."""
    kind = graph.resources.get(target, {}).get("Type", "")
    service = kind.removeprefix("AWS::").split("::")[0].lower()
    mine = [a for a in actions if a.split(":")[0].lower() == service]
    return mine or actions


def _trust(graph: Graph, role: str, document: Any) -> None:
    for st in statements(document, branches=True):
        principal = st.get("Principal", {})
        for item in every_branch(principal.get("AWS") if isinstance(principal, dict) else None):
            if "ClazarAccountId" in references(item):
                external_id = "sts:ExternalId" in str(st.get("Condition", {}))
                label = "assumes, with your external ID" if external_id else "assumes"
                graph.edge(graph.external("clazar"), role, "trust", label)
            else:
                graph.edge(graph.other(_text(item)), role, "trust", "assumes")


def _resource_policy(graph: Graph, target: str, document: Any) -> None:
    """Who the policy lets in: services deliver, roles of this stack are granted."""
    for st in statements(document, branches=True):
        if st.get("Effect") != "Allow" or not isinstance(st.get("Principal"), dict):
            continue
        actions = [_text(a) for a in every_branch(st.get("Action"))]
        principal = st["Principal"]
        for service in every_branch(principal.get("Service")):
            if service in {"sns.amazonaws.com", "events.amazonaws.com"}:
                sources = every_branch(_find(st.get("Condition", {}), "aws:SourceArn"))
                for source in sources:
                    if "aws-mp-" in _text(source) or MARKETPLACE_ACCOUNT in _text(source):
                        graph.edge(graph.external("marketplace"), target, "delivery", "notifies")
            else:
                graph.edge(_service(graph, str(service)), target, "delivery", _summary(actions))
        reached = references(st.get("Resource")) & set(graph.resources) or {target}
        for item in every_branch(principal.get("AWS")):
            for role in sorted(_principal_roles(graph, item)):
                for place in sorted(reached):
                    graph.edge(role, place, "grant", _summary(_for(graph, place, actions)))


def _uses(graph: Graph, logical: str, kind: str, props: Mapping[str, Any]) -> None:
    skip = POLICY_PROPERTIES | HANDLED.get(kind, set())
    if kind.startswith("Custom::"):
        skip |= set(props) - {"ServiceToken"}
    for name, value in props.items():
        if name in skip:
            continue
        for target in sorted(references(value) & set(graph.resources)):
            graph.edge(logical, target, "uses", VERBS.get(name, name))


# --- reading values ---------------------------------------------------------------------


def references(value: Any) -> set[str]:
    """Names a value refers to: Ref, GetAtt and ``${...}`` in Sub (pseudo parameters too)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref":
                found.add(str(arg))
            elif key == "Fn::GetAtt":
                found.add(str(arg[0] if isinstance(arg, list) else str(arg).split(".")[0]))
            elif key == "Fn::Sub":
                text, variables = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})
                names = {v.split(".")[0] for v in _sub_names(str(text))}
                found |= (names - set(variables)) | references(variables)
            else:
                found |= references(arg)
    return found


def _sub_names(text: str) -> Iterator[str]:
    start = text.find("${")
    while start >= 0:
        end = text.find("}", start)
        if end < 0:
            return
        if not text.startswith("${!", start):
            yield text[start + 2 : end]
        start = text.find("${", end)


def _reached(graph: Graph, item: Any, actions: list[str]) -> set[str]:
    """Nodes a statement's resource item stands for."""
    names = references(item)
    parameters = names & set(graph.template.get("Parameters", {}))
    found = (names & set(graph.resources)) | {graph.given(n) for n in sorted(parameters)}
    if found:
        return found
    text = _text(item)
    if "aws-mp-" in text or MARKETPLACE_ACCOUNT in text:
        return {graph.external("marketplace")}
    if text == "*":
        prefixes = {a.split(":", 1)[0].lower() for a in actions}
        if prefixes and prefixes <= set(MARKETPLACE_PREFIXES):
            return {graph.external("marketplace")}
        if prefixes == {"partnercentral"}:
            return {graph.external("partner_central")}
        return {graph.other("*", "any resource")}
    if names == {"AWS::StackId"}:
        return {graph.other("AWS::StackId", "this stack")}
    return {graph.other(text)}


def _places(graph: Graph, value: Any) -> set[str]:
    """Nodes for a topic/endpoint/target value: this stack's resource or a given one."""
    names = references(value)
    found = names & set(graph.resources)
    found |= {graph.given(p) for p in sorted(names & set(graph.template.get("Parameters", {})))}
    return found or ({graph.other(_text(value))} if value is not None else set())


def _principal_roles(graph: Graph, item: Any) -> set[str]:
    """Roles of this stack a principal names (directly, or as ``Reporter.<Role>Arn``)."""
    found = set()
    if isinstance(item, dict) and "Fn::GetAtt" in item:
        _, attribute = item["Fn::GetAtt"]
        named = str(attribute).removesuffix("Arn")
        if named in graph.resources and named != attribute:
            found.add(named)
    names = references(item) & set(graph.resources)
    return found or {n for n in names if graph.resources[n]["Type"] == "AWS::IAM::Role"}


def _service(graph: Graph, service: str) -> str:
    node = SERVICES.get(service)
    return graph.external(node) if node else graph.other(service, f"service {service}")


def _find(node: Any, key: str) -> Any:
    """The first value of ``key`` anywhere in ``node`` (a condition block)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                return v
            found = _find(v, key)
            if found is not None:
                return found
    return None


def _summary(actions: list[str]) -> str:
    """``sqs: ReceiveMessage, DeleteMessage +3`` (services in order, two names each)."""
    by_service: dict[str, list[str]] = {}
    for action in actions:
        service, _, name = action.partition(":")
        by_service.setdefault(service, []).append(name)
    parts = []
    for service, names in by_service.items():
        more = f" +{len(names) - 2}" if len(names) > 2 else ""
        parts.append(f"{service}: {', '.join(names[:2])}{more}")
    return "; ".join(parts)


def _type_label(kind: str) -> str:
    if kind.startswith("Custom::"):
        return f"custom resource {kind.split('::', 1)[1]}"
    service, _, name = kind.removeprefix("AWS::").partition("::")
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).lower()
    return f"{service} {words}"


def _condition_text(template: Mapping[str, Any], name: str) -> str:
    """``if EnableCas=true and CasBucketName empty``; the Condition's name if that is long
    or is not made of parameter equalities."""
    try:
        text = describe(Formulas(template, two_valued=False).condition(name), words=DIAGRAM)
    except (ValueError, LookupError, AttributeError):
        text = name
    return f"if {text if len(text) <= 60 else name}"


# --- rendering --------------------------------------------------------------------------


def _role_groups(resources: Mapping[str, Any]) -> dict[str, str]:
    """Each role and the policies attached to it only: node -> the role's subgraph."""
    groups = {r: f"{r}_group" for r, res in resources.items() if res["Type"] == "AWS::IAM::Role"}
    for logical, res in resources.items():
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            roles = references(res.get("Properties", {}).get("Roles")) & set(groups)
            if len(roles) == 1:
                groups[logical] = groups[roles.pop()]
    return groups


def _quote(label: str) -> str:
    return label.replace('"', "#quot;")


def _render(graph: Graph, roles: dict[str, str]) -> str:
    lines = ["flowchart LR"]
    by_group: dict[str, list[str]] = {}
    for node, (_, _, group, _) in graph.nodes.items():
        by_group.setdefault(group, []).append(node)

    def node_line(node: str, indent: str) -> str:
        label, (open_, close), _, _ = graph.nodes[node]
        return f"{indent}{node}{open_}{_quote(label)}{close}"

    for group, title in GROUPS.items():
        members = by_group.get(group, [])
        role_groups = [g for g in dict.fromkeys(roles.values()) if by_group.get(g)]
        if not members and not (group == "seller" and role_groups):
            continue
        lines.append(f'  subgraph {group}["{title}"]')
        if group == "seller":
            for sub in role_groups:
                lines.append(f'    subgraph {sub}["{sub.removesuffix("_group")} and its policies"]')
                lines += [node_line(n, "      ") for n in by_group[sub]]
                lines.append("    end")
        lines += [node_line(n, "    ") for n in members]
        lines.append("  end")
    for edge in graph.edges:
        label = f'|"{_quote(edge.label)}"|' if edge.label else ""
        lines.append(f"  {edge.source} {ARROWS[edge.kind]}{label} {edge.target}")
    dashed = [n for n, (_, _, _, conditional) in graph.nodes.items() if conditional]
    lines.append("  classDef conditional stroke-dasharray: 5 5")
    if dashed:
        lines.append(f"  class {','.join(dashed)} conditional")
    return "\n".join(lines) + "\n"
