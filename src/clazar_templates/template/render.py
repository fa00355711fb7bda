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
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import FieldError

__all__ = [
    "TEMPLATE_BODY_LIMIT",
    "TEMPLATE_URL_LIMIT",
    "Finding",
    "PathError",
    "body_too_big",
    "lint",
    "lint_many",
    "ordered",
    "path_problem",
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
"""Bytes CloudFormation accepts as an inline ``TemplateBody`` (CreateStack, CreateChangeSet,
CreateStackSet...). The only home of this number: every path of ours that would send a
bigger body sends the published template's URL instead, or refuses (:func:`body_too_big`)."""

TEMPLATE_URL_LIMIT = 1_000_000
"""Bytes CloudFormation accepts from S3 (``TemplateURL``: "1 MB"; the smaller reading, 10**6
bytes), as the quick-create link, the console's upload and StackSets with a bucket use."""

DEPLOY_FROM_S3 = (
    "deploy it from S3: `clazar-templates publish --bucket BUCKET --version VERSION`, then "
    "its quick-create link (`launch-url`), or --bucket for stackset-plan and upgrade"
)


def body_too_big(text: str) -> int | None:
    """The size of ``text`` in bytes when it is over ``TEMPLATE_BODY_LIMIT``, else None."""
    size = len(text.encode("utf-8"))
    return size if size > TEMPLATE_BODY_LIMIT else None


def size_note(text: str) -> str:
    """How big ``text`` is, how far under (or over) the ``TemplateBody`` limit, and above it
    how to deploy it from S3."""
    size = len(text.encode("utf-8"))
    margin = TEMPLATE_BODY_LIMIT - size
    limit = f"the {TEMPLATE_BODY_LIMIT:,}-byte TemplateBody limit"
    if margin >= 0:
        return f"{size:,} bytes, {margin:,} under {limit}"
    return f"{size:,} bytes, {-margin:,} over {limit}: {DEPLOY_FROM_S3}"


LINT_REGIONS = ("us-east-1",)
LINT_CHECKS = ("I",)  # informational rules too, beside errors and warnings
LINT_RULES: tuple[str, ...] = ()
"""Directories of rules cfn-lint runs beside its own (its ``append_rules``): none yet. The
lint cache's key holds every file in them."""
LINT_CACHE = "CLAZAR_LINT_CACHE"
"""Environment variable naming a directory where cfn-lint's findings are kept (``make`` sets
it to .cache/), by the hash of everything that decides them (``_cache_path``)."""


def _lint_settings(regions: tuple[str, ...]) -> str:
    """Everything this project tells cfn-lint (its ``ManualArgs``), as JSON: the regions,
    the informational rules, the rule directories, and no configuration file (``os.devnull``:
    cfn-lint reads no ``~/.cfnlintrc`` nor a ``.cfnlintrc`` in the working directory, which
    could ignore a rule for one user and so hide a finding from the lint and its cache)."""
    return json.dumps(
        {
            "regions": list(regions),
            "include_checks": list(LINT_CHECKS),
            "append_rules": list(LINT_RULES),
            "config_file": os.devnull,
        },
        sort_keys=True,
    )


@functools.cache
def _linter(settings: str) -> Any:
    """cfn-lint's configuration and loaded rules (``_lint_settings``), made once per process.

    ``cfnlint.api.lint`` builds a new Runner, and so reloads every rule (about 0.6 s of CPU),
    on each call: its ``rules`` argument takes only the older ``RulesCollection``, not the
    ``Rules`` a Runner loads (cfn-lint 1.x). Measured on a committed template: 0.91 s per
    call through the API, 0.24 s here.
    """
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    return Runner(ConfigMixIn(**json.loads(settings)))


def _lint_now(text: str, settings: str) -> list[Finding]:
    from cfnlint.decode.decode import decode_str
    from cfnlint.runner import run_template_by_data

    template, errors = decode_str(text)
    if not errors and template is not None:
        runner = _linter(settings)
        errors = list(run_template_by_data(template, runner.config, runner.rules))
    return [Finding(m.rule.id, m.message, m.linenumber) for m in errors]


def _spec_cache() -> Path:
    """Where ``cfn-lint --update-specs`` keeps the schemas it downloads, which cfn-lint reads
    instead of its bundled ones when they are newer: ``cfnlint.helpers.get_cache_dir``,
    written out so that this process need not import cfn-lint (tests compare the two)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA", os.path.expanduser("~\\AppData\\Local"))
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
    return Path(base, "aws", "cfn-lint", "schemas")


def _tree_digest(top: Path) -> str:
    """The hash of every file under ``top`` (names and bytes), or "absent"."""
    import hashlib

    if not top.is_dir():
        return "absent"
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(files):
            path = Path(root, name)
            try:
                data = path.read_bytes()
            except OSError as error:  # a dangling link, say: it is part of the key, as is
                data = f"unreadable: {error.strerror}".encode()
            digest.update(str(path.relative_to(top)).encode() + b"\0")
            digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


def _versions(name: str) -> dict[str, str]:
    """The installed version of ``name`` and of everything it requires, transitively."""
    import re
    from importlib.metadata import PackageNotFoundError, distribution

    found: dict[str, str] = {}
    todo = [name]
    while todo:
        wanted = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if wanted in found:
            continue
        try:
            dist = distribution(wanted)
        except PackageNotFoundError:
            found[wanted] = "absent"
            continue
        found[wanted] = dist.version
        for requirement in dist.requires or []:
            if "extra ==" not in requirement:
                todo.append(re.split(r"[^A-Za-z0-9._-]", requirement, maxsplit=1)[0])
    return found


@functools.cache
def _lint_inputs() -> str:
    """What decides cfn-lint's findings beside the text and ``_lint_settings``, once per
    process (about 0.1 s, most of it hashing 30 MB of schemas): cfn-lint's version and its
    requirements', its data (the resource schemas, the specs) as installed, the schemas of
    ``cfn-lint --update-specs`` (``_spec_cache``), and this module (how cfn-lint is run)."""
    from importlib.util import find_spec

    spec = find_spec("cfnlint")
    package = Path(next(iter(spec.submodule_search_locations or []))) if spec else None
    return json.dumps(
        [
            _versions("cfn-lint"),
            _tree_digest(package / "data") if package else "absent",
            _tree_digest(_spec_cache()),
            Path(__file__).read_text(encoding="utf-8"),
        ]
    )


def _cache_path(text: str, settings: str) -> Path | None:
    """Where the findings of ``text`` are kept: named by the hash of the text, the settings,
    the rule files and ``_lint_inputs``."""
    directory = os.environ.get(LINT_CACHE)
    if not directory:
        return None
    import hashlib

    rules = [_tree_digest(Path(rules).expanduser()) for rules in LINT_RULES]
    key = json.dumps([_lint_inputs(), settings, rules, text])
    return Path(directory) / f"{hashlib.sha256(key.encode()).hexdigest()}.json"


def _cached(path: Path | None) -> list[Finding] | None:
    """The findings kept at ``path``; None (lint again) if there are none or the entry is not
    a list of [rule, message, line] rows."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8")) if path else None
    except (OSError, ValueError):
        return None
    if not isinstance(rows, list):
        return None
    found = []
    for row in rows:
        if not (
            isinstance(row, list)
            and len(row) == 3
            and isinstance(row[0], str)
            and row[0]
            and isinstance(row[1], str)
            and type(row[2]) is int
        ):
            return None
        found.append(Finding(*row))
    return found


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
    wanted = _lint_settings(tuple(regions))
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
    """The paths of ``files`` (path -> the text it should hold) that are missing or differ
    (or are no file at all: :func:`write_all` says why)."""
    return [
        p for p, text in files.items() if not p.is_file() or p.read_text(encoding="utf-8") != text
    ]


class PathError(FieldError):
    """A file that cannot be written there; ``field`` is the option that chose its path."""


def path_problem(path: Path) -> str | None:
    """Why ``path`` cannot be written as a file, or None: it is a directory (or another
    non-file), or the nearest of its parents that exists is not a directory."""
    if path.exists() and not path.is_file():
        return f"{path} is a directory, not a file" if path.is_dir() else f"{path} is not a file"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        return f"{parent} is a file, not a directory, so {path} cannot be written"
    return None


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new, never half."""
    write_all({path: text})


def write_all(files: Mapping[Path, str], field: str | None = None) -> None:
    """Write every file, or (on any error before the renames) none of them. A path that
    cannot be a file (:func:`path_problem`) raises PathError naming it before anything is
    written; with ``field`` (the option that chose the paths), so does any other OSError."""
    import tempfile  # only where files are written (about 3.5 ms: shutil, random, lzma, bz2)

    for path in files:
        problem = path_problem(path)
        if problem:
            raise PathError(field, f"{problem}; nothing was written")
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
    except BaseException as error:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        if field and isinstance(error, OSError):
            where = error.filename or path
            raise PathError(field, f"{where}: {error.strerror}; nothing was written") from None
        raise
    for tmp, path in staged:
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
