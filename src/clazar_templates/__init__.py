"""Clazar's CloudFormation templates, as a library.

    from clazar_templates import MarketplaceOptions, build_marketplace, to_yaml
    print(to_yaml(build_marketplace(MarketplaceOptions(allow_marketplace_access=True))))

Names are imported on first use, so ``import clazar_templates`` stays fast. Every error the
library raises on purpose is a :class:`ClazarError` (bad input a :class:`FieldError`, which
names the field); each kind is exported here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

_EXPORTS = {
    "MarketplaceOptions": "options",
    "CosellOptions": "options",
    "OptionError": "options",
    "ClazarError": "errors",
    "FieldError": "errors",
    "PublishError": "aws.publishing",
    "LaunchError": "aws.launch",
    "CheckError": "aws.checks",
    "StackSetError": "aws.stacksets",
    "DiffError": "review.diff",
    "DeployerError": "review.deployer",
    "UpgradeError": "aws.upgrade",
    "UpgradeInputError": "aws.upgrade",
    "ResolveError": "template.resolve",
    "PathError": "template.render",
    "MissingExtraError": "extras",
    "build_marketplace": "stacks.marketplace",
    "build_cosell": "stacks.cosell",
    "to_yaml": "template.render",
    "to_json": "template.render",
    "lint": "template.render",
    "permissions": "review.permissions",
    "publish": "aws.publishing",
    "launch_url": "aws.launch",
    "check": "aws.checks",
    "stackset_plan": "aws.stacksets",
    "stackset_status": "aws.stacksets",
    "diff": "review.diff",
    "deployer_policy": "review.deployer",
    "diagram": "review.diagrams",
    "plan_upgrade": "aws.upgrade",
    "apply_upgrade": "aws.upgrade",
}

__all__ = [
    "CheckError",
    "ClazarError",
    "CosellOptions",
    "DeployerError",
    "DiffError",
    "FieldError",
    "LaunchError",
    "MarketplaceOptions",
    "MissingExtraError",
    "OptionError",
    "PathError",
    "PublishError",
    "ResolveError",
    "StackSetError",
    "UpgradeError",
    "UpgradeInputError",
    "__version__",
    "apply_upgrade",
    "build_cosell",
    "build_marketplace",
    "check",
    "deployer_policy",
    "diagram",
    "diff",
    "launch_url",
    "lint",
    "permissions",
    "plan_upgrade",
    "publish",
    "stackset_plan",
    "stackset_status",
    "to_json",
    "to_yaml",
]

if TYPE_CHECKING:  # the same names as _EXPORTS (a test holds them equal): typed for consumers
    from .aws.checks import CheckError, check
    from .aws.launch import LaunchError, launch_url
    from .aws.publishing import PublishError, publish
    from .aws.stacksets import StackSetError, stackset_plan, stackset_status
    from .aws.upgrade import UpgradeError, UpgradeInputError, apply_upgrade, plan_upgrade
    from .errors import ClazarError, FieldError
    from .extras import MissingExtraError
    from .options import CosellOptions, MarketplaceOptions, OptionError
    from .review.deployer import DeployerError, deployer_policy
    from .review.diagrams import diagram
    from .review.diff import DiffError, diff
    from .review.permissions import permissions
    from .stacks.cosell import build_cosell
    from .stacks.marketplace import build_marketplace
    from .template.render import PathError, lint, to_json, to_yaml
    from .template.resolve import ResolveError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'clazar_templates' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
