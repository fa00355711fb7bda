"""What the command line parses before it calls the library, and how bad input is told.

``NAME=VALUE`` pairs (``--set``, ``--param``), the one lookup of stacks by name, and the
one translation of a :class:`~clazar_templates.errors.FieldError` into click's usage error
(exit 2, naming the argument or option).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from .errors import FieldError
from .options import OptionError
from .stacks import STACKS, Stack, options_for, stack

__all__ = [
    "bad_input",
    "build_options",
    "name_values",
    "stacks_named",
    "usage_error",
    "usage_errors",
]


def name_values(pairs: tuple[str, ...], hint: str = "--set") -> dict[str, str]:
    """``NAME=VALUE`` arguments (``--set``, ``--param``) as a dict; exit 2 on a malformed one."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            form = "OPTION=VALUE" if hint == "--set" else "NAME=VALUE"
            raise click.BadParameter(f"{pair!r} is not {form}", param_hint=hint)
        values[name.strip()] = value
    return values


def stacks_named(names: Sequence[str], field: str = "STACK") -> list[Stack]:
    """The stacks ``names`` (short or template names; every stack when none is given);
    FieldError(``field``) naming an unknown one and the known ones."""
    try:
        return [stack(n) for n in names] if names else list(STACKS.values())
    except KeyError as error:
        raise FieldError(field, str(error.args[0])) from None


def build_options(targets: list[Stack], pairs: tuple[str, ...]) -> dict[str, Any]:
    """Each target's options from ``--set`` pairs (template name -> options); exit 2 on a
    bad name or value, naming the option and the accepted form."""
    settings = name_values(pairs)
    try:
        return {t.name: options_for(t, settings) for t in targets}
    except OptionError as error:
        raise click.BadParameter(str(error), param_hint="--set") from None


def usage_error(error: FieldError) -> click.ClickException:
    """``error`` as click reports it: a usage error (exit 2) naming the argument (``stack``
    is ``STACK``, ``bucket_region`` is ``--bucket-region``), or, when no field is at fault,
    one ``Error:`` line (exit 1)."""
    field = error.field
    if field is None:
        return click.ClickException(str(error))
    if field == "stack":
        field = "STACK"
    elif not (field.startswith("-") or field.isupper()):
        field = f"--{field.replace('_', '-')}"
    return click.BadParameter(error.message, param_hint=field)


@contextmanager
def usage_errors() -> Iterator[None]:
    """Turn a FieldError raised inside into :func:`usage_error`."""
    try:
        yield
    except FieldError as error:
        raise usage_error(error) from None


def bad_input(message: object) -> NoReturn:
    """The one-line form of bad input (``check``, ``diff``): ``Error: ...``, exit 2."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)
