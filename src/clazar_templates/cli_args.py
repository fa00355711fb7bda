"""What the command line parses before it calls the library, and how bad input is told.

``NAME=VALUE`` pairs (``--set``, ``--param``), the one lookup of stacks by name, and the
one translation of a :class:`~clazar_templates.errors.FieldError` into click's usage error
(exit 2, naming the argument or option); the AWS session of ``--profile``/``--region``, ``-``
as stdin, OS errors and prompts as one line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from .aws.errors import no_region
from .errors import FieldError
from .options import OptionError
from .stacks import STACKS, Stack, options_for, stack

__all__ = [
    "aws_session",
    "bad_input",
    "build_options",
    "echo_json",
    "hidden_prompt",
    "name_values",
    "os_message",
    "read_input",
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


def aws_session(
    profile: str | None,
    region: str | None,
    *,
    region_option: str = "--region",
    need_region: bool = True,
) -> Any:
    """The boto3 session of ``--profile`` and ``region`` (default: your AWS configuration),
    also made boto3's default session for this command (the library's ``boto3.client()``
    calls use it). Exit 2 in one line for an unknown profile or, with ``need_region``, when
    no region is configured (rather than silently using us-east-1)."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as error:
        bad_input(f"{'--profile' if profile else 'AWS_PROFILE'}: {error}")
    if need_region and not session.region_name:
        bad_input(f"{region_option}: {no_region(region_option)}")
    before = boto3.DEFAULT_SESSION
    boto3.DEFAULT_SESSION = session

    def restore() -> None:
        boto3.DEFAULT_SESSION = before

    click.get_current_context().call_on_close(restore)
    return session


def read_input(name: str) -> str:
    """The text of file ``name``, or of stdin for ``-``; exit 2 naming an unreadable file."""
    if name == "-":
        return sys.stdin.read()
    try:
        with open(name, encoding="utf-8") as file:
            return file.read()
    except OSError as error:
        bad_input(f"cannot read {name}: {error.strerror or error}")
    except UnicodeDecodeError:
        bad_input(f"cannot read {name}: not UTF-8 text")


def os_message(error: OSError) -> str:
    """An OS error as one line naming the path: ``/proc/nope: Permission denied``."""
    reason = error.strerror or str(error)
    paths = [str(p) for p in (error.filename, error.filename2) if p is not None]
    return f"{' -> '.join(paths)}: {reason}" if paths else reason


def has_terminal() -> bool:
    """Whether a hidden prompt can be answered: stdin is a terminal (getpass reads it)."""
    return sys.stdin.isatty()


def hidden_prompt(name: str, env_var: str) -> str:
    """Ask for ``name`` without echoing it; without a terminal, exit 2 saying so and naming
    ``env_var`` (a pipe would otherwise get getpass's warning and "Aborted!")."""
    if not has_terminal():
        bad_input(
            f"{env_var}: {name} needs a value and there is no terminal to ask for it on: "
            f"set {env_var} in the environment"
        )
    return str(click.prompt(f"{name} (hidden)", hide_input=True, err=True))


def echo_json(data: object) -> None:
    """A ``--format json`` result on stdout: indented, one trailing newline."""
    click.echo(json.dumps(data, indent=2))
