"""What a user installs: the core wheel renders both templates byte for byte as committed,
each extra's commands say in one line which extra to install, and extras.py names the same
libraries as pyproject.toml's extras."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from clazar_templates.extras import EXIT_MISSING_EXTRA, EXTRAS

ROOT = Path(__file__).resolve().parent.parent
UV = ROOT / ".venv-tools/bin/uv"
SPEC = importlib.util.spec_from_file_location("build_wheel", ROOT / "scripts/build_wheel.py")
assert SPEC
assert SPEC.loader
build_wheel = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(build_wheel)
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def distributions(requirements: list[str]) -> set[str]:
    """The distributions ``requirements`` name, an extra of this project expanded."""
    found = set()
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        assert name
        own = re.fullmatch(r"clazar-templates\[([a-z,]+)\]", requirement)
        if own:
            for extra in own.group(1).split(","):
                found |= distributions(PROJECT["optional-dependencies"][extra])
        else:
            found.add(name.group(0).lower().replace("_", "-"))
    return found


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_extras_py_names_what_pyproject_installs(extra: str) -> None:
    named = {dist.lower().replace("_", "-") for _, dist in EXTRAS[extra]}
    declared = distributions(PROJECT["optional-dependencies"][extra])
    assert declared <= named
    assert named - declared <= ({"botocore"} if "boto3" in declared else set())  # boto3's


def test_the_core_install_names_none_of_the_extras_libraries() -> None:
    core = distributions(PROJECT["dependencies"])
    assert core == {"troposphere", "awacs", "click", "pyyaml"}
    assert not any("==" in r for r in PROJECT["dependencies"])
    for requirements in PROJECT["optional-dependencies"].values():
        assert not any("==" in r for r in requirements)  # exact versions live in the locks


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this tree installed with only its core dependencies (at the locked
    versions) in a fresh venv; its ``clazar-templates``."""
    work = tmp_path_factory.mktemp("core")
    venv = work / "venv"
    given = os.environ.get(build_wheel.WHEEL)  # make test builds it once, for ranges too
    wheel = Path(given) if given else build_wheel.build(work / "dist")
    if UV.is_file():
        subprocess.run([UV, "venv", "-q", "--python", sys.executable, venv], check=True)
        install = [UV, "pip", "install", "-q", "--python", venv / "bin/python"]
    else:  # make INSTALLER=pip
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        install = [venv / "bin/python", "-m", "pip", "install", "-q"]
    lock = ROOT / "requirements/dev.txt"
    pins = lock if UV.is_file() else build_wheel.unhashed(lock, work)
    subprocess.run([*install, "-c", pins, wheel], check=True)
    return venv / "bin/clazar-templates"


def run(tool: Path, *arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool, *arguments], cwd=cwd, text=True, capture_output=True, check=False)


@pytest.mark.slow
def test_the_core_install_builds_both_templates_as_committed(core: Path, tmp_path: Path) -> None:
    python = core.parent / "python"
    for module in ("cfnlint", "boto3", "botocore", "policy_sentry"):
        found = subprocess.run(
            [python, "-c", f"import importlib.util as u; print(u.find_spec({module!r}))"],
            text=True, capture_output=True, check=True,
        )  # fmt: skip
        assert found.stdout == "None\n", module
    built = run(core, "build", "--no-lint", "--out", "out", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    names = sorted(p.name for p in (ROOT / "templates").glob("*.yaml"))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == names
    for name in names:
        assert (tmp_path / "out" / name).read_bytes() == (ROOT / "templates" / name).read_bytes()
    for command in (["permissions"], ["diagram", "clazar-cosell"]):
        assert run(core, *command, cwd=tmp_path).returncode == 0, command


LINE = "pip install 'clazar-templates[{extra}]'"
NEEDS = {
    ("build", "--out", "x"): "lint",
    ("lint", "t.yaml"): "lint",
    ("diff", "t.yaml", "t.yaml"): "lint",
    ("diff", "--bucket", "b", "1.0.0", "1.0.1"): "aws",
    ("publish", "--bucket", "b", "--dry-run"): "aws",
    ("check", "--stack", "s", "--region", "us-east-1"): "aws",
    ("upgrade", "--stack", "s", "--to", "1.0.0", "--region", "us-east-1"): "aws",
    ("stackset-status", "s"): "aws",
    ("stackset-plan", "clazar-cosell", "--org-unit", "r-ab12", "--region", "us-east-1"): "aws",
    ("deployer-policy", "clazar-cosell"): "deployer",
}


@pytest.mark.slow
def test_each_extras_command_says_in_one_line_which_extra_to_install(
    core: Path, tmp_path: Path
) -> None:
    shutil.copy(ROOT / "templates/clazar-cosell.yaml", tmp_path / "t.yaml")
    for command, extra in NEEDS.items():
        done = run(core, *command, cwd=tmp_path)
        assert (done.returncode, done.stdout) == (EXIT_MISSING_EXTRA, ""), command
        lines = done.stderr.splitlines()
        assert len(lines) == 1, (command, done.stderr)
        assert lines[0].startswith(f"Error: {command[0]}"), lines
        assert f"needs the [{extra}] extra" in lines[0], lines
        assert lines[0].split(": ", 2)[-1].startswith(LINE.format(extra=extra)), lines
    assert not (tmp_path / "x").exists()  # build wrote nothing
    refused = run(core, "build", "--out", "x", cwd=tmp_path).stderr
    assert refused.rstrip().endswith("or pass --no-lint to write the templates unlinted")


@pytest.mark.slow
def test_the_library_without_cfn_lint_says_which_extra(core: Path) -> None:
    script = (
        "import clazar_templates as c\n"
        "try:\n    c.lint('Resources: {}')\n"
        "except ImportError as e:\n    print(type(e).__name__, e)\n"
    )
    done = subprocess.run(
        [core.parent / "python", "-c", script], text=True, capture_output=True, check=True
    )
    assert done.stdout == (
        "MissingExtraError linting needs the [lint] extra (cfn-lint not installed): "
        "pip install 'clazar-templates[lint]'\n"
    )
