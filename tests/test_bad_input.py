"""Every option of both stacks, given malformed values, through the library and the CLI.

The matrix is derived from the option declarations (``option_fields`` and their kinds) plus
the build-only fields, so an option added later is covered. Each bad value must raise one
``OptionError`` naming the field and the accepted form; the CLI must exit 2 with one error
naming the option, and leave the ``--out`` directory (and ``templates/``) byte-identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from clazar_templates import options as o
from clazar_templates.cli import cli
from clazar_templates.stacks import STACKS, Stack, options_for
from conftest import valid_value

ROOT = Path(__file__).resolve().parents[1]
BUILD_ONLY = {
    # field -> malformed values (label, value); these have no Option declaration
    "partition": [("unknown partition", "aws-mars"), ("empty", "")],
    "version": [("wrong pattern", "1.0 beta"), ("too long", "1" * 65), ("empty", "")],
    "api_url": [("not https", "http://api.clazar.io/report"), ("not a URL", "api.clazar.io")],
}


def malformed(spec: o.Option) -> list[tuple[str, Any]]:
    """(label, value) pairs that ``spec``'s kind must refuse."""
    kind = spec.kind
    if kind.is_flag:
        return [("not true/false", "yes"), ("empty", ""), ("string for bool", "true")]
    if kind.is_number:
        least = kind.min_value or 0
        return [("below the least", least - 1), ("not a number", "x"), ("bool for number", True)]
    good = str(valid_value(spec))
    cases: list[tuple[str, Any]] = [
        ("too long", good + good[-1] * 1300),
        ("wrong pattern", "has space!"),
        ("bool for string", True),
    ]
    if not kind.optional:
        cases.append(("empty", ""))
    if good.startswith("arn:aws:"):
        cases.append(("wrong partition", good.replace("arn:aws:", "arn:aws-cn:", 1)))
        parts = good.split(":")
        cases.append(("wrong service", ":".join([*parts[:2], "s3", *parts[3:]])))
    return cases


def matrix(cli_only: bool) -> list[Any]:
    cases = []
    for short, target in STACKS.items():
        fields = [(n, malformed(s)) for n, s in o.option_fields(target.options)]
        fields += list(BUILD_ONLY.items())
        for name, bad in fields:
            for label, value in bad:
                if cli_only and (not isinstance(value, str) or label == "string for bool"):
                    continue  # the command line has only strings, and parses "true"
                shown = f"{short}-{name}-{label}".replace(" ", "_")
                cases.append(pytest.param(target, name, value, id=shown))
    return cases


def test_the_matrix_covers_every_option_and_kind() -> None:
    names = {n for t in STACKS.values() for n, _ in o.option_fields(t.options)}
    covered = {p.values[1] for p in matrix(cli_only=False)}
    assert covered == names | set(BUILD_ONLY)
    labels = {p.id.rsplit("-", 1)[1] for p in matrix(cli_only=False)}
    assert {"empty", "too_long", "wrong_pattern", "wrong_partition", "wrong_service"} <= labels


# --- The library ---------------------------------------------------------------------------


@pytest.mark.parametrize(("target", "name", "value"), matrix(cli_only=False))
def test_library_names_the_field_and_the_form(target: Stack, name: str, value: Any) -> None:
    with pytest.raises(o.OptionError) as caught:
        target.options(**{name: value})
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.field == name
    assert str(error).startswith(f"{name}: ")
    assert "expected " in str(error)


@pytest.mark.parametrize("short", list(STACKS))
def test_unknown_option_is_named(short: str) -> None:
    with pytest.raises(o.OptionError) as caught:
        options_for(STACKS[short], {"rolename": "x"})
    assert caught.value.field == "rolename"
    assert "role_name" in str(caught.value)  # the accepted names are listed
    with pytest.raises(TypeError, match="rolename"):
        STACKS[short].options(rolename="x")


# --- The command line ----------------------------------------------------------------------


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (hidden ones too) and its bytes."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An --out directory that already holds templates and something else."""
    directory = tmp_path / "out"
    directory.mkdir()
    for target in STACKS.values():
        (directory / f"{target.name}.yaml").write_text(f"# old {target.name}\n")
    (directory / "notes.txt").write_text("keep me\n")
    return directory


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def assert_one_clear_error(result: Any, name: str) -> None:
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    assert name in errors[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("target", "name", "value"), matrix(cli_only=True))
def test_cli_exits_2_naming_the_option_and_writes_nothing(
    out: Path, target: Stack, name: str, value: str
) -> None:
    before = snapshot(out)
    result = run("build", target.short, "--out", str(out), "--set", f"{name}={value}")
    assert_one_clear_error(result, name)
    assert snapshot(out) == before


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--set", "rolename=x"], "rolename"),
        (["--set", "role_name"], "role_name"),  # no "="
        (["no-such-stack"], "no-such-stack"),
        (["--format", "toml"], "toml"),
    ],
    ids=["unknown-option", "no-equals", "unknown-stack", "unknown-format"],
)
def test_cli_refuses_unknown_names(out: Path, args: list[str], named: str) -> None:
    before = snapshot(out)
    assert_one_clear_error(run("build", "--out", str(out), *args), named)
    assert snapshot(out) == before


def test_the_real_templates_directory_is_left_alone() -> None:
    templates = ROOT / "templates"
    before = snapshot(templates)
    result = run("build", "--out", str(templates), "--set", "enable_cas=maybe")
    assert_one_clear_error(result, "enable_cas")
    assert snapshot(templates) == before
