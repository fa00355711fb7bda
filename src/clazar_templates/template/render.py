"""YAML/JSON output, linting and atomic writes.

troposphere's ``to_yaml`` goes through cfn-flip, which sorts every key (resources
alphabetically, ``Type`` after ``Properties``) and is slow. Here templates are written with
PyYAML's libyaml emitter (or, without libyaml, PyYAML's own, made to write the same bytes)
in the order a reviewer reads them: the conventional sections,
resources in the order the builders declare them, ``Type``/``Condition``/``DependsOn``/
policies before ``Properties``, short-form intrinsics, and Lambda source as a literal block.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "TEMPLATE_BODY_LIMIT",
    "Finding",
    "lint",
    "lint_many",
    "ordered",
    "size_note",
    "stale_files",
    "to_json",
    "to_yaml",
    "write_all",
    "write_atomic",
]

SECTIONS = (
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Resources",
    "Outputs",
)
RESOURCE_KEYS = (
    "Type",
    "Condition",
    "DependsOn",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
    "CreationPolicy",
    "Metadata",
    "Properties",
)
OUTPUT_KEYS = ("Condition", "Description", "Value", "Export")
STATEMENT_KEYS = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)

# Intrinsic functions written in short form; scalar-valued ones become `!Tag value`.
_SHORT = {
    "Ref": "!Ref",
    "Fn::Sub": "!Sub",
    "Fn::If": "!If",
    "Fn::Equals": "!Equals",
    "Fn::And": "!And",
    "Fn::Or": "!Or",
    "Fn::Not": "!Not",
    "Fn::Select": "!Select",
    "Fn::Split": "!Split",
    "Fn::Join": "!Join",
    "Fn::FindInMap": "!FindInMap",
    "Fn::Base64": "!Base64",
    "Fn::GetAZs": "!GetAZs",
    "Fn::ImportValue": "!ImportValue",
    "Fn::Cidr": "!Cidr",
    "Condition": "!Condition",
}


def _first(mapping: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """``mapping`` with ``keys`` first, in that order, then the rest as they were."""
    out = {k: mapping[k] for k in keys if k in mapping}
    out.update((k, v) for k, v in mapping.items() if k not in out)
    return out


def ordered(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template dict in reading order (see module docstring)."""
    out = _first(template, SECTIONS)
    if "Resources" in out:
        out["Resources"] = {k: _first(v, RESOURCE_KEYS) for k, v in out["Resources"].items()}
    if "Outputs" in out:
        out["Outputs"] = {k: _first(v, OUTPUT_KEYS) for k, v in out["Outputs"].items()}
    return out


class PythonSafeDumper(yaml.SafeDumper):
    """PyYAML's own emitter, writing a tagged scalar (``!Ref Name``) plain where libyaml
    does: PyYAML quotes every scalar whose tag it must write (``!Ref 'Name'``). The dumper
    where libyaml is missing; with it, the same bytes (tests compare both)."""

    def choose_scalar_style(self) -> str:
        style: str = super().choose_scalar_style()
        event, analysis = self.event, self.analysis
        if (
            isinstance(event, yaml.ScalarEvent)
            and analysis is not None
            and style == "'"
            and not event.style
            and not any(event.implicit)  # the tag is written: libyaml's "!no_tag"
            and (analysis.allow_flow_plain if self.flow_level else analysis.allow_block_plain)
            and not (analysis.empty and (self.flow_level or self.simple_key_context))
            and not (analysis.multiline and self.simple_key_context)
        ):
            return ""
        return style


def _represent_dict(dumper: yaml.representer.SafeRepresenter, data: dict[str, Any]) -> yaml.Node:
    if len(data) == 1:
        ((key, value),) = data.items()
        if (
            key == "Fn::GetAtt"
            and isinstance(value, list)
            and all(isinstance(v, str) for v in value)
        ):
            return dumper.represent_scalar("!GetAtt", ".".join(value))
        tag = _SHORT.get(key)
        if tag and not (key == "Condition" and not isinstance(value, str)):
            if isinstance(value, list):
                return dumper.represent_sequence(tag, value)
            if isinstance(value, dict):
                return dumper.represent_mapping(tag, value)
            return dumper.represent_scalar(tag, str(value))
    if "Effect" in data and ("Action" in data or "NotAction" in data):
        data = _first(data, STATEMENT_KEYS)
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items())


def _represent_list(dumper: yaml.representer.SafeRepresenter, data: list[Any]) -> yaml.Node:
    """A list of one plain value (an action, ARN, ``!Ref``/``!GetAtt``/``!Sub`` of one line)
    on the line of its key, ``[...]``; longer lists one item a line."""
    flow = len(data) == 1 and _one_line(data[0])
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _one_line(value: Any) -> bool:
    if isinstance(value, str):
        return "\n" not in value
    if isinstance(value, dict) and len(value) == 1:
        ((key, inner),) = value.items()
        if key == "Fn::GetAtt":
            return isinstance(inner, list) and all(isinstance(v, str) for v in inner)
        return key in ("Ref", "Fn::Sub") and isinstance(inner, str) and "\n" not in inner
    return False


def _represent_str(dumper: yaml.representer.SafeRepresenter, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


def readable_dumper(base: type[yaml.representer.SafeRepresenter]) -> type[Any]:
    """A dumper class on ``base`` (a SafeDumper) with this module's representers."""
    dumper: type[yaml.representer.SafeRepresenter] = type("ReadableDumper", (base,), {})
    dumper.add_representer(dict, _represent_dict)
    dumper.add_representer(str, _represent_str)
    dumper.add_representer(list, _represent_list)
    return dumper


# libyaml's emitter (CSafeDumper) is several times faster than PyYAML's; same bytes.
_Dumper = readable_dumper(getattr(yaml, "CSafeDumper", PythonSafeDumper))


def _as_dict(template: Any) -> dict[str, Any]:
    data = template.to_dict() if hasattr(template, "to_dict") else template
    return ordered(data)


def to_yaml(template: Any) -> str:
    """A troposphere Template (or template dict) as readable CloudFormation YAML."""
    return _dump(_as_dict(template), _Dumper)


def _dump(data: dict[str, Any], dumper: type[Any]) -> str:
    return yaml.dump(
        data,
        Dumper=dumper,
        sort_keys=False,
        width=10_000,
        allow_unicode=True,
        default_flow_style=False,
    )


def to_json(template: Any) -> str:
    """The same template as JSON (the form moto and the CloudFormation API take)."""
    return json.dumps(_as_dict(template), indent=2) + "\n"


@dataclass(frozen=True)
class Finding:
    """One cfn-lint finding."""

    rule: str
    message: str
    line: int

    def __str__(self) -> str:
        return f"{self.rule} line {self.line}: {self.message}"


TEMPLATE_BODY_LIMIT = 51_200
"""Bytes CloudFormation accepts as an inline ``TemplateBody`` (from S3: 1 MB)."""


def size_note(text: str) -> str:
    """How big ``text`` is, and how far under (or over) the ``TemplateBody`` limit."""
    size = len(text.encode("utf-8"))
    margin = TEMPLATE_BODY_LIMIT - size
    limit = f"the {TEMPLATE_BODY_LIMIT:,}-byte TemplateBody limit"
    if margin >= 0:
        return f"{size:,} bytes, {margin:,} under {limit}"
    return f"{size:,} bytes, {-margin:,} over {limit}: deploy it from S3"


LINT_REGIONS = ("us-east-1",)
LINT_CHECKS = ("I",)  # informational rules too, beside errors and warnings
LINT_CACHE = "CLAZAR_LINT_CACHE"
"""Environment variable naming a directory where cfn-lint's findings are kept, by the hash of
the template, cfn-lint's version and this configuration (``make`` sets it to .cache/)."""


@functools.cache
def _linter(regions: tuple[str, ...]) -> Any:
    """cfn-lint's configuration and loaded rules, made once per process.

    ``cfnlint.api.lint`` builds a new Runner, and so reloads every rule (about 0.6 s of CPU),
    on each call: its ``rules`` argument takes only the older ``RulesCollection``, not the
    ``Rules`` a Runner loads (cfn-lint 1.x). Measured on a committed template: 0.91 s per
    call through the API, 0.24 s here.
    """
    from cfnlint.api import ManualArgs
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    return Runner(ConfigMixIn(**ManualArgs(regions=list(regions), include_checks=[*LINT_CHECKS])))


def _lint_now(text: str, regions: tuple[str, ...]) -> list[Finding]:
    from cfnlint.decode.decode import decode_str
    from cfnlint.runner import run_template_by_data

    template, errors = decode_str(text)
    if not errors and template is not None:
        runner = _linter(regions)
        errors = list(run_template_by_data(template, runner.config, runner.rules))
    return [Finding(m.rule.id, m.message, m.linenumber) for m in errors]


def _cache_path(text: str, regions: tuple[str, ...]) -> Path | None:
    directory = os.environ.get(LINT_CACHE)
    if not directory:
        return None
    import hashlib
    from importlib.metadata import version

    key = json.dumps([version("cfn-lint"), regions, LINT_CHECKS, text])
    return Path(directory) / f"{hashlib.sha256(key.encode()).hexdigest()}.json"


def _cached(path: Path | None) -> list[Finding] | None:
    try:
        rows = json.loads(path.read_text(encoding="utf-8")) if path else None
    except (OSError, ValueError):
        return None
    return None if rows is None else [Finding(*row) for row in rows]


def _keep(path: Path | None, findings: list[Finding]) -> None:
    if path is not None:
        write_atomic(path, json.dumps([[f.rule, f.message, f.line] for f in findings]))


def _can_fork() -> bool:
    """Whether linting in forked processes is both worth it and safe: two cores or more, and
    no thread in this process (a fork copies only the forking thread; the command line has
    none, a test run may)."""
    import multiprocessing
    import threading

    return (
        (os.cpu_count() or 1) > 1
        and threading.active_count() == 1
        and "fork" in multiprocessing.get_all_start_methods()
    )


def lint(text: str, regions: Iterable[str] = LINT_REGIONS) -> list[Finding]:
    """cfn-lint ``text`` with errors, warnings and informational rules all enabled."""
    return lint_many([text], regions)[0]


def lint_many(texts: Sequence[str], regions: Iterable[str] = LINT_REGIONS) -> list[list[Finding]]:
    """Each text's cfn-lint findings, as ``lint``. Findings kept in the ``CLAZAR_LINT_CACHE``
    directory are reused; two or more texts not found there are linted in parallel, in
    forked processes.

    If this process has not loaded cfn-lint yet (the command line), each worker loads it
    and its rules itself, side by side, and this process never imports it: that is no
    slower than loading them once before forking, and this process then exits without
    tearing cfn-lint down (about 0.3 s; workers end with ``os._exit``). If it has, the
    workers share what it loaded."""
    from ..extras import require

    require("lint", "linting")
    wanted = tuple(regions)
    paths = [_cache_path(text, wanted) for text in texts]
    found = [_cached(path) for path in paths]
    missing = [i for i, hit in enumerate(found) if hit is None]
    if len(missing) > 1 and _can_fork():
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        loaded = _linter.cache_info().currsize > 0
        fork = multiprocessing.get_context("fork")
        workers = min(len(missing), os.cpu_count() or 1)
        load = None if loaded else functools.partial(_linter, wanted)
        with ProcessPoolExecutor(workers, mp_context=fork, initializer=load) as pool:
            fresh = list(pool.map(_lint_now, [texts[i] for i in missing], [wanted] * len(missing)))
    else:
        fresh = [_lint_now(texts[i], wanted) for i in missing]
    for i, findings in zip(missing, fresh, strict=True):
        _keep(paths[i], findings)
        found[i] = findings
    return [f or [] for f in found]


def stale_files(files: Mapping[Path, str]) -> list[Path]:
    """The paths of ``files`` (path -> the text it should hold) that are missing or differ."""
    return [
        p for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text
    ]


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new, never half."""
    write_all({path: text})


def write_all(files: Mapping[Path, str]) -> None:
    """Write every file, or (on any error before the renames) none of them."""
    import tempfile  # only where files are written (about 3.5 ms: shutil, random, lzma, bz2)

    staged: list[tuple[str, Path]] = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            staged.append((tmp, path))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    for tmp, path in staged:
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
