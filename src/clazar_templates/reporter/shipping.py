"""How ``handler.py`` ships: the code a template inlines as its reporter's ``index.py``.

The function CloudFormation runs is ``handler.py`` as written, less its comments,
docstrings and type annotations, indented 2 spaces a block (:func:`source`): the templates
must stay under CloudFormation's 51,200-byte ``TemplateBody`` limit, and the tests load and
run exactly this text, so the code they test is the code that ships.
"""

import ast
import functools
import io
import re
import tokenize
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ROLE_CHECKS_MARKER", "handler_text", "shipped_code", "source"]


ROLE_CHECKS_MARKER = "# --- shipped in the co-sell template only"
"""The line of ``handler.py`` after which comes the co-sell stack's check of reused roles."""


def handler_text() -> str:
    """The text of ``handler.py`` as written (with its comments and docstrings)."""
    return Path(__file__).with_name("handler.py").read_bytes().decode("utf-8")


@functools.cache
def source(verify_roles: bool = False) -> str:
    """The code a template inlines as ``Code.ZipFile``: ``handler.py`` without its comments,
    docstrings, type annotations and repeated blank lines, 2 spaces a block, and nothing else
    changed. Without
    ``verify_roles`` (the Role & Access stack, whose reporter has no ``iam:GetRole``) the
    file stops before its co-sell part, the check of reused roles.

    It is cut with :mod:`tokenize` and :mod:`ast` positions, not ``ast.unparse``, so what
    remains of each line is exactly what ``handler.py`` says, whatever Python builds it. The
    tests load and run this text, so the code they test is the code that ships.
    """
    rows, marker = _shipped_handler()
    if not verify_roles:
        rows = [(row, line) for row, line in rows if row < marker]
    removed = "comments, docstrings, type hints" + ("" if verify_roles else ", co-sell part")
    header = f"# clazar_templates/reporter/handler.py without {removed}, 2-space indented\n"
    return header + _joined(rows)


@functools.cache
def _shipped_handler() -> tuple[list[tuple[int, str]], int]:
    """The shipped rows of the whole ``handler.py`` and the row of ``ROLE_CHECKS_MARKER``.

    Both stacks' code comes from this one pass (the slow part of a build's first call): the
    marker is a comment line between top-level statements, so cutting the file there and
    stripping the rest gives the same lines as stripping the file and keeping the rows
    above the marker.
    """
    text = handler_text()
    rows, between = _shipped_rows(text)
    start = text.index(ROLE_CHECKS_MARKER)
    marker = text.count("\n", 0, start) + 1
    if (start and text[start - 1] != "\n") or marker not in between:
        raise ValueError(f"handler.py line {marker}: the marker must be a line of its own")
    return rows, marker


def shipped_code(text: str) -> str:
    """``text`` (Python source) without comments, docstrings, type annotations (and the
    ``typing`` import they needed) and runs of blank lines, indented 2 spaces a block instead
    of 4; a body left empty gets ``pass``. The source must be ASCII (AST columns count
    bytes)."""
    return _joined(_shipped_rows(text)[0])


def _joined(rows: list[tuple[int, str]]) -> str:
    return "\n".join(line for _, line in rows).strip("\n") + "\n"


def _shipped_rows(text: str) -> tuple[list[tuple[int, str]], set[int]]:
    """What :func:`shipped_code` keeps, as (row of ``text``, shipped line) pairs without
    leading or trailing empty lines, and the rows outside every top-level statement.

    One pass over the statements of ``text``'s tree and one :mod:`tokenize` pass, and no
    parse of the result: each line's block depth is the one it has in ``text``, and a typing
    name is looked for among the names of ``text`` outside the annotations and lines taken
    out."""
    tree = ast.parse(text)
    lines = text.splitlines()
    cut = _cuts(tree, lines)
    in_strings: set[int] = set()  # lines inside a multi-line string: kept as they are
    depth, depths = 0, dict[int, int]()  # row -> block depth of its first token
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.INDENT:
            depth += 1
        elif token.type == tokenize.DEDENT:
            depth -= 1
        else:  # the line's first real token: after all its INDENTs/DEDENTs
            depths.setdefault(token.start[0], depth)
        if token.type == tokenize.COMMENT:
            cut.columns.setdefault(token.start[0], []).append(
                (token.start[1], len(lines[token.start[0] - 1]))
            )
        elif token.type == tokenize.STRING and token.end[0] > token.start[0]:
            in_strings.update(range(token.start[0] + 1, token.end[0] + 1))
    kept = _kept(lines, cut, in_strings)
    for number, (row, line) in enumerate(kept, start=1):  # 2 spaces a block instead of 4
        if row not in in_strings and line.strip():
            shift = 2 * depths[row]
            if not line.startswith(" " * shift):
                raise ValueError(f"handler.py: line {number} is not indented 4 spaces a block")
            kept[number - 1] = (row, line[shift:])
    if _uses_typing_name(tree, cut, kept):
        raise ValueError("handler.py uses a typing name outside an annotation")
    statements = {
        row
        for node in tree.body
        for row in range(
            min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]),
            (node.end_lineno or node.lineno) + 1,
        )
    }
    return kept, set(range(1, len(lines) + 1)) - statements


@dataclass
class _Cuts:
    """What the syntax tree says to take out of the source's lines."""

    dropped: set[int] = field(default_factory=set)  # rows
    columns: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # row -> [start, end)
    replaced: dict[int, str] = field(default_factory=dict)  # row -> its new text
    annotations: list[ast.expr] = field(default_factory=list)  # the annotations taken out
    typing_names: set[str] = field(default_factory=set)  # what the typing imports bound


def _cuts(tree: ast.Module, lines: list[str]) -> _Cuts:
    """Annotations, docstrings and ``typing`` imports to take out. Only statements are
    visited (all of these are statements or belong to one), not the expressions in them."""
    cut = _Cuts()
    for node in _statements(tree):
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            cut.annotations.append(node.annotation)
            _delete_annotation(
                cut.columns, node.target.lineno, node.target.end_col_offset or 0, node.annotation
            )
        elif isinstance(node, ast.ImportFrom) and node.module == "typing":
            cut.dropped.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
            cut.typing_names.update(alias.asname or alias.name for alias in node.names)
        if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if not isinstance(node, ast.Module | ast.ClassDef):
            _cut_signature(cut, node, lines)
        first = node.body[0]
        if not (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            continue
        cut.dropped.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
        if len(node.body) == 1:
            cut.replaced[first.lineno] = lines[first.lineno - 1][: first.col_offset] + "pass"
    return cut


def _statements(tree: ast.Module) -> Iterator[ast.AST]:
    """The module, then every statement in it, breadth first (``except`` and ``case``
    clauses too, for the statements they hold)."""
    todo: deque[ast.AST] = deque([tree])
    while todo:
        node = todo.popleft()
        yield node
        todo.extend(
            child
            for child in ast.iter_child_nodes(node)
            if isinstance(child, ast.stmt | ast.excepthandler | ast.match_case)
        )


def _cut_signature(
    cut: _Cuts, node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]
) -> None:
    """The annotations of a function's arguments (a lambda's cannot have any) and return."""
    arguments = node.args
    for arg in (
        *arguments.posonlyargs,
        *arguments.args,
        arguments.vararg,
        *arguments.kwonlyargs,
        arguments.kwarg,
    ):
        if arg is not None and arg.annotation is not None:
            cut.annotations.append(arg.annotation)
            _delete_annotation(
                cut.columns, arg.lineno, arg.col_offset + len(arg.arg), arg.annotation
            )
    if node.returns is not None:
        cut.annotations.append(node.returns)
        line = lines[node.returns.lineno - 1]
        arrow = line.rindex("->", 0, node.returns.col_offset)
        start = len(line[:arrow].rstrip())
        _delete_annotation(cut.columns, node.returns.lineno, start, node.returns)


def _uses_typing_name(tree: ast.Module, cut: _Cuts, kept: list[tuple[int, str]]) -> bool:
    """Whether a name the typing imports bound is left in the code: a Name of ``tree``
    outside the annotations and lines taken out. Its words not in the kept text, none is."""
    if not cut.typing_names:
        return False
    named = re.compile(r"\b(?:" + "|".join(map(re.escape, cut.typing_names)) + r")\b")
    if not named.search("\n".join(line for _, line in kept)):
        return False
    annotated = {id(n) for annotation in cut.annotations for n in ast.walk(annotation)}
    return any(
        isinstance(n, ast.Name)
        and n.id in cut.typing_names
        and id(n) not in annotated
        and (n.lineno not in cut.dropped or n.lineno in cut.replaced)
        for n in ast.walk(tree)
    )


def _kept(lines: list[str], cut: _Cuts, in_strings: set[int]) -> list[tuple[int, str]]:
    """The lines left once ``cut`` is made and runs of blank lines are one, with their rows;
    none empty at either end."""
    kept: list[tuple[int, str]] = []
    for row, line in enumerate(lines, start=1):
        if row in cut.replaced:
            kept.append((row, cut.replaced[row]))
            continue
        if row in cut.dropped:
            continue
        code = line
        for start, end in sorted(cut.columns.get(row, []), reverse=True):
            code = code[:start] + code[end:]
        code = code.rstrip() if row in cut.columns else code
        if row in cut.columns and not code:
            continue  # a line that was only a comment
        if not code.strip() and row not in in_strings and (not kept or not kept[-1][1].strip()):
            continue
        kept.append((row, code))
    while kept and not kept[0][1]:
        del kept[0]
    while kept and not kept[-1][1]:
        del kept[-1]
    return kept


def _delete_annotation(
    cuts: dict[int, list[tuple[int, int]]], row: int, start: int, annotation: ast.expr
) -> None:
    """Delete columns ``start`` to the end of ``annotation`` on ``row`` (one line only)."""
    if annotation.end_lineno != row or annotation.lineno != row:
        raise ValueError(f"handler.py line {row}: an annotation over several lines")
    cuts.setdefault(row, []).append((start, annotation.end_col_offset or 0))
