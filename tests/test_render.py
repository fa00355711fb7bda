"""Rendering: readable YAML that means exactly the template, atomic writes, golden files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cfnlint.decode.decode import decode_str

from clazar_templates import to_json, to_yaml
from clazar_templates.stacks import STACKS, Stack
from clazar_templates.template import render
from clazar_templates.template.render import lint, write_all

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", params=list(STACKS))
def stack(request: pytest.FixtureRequest) -> Stack:
    return STACKS[request.param]


@pytest.fixture(scope="module")
def built(stack: Stack) -> object:
    return stack.build()


def plain(data: object) -> object:
    return json.loads(json.dumps(data))


def test_yaml_parses_to_exactly_the_template(built: object) -> None:
    text = to_yaml(built)
    decoded, errors = decode_str(text)
    assert not errors
    assert plain(decoded) == plain(built.to_dict())  # type: ignore[attr-defined]
    assert json.loads(to_json(built)) == plain(built.to_dict())  # type: ignore[attr-defined]


def test_yaml_reads_in_the_conventional_order(built: object) -> None:
    text = to_yaml(built)
    tops = [line.split(":")[0] for line in text.splitlines() if line and not line[0].isspace()]
    assert tops == [
        t
        for t in [
            "AWSTemplateFormatVersion",
            "Description",
            "Metadata",
            "Parameters",
            "Rules",
            "Conditions",
            "Resources",
            "Outputs",
        ]
        if t in tops
    ]
    declared = list(built.resources)  # type: ignore[attr-defined]
    body = text.split("\nResources:\n", 1)[1].split("\nOutputs:\n", 1)[0]
    in_yaml = [line[2:-1] for line in body.splitlines() if line.startswith("  ") and line[2] != " "]
    assert in_yaml == declared
    first_resource = body.split("\n")[1]
    assert first_resource.strip().startswith("Type: ")
    for short_form in ("!Ref ", "!GetAtt ", "!Sub ", "!If"):
        assert short_form in text
    assert "Fn::" not in text


# Scalars a template may hold, each under a tag and untagged, in block and flow context.
AWKWARD = [
    "",
    "true",
    "123",
    "null",
    "~",
    "a: b",
    "#x",
    "x #y",
    "- x",
    "*",
    "@x",
    "'q'",
    '"q"',
    " lead",
    "trail ",
    "${AWS::Region}",
    "two\nlines",
    "a\tb",
    "caf\u00e9",
]


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="compares libyaml with PyYAML's emitter")
def test_without_libyaml_the_same_bytes_are_written(built: object) -> None:
    """Where libyaml is missing, PythonSafeDumper writes what libyaml does (plain PyYAML
    quotes tagged scalars: ``!Ref 'Name'``), on the templates and on awkward scalars."""
    python = render.readable_dumper(render.PythonSafeDumper)
    odd = {
        "Resources": {
            f"R{i}": {
                "Type": "AWS::X::Y",
                "Properties": {
                    "Ref": {"Ref": value},
                    "Subs": [{"Fn::Sub": value}],
                    "One": [value],
                    "If": {"Fn::If": ["C", value, {"Ref": "AWS::NoValue"}]},
                    "Plain": value,
                    "Attr": {"Fn::GetAtt": ["R", value or "Arn"]},
                },
            }
            for i, value in enumerate(AWKWARD)
        }
    }
    for sample in (render._as_dict(built), odd):
        assert render._dump(sample, python) == render.to_yaml(sample)


def test_committed_template_lints_clean_and_fits(stack: Stack) -> None:
    text = (ROOT / "templates" / f"{stack.name}.yaml").read_text(encoding="utf-8")
    assert [str(f) for f in lint(text)] == []
    # deployed from S3 (the quick-create link, StackSets and upgrade with --bucket)
    assert len(text.encode()) < render.TEMPLATE_URL_LIMIT, "over CloudFormation's S3 limit"


def test_write_all_is_all_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "keep.yaml").write_text("old\n")
    blocked = tmp_path / "dir-in-the-way"
    blocked.mkdir()
    with pytest.raises(ValueError, match="null"):
        write_all({tmp_path / "keep.yaml": "new\n", blocked / "x" / "\0bad": "x"})
    assert (tmp_path / "keep.yaml").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir-in-the-way", "keep.yaml"]


PARALLEL_PROBE = """
import json, sys
from clazar_templates.template.render import lint_many
texts = json.load(sys.stdin)
found = lint_many(texts)
print(json.dumps([[f.rule for f in findings] for findings in found]))
print("cfnlint" in sys.modules)
"""


@pytest.mark.slow
def test_lint_in_parallel_finds_what_one_lint_finds() -> None:
    """The command line lints its templates in forked workers that load cfn-lint themselves:
    each text gets the findings a plain lint gives it, in order, and the forking process
    itself never imports cfn-lint (so it exits without tearing it down)."""
    import os
    import subprocess
    import sys

    clean = (ROOT / "templates" / "clazar-cosell.yaml").read_text(encoding="utf-8")
    broken = clean.replace("Runtime: python3.13", "Runtime: python2.7", 1)
    assert broken != clean
    texts = [broken, clean, broken]
    env = {k: v for k, v in os.environ.items() if k != render.LINT_CACHE}
    done = subprocess.run(
        [sys.executable, "-c", PARALLEL_PROBE],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    rules, imported = done.stdout.splitlines()
    assert json.loads(rules) == [[f.rule for f in lint(t)] for t in texts]
    assert json.loads(rules)[0], "the broken template has a finding"
    assert imported == "False"
