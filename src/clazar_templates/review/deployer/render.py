"""The deployer's policy as Markdown (each statement with why and who needs it), as a
CloudFormation template creating the service role, and as docs/deployer-permissions.md."""

from __future__ import annotations

import json
from typing import Any

from ...stacks import Stack
from ..permissions import markdown_cell
from . import DeployerPolicy, build_deployer_policy

__all__ = ["deployer_markdown", "policy_markdown", "role_template"]


def policy_markdown(policy: DeployerPolicy, level: int = 1) -> str:
    """The policy in words: every statement with why, who needs it, actions and resources;
    then the placeholders, what was left out and why, and notes."""
    h = "#" * level
    lines = [f"{h} Deployer policy: `{policy.stack.name}`", ""]
    lines += [
        "What the principal that deploys this stack (a CI role, or the CloudFormation service "
        "role given with `--role-arn`) needs: every action CloudFormation's handlers call for "
        "the resource types of this template (from the resource schemas cfn-lint ships), each "
        "scoped to the ARNs of this stack's resources, plus CloudFormation's own needs.",
        "",
    ]
    for st in policy.statements:
        lines += [f"{h}# `{st.sid}`", "", st.why, ""]
        lines.append("Needed by: " + ", ".join(f"`{n}`" for n in st.needed_by) + ".")
        lines.append("")
        if st.resources == ["*"]:
            lines += [
                '`"*"`: AWS\'s IAM reference gives these actions no resource type, so no '
                "narrower resource would match them.",
                "",
            ]
        lines.append("| actions | resources |")
        lines.append("| --- | --- |")
        actions = "<br>".join(f"`{a}`" for a in sorted(st.actions, key=str.lower))
        resources = "<br>".join(f"`{r}`" for r in sorted(st.resources))
        lines.append(f"| {actions} | {resources} |")
        if st.condition:
            lines += ["", f"Condition: `{json.dumps(st.condition, sort_keys=True)}`"]
        lines.append("")
    if policy.placeholders:
        lines += [f"{h}# Placeholders", "", "| placeholder | fill with |", "| --- | --- |"]
        fixed = {
            "AWS::Partition": "the partition (`aws`, `aws-us-gov`, `aws-cn`)",
            "AWS::Region": "the stack's region",
            "AWS::AccountId": "your account ID",
        }
        for name, text in fixed.items():
            lines.append(f"| `${{{name}}}` | {text} |")
        for name, spec in policy.placeholders.items():
            text = spec.get("Description", "")
            if "Option" in spec:
                text += f" Or fix it at build time: `--set {spec['Option']}=VALUE`."
            lines.append(f"| `${{{name}}}` | {markdown_cell(text)} |")
        lines.append("")
    if policy.no_schema:
        lines += [
            f"{h}# Without a schema",
            "",
            ", ".join(f"`{t}`" for t in policy.no_schema)
            + ": a custom resource has no resource schema and no handler permissions; "
            "CloudFormation only invokes its function (`InvokeReporter`).",
            "",
        ]
    if policy.excluded:
        lines += [
            f"{h}# Left out",
            "",
            "Handler permissions this template never needs: features it does not use, and "
            "what only the delete handler of a retained resource calls:",
            "",
            "| resource type | action | why |",
            "| --- | --- | --- |",
        ]
        for resource_type, action, reason in policy.excluded:
            lines.append(f"| `{resource_type}` | `{action}` | {markdown_cell(reason)} |")
        lines.append("")
    lines += [f"{h}# Notes", ""]
    lines += [f"- {note}" for note in policy.notes]
    return "\n".join(lines) + "\n"


def role_template(policy: DeployerPolicy) -> str:
    """A CloudFormation template creating the service role (trust
    ``cloudformation.amazonaws.com``) with the policy; placeholders become Parameters."""
    from ...template.render import to_yaml

    def sub(value: Any) -> Any:
        if isinstance(value, str) and "${" in value:
            return {"Fn::Sub": value}
        if isinstance(value, list):
            return [sub(v) for v in value]
        if isinstance(value, dict):
            return {k: sub(v) for k, v in value.items()}
        return value

    parameters = {}
    for name, spec in policy.placeholders.items():
        keep = ("Type", "Default", "Description", "AllowedPattern", "ConstraintDescription")
        parameters[name] = {"Type": "String", **{k: v for k, v in spec.items() if k in keep}}
    statements = [sub(st.as_dict()) for st in policy.statements]
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"The CloudFormation service role that deploys {policy.stack.name}, "
        "with the least privilege it needs (clazar-templates deployer-policy).",
    }
    if parameters:
        template["Parameters"] = parameters
    template["Resources"] = {
        "DeployerRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": f"Deploys {policy.stack.name} (pass it with --role-arn)",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudformation.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "DeployStack",
                        "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
                    }
                ],
            },
        }
    }
    template["Outputs"] = {
        "DeployerRoleArn": {
            "Description": "Pass it to CloudFormation with --role-arn",
            "Value": {"Fn::GetAtt": ["DeployerRole", "Arn"]},
        }
    }
    return to_yaml(template)


def deployer_markdown(stacks: list[Stack]) -> str:
    """docs/deployer-permissions.md: the policy of each stack's deploy-time template."""
    parts = [
        "# Deployer permissions",
        "",
        "<!-- Generated by `clazar-templates docs` from the resource schemas cfn-lint ships; "
        "do not edit. -->",
        "",
        "The least privilege a person, pipeline or CloudFormation service role needs to "
        "deploy each template (`clazar-templates deployer-policy STACK`, which also prints it "
        "as JSON or as a ready role template, and with `--stack-name`, `--region`, "
        "`--account` and `--set` for your stack exactly).",
        "",
    ]
    for target in stacks:
        parts.append(policy_markdown(build_deployer_policy(target), level=2))
    return "\n".join(parts).rstrip() + "\n"
