"""A resolved template value as AWS holds it in one deployed stack.

:func:`clazar_templates.template.resolve.resolve` leaves pseudo parameters and references to the
stack's resources symbolic (``${AWS::Partition}``, ``Ref``, ``Fn::GetAtt``). With the stack's
ID and its resources' physical IDs they become the names and ARNs AWS returns, so a policy
the template defines can be compared with the one AWS has. ARNs are built from the physical
ID, as CloudFormation builds them, without asking AWS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ...template.reading import as_list

__all__ = ["UNKNOWN", "Concrete"]

UNKNOWN = "?{"  # starts a value no physical ID or ARN rule gives: "?{Logical.Attr}"
_VAR = re.compile(r"\$\{([^}!][^}]*)\}")

# (type, attribute) -> ARN or value from (concrete, logical ID, physical ID)
_Rule = Callable[["Concrete", str, str], str]
_ATTRIBUTES: dict[tuple[str, str], _Rule] = {
    ("AWS::S3::Bucket", "Arn"): lambda c, _, name: f"arn:{c.partition}:s3:::{name}",
    ("AWS::SQS::Queue", "Arn"): lambda c, _, url: c.arn("sqs", url.rsplit("/", 1)[-1], url),
    ("AWS::SQS::Queue", "QueueName"): lambda _c, _, url: url.rsplit("/", 1)[-1],
    ("AWS::SQS::Queue", "QueueUrl"): lambda _c, _, url: url,
    ("AWS::SNS::Topic", "TopicArn"): lambda _c, _, arn: arn,
    ("AWS::SNS::Topic", "TopicName"): lambda _c, _, arn: arn.rsplit(":", 1)[-1],
    ("AWS::IAM::Role", "Arn"): lambda c, logical, name: (
        f"arn:{c.partition}:iam::{c.account}:role{c.role_path(logical)}{name}"
    ),
    ("AWS::KMS::Key", "Arn"): lambda c, _, key: c.arn("kms", f"key/{key}"),
    ("AWS::KMS::Key", "KeyId"): lambda _c, _, key: key,
    ("AWS::Logs::LogGroup", "Arn"): lambda c, _, name: c.arn("logs", f"log-group:{name}:*"),
    ("AWS::Lambda::Function", "Arn"): lambda c, _, name: c.arn("lambda", f"function:{name}"),
    ("AWS::Events::Rule", "Arn"): lambda c, _, name: c.arn("events", f"rule/{name}"),
}


class Concrete:
    """Turns resolved values of one stack's template into what AWS holds."""

    def __init__(
        self, stack_id: str, physical: Mapping[str, str], resources: Mapping[str, Any]
    ) -> None:
        _, partition, _, region, account, rest = stack_id.split(":", 5)
        self.partition: str = partition
        self.region: str = region
        self.account: str = account
        self.physical = physical
        self.resources = resources
        suffix = "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"
        self.pseudo = {
            "AWS::Partition": self.partition,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::StackId": stack_id,
            "AWS::StackName": rest.split("/")[1],
            "AWS::URLSuffix": suffix,
        }

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref" and isinstance(arg, str):
                return self.variable(arg)
            if key == "Fn::GetAtt":
                logical, _, attr = (".".join(arg) if isinstance(arg, list) else arg).partition(".")
                return self.attribute(logical, attr)
            if key == "Fn::Sub":
                return self.sub(arg)
            if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
                return str(arg[0]).join(str(self(part)) for part in as_list(arg[1]))
        return {key: self(value) for key, value in node.items()}

    def variable(self, name: str) -> str:
        """``${name}`` of Fn::Sub (or a Ref): a pseudo parameter, a physical ID, an attribute."""
        if name in self.pseudo:
            return self.pseudo[name]
        logical, _, attr = name.partition(".")
        if attr:
            return self.attribute(logical, attr)
        return self.physical.get(name) or f"{UNKNOWN}{name}}}"

    def attribute(self, logical: str, attr: str) -> str:
        kind = str(self.resources.get(logical, {}).get("Type", ""))
        rule = _ATTRIBUTES.get((kind, attr))
        physical = self.physical.get(logical)
        if rule is None or not physical:
            return f"{UNKNOWN}{logical}.{attr}}}"
        return rule(self, logical, physical)

    def sub(self, arg: Any) -> str:
        text, variables = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})
        given = {k: str(self(v)) for k, v in dict(variables).items()}
        return _VAR.sub(lambda m: given.get(m.group(1)) or self.variable(m.group(1)), str(text))

    def arn(self, service: str, resource: str, url: str | None = None) -> str:
        """``arn:<partition>:<service>:<region>:<account>:<resource>``; a queue's account is
        its URL's (``.../<account>/<name>``)."""
        account = url.rsplit("/", 2)[-2] if url else self.account
        return f"arn:{self.partition}:{service}:{self.region}:{account}:{resource}"

    def role_path(self, logical: str) -> str:
        path = self.resources.get(logical, {}).get("Properties", {}).get("Path", "/")
        return str(path) if isinstance(path, str) else "/"
