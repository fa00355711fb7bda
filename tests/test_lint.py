"""Build-time combinations of the options that shape a template emit cfn-lint-clean templates
(errors, warnings and informational rules). `make sweep` covers every combination of every
option; this is the fast sample `make test` runs: the flags (and numbers) as
``conftest.flag_samples`` samples them, read from the options so a new one is not left out,
and the co-sell roles created or reused."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from clazar_templates import CosellOptions, MarketplaceOptions, build_cosell, build_marketplace
from clazar_templates.template.render import lint, to_yaml
from conftest import flag_samples


@pytest.mark.parametrize("settings", flag_samples(MarketplaceOptions), ids=str)
def test_marketplace_flags_lint_clean(settings: dict[str, Any]) -> None:
    options = MarketplaceOptions(**settings)
    assert [str(f) for f in lint(to_yaml(build_marketplace(options)))] == []


@pytest.mark.parametrize(
    ("sandbox", "production", "flags"),
    list(
        itertools.product(
            ["", "SellerSandbox"],
            ["", "arn:aws:iam::111122223333:role/x/P"],
            [s for s in flag_samples(CosellOptions) if len(set(s.values())) == 1],  # all on/off
        )
    ),
    ids=str,
)
def test_cosell_combinations_lint_clean(
    sandbox: str, production: str, flags: dict[str, Any]
) -> None:
    options = CosellOptions(
        existing_sandbox_role=sandbox, existing_production_role=production, **flags
    )
    assert [str(f) for f in lint(to_yaml(build_cosell(options)))] == []
