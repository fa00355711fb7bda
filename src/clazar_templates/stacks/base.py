"""What every stack builder shares: options that become parameters, flags, and values.

A *flag* is ``True``/``False`` when an option was fixed at build time, or the name of a
CloudFormation Condition when it is left to deploy time. :func:`add` and :func:`pick` turn
a flag into "add the resource or not / with a Condition" and "this value or that / Fn::If",
so a builder is written once for both modes. Parameters and conditions are created the
first time a builder asks for them, so a template never carries an unused one.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from troposphere import And as _And
from troposphere import (
    AWSHelperFn,
    AWSObject,
    Condition,
    Equals,
    GetAtt,
    If,
    Not,
    Output,
    Parameter,
    Ref,
    Sub,
    Template,
    encode_to_dict,
)
from troposphere import Or as _Or

from ..options import Option, fixed_options, option_fields

Flag = bool | str
"""True/False when decided at build time, else the name of a Condition."""

R = TypeVar("R", bound=AWSObject)

INTERFACE = "AWS::CloudFormation::Interface"


class StackBuilder:
    """A template under construction from one options dataclass."""

    def __init__(self, options: Any, name: str, description: str) -> None:
        self.options = options
        self.name = name
        self.template = Template(Description=f"{description} ({name} {options.version})")
        self.template.set_version("2010-09-09")
        clazar = {"Template": name, "Version": options.version}
        fixed = fixed_options(options)  # what `check` needs to rebuild exactly this variant
        self.template.set_metadata({"Clazar": {**clazar, **({"Options": fixed} if fixed else {})}})
        self._specs = dict(option_fields(options))
        self._extra: dict[str, Option] = {}

    # --- parameters ------------------------------------------------------------------
    def parameter(self, spec: Option, **extra: Any) -> Ref:
        """The Ref of ``spec``'s parameter, adding the parameter on first use."""
        if spec.parameter not in self.template.parameters:
            kind = spec.kind
            props: dict[str, Any] = {
                "Type": "Number" if kind.is_number else "String",
                "Description": spec.description,
            }
            if spec.default is not None:
                props["Default"] = spec.default
            if kind.allowed:
                props["AllowedValues"] = list(kind.allowed)
            if kind.pattern:
                props["AllowedPattern"] = kind.pattern
                props["ConstraintDescription"] = f"must be {kind.form}"
            if kind.min_length is not None:
                props["MinLength"] = kind.min_length
            if kind.max_length is not None:
                props["MaxLength"] = kind.max_length
            if kind.min_value is not None:
                props["MinValue"] = kind.min_value
            props.update(extra)
            self.template.add_parameter(Parameter(spec.parameter, **props))
            if spec.parameter not in {s.parameter for s in self._specs.values()}:
                self._extra[spec.parameter] = spec
        return Ref(spec.parameter)

    def value(self, field: str) -> Any:
        """The option's build-time value, or a Ref to its parameter if left to deploy time."""
        current = getattr(self.options, field)
        return self.parameter(self._specs[field]) if current is None else current

    def flag(self, field: str) -> Flag:
        """A boolean option as a flag: its value, or its Condition (the parameter is "true")."""
        current = getattr(self.options, field)
        if current is not None:
            return bool(current)
        return self._option_condition(field, "true")

    def zero_or_number(self, field: str) -> tuple[Flag, Any]:
        """For a number option where 0 turns something off: (is it 0?, the number).

        At deploy time "is it 0?" is the option's Condition "the parameter is 0"."""
        current = getattr(self.options, field)
        if current is None:
            return self._option_condition(field, "0"), self.value(field)
        return current == 0, current

    def made_or_given(self, field: str) -> tuple[Flag, Any]:
        """For an option whose empty value means "the stack makes it" (an existing resource
        to reuse, or a name to give; empty: a new resource, or a name CloudFormation
        generates): (made?, the given value).

        At deploy time "made?" is the option's Condition "the parameter is empty"; it is
        the single ``Equals`` that every ``Fn::If`` choosing between the two must branch on.
        """
        current = getattr(self.options, field)
        if current is None:
            return self._option_condition(field, ""), self.value(field)
        return current == "", current

    def _option_condition(self, field: str, equals: str) -> str:
        """The Condition declared with ``field``'s option: its parameter equals ``equals``."""
        spec = self._specs[field]
        if spec.condition is None:
            raise ValueError(f"option {field} declares no deploy-time condition")
        return self.condition(spec.condition, Equals(self.parameter(spec), equals))

    # --- conditions ------------------------------------------------------------------
    def condition(self, name: str, expression: AWSHelperFn) -> str:
        if name not in self.template.conditions:
            self.template.add_condition(name, expression)
        return name

    def all_of(self, name: str, *flags: Flag) -> Flag:
        """Flag that holds when every flag holds (a new Condition ``name`` only if still
        needed)."""
        return self._combine(name, flags, decisive=False, operator=_And)

    def any_of(self, name: str, *flags: Flag) -> Flag:
        """Flag that holds when at least one flag holds."""
        return self._combine(name, flags, decisive=True, operator=_Or)

    def _combine(
        self, name: str, flags: tuple[Flag, ...], decisive: bool, operator: type[AWSHelperFn]
    ) -> Flag:
        """``flags`` joined by ``operator``: ``decisive`` if any flag is that value, else
        the flags left to deploy time (a Condition for two or more)."""
        if decisive in flags:
            return decisive
        rest = list(dict.fromkeys(f for f in flags if not isinstance(f, bool)))
        if not rest:
            return not decisive
        if len(rest) == 1:
            return rest[0]
        return self.condition(name, operator(*[_cond(f) for f in rest]))

    def negate(self, name: str, flag: Flag) -> Flag:
        if isinstance(flag, bool):
            return not flag
        return self.condition(name, Not(_cond(flag)))

    # --- resources -------------------------------------------------------------------
    def add(self, resource: R, when: Flag = True) -> R | None:
        """Add ``resource`` if ``when`` holds, with ``Condition`` when decided at deploy time."""
        if when is False:
            return None
        if isinstance(when, str):
            resource.Condition = when
        self.template.add_resource(resource)
        return resource

    def rule(self, name: str, when: Flag, assertion: AWSHelperFn, description: str) -> None:
        """Template Rule ``name``: while ``when`` holds, CloudFormation refuses the stack,
        before it creates anything, unless ``assertion`` holds, saying ``description``.

        No Rule when ``when`` is False at build time; no RuleCondition when it is True. A
        Rule cannot name a Condition, so a deploy-time flag's RuleCondition repeats the
        Condition's own test (its parameter comparisons)."""
        if when is False:
            return
        body: dict[str, Any] = {
            "Assertions": [{"Assert": assertion, "AssertDescription": description}]
        }
        if isinstance(when, str):
            body["RuleCondition"] = self._inline_condition(when)
        self.template.add_rule(name, body)

    def _inline_condition(self, name: str) -> Any:
        """Condition ``name``'s expression with every named Condition in it written out."""

        def inline(node: Any) -> Any:
            if isinstance(node, dict):
                if set(node) == {"Condition"} and isinstance(node["Condition"], str):
                    return self._inline_condition(node["Condition"])
                return {k: inline(v) for k, v in node.items()}
            if isinstance(node, list):
                return [inline(v) for v in node]
            return node

        return inline(encode_to_dict(self.template.conditions[name]))

    def output(self, name: str, description: str, value: Any, when: Flag = True) -> None:
        """Add an Output if ``when`` holds (with its Condition at deploy time)."""
        if when is False:
            return
        out = Output(name, Description=description, Value=value)
        if isinstance(when, str):
            out.Condition = when
        self.template.add_output(out)

    # --- finishing -------------------------------------------------------------------
    def finish(self) -> Template:
        """Order the parameters as the options declare them and add the console form."""
        order = [s.parameter for s in self._specs.values()] + list(self._extra)
        params = self.template.parameters
        ordered = {p: params[p] for p in order if p in params}
        ordered.update({p: v for p, v in params.items() if p not in ordered})
        self.template.parameters = ordered
        specs = {s.parameter: s for s in [*self._specs.values(), *self._extra.values()]}
        groups: dict[str, list[str]] = {}
        for p in ordered:
            groups.setdefault(specs[p].group, []).append(p)
        if ordered:
            self.template.metadata[INTERFACE] = {
                "ParameterGroups": [
                    {"Label": {"default": g}, "Parameters": ps} for g, ps in groups.items()
                ],
                "ParameterLabels": {p: {"default": specs[p].label} for p in ordered},
            }
        return self.template


def _cond(flag: Flag) -> AWSHelperFn:
    assert isinstance(flag, str)
    return Condition(flag)


def pick(when: Flag, yes: Any, no: Any) -> Any:
    """``yes`` when the flag holds, else ``no``: a plain choice, or ``Fn::If``."""
    if when is True:
        return yes
    if when is False:
        return no
    return If(when, yes, no)


def when(flag: Flag, value: Any) -> Any:
    """``value`` if the flag holds; ``AWS::NoValue`` otherwise (for lists and properties).

    Returns None for a flag that is False at build time: callers drop Nones with
    :func:`present`.
    """
    if flag is True:
        return value
    if flag is False:
        return None
    return If(flag, value, Ref("AWS::NoValue"))


def within(outer: Flag, inner: Flag) -> Flag:
    """``inner``, in a place only reached when ``outer`` holds (an ``Fn::If`` on the same
    Condition there would have an unreachable branch)."""
    return True if inner == outer else inner


def unless(flag: Flag, value: Any) -> Any:
    """``value`` unless the flag holds (the opposite of :func:`when`, without a new Condition)."""
    if flag is True:
        return None
    if flag is False:
        return value
    return If(flag, Ref("AWS::NoValue"), value)


def present(*items: Any) -> list[Any]:
    """The items that are not None (see :func:`when`)."""
    return [i for i in items if i is not None]


_VAR = re.compile(r"\$\{([A-Za-z0-9_:.]+)\}")


def sub(fmt: str, **values: Any) -> Any:
    """``Fn::Sub`` of ``fmt`` where each ``${name}`` in ``values`` is filled in.

    A literal string is written into the text; a ``Ref``/``GetAtt`` becomes the equivalent
    ``${Logical}``/``${Logical.Attr}``; an ``Fn::If`` is hoisted around the whole Sub. With
    no variables left, a plain string is returned (``Fn::Sub`` would be noise).
    """
    for name, value in values.items():
        token = "${" + name + "}"
        if isinstance(value, str):
            fmt = fmt.replace(token, value)
        elif isinstance(value, Ref):
            fmt = fmt.replace(token, "${" + value.data["Ref"] + "}")
        elif isinstance(value, GetAtt):
            logical, attr = value.data["Fn::GetAtt"]
            fmt = fmt.replace(token, "${" + f"{logical}.{attr}" + "}")
        elif isinstance(value, If):
            cond, yes, no = value.data["Fn::If"]
            rest = {k: v for k, v in values.items() if k != name}
            return If(cond, sub(fmt, **{name: yes}, **rest), sub(fmt, **{name: no}, **rest))
        else:
            raise TypeError(f"sub(): cannot write {type(value).__name__} into {name}")
    return Sub(fmt) if _VAR.search(fmt) else fmt


def vendor_root(b: StackBuilder) -> Any:
    """The vendor account's root ARN (the trusted principal), partition-agnostic."""
    return sub(
        "arn:${AWS::Partition}:iam::${ClazarAccountId}:root",
        ClazarAccountId=b.value("clazar_account_id"),
    )
