"""Every build-time combination of the boolean options emits a cfn-lint-clean template
(errors, warnings and informational rules). `make sweep` covers every combination of every
option; this is the fast sample `make test` runs."""

from __future__ import annotations

import itertools

import pytest

from clazar_templates import CosellOptions, MarketplaceOptions, build_cosell, build_marketplace
from clazar_templates.template.render import lint, to_yaml

FLAGS = [True, False]


@pytest.mark.parametrize(
    ("allow", "cas", "events"), list(itertools.product(FLAGS, FLAGS, FLAGS)), ids=str
)
def test_marketplace_flags_lint_clean(allow: bool, cas: bool, events: bool) -> None:
    options = MarketplaceOptions(
        allow_marketplace_access=allow, enable_cas=cas, enable_event_bridge=events
    )
    assert [str(f) for f in lint(to_yaml(build_marketplace(options)))] == []


@pytest.mark.parametrize(
    ("sandbox", "production", "events"),
    list(
        itertools.product(["", "SellerSandbox"], ["", "arn:aws:iam::111122223333:role/x/P"], FLAGS)
    ),
    ids=str,
)
def test_cosell_combinations_lint_clean(sandbox: str, production: str, events: bool) -> None:
    options = CosellOptions(
        existing_sandbox_role=sandbox,
        existing_production_role=production,
        enable_event_bridge=events,
    )
    assert [str(f) for f in lint(to_yaml(build_cosell(options)))] == []
