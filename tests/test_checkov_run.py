"""scripts/checkov_templates.py cannot be made clean by the environment (issue 22): checkov
runs with none of this process's variables and an empty HOME, in a directory holding only
the templates; a skip no resource's Metadata declares fails the run; and only a clean run
is remembered. The fake checkov here records what it was given; the real one (slow) shows
that CKV_SKIP_CHECK and a ~/.checkov.yaml do not change its verdict."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKOV = "CLAZAR_CHECKOV"
"""The real checkov; ``make test`` sets it (it builds .venv-checkov), so that there the
tests that need it run, or fail, but never skip."""


def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "checkov_templates", ROOT / "scripts" / "checkov_templates.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


checkov_templates = script()

BUCKET = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Data:
    Type: AWS::S3::Bucket
    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_21
            comment: versioning is not wanted for this test bucket
"""
BUCKET_SKIPS = {"bucket.yaml": {"Data": ["CKV_AWS_21"]}}

FAKE = """#!{python}
import json, os, sys
with open({record!r}, "w") as out:
    json.dump({{"env": dict(os.environ), "argv": sys.argv[1:], "cwd": os.getcwd(),
               "cwd_files": sorted(os.listdir(".")),
               "home_files": sorted(os.listdir(os.environ["HOME"]))}}, out)
print(open({report!r}).read())
sys.exit(1)
"""


def report(skipped: list[dict[str, Any]], resources: int = 1) -> dict[str, Any]:
    return {
        "check_type": "cloudformation",
        "results": {"passed_checks": [], "failed_checks": [], "skipped_checks": skipped},
        "summary": {"resource_count": resources, "parsing_errors": 0},
    }


def skipped(check: str, resource: str = "AWS::S3::Bucket.Data") -> dict[str, Any]:
    return {"check_id": check, "resource": resource, "file_path": "/bucket.yaml"}


def fake_checkov(tmp_path: Path, answer: dict[str, Any]) -> tuple[str, Path]:
    """A checkov that writes ``answer`` and records its environment; (its path, the record)."""
    record, answered = tmp_path / "record.json", tmp_path / "report.json"
    answered.write_text(json.dumps(answer))
    fake = tmp_path / "fake-checkov"
    fake.write_text(FAKE.format(python=sys.executable, record=str(record), report=str(answered)))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return str(fake), record


def templates_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "templates"
    directory.mkdir()
    (directory / "bucket.yaml").write_text(BUCKET)
    return directory


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Everything that would make checkov skip CKV_AWS_18: variables, ~/.checkov.yaml and a
    .checkov.yaml in the working directory."""
    home = tmp_path / "home"
    home.mkdir()
    config = "skip-check:\n  - CKV_AWS_18\n"
    (home / ".checkov.yaml").write_text(config)
    (tmp_path / ".checkov.yaml").write_text(config)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "CKV_SKIP_CHECK": "CKV_AWS_18",
        "CKV_CHECK": "CKV_AWS_21",
        "CKV_FRAMEWORK": "terraform",
        "BC_API_KEY": "not-a-key",
        "PYTHONPATH": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    return home


def test_checkov_gets_no_variable_no_home_and_no_config(tmp_path: Path, hostile: Path) -> None:
    checkov, record = fake_checkov(tmp_path, report([]))
    directory = templates_dir(tmp_path)
    assert checkov_templates.checkov_directory(checkov, directory, BUCKET_SKIPS) == []
    seen = json.loads(record.read_text())
    assert sorted(seen["env"]) == ["HOME", "LANG", "PATH"]  # no CKV_*, BC_*, PYTHON*
    assert seen["env"]["HOME"] != str(hostile)
    assert seen["home_files"] == []  # no ~/.checkov.yaml
    assert Path(seen["cwd"]).resolve() == directory.resolve()
    assert seen["cwd_files"] == ["bucket.yaml"]  # no .checkov.yaml
    assert "--quiet" not in seen["argv"]  # it would leave skipped checks out of the report


@pytest.mark.parametrize(
    ("skip", "fails"),
    [
        (skipped("CKV_AWS_21"), False),  # declared on the resource
        (skipped("CKV_AWS_18"), True),  # declared nowhere
        (skipped("CKV_AWS_21", "AWS::S3::Bucket.Other"), True),  # declared on another resource
    ],
)
def test_a_skip_the_metadata_does_not_declare_fails(
    tmp_path: Path, skip: dict[str, Any], fails: bool
) -> None:
    checkov, _ = fake_checkov(tmp_path, report([skip]))
    found = checkov_templates.checkov_directory(checkov, templates_dir(tmp_path), BUCKET_SKIPS)
    assert bool(found) == fails, found
    if fails:
        assert found == [
            f"bucket.yaml: {skip['check_id']} {skip['resource']} skipped, but its Metadata "
            "declares no such skip"
        ]


def test_only_a_clean_run_is_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache, lock = tmp_path / "cache", tmp_path / "lock.txt"
    lock.write_text("checkov==1\n")
    argv = ["checkov_templates.py", "--checkov", sys.executable, "--cache", str(cache)]
    monkeypatch.setattr(sys, "argv", [*argv, "--key", str(lock)])
    answers = [["t.yaml: CKV_AWS_18 AWS::S3::Bucket.Data skipped, but its Metadata ..."], []]
    runs: list[Any] = []

    def scan(checkov: str, directory: Path, skips: dict[str, Any]) -> list[str]:
        runs.append(skips)
        return answers[len(runs) - 1]

    monkeypatch.setattr(checkov_templates, "checkov_directory", scan)
    bucket = {"Resources": {"Data": {"Type": "AWS::S3::Bucket"}}}
    monkeypatch.setattr(checkov_templates, "templates", lambda: {"t.yaml": bucket})
    assert checkov_templates.main() == 1
    assert not cache.exists()  # a failed run is not remembered
    assert checkov_templates.main() == 0
    assert len(list(cache.iterdir())) == 1
    assert checkov_templates.main() == 0  # remembered: checkov does not run
    assert len(runs) == 2
    lock.write_text("checkov==2\n")
    with pytest.raises(IndexError):  # another checkov: scanned again
        checkov_templates.main()


def real_checkov() -> str:
    given = os.environ.get(CHECKOV)
    if given:
        assert Path(given).is_file(), (
            f"{CHECKOV}={given}: no such file (make .venv-checkov/.installed)"
        )
        return given
    default = ROOT / ".venv-checkov" / "bin" / "checkov"
    if not default.is_file():
        pytest.skip(f"no {default.relative_to(ROOT)} (make test builds it) and no ${CHECKOV}")
    return str(default)


@pytest.mark.slow
def test_the_environment_does_not_change_checkovs_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bucket without access logging fails CKV_AWS_18 whatever the environment says; the
    two runs (about 5 s each) side by side."""
    checkov = real_checkov()
    plain, hostile_ = tmp_path / "plain", tmp_path / "hostile"
    for directory in (plain, hostile_):
        directory.mkdir()
    clean_dir, hostile_dir = templates_dir(plain), templates_dir(hostile_)

    with ThreadPoolExecutor(2) as threads:
        plain_run = threads.submit(
            checkov_templates.checkov_directory, checkov, clean_dir, BUCKET_SKIPS
        )
        with monkeypatch.context() as m:
            home = hostile_ / "home"
            home.mkdir()
            (home / ".checkov.yaml").write_text("skip-check:\n  - CKV_AWS_18\n")
            m.setenv("HOME", str(home))
            m.setenv("CKV_SKIP_CHECK", "CKV_AWS_18")
            m.setenv("CKV_CHECK", "CKV_AWS_21")
            hostile_run = checkov_templates.checkov_directory(checkov, hostile_dir, BUCKET_SKIPS)
        want = plain_run.result()
    assert "bucket.yaml: CKV_AWS_18 AWS::S3::Bucket.Data" in want
    assert hostile_run == want
