"""The Python surface a consumer codes against: typed (mypy --strict on a consumer script),
one documented base for every error, option fields documented for help()."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import clazar_templates

ROOT = Path(__file__).parent.parent
PACKAGE = Path(clazar_templates.__file__).parent
NAMES = [n for n in clazar_templates.__all__ if n != "__version__"]

CONSUMER = """
from typing import assert_type

import clazar_templates as ct
from clazar_templates import ClazarError, MarketplaceOptions


def render() -> str:
    options = MarketplaceOptions(enable_cas=False).replace(role_name="Clazar")
    assert_type(options, MarketplaceOptions)
    text: str = ct.to_yaml(ct.build_marketplace(options))
    return text + ct.diagram("marketplace", options)


def grew(old: str, new: str) -> bool:
    try:
        return ct.diff(old, new, region="eu-west-1").grew
    except ct.DiffError as error:
        field: str | None = error.field
        raise SystemExit(f"{field}: {error.message}") from None


def plan() -> str:
    return ct.stackset_plan("marketplace", org_units=["r-abcd"], regions=["us-east-1"]).to_json()


def failed(name: str) -> list[str]:
    return [i.account for i in ct.stackset_status(name) if i.failed]


def upgrade(stack: str) -> bool:
    try:
        result = ct.apply_upgrade(ct.plan_upgrade(stack, "1.0.0", keep_change_set=True))
    except (ct.UpgradeError, ct.ResolveError, ct.FieldError) as error:
        assert_type(error, ct.UpgradeError | ct.ResolveError | ct.FieldError)
        return False
    except ClazarError:
        return False
    return result.ok
"""


def reveal_script() -> str:
    lines = ["import clazar_templates as ct", *(f"reveal_type(ct.{n})" for n in NAMES)]
    return "\n".join(lines) + "\n"


def mypy(script: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--strict",
            "--cache-dir",
            str(cache),
            str(script),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MYPYPATH": str(PACKAGE.parent)},
        cwd=ROOT,
    )


@pytest.mark.slow  # runs mypy (a few seconds)
def test_a_consumer_script_type_checks_strictly_and_no_public_name_is_any(tmp_path: Path) -> None:
    consumer = tmp_path / "consumer.py"
    consumer.write_text(CONSUMER, encoding="utf-8")
    checked = mypy(consumer, tmp_path / "cache")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Success: no issues found in 1 source file" in checked.stdout

    revealing = tmp_path / "reveal.py"
    revealing.write_text(reveal_script(), encoding="utf-8")
    revealed = mypy(revealing, tmp_path / "cache").stdout
    types = re.findall(r'reveal\.py:(\d+): note: Revealed type is "(.*)"', revealed)
    assert len(types) == len(NAMES), revealed
    for line, shown in types:
        name = NAMES[int(line) - 2]
        assert shown != "Any", f"{name} is Any to a type checker (the TYPE_CHECKING block)"
        returns = shown.rpartition(") -> ")[2] if shown.startswith("def ") else shown
        if name not in {"build_marketplace", "build_cosell"}:  # a troposphere Template: untyped
            assert returns != "Any", f"{name} returns Any"


def test_the_type_checking_block_names_every_export() -> None:
    """``__getattr__`` loads what ``_EXPORTS`` names; a name missing from the TYPE_CHECKING
    imports is Any to every consumer's type checker."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    (block,) = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
    ]
    imports = [n for n in block.body if isinstance(n, ast.ImportFrom)]
    typed = {a.asname or a.name for n in imports for a in n.names}
    assert typed == set(NAMES)


def test_every_error_is_exported_under_one_documented_base() -> None:
    errors = {n for n in NAMES if n.endswith("Error")}
    for name in errors:
        assert issubclass(getattr(clazar_templates, name), clazar_templates.ClazarError), name
    assert "ClazarError" in (clazar_templates.__doc__ or "")
    defined = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                defined.add(node.name)
    assert defined <= errors, f"not exported: {sorted(defined - errors)}"


@pytest.mark.parametrize("options_class", ["MarketplaceOptions", "CosellOptions"])
def test_every_option_field_is_documented_for_help(options_class: str) -> None:
    import dataclasses

    from clazar_templates.options import option_fields

    cls = getattr(clazar_templates, options_class)
    doc = cls.__doc__ or ""
    for f in dataclasses.fields(cls):
        assert re.search(rf"^{f.name}\b", doc, re.MULTILINE), f"{f.name} is not in help()"
    for name, spec in option_fields(cls):
        assert f"{name} -> Parameter {spec.parameter}" in doc
        assert " ".join(spec.description.split()[:6]) in " ".join(doc.split())


def test_replace_keeps_the_options_class() -> None:
    options = clazar_templates.CosellOptions().replace(enable_event_bridge=False)
    assert type(options) is clazar_templates.CosellOptions
    with pytest.raises(clazar_templates.OptionError, match="enable_event_bridge"):
        options.replace(enable_event_bridge="yes")
