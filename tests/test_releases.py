"""A version names one content: the committed templates are the texts released under the
library's version (releases/manifest.json), every release keeps its texts and its CHANGELOG
entry, and `make release` (scripts/release.py) bumps, regenerates, records and tags."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_release() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release", ROOT / "scripts/release.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


release = load_release()
LAST = release.current_version()  # the version this tree is released as
NEXT = ".".join([*LAST.split(".")[:2], str(int(LAST.split(".")[2]) + 1)])  # its next patch


def test_the_committed_templates_are_the_ones_released_under_their_version() -> None:
    assert release.check() == []


def test_the_1_0_0_texts_are_kept_for_diff_and_upgrade() -> None:
    released = release.manifest()
    assert next(iter(released)) == "1.0.0"
    assert set(released["1.0.0"]) == {"clazar-marketplace.yaml", "clazar-cosell.yaml"}


def test_a_changed_template_under_the_same_version_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for path in (ROOT / "templates").glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    changed = tmp_path / "clazar-cosell.yaml"
    changed.write_text(changed.read_text(encoding="utf-8") + "# one more line\n", "utf-8")
    monkeypatch.setattr(release, "TEMPLATES", tmp_path)
    version = release.current_version()
    assert [p for p in release.check() if p.startswith("templates/")] == [
        f"templates/clazar-cosell.yaml differs from the text released as {version}: a changed "
        "template needs a new version (`make release VERSION=...`, docs/releasing.md)"
    ]


def test_a_release_without_a_changelog_entry_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## 0.9.0\n", "utf-8")
    monkeypatch.setattr(release, "CHANGELOG", changelog)
    assert "CHANGELOG.md has no entry `## 1.0.0`" in release.check()


def test_an_unreleased_version_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    version_file = tmp_path / "_version.py"
    version_file.write_text('__version__ = "9.9.9"\n', "utf-8")
    monkeypatch.setattr(release, "VERSION_FILE", version_file)
    assert "version 9.9.9 (_version.py) is not released: `make release VERSION=9.9.9`" in (
        release.check()
    )


def git(root: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *arguments], check=True, text=True, capture_output=True
    ).stdout


@pytest.mark.slow
def test_make_release_bumps_regenerates_records_writes_the_diff_and_tags(tmp_path: Path) -> None:
    """The whole release in a copy of the project (its own src/ first on the path)."""
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("src", "templates", "docs", "releases", "scripts"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("README.md", "CHANGELOG.md", "pyproject.toml", ".gitignore"):
        shutil.copy(ROOT / name, copy / name)
    git(copy, "init", "-q")
    git(copy, "config", "user.email", "test@example.com")
    git(copy, "config", "user.name", "test")
    git(copy, "add", "-A")
    git(copy, "commit", "-qm", "base")
    env = {**os.environ, "PYTHONPATH": str(copy / "src")}

    def step(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(copy / "scripts/release.py"), *arguments],
            cwd=copy, env=env, text=True, capture_output=True, check=False,
        )  # fmt: skip

    refused = step("prepare", LAST)
    assert (refused.returncode, refused.stderr) == (
        1, f"release: {LAST} is not above the last release, {LAST}\n"
    )  # fmt: skip
    done = step("prepare", NEXT, "--date", "2026-12-08")
    assert done.returncode == 0, done.stderr
    assert f'__version__ = "{NEXT}"' in (copy / "src/clazar_templates/_version.py").read_text()
    for name in ("clazar-marketplace.yaml", "clazar-cosell.yaml"):
        text = (copy / "templates" / name).read_text(encoding="utf-8")
        assert f"    Version: {NEXT}\n" in text
        assert (copy / "releases" / NEXT / name).read_text(encoding="utf-8") == text
        assert (copy / "releases" / LAST / name).read_text(encoding="utf-8") == (
            ROOT / "releases" / LAST / name
        ).read_text(encoding="utf-8")
    changelog = (copy / "CHANGELOG.md").read_text(encoding="utf-8")
    assert changelog.index(f"## {NEXT} (2026-12-08)") < changelog.index(f"## {LAST} (")
    assert f"### Permission changes from {LAST} (`clazar-templates diff`)" in changelog
    for stack in ("clazar-marketplace", "clazar-cosell"):
        assert f"#### Permission changes: {stack} {LAST} → {stack} {NEXT}\n" in changelog
    refused = step("finish")
    assert refused.returncode == 1
    assert "placeholder" in refused.stderr
    (copy / "CHANGELOG.md").write_text(
        changelog.replace(release.PLACEHOLDER, "Nothing a seller gains; only the version."), "utf-8"
    )
    finished = step("finish")
    assert finished.returncode == 0, finished.stderr
    assert git(copy, "tag", "--list") == f"v{NEXT}\n"
    assert git(copy, "status", "--porcelain") == ""
    assert git(copy, "log", "-1", "--format=%s") == f"Release {NEXT}\n"
