"""How a policy document AWS holds differs from the one the stack created.

Statements are matched by Sid and compared as sets (effect, actions, resources, principals,
conditions), so order, the case of actions, ``"x"`` against ``["x"]`` and ``false`` against
``"false"`` are never a difference; a statement added, dropped or with any element more or
less is. What changed is said in words a reviewer reads on one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...template.reading import as_list, statements
from ...template.resolve import as_text

__all__ = ["grants", "statement_changes"]

FIELDS = ("Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource")
SHOWN = 3  # elements named in a summary before "+N"


def statement_changes(expected: Any, actual: Any) -> list[str]:
    """Each difference of ``actual`` from ``expected`` (policy documents), as a phrase:
    ``statement X is missing``, ``statement Y was added (Allow * on *)``,
    ``statement Z: Action adds iam:*, Resource drops arn:...``."""
    want, have = _by_sid(expected), _by_sid(actual)
    changes = [f"statement {sid} is missing" for sid in want if sid not in have]
    for sid, statement in have.items():
        if sid not in want:
            changes.append(f"statement {sid} was added ({grants(statement)})")
            continue
        before, after = _shape(want[sid]), _shape(statement)
        parts = [_delta(name, before[name], after[name]) for name in before]
        if any(parts):
            changes.append(f"statement {sid}: " + ", ".join(p for p in parts if p))
    return changes


def grants(document_or_statement: Any) -> str:
    """What a document (or one statement) grants, shortly: ``Allow s3:GetObject on arn:...``."""
    found = statements(document_or_statement)
    if not found and isinstance(document_or_statement, Mapping):
        one = dict(document_or_statement)
        found = [one] if "Effect" in one else []
    said = []
    for statement in found:
        shape = _shape(statement)
        who = _either(shape, "Principal", "NotPrincipal")
        actions = _either(shape, "Action", "NotAction")
        where = _either(shape, "Resource", "NotResource")
        condition = " if " + _few(shape["Condition"]) if shape["Condition"] else ""
        words = [_few(shape["Effect"]), who, actions, f"on {where}" if where else ""]
        said.append(" ".join(w for w in words if w) + condition)
    return "; ".join(said) or "no statements"


def _either(shape: Mapping[str, frozenset[str]], name: str, negated: str) -> str:
    if shape[negated]:
        return f"all but {_few(shape[negated])}"
    return _few(shape[name])


def _by_sid(document: Any) -> dict[str, dict[str, Any]]:
    return {
        str(st.get("Sid") or f"#{number} (no Sid)"): st
        for number, st in enumerate(statements(document), 1)
    }


def _shape(statement: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """The statement as sets of text, one per element."""
    shape = {name: frozenset(_texts(statement.get(name))) for name in FIELDS}
    for name in ("Action", "NotAction"):
        shape[name] = frozenset(a.lower() for a in shape[name])
    for name in ("Principal", "NotPrincipal"):
        value = statement.get(name)
        if isinstance(value, Mapping):
            shape[name] = frozenset(f"{k}:{v}" for k, vs in value.items() for v in _texts(vs))
    conditions = statement.get("Condition")
    shape["Condition"] = frozenset(
        f"{operator} {key}={value}"
        for operator, tests in (conditions.items() if isinstance(conditions, Mapping) else [])
        for key, values in (tests.items() if isinstance(tests, Mapping) else [])
        for value in _texts(values)
    )
    return shape


def _delta(name: str, before: frozenset[str], after: frozenset[str]) -> str:
    added, dropped = sorted(after - before), sorted(before - after)
    words = [f"adds {_few(added)}" if added else "", f"drops {_few(dropped)}" if dropped else ""]
    return f"{name} " + " and ".join(w for w in words if w) if added or dropped else ""


def _few(values: Any) -> str:
    items = sorted(values)
    more = f" +{len(items) - SHOWN}" if len(items) > SHOWN else ""
    return ", ".join(items[:SHOWN]) + more


def _texts(value: Any) -> list[str]:
    return [as_text(v) for v in as_list(value) if v is not None]
