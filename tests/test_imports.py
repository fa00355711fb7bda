"""Arrows point down: nothing below the command line imports it (or click), and nothing
imports the package root, whose names are only the public ones, loaded lazily."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import clazar_templates

PACKAGE = Path(clazar_templates.__file__).parent
COMMAND_LINE = {"clazar_templates.cli", "clazar_templates.cli_args", "clazar_templates.__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports (``from X import y`` counts X, and X.y when it is a
    submodule), relative imports resolved."""
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            submodules = [f"{base}.{a.name}" for a in node.names]
            real = [m for m in submodules if _exists(m)]
            found.update(real if real and len(real) == len(submodules) else [base])
    return found


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    root = PACKAGE / relative
    return root.with_suffix(".py").exists() or (root / "__init__.py").exists()


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if module_name(p) != "clazar_templates")


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_no_module_imports_the_package_root(path: Path) -> None:
    assert "clazar_templates" not in imported(path)


@pytest.mark.parametrize(
    "path", [p for p in MODULES if module_name(p) not in COMMAND_LINE], ids=module_name
)
def test_only_the_command_line_imports_click_or_itself(path: Path) -> None:
    names = imported(path)
    assert not names & {"click", "clazar_templates.cli", "clazar_templates.cli_args"}


def test_every_public_name_imports_and_bad_input_is_one_shape() -> None:
    """What the platform's tooling imports: every name of ``__all__`` resolves, and every
    error the library raises for bad input is a ``FieldError`` (one ``except`` for all)."""
    import importlib

    for name in clazar_templates.__all__:
        assert getattr(clazar_templates, name) is not None, name
    errors = {
        "options": "OptionError",
        "aws.publishing": "PublishError",
        "aws.launch": "LaunchError",
        "aws.checks": "CheckError",
        "aws.stacksets": "StackSetError",
        "review.diff": "DiffError",
        "review.deployer": "DeployerError",
        "aws.upgrade": "UpgradeInputError",
    }
    for module, name in errors.items():
        error = getattr(importlib.import_module(f"clazar_templates.{module}"), name)
        assert issubclass(error, clazar_templates.FieldError), name
        assert issubclass(error, ValueError), name
