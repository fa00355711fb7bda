"""`build --out DIR` where a template's path cannot be a file (issue 24, item 15): one line
naming the path, exit 2, no traceback, and nothing written."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from clazar_templates.cli import cli
from clazar_templates.template.render import PathError, write_all


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def build(out: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["build", "--no-lint", "--out", str(out)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_a_template_path_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "clazar-cosell.yaml").mkdir()
    code, output = build(tmp_path)
    assert code == 2
    errors = [line for line in output.splitlines() if line.startswith("Error")]
    assert errors == [
        f"Error: Invalid value for --out: {tmp_path / 'clazar-cosell.yaml'} is a directory, "
        "not a file; nothing was written"
    ]
    assert files_under(tmp_path) == ["clazar-cosell.yaml"]  # clazar-marketplace.yaml neither


def test_an_out_directory_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("mine\n")
    code, output = build(tmp_path / "file" / "templates")
    assert code == 2
    assert f"{tmp_path / 'file'} is a file, not a directory" in output
    assert "Traceback" not in output
    assert files_under(tmp_path) == ["file"]
    assert (tmp_path / "file").read_text() == "mine\n"


def test_a_failure_while_staging_names_the_path_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the checks, any OSError (a full disk, a read-only directory) is still one error
    naming the path, and the files staged so far are removed."""
    real = tempfile.mkstemp
    calls: list[str] = []

    def mkstemp(*args: object, **kwargs: object) -> tuple[int, str]:
        calls.append("x")
        if len(calls) == 2:
            raise PermissionError(13, "Permission denied", str(tmp_path / "b.yaml"))
        return real(*args, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    with pytest.raises(PathError) as raised:
        write_all({tmp_path / "a.yaml": "a\n", tmp_path / "b.yaml": "b\n"}, field="out")
    assert raised.value.field == "out"
    assert (
        str(raised.value) == f"out: {tmp_path / 'b.yaml'}: Permission denied; nothing was written"
    )
    assert files_under(tmp_path) == []
