"""Which of our templates a deployed stack runs, and the template it must therefore be.

``check`` must judge a stack by what *our* template creates, never by the stack's own
template: anyone can deploy a template with one queue and no role. Our templates say which
they are in ``Metadata.Clazar``: ``Template`` (the name), ``Version``, and ``Options``, the
build-time options fixed when the platform rendered a variant (absent from the published
all-deploy-time templates, which therefore do not grow). The reference is that exact
template: rebuilt by this library when the version is its own, else read from where
``publish`` put the version (only all-deploy-time templates are published). The deployed
template must equal it as data (YAML or JSON, short forms or long).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..._version import __version__
from ...options import OptionError
from ...stacks import STACKS, Stack
from ..errors import aws_errors, aws_message
from ..publishing import DEFAULT_PREFIX, PublishError, read_published, template_key

__all__ = ["Identity", "NotOurs", "differences", "identify", "reference"]

SHOWN = 4  # differences named before "(and N more)"
FIRST = ("Resources", "Outputs", "Parameters", "Conditions")


class NotOurs(ValueError):
    """A template that is not one of ours, or whose reference cannot be had; the message
    says which, and what to pass."""


@dataclass(frozen=True)
class Identity:
    """One of our templates: which, which version, and the build-time options it fixed."""

    target: Stack
    version: str
    fixed: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        options = f" with build-time options {', '.join(self.fixed)}" if self.fixed else ""
        return f"{self.target.name} {self.version}{options}"


def identify(template: Mapping[str, Any]) -> Identity:
    """The template's identity from its ``Metadata.Clazar``; NotOurs if it has none that
    this library can build."""
    metadata = template.get("Metadata")
    clazar = metadata.get("Clazar") if isinstance(metadata, Mapping) else None
    names = ", ".join(s.name for s in STACKS.values())
    if not isinstance(clazar, Mapping):
        raise NotOurs(f"not a Clazar stack: its template has no Metadata.Clazar ({names} do)")
    name, version, fixed = clazar.get("Template"), clazar.get("Version"), clazar.get("Options")
    target = next((s for s in STACKS.values() if s.name == name), None)
    if target is None:
        raise NotOurs(f"not a Clazar stack: Metadata.Clazar.Template is {name!r}, not {names}")
    if fixed is not None and not isinstance(fixed, Mapping):
        raise NotOurs(f"{name}: Metadata.Clazar.Options is not a map of option values")
    try:
        target.options(**dict(fixed or {}), version=version)
    except (OptionError, TypeError) as error:
        raise NotOurs(f"{name}: Metadata.Clazar is not what this library writes: {error}") from None
    return Identity(target, str(version), dict(fixed or {}))


def reference(
    identity: Identity, *, bucket: str | None = None, prefix: str = DEFAULT_PREFIX, s3: Any = None
) -> tuple[dict[str, Any], str]:
    """The template ``identity`` names, as data, and where it comes from (for messages).

    Rebuilt when ``identity.version`` is this library's; else read from ``bucket`` with the
    S3 client ``s3``. NotOurs, saying what to pass, when it cannot be had.
    """
    from ...template.reading import load_template
    from ...template.render import to_json

    target, version = identity.target, identity.version
    if version == __version__:
        built = target.build(target.options(**identity.fixed))
        return json.loads(to_json(built)), f"{identity} as this library builds it"
    if identity.fixed:
        raise NotOurs(
            f"{identity} cannot be rebuilt here: only clazar-templates {version} renders that "
            f"variant (this is {__version__}); run check with clazar-templates {version}"
        )
    if bucket is None:
        raise NotOurs(
            f"{identity} is not this library's version ({__version__}); pass --bucket (and "
            f"--prefix) where {version} is published, or run check with clazar-templates "
            f"{version}"
        )
    where = f"s3://{bucket}/{template_key(prefix, version, target.name)}"
    unreadable: tuple[type[Exception], ...] = (*aws_errors(), ValueError)  # no template
    try:
        published = load_template(read_published(bucket, prefix, version, target.name, client=s3))
    except PublishError as error:
        raise NotOurs(f"{identity}: {error}") from None
    except unreadable as error:
        raise NotOurs(
            f"cannot read {identity} from {where} ({aws_message(error)}); pass the --bucket and "
            f"--prefix where {version} is published"
        ) from None
    try:
        found = identify(published)
    except NotOurs as error:
        raise NotOurs(f"{where} is not {identity}: {error}") from None
    if found != Identity(target, version):
        raise NotOurs(f"{where} is not {identity} but {found}")
    return published, f"{identity} as published at {where}"


def differences(deployed: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    """What differs, as phrases: ``Resources.X added``, ``Resources.Y changed (Properties.Z)``,
    ``Description changed``; [] when the two are the same template."""
    found: list[str] = []
    sections = [*FIRST, *expected, *deployed]  # what a stack creates first
    for section in dict.fromkeys(s for s in sections if s in deployed or s in expected):
        mine, ours = deployed.get(section), expected.get(section)
        if mine == ours:
            continue
        if isinstance(mine, Mapping) and isinstance(ours, Mapping) and section != "Metadata":
            found += [f"{section}.{k} added" for k in mine if k not in ours]
            found += [f"{section}.{k} missing" for k in ours if k not in mine]
            found += [
                f"{section}.{k} changed ({_where(mine[k], ours[k])})"
                for k in ours
                if k in mine and mine[k] != ours[k]
            ]
        else:
            what = "added" if ours is None else "missing" if mine is None else "changed"
            found.append(f"{section} {what}")
    return found


def summarised(found: list[str]) -> str:
    more = f" (and {len(found) - SHOWN} more)" if len(found) > SHOWN else ""
    return "; ".join(found[:SHOWN]) + more


def _where(mine: Any, ours: Any, path: str = "") -> str:
    """The first path at which two values differ (``Properties.Policies[0]``)."""
    if isinstance(mine, Mapping) and isinstance(ours, Mapping):
        for key in [*ours, *(k for k in mine if k not in ours)]:
            if mine.get(key) != ours.get(key):
                return _where(mine.get(key), ours.get(key), f"{path}.{key}" if path else key)
    if isinstance(mine, list) and isinstance(ours, list) and len(mine) == len(ours):
        for number, (a, b) in enumerate(zip(mine, ours, strict=True)):
            if a != b:
                return _where(a, b, f"{path}[{number}]")
    return path or "the value"
