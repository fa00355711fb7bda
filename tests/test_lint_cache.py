"""The lint cache (``CLAZAR_LINT_CACHE``) never changes a verdict: a cached lint finds what an
uncached one finds after the spec data changes, after a rule is added, and whatever the
entry on disk holds; and no user's cfn-lint configuration can ignore a rule (issue 22)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clazar_templates.template import render
from clazar_templates.template.render import lint

NO_SUCH_TYPE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Thing:
    Type: AWS::Nope::Thing
"""
QUEUE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Queue:
    Type: AWS::SQS::Queue
    DeletionPolicy: Delete
    UpdateReplacePolicy: Delete
    Properties:
      MessageRetentionPeriod: 86400
"""


def rules(text: str) -> list[str]:
    return [f.rule for f in lint(text)]


def uncached(text: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    with monkeypatch.context() as m:
        m.delenv(render.LINT_CACHE, raising=False)
        return rules(text)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "lint-cache"
    monkeypatch.setenv(render.LINT_CACHE, str(directory))
    return directory


def entry(text: str) -> Path:
    path = render._cache_path(text, render._lint_settings(render.LINT_REGIONS))
    assert path is not None
    return path


@pytest.mark.parametrize(
    "kept",
    [
        "{}",
        '""',
        "null",
        "[[]]",
        "[null]",
        '["E3006"]',
        '[["E3006", "message"]]',
        '[["E3006", "message", "4"]]',
        '[["E3006", "message", true]]',
        '[["", "message", 4]]',
        '[["E3006", "message", 4, "extra"]]',
        '{"rule": "E3006"}',
        "not json",
        "\udcff",  # not even UTF-8 once written with surrogateescape
    ],
)
def test_a_wrongly_shaped_entry_is_linted_again(
    kept: str, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as m:
        m.delenv(render.LINT_CACHE)
        want = lint(NO_SUCH_TYPE)
    assert "E3006" in [f.rule for f in want]
    path = entry(NO_SUCH_TYPE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(kept.encode("utf-8", "surrogateescape"))
    assert lint(NO_SUCH_TYPE) == want
    assert render._cached(path) == want  # and kept right


def test_a_well_formed_entry_is_reused(cache: Path) -> None:
    """The cache does work: a kept entry of the right shape is what lint returns."""
    path = entry(QUEUE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[["W9999", "planted", 3]]')
    assert [str(f) for f in lint(QUEUE)] == ["W9999 line 3: planted"]


RULE = """
from cfnlint.rules import CloudFormationLintRule, RuleMatch


class NoQueues(CloudFormationLintRule):
    id = "E9901"
    shortdesc = "No queues"
    description = "A rule added for the lint cache's test"
    source_url = "https://example.com/no-queues"
    tags = ["test"]

    def match(self, cfn):
        queues = cfn.get_resources(["AWS::SQS::Queue"])
        return [RuleMatch(["Resources", name], "a queue") for name in queues]
"""


def test_an_added_rule_is_not_hidden_by_a_clean_entry(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert rules(QUEUE) == []  # clean, and kept as clean
    assert entry(QUEUE).exists()
    added = tmp_path / "rules"
    added.mkdir()
    (added / "NoQueues.py").write_text(RULE)
    monkeypatch.setattr(render, "LINT_RULES", (str(added),))
    want = uncached(QUEUE, monkeypatch)
    assert want == ["E9901"]
    assert rules(QUEUE) == want


def test_no_cfnlintrc_can_ignore_a_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """cfn-lint would read ~/.cfnlintrc and ./.cfnlintrc: a user's ``ignore_checks`` would
    make one machine's lint (and so its cache) clean where another's is not."""
    config = "ignore_checks:\n  - E3006\n"
    home, work = tmp_path / "home", tmp_path / "work"
    for directory in (home, work):
        directory.mkdir()
        (directory / ".cfnlintrc").write_text(config)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    monkeypatch.delenv(render.LINT_CACHE, raising=False)
    render._linter.cache_clear()  # cfn-lint reads its configuration files when made
    try:
        assert "E3006" in rules(NO_SUCH_TYPE)
    finally:
        render._linter.cache_clear()


@pytest.mark.parametrize("xdg", [True, False])
def test_the_spec_cache_is_where_cfn_lint_looks(
    xdg: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cfnlint.helpers import get_cache_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if xdg:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    else:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert render._spec_cache() == Path(get_cache_dir())


SPEC_PROBE = """
import json, os, sys
from clazar_templates.template import render
text = sys.stdin.read()
cached = [f.rule for f in render.lint(text)]
os.environ.pop(render.LINT_CACHE)
print(json.dumps([cached, [f.rule for f in render.lint(text)]]))
"""


def probe(text: str, env: dict[str, str]) -> list[list[str]]:
    """[the findings with the cache, without] in a new process with ``env``."""
    done = subprocess.run(
        [sys.executable, "-c", SPEC_PROBE],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return list(json.loads(done.stdout.splitlines()[-1]))


def newer_specs(spec_cache: Path) -> None:
    """What ``cfn-lint --update-specs`` leaves in ``spec_cache``: schemas dated after the
    bundled ones; here of one resource type, a queue without MessageRetentionPeriod (every
    region falls back to us-east-1's list)."""
    import cfnlint

    bundled = Path(cfnlint.__file__).parent / "data" / "schemas"
    queue = json.loads((bundled / "providers" / "us-east-1.json").read_text())["AWS::SQS::Queue"]
    schema = json.loads((bundled / "resources" / f"{queue}.json").read_text())
    del schema["properties"]["MessageRetentionPeriod"]
    for directory in ("providers", "resources"):
        (spec_cache / directory).mkdir(parents=True)
    (spec_cache / "providers" / "us-east-1.json").write_text(json.dumps({"AWS::SQS::Queue": queue}))
    (spec_cache / "resources" / f"{queue}.json").write_text(json.dumps(schema))
    (spec_cache / "version.json").write_text(json.dumps({"schema_date": "9999-01-01T00:00:00Z"}))


@pytest.mark.slow
def test_newer_specs_are_not_hidden_by_a_clean_entry(tmp_path: Path) -> None:
    """The same cfn-lint with other schemas (``--update-specs``) answers otherwise: the
    entry kept with the old schemas is not reused. Each lint in its own process, as cfn-lint
    reads the schemas' location once, when imported."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_CACHE_HOME"}
    env["HOME"] = str(tmp_path / "home")
    env[render.LINT_CACHE] = str(tmp_path / "lint-cache")
    assert probe(QUEUE, env) == [[], []]  # bundled schemas: clean, and kept
    newer_specs(tmp_path / "home" / ".cache" / "aws" / "cfn-lint" / "schemas")
    cached, uncached = probe(QUEUE, env)
    assert uncached == ["E3002"]  # the newer schema has no such property
    assert cached == uncached
