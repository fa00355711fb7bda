"""The command line's conventions (issue 25), each as a user meets it: --profile and
--region on every AWS command, ``-`` for stdin, --format json shapes, results on stdout and
errors on stderr, one-line errors, prompts that need a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner, Result

from clazar_templates.aws.layout import DEFAULT_PREFIX
from clazar_templates.aws.publishing import template_key
from clazar_templates.cli import cli
from clazar_templates.stacks import stack
from clazar_templates.template.render import to_yaml

ROOT = Path(__file__).parent.parent
DIFF_DATA = Path(__file__).parent / "data" / "diff"
STACKSET = ["stackset-plan", "marketplace", "--org-unit", "r-abcd", "--regions", "us-east-1"]

# Every command that calls AWS, with the least it needs to get that far.
AWS_COMMANDS = {
    "check": ["check", "--stack", "clazar"],
    "upgrade": ["upgrade", "--stack", "clazar", "--to", "1.0.0"],
    "stackset-status": ["stackset-status", "clazar-marketplace"],
    "stackset-plan --apply": [*STACKSET, "--apply"],
    "publish": ["publish", "--bucket", "my-bucket", "--dry-run"],
    "diff --bucket": ["diff", "1.0.0", "1.0.1", "--bucket", "my-bucket"],
}
NEED_A_REGION = {  # the option that names the region each one calls AWS in
    "check": "--region",
    "upgrade": "--region",
    "stackset-status": "--home-region",
    "stackset-plan --apply": "--home-region",
}


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)


def one_line(result: Result, code: int) -> str:
    """The one stderr line of a command that failed with ``code`` (and printed nothing else)."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: ")
    return line


@pytest.fixture
def unconfigured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An AWS configuration with credentials, no region and no profiles; returns the config
    file to add profiles to."""
    config = tmp_path / "aws-config"
    config.write_text("", encoding="utf-8")
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("CLAZAR_SECRET_KEY", raising=False)
    return config


# --- --profile and --region ----------------------------------------------------------------


@pytest.mark.parametrize("command", AWS_COMMANDS, ids=list(AWS_COMMANDS))
def test_every_aws_command_takes_profile(unconfigured: Path, command: str) -> None:
    line = one_line(run(*AWS_COMMANDS[command], "--profile", "nobody", "--region", "eu-west-1"), 2)
    assert line.startswith("Error: --profile: ")
    assert "nobody" in line


@pytest.mark.parametrize("command", NEED_A_REGION, ids=list(NEED_A_REGION))
def test_no_configured_region_is_one_line_not_us_east_1(unconfigured: Path, command: str) -> None:
    option = NEED_A_REGION[command]
    line = one_line(run(*AWS_COMMANDS[command]), 2)
    assert line == (
        f"Error: {option}: no AWS region configured: pass {option}, "
        "or set AWS_DEFAULT_REGION or a profile's"
    )


@pytest.mark.usefixtures("aws")
def test_the_profile_decides_credentials_and_region(
    unconfigured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unconfigured.write_text(
        "[profile seller]\nregion = eu-west-2\n"
        "aws_access_key_id = testing\naws_secret_access_key = testing\n",
        encoding="utf-8",
    )
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):  # the aws fixture sets one
        monkeypatch.delenv(name, raising=False)
    result = run("check", "--stack", "nope", "--profile", "seller")
    assert result.exit_code == 1, result.output
    assert result.stdout == "FAIL stack: no stack named nope exists in eu-west-2\n"
    assert result.stderr == "Error: stack: no stack named nope exists in eu-west-2\n"
    assert boto3.DEFAULT_SESSION is None or boto3.DEFAULT_SESSION.profile_name != "seller"


# --- results on stdout, one shape per --format json -----------------------------------------


@pytest.mark.usefixtures("aws")
def test_check_json_is_one_document_on_stdout() -> None:
    result = run("check", "--stack", "nope", "--format", "json")
    assert result.exit_code == 1
    assert result.stderr == ""
    assert json.loads(result.stdout) == {
        "stack": "nope",
        "connected": False,
        "reason": "stack: no stack named nope exists in us-east-1",
        "results": [
            {
                "status": "FAIL",
                "subject": "stack",
                "detail": "no stack named nope exists in us-east-1",
            }
        ],
    }


def test_diff_json_is_a_list_for_files_as_with_bucket() -> None:
    base = str(DIFF_DATA / "base.yaml")
    result = run("diff", base, base, "--format", "json")
    assert result.exit_code == 0, result.output
    (only,) = json.loads(result.stdout)
    assert only["grew"] is False


@pytest.mark.usefixtures("aws")
def test_diff_finds_what_publish_published_with_the_default_prefix() -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="clazar-templates")
    target = stack("marketplace")
    key = template_key(DEFAULT_PREFIX, "1.0.0", target.name)  # where publish puts it
    s3.put_object(Bucket="clazar-templates", Key=key, Body=to_yaml(target.build()).encode())
    args = ["diff", "1.0.0", "1.0.0", "--bucket", "clazar-templates", "--stack", "marketplace"]
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    assert [d["grew"] for d in json.loads(result.stdout)] == [False]


def test_launch_url_and_diagram_json() -> None:
    url = run("launch-url", "marketplace", "--bucket", "my-bucket", "--format", "json")
    assert url.exit_code == 0, url.output
    assert json.loads(url.stdout)["url"].startswith("https://")
    diagram = run("diagram", "marketplace", "--format", "json")
    assert diagram.exit_code == 0, diagram.output
    shown = json.loads(diagram.stdout)
    assert shown["stack"] == "clazar-marketplace"
    assert shown["mermaid"].startswith("flowchart")


# --- "-" is stdin ---------------------------------------------------------------------------


TEMPLATE = json.dumps(
    {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"H": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
    }
)


def test_lint_reads_stdin_for_dash() -> None:
    result = run("lint", "-", stdin=TEMPLATE)
    assert result.exit_code == 0, result.output
    assert result.stdout == "-: ok\n"
    as_json = run("lint", "-", "--format", "json", stdin=TEMPLATE)
    assert json.loads(as_json.stdout) == [{"file": "-", "findings": []}]


def test_diff_reads_stdin_for_dash() -> None:
    old = (DIFF_DATA / "base.yaml").read_text(encoding="utf-8")
    result = run("diff", "-", str(DIFF_DATA / "action-added.yaml"), "--format", "json", stdin=old)
    assert result.exit_code == 1, result.output
    (grown,) = json.loads(result.stdout)
    assert grown["grew"] is True
    assert one_line(run("diff", "-", "-", stdin=old), 2) == (
        "Error: OLD and NEW: only one of them can be - (stdin)"
    )


# --- one line for what goes wrong --------------------------------------------------------


def test_docs_is_hidden_and_one_line_outside_the_repository(tmp_path: Path) -> None:
    assert "docs" not in run("--help").stdout
    line = one_line(run("docs", "--root", str(tmp_path)), 2)
    assert line.startswith(f"Error: --root: {tmp_path} is not a clazar-templates checkout")


def test_an_os_error_is_one_line_naming_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "README.md").write_text("x\n", encoding="utf-8")
    (tmp_path / "docs").write_text("a file where docs/ goes\n", encoding="utf-8")
    line = one_line(run("docs", "--root", str(tmp_path)), 1)
    assert line.startswith(f"Error: {tmp_path / 'docs'} is a file, not a directory")

    def denied(*_args: object) -> str:
        raise PermissionError(13, "Permission denied", "/srv/clazar/cache.json")

    monkeypatch.setattr("clazar_templates.review.permissions.permissions", denied)
    assert one_line(run("permissions"), 1) == "Error: /srv/clazar/cache.json: Permission denied"


def test_a_hidden_prompt_without_a_terminal_says_so(unconfigured: Path) -> None:
    environment = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [sys.executable, "-m", "clazar_templates", *STACKSET, "--apply"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=120,  # startup only; generous for a loaded machine
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr == (
        "Error: CLAZAR_SECRET_KEY: ClazarSecretKey needs a value and there is no terminal to "
        "ask for it on: set CLAZAR_SECRET_KEY in the environment\n"
    )


def test_shell_completion_is_documented_and_works() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "_CLAZAR_TEMPLATES_COMPLETE=bash_source" in readme
    result = subprocess.run(
        [sys.executable, "-c", "from clazar_templates.cli import main; main()"],
        capture_output=True,
        text=True,
        env={**os.environ, "_CLAZAR_TEMPLATES_COMPLETE": "bash_source"},
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "_clazar_templates_completion" in result.stdout


def test_the_library_needs_a_region_too(unconfigured: Path) -> None:
    """Not only the command line: check() and plan_upgrade() refuse before any call."""
    from clazar_templates import CheckError, UpgradeInputError, check, plan_upgrade

    with pytest.raises(CheckError, match=r"^--region: no AWS region configured"):
        check("clazar")
    with pytest.raises(UpgradeInputError, match=r"^--region: no AWS region configured"):
        plan_upgrade("clazar", "1.0.0")
