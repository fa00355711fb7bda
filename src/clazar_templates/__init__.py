"""Clazar's CloudFormation templates, as a library.

    from clazar_templates import MarketplaceOptions, build_marketplace, to_yaml
    print(to_yaml(build_marketplace(MarketplaceOptions(allow_marketplace_access=True))))

Names are imported on first use, so ``import clazar_templates`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "1.0.0"

_EXPORTS = {
    "MarketplaceOptions": "options",
    "CosellOptions": "options",
    "OptionError": "options",
    "build_marketplace": "stacks.marketplace",
    "build_cosell": "stacks.cosell",
    "to_yaml": "render",
    "to_json": "render",
    "lint": "render",
    "permissions": "permission_reference",
    "publish": "publishing",
    "launch_url": "launch",
    "check": "checks",
    "stackset_plan": "stacksets",
    "stackset_status": "stacksets",
    "diff": "policy_diff",
    "diagram": "diagrams",
}

__all__ = [
    "CosellOptions",
    "MarketplaceOptions",
    "OptionError",
    "__version__",
    "build_cosell",
    "build_marketplace",
    "check",
    "diagram",
    "diff",
    "launch_url",
    "lint",
    "permissions",
    "publish",
    "stackset_plan",
    "stackset_status",
    "to_json",
    "to_yaml",
]

if TYPE_CHECKING:
    from .checks import check
    from .launch import launch_url
    from .options import CosellOptions, MarketplaceOptions, OptionError
    from .permission_reference import permissions
    from .publishing import publish
    from .render import lint, to_json, to_yaml
    from .stacks.cosell import build_cosell
    from .stacks.marketplace import build_marketplace


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'clazar_templates' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
