"""A template's Conditions as formulas, simplified and put into words.

A Condition (``Fn::Equals`` of a parameter and a value, under ``Fn::And``/``Fn::Or``/
``Fn::Not`` and named ``Condition``s) is read into a :data:`Cond`: True, False, a :class:`Lit`
("parameter equals value", or differs from it) or an :class:`Op` (all or any of its items).
:func:`simplify` takes out what is already decided; :func:`describe` says the rest, in the
permission reference's words or the diagram's; :func:`parameters` names the parameters a
formula depends on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .reading import NO_VALUE

__all__ = [
    "DIAGRAM",
    "PSEUDO",
    "REFERENCE",
    "Cond",
    "Formulas",
    "Lit",
    "Op",
    "Words",
    "describe",
    "if_conditions",
    "literals",
    "parameters",
    "simplify",
]

PSEUDO = {
    "AWS::AccountId": "this account's ID",
    "AWS::StackId": "this stack's ID",
    "AWS::StackName": "this stack's name",
    "AWS::Region": "this stack's region",
    "AWS::Partition": "this partition",
}


@dataclass(frozen=True)
class Lit:
    """The condition "``parameter`` equals ``value``" (or differs from it)."""

    parameter: str
    value: str
    equal: bool = True


@dataclass(frozen=True)
class Op:
    """All (``kind="and"``) or any (``"or"``) of ``items``."""

    kind: str
    items: tuple[Cond, ...]


Cond = bool | Lit | Op


# --- the algebra --------------------------------------------------------------------------


def _known_to(lit: Lit, known: frozenset[Lit]) -> Cond:
    """``lit`` given that every literal of ``known`` holds: True, False or unchanged."""
    if lit in known:
        return True
    for k in known:
        if k.parameter != lit.parameter:
            continue
        if k.equal and (lit.equal != (k.value == lit.value)):
            return False
        if k.equal and not lit.equal:
            return True
        if not k.equal and lit.equal and k.value == lit.value:
            return False
    return lit


def literals(cond: Cond) -> frozenset[Lit]:
    """The literals ``cond`` implies by itself (its top-level conjuncts)."""
    if isinstance(cond, Lit):
        return frozenset([cond])
    if isinstance(cond, Op) and cond.kind == "and":
        return frozenset(i for i in cond.items if isinstance(i, Lit))
    return frozenset()


def _flat(kind: str, items: Iterable[Cond]) -> list[Cond]:
    out: list[Cond] = []
    for item in items:
        out += _flat(kind, item.items) if isinstance(item, Op) and item.kind == kind else [item]
    return list(dict.fromkeys(out))


def simplify(cond: Cond, known: frozenset[Lit] = frozenset()) -> Cond:
    """``cond`` with what ``known`` (and its own conjuncts) already decide taken out."""
    if isinstance(cond, bool):
        return cond
    if isinstance(cond, Lit):
        return _known_to(cond, known)
    if cond.kind == "or":
        items = _flat("or", (simplify(i, known) for i in _flat("or", cond.items)))
        alternatives = {i for i in items if isinstance(i, Lit)}
        if True in items or any(
            Lit(i.parameter, i.value, not i.equal) in alternatives for i in alternatives
        ):
            return True
        items = [i for i in items if i is not False]
    else:
        first = [simplify(i, known) if isinstance(i, Lit) else i for i in _flat("and", cond.items)]
        lits = frozenset(i for i in first if isinstance(i, Lit))
        if any(_known_to(lit, lits - {lit}) is False for lit in lits):
            return False
        items = _flat(
            "and", (i if isinstance(i, Lit) else simplify(i, known | lits) for i in first)
        )
        if False in items:
            return False
        items = [i for i in items if i is not True]
    if not items:
        return cond.kind == "and"
    return items[0] if len(items) == 1 else Op(cond.kind, tuple(items))


def parameters(cond: Cond) -> set[str]:
    """The parameters (and pseudo parameters) ``cond`` depends on."""
    if isinstance(cond, Lit):
        return {cond.parameter}
    if isinstance(cond, Op):
        return {p for item in cond.items for p in parameters(item)}
    return set()


def if_conditions(node: Any) -> list[str]:
    """The Condition names of every ``Fn::If`` anywhere in ``node``, in order."""
    if isinstance(node, list):
        return [name for item in node for name in if_conditions(item)]
    if not isinstance(node, dict):
        return []
    found = [str(node["Fn::If"][0])] if list(node) == ["Fn::If"] else []
    return found + [name for value in node.values() for name in if_conditions(value)]


# --- words --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """How a literal is said (``{p}``: the parameter, ``{v}``: the value)."""

    equal: str
    differ: str
    empty: str
    given: str
    pseudo: bool  # pseudo parameters in words ("this stack's region is `us-east-1`")


# The permission reference's words: "`EnableCas=true` and `CasBucketName` is empty".
REFERENCE = Words("`{p}={v}`", "`{p}≠{v}`", "`{p}` is empty", "`{p}` is set", pseudo=True)
# The diagram's, shorter: "EnableCas=true and CasBucketName empty".
DIAGRAM = Words("{p}={v}", "not {p}={v}", "{p} empty", "{p} given", pseudo=False)


def describe(cond: Cond, nested: bool = False, words: Words = REFERENCE) -> str:
    """``cond`` in words: "always", or e.g. "`EnableCas=true` and `CasBucketName` is empty"."""
    if isinstance(cond, bool):
        return "always" if cond else "never"
    if isinstance(cond, Lit):
        if words.pseudo and cond.parameter in PSEUDO:
            return f"{PSEUDO[cond.parameter]} is {'' if cond.equal else 'not '}`{cond.value}`"
        if cond.value == "":
            return (words.empty if cond.equal else words.given).format(p=cond.parameter)
        return (words.equal if cond.equal else words.differ).format(p=cond.parameter, v=cond.value)
    text = f" {cond.kind} ".join(describe(i, nested=True, words=words) for i in cond.items)
    return f"({text})" if nested else text


# --- reading a template's Conditions ------------------------------------------------------


class Formulas:
    """A template's Conditions read as formulas over its parameters.

    ``two_valued``: "flag ≠ true" of a parameter with two allowed values is read as
    "flag = false" (the permission reference says it so; the diagram keeps the template's).
    """

    def __init__(self, data: Mapping[str, Any], two_valued: bool = True) -> None:
        self.parameters: dict[str, Any] = dict(data.get("Parameters", {}))
        self.conditions: dict[str, Any] = dict(data.get("Conditions", {}))
        self.two_valued = two_valued

    def condition(self, name: str | None) -> Cond:
        """The Condition ``name`` as a formula (None: always); ValueError if it is not one
        of equalities of a parameter and a value."""
        return True if name is None else self.formula(self.conditions[name])

    def formula(self, node: Any) -> Cond:
        ((key, arg),) = node.items()
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Not":
            return self.negate(self.formula(arg[0]))
        if key in ("Fn::And", "Fn::Or"):
            return Op(key[4:].lower(), tuple(self.formula(a) for a in arg))
        if key == "Fn::Equals":
            left, right = sorted(arg, key=lambda a: isinstance(a, str))
            ref = left.get("Ref") if isinstance(left, dict) else None
            if isinstance(right, str) and (ref in self.parameters or ref in PSEUDO):
                return self.literal(ref, right, True)
        raise ValueError(f"cannot describe the condition {node!r}")

    def literal(self, parameter: str, value: str, equal: bool) -> Lit:
        """A literal; "flag ≠ true" of a two-valued parameter becomes "flag = false"."""
        allowed = self.parameters.get(parameter, {}).get("AllowedValues", [])
        if self.two_valued and not equal and len(allowed) == 2 and value in allowed:
            return Lit(parameter, next(v for v in allowed if v != value))
        return Lit(parameter, value, equal)

    def negate(self, cond: Cond) -> Cond:
        if isinstance(cond, bool):
            return not cond
        if isinstance(cond, Lit):
            return self.literal(cond.parameter, cond.value, not cond.equal)
        flipped = "or" if cond.kind == "and" else "and"
        return Op(flipped, tuple(self.negate(i) for i in cond.items))

    def choices(self, node: Any, cond: Cond = True) -> list[tuple[Any, Cond]]:
        """Every value ``node`` can take, with the condition under which it does."""
        if isinstance(node, list):
            return [choice for item in node for choice in self.choices(item, cond)]
        if isinstance(node, dict) and list(node) == ["Fn::If"]:
            name, yes, no = node["Fn::If"]
            taken = self.condition(name)
            return self.choices(yes, Op("and", (cond, taken))) + self.choices(
                no, Op("and", (cond, self.negate(taken)))
            )
        return [] if node == NO_VALUE else [(node, cond)]
