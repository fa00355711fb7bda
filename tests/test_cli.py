"""The command line through click's test runner: output, exit codes, error messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from clazar_templates.cli import cli
from clazar_templates.options import field_names, option_fields
from clazar_templates.stacks import STACKS
from clazar_templates.template import render
from clazar_templates.template.render import Finding


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def built_files(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


def test_help_lists_every_command_whose_module_exists() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for name in ["build", "lint", "permissions", "publish", "launch-url", "check"]:
        assert name in result.output
    assert set(cli.commands) >= {"docs", "permissions", "publish", "launch-url", "check"}
    assert "docs" not in result.output  # the maintainers' command (make templates) is hidden


# --- build ------------------------------------------------------------------------------


def test_unknown_option_name_exits_2_listing_the_valid_ones(tmp_path: Path) -> None:
    result = run("build", "--no-lint", "--out", str(tmp_path / "t"), "--set", "colour=blue")
    assert result.exit_code == 2
    assert "--set" in result.output
    assert "colour" in result.output
    for target in STACKS.values():  # every stack's options are offered
        for name in field_names(target.options):
            assert name in result.output
    assert built_files(tmp_path / "t") == []


@pytest.mark.parametrize(
    ("setting", "named", "form"),
    [
        ("allow_marketplace_access=maybe", "allow_marketplace_access", "true, false or deploy"),
        ("clazar_account_id=123", "clazar_account_id", "12-digit"),
        ("existing_sandbox_role=arn:aws:s3:::bucket", "existing_sandbox_role", "role"),
        ("no-equals-sign", "no-equals-sign", "OPTION=VALUE"),
    ],
)
def test_bad_value_exits_2_naming_option_and_form(
    tmp_path: Path, setting: str, named: str, form: str
) -> None:
    result = run("build", "--no-lint", "--out", str(tmp_path), "--set", setting)
    assert result.exit_code == 2
    assert "--set" in result.output
    assert named in result.output
    assert form in result.output
    assert built_files(tmp_path) == []


def test_unknown_stack_exits_2(tmp_path: Path) -> None:
    result = run("build", "nosuch", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "nosuch" in result.output
    assert "marketplace" in result.output


def test_lint_findings_exit_1_and_write_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One template with a finding: the others (clean) are not written either."""
    failing = STACKS["cosell"].name

    def lint(text: str, *args: Any) -> list[Finding]:
        return [Finding("E3012", "planted problem", 7)] if f"Template: {failing}\n" in text else []

    monkeypatch.setattr(render, "lint_many", lambda texts, *args: [lint(t) for t in texts])
    out = tmp_path / "templates"
    result = run("build", "--out", str(out))
    assert result.exit_code == 1
    assert f"{failing}.yaml: E3012 line 7: planted problem" in result.output
    assert "nothing was written" in result.output
    assert built_files(out) == []


def test_check_exits_0_when_equal_and_1_on_drift(tmp_path: Path) -> None:
    assert run("build", "--no-lint", "--out", str(tmp_path)).exit_code == 0
    written = {p: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()}
    assert len(written) == len(STACKS)

    equal = run("build", "--no-lint", "--check", "--out", str(tmp_path))
    assert (equal.exit_code, equal.output) == (0, "")

    stale = tmp_path / f"{STACKS['marketplace'].name}.yaml"
    stale.write_text(written[stale] + "# edited\n", encoding="utf-8")
    drift = run("build", "--no-lint", "--check", "--out", str(tmp_path))
    assert drift.exit_code == 1
    assert str(stale) in drift.output
    assert "make templates" in drift.output
    assert stale.read_text(encoding="utf-8").endswith("# edited\n")  # --check writes nothing


def test_check_reports_a_missing_file(tmp_path: Path) -> None:
    result = run("build", "marketplace", "--no-lint", "--check", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert "clazar-marketplace.yaml differs" in result.output


def test_an_option_several_stacks_share_applies_to_each(tmp_path: Path) -> None:
    shared = [
        name
        for name, _ in option_fields(STACKS["marketplace"].options)
        if name in field_names(STACKS["cosell"].options)
    ]
    assert "clazar_account_id" in shared
    result = run(
        "build", "--no-lint", "--format", "json", "--out", str(tmp_path),
        "--set", "clazar_account_id=999988887777",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for target in STACKS.values():
        template = json.loads((tmp_path / f"{target.name}.json").read_text(encoding="utf-8"))
        assert "ClazarAccountId" not in template["Parameters"]
        assert "999988887777" in json.dumps(template["Resources"])


def test_an_option_of_one_stack_leaves_the_other_alone(tmp_path: Path) -> None:
    result = run(
        "build", "--no-lint", "--format", "json", "--out", str(tmp_path),
        "--set", "allow_marketplace_access=true",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    marketplace = json.loads((tmp_path / "clazar-marketplace.json").read_text(encoding="utf-8"))
    cosell = json.loads((tmp_path / "clazar-cosell.json").read_text(encoding="utf-8"))
    assert "AllowMarketplaceAccess" not in marketplace["Parameters"]
    assert "ClazarMarketplaceAccessPolicy" in marketplace["Resources"]
    default_cosell = json.loads(render.to_json(STACKS["cosell"].build()))
    assert cosell == default_cosell


def test_build_writes_and_reports_each_file(tmp_path: Path) -> None:
    result = run("build", "cosell", "--no-lint", "--out", str(tmp_path))
    assert result.exit_code == 0
    path = tmp_path / "clazar-cosell.yaml"
    size = len(path.read_bytes())
    margin = render.TEMPLATE_BODY_LIMIT - size
    assert result.output == (
        f"wrote {path} ({size:,} bytes, {margin:,} under the 51,200-byte TemplateBody limit)\n"
    )
    assert path.read_text(encoding="utf-8") == render.to_yaml(STACKS["cosell"].build())


def test_build_leaves_a_file_that_already_holds_its_template_alone(tmp_path: Path) -> None:
    """Nothing to write, nothing replaced: the file keeps its inode and time."""
    assert run("build", "--no-lint", "--out", str(tmp_path)).exit_code == 0
    cosell, marketplace = tmp_path / "clazar-cosell.yaml", tmp_path / "clazar-marketplace.yaml"
    cosell.write_text("old\n", encoding="utf-8")
    kept = marketplace.stat()
    result = run("build", "--no-lint", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"unchanged {marketplace} (")
    assert lines[1].startswith(f"wrote {cosell} (")
    now = marketplace.stat()
    assert (now.st_ino, now.st_mtime_ns) == (kept.st_ino, kept.st_mtime_ns)
    assert cosell.read_text(encoding="utf-8") == render.to_yaml(STACKS["cosell"].build())


def test_build_says_when_a_template_is_over_the_template_body_limit(tmp_path: Path) -> None:
    limit = render.TEMPLATE_BODY_LIMIT
    assert render.size_note("x" * (limit + 1)) == (
        f"{limit + 1:,} bytes, 1 over the {limit:,}-byte TemplateBody limit: deploy it from S3: "
        "`clazar-templates publish --bucket BUCKET --version VERSION`, then its quick-create "
        "link (`launch-url`), or --bucket for stackset-plan and upgrade"
    )
    assert render.size_note("x" * limit).startswith(f"{limit:,} bytes, 0 under")
    result = run("build", "marketplace", "--no-lint", "--out", str(tmp_path))
    assert result.exit_code == 0
    path = tmp_path / "clazar-marketplace.yaml"
    assert result.output == f"wrote {path} ({render.size_note(path.read_text(encoding='utf-8'))})\n"


# --- lint -------------------------------------------------------------------------------


def test_lint_passes_a_built_template(tmp_path: Path) -> None:
    path = tmp_path / "cosell.yaml"
    path.write_text(render.to_yaml(STACKS["cosell"].build()), encoding="utf-8")
    result = run("lint", str(path))
    assert (result.exit_code, result.output) == (0, f"{path}: ok\n")


def test_lint_reports_findings_with_exit_1(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(render.to_yaml(STACKS["cosell"].build()), encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Queue:\n"
        "    Type: AWS::SQS::Queue\n    Properties:\n      DelaySeconds: not-a-number\n",
        encoding="utf-8",
    )
    result = run("lint", str(good), str(bad))
    assert result.exit_code == 1
    assert f"{good}: ok" in result.output
    assert f"{bad}: E" in result.output
    assert "line 6" in result.output


def test_lint_needs_an_existing_file(tmp_path: Path) -> None:
    result = run("lint", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 2
    assert "does not exist" in result.output
