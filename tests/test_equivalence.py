"""A build-time template is exactly what the deploy-time template becomes with the same
values: same resources, same policy documents, same outputs, once Conditions resolve."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from clazar_templates import CosellOptions, MarketplaceOptions, build_cosell, build_marketplace
from clazar_templates.options import option_fields
from clazar_templates.template.resolve import resolve
from support import DEPLOY_VALUES, EXTERNAL_ID, UID, VENDOR, as_dict, deployed

COMMON = {"clazar_account_id": VENDOR, "external_id": EXTERNAL_ID, "clazar_account_uid": UID}

MARKETPLACE_CHOICES = {
    "allow_marketplace_access": [True, False],
    "enable_cas": [True, False],
    "cas_sns_topic_arn": ["", "arn:aws:sns:eu-west-1:111122223333:old-cas"],
    "cas_bucket_name": ["", "old-cas-bucket"],
    "sdds_sns_topic_arn": ["", "arn:aws:sns:us-east-1:111122223333:old-sdds"],
    "sdds_bucket_name": ["", "old-sdds-bucket"],
    "enable_event_bridge": [True, False],
    "role_name": ["", "SellerRole"],
}
COSELL_CHOICES = {
    "existing_sandbox_role": ["", "team-sandbox", "arn:aws:iam::111122223333:role/co/sell/Prod"],
    "existing_production_role": ["", "arn:aws:iam::111122223333:role/Production"],
    "enable_event_bridge": [True, False],
}


def combinations(choices: dict[str, list[Any]]) -> list[dict[str, Any]]:
    return [
        dict(zip(choices, values, strict=True)) for values in itertools.product(*choices.values())
    ]


def as_parameters(options_class: type[Any], values: dict[str, Any]) -> dict[str, str]:
    specs = dict(option_fields(options_class))
    out = dict(DEPLOY_VALUES)
    for name, value in values.items():
        out[specs[name].parameter] = (
            ("true" if value else "false") if isinstance(value, bool) else value
        )
    return out


def assert_equivalent(built: Any, deploy_time: Any, parameters: dict[str, str]) -> None:
    fixed = as_dict(built)
    declared = fixed.get("Parameters", {})
    values = {k: v for k, v in {**DEPLOY_VALUES, **parameters}.items() if k in declared}
    for region in ("us-east-1", "eu-west-1"):  # EventBridge rules exist in us-east-1 only
        expected = deployed(deploy_time, region=region, **parameters)
        actual = resolve(fixed, values, region=region)
        assert sorted(actual["Resources"]) == sorted(expected["Resources"])
        for logical, resource in expected["Resources"].items():
            assert actual["Resources"][logical] == resource, logical
        assert actual["Outputs"] == expected["Outputs"]


@pytest.mark.parametrize("values", combinations(MARKETPLACE_CHOICES), ids=str)
def test_marketplace_build_time_equals_resolved_deploy_time(values: dict[str, Any]) -> None:
    built = build_marketplace(MarketplaceOptions(**COMMON, **values))
    assert_equivalent(built, build_marketplace(), as_parameters(MarketplaceOptions, values))


@pytest.mark.parametrize("values", combinations(COSELL_CHOICES), ids=str)
def test_cosell_build_time_equals_resolved_deploy_time(values: dict[str, Any]) -> None:
    built = build_cosell(CosellOptions(**COMMON, **values))
    assert_equivalent(built, build_cosell(), as_parameters(CosellOptions, values))


@pytest.mark.parametrize("fixed", ["allow_marketplace_access", "enable_cas", "sdds_bucket_name"])
def test_mixed_modes_match_too(fixed: str) -> None:
    values = {"allow_marketplace_access": True, "enable_cas": True, "sdds_bucket_name": "old-sdds"}
    built = build_marketplace(MarketplaceOptions(**{fixed: values[fixed]}))
    assert_equivalent(built, build_marketplace(), as_parameters(MarketplaceOptions, values))


def test_fixed_options_leave_no_parameter_behind() -> None:
    every = {**COMMON, **{k: v[1] for k, v in MARKETPLACE_CHOICES.items()}, "role_name": "R"}
    template = as_dict(build_marketplace(MarketplaceOptions(**every)))
    assert set(template["Parameters"]) == {"ClazarSecretKey"}
