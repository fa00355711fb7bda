"""Options are validated when built: one clear error naming the field and the form."""

from __future__ import annotations

import pytest

from clazar_templates import CosellOptions, MarketplaceOptions, OptionError
from clazar_templates.options import option_fields, parse_value
from clazar_templates.stacks import STACKS, Stack
from support import as_dict

GOOD_TOPIC = "arn:aws:sns:us-west-2:111122223333:sdds-feed"

BAD_MARKETPLACE = [
    ("clazar_account_id", "12345", "12-digit"),
    ("clazar_account_id", "12345678901a", "12-digit"),
    ("clazar_account_id", "", "12-digit"),
    ("external_id", "x", "2-1224"),
    ("external_id", "a" * 1225, "2-1224"),
    ("external_id", "has space", "2-1224"),
    ("role_name", "r" * 65, "IAM role name"),
    ("role_name", "bad/name", "IAM role name"),
    ("cas_bucket_name", "Upper", "S3 bucket name"),
    ("cas_bucket_name", "ab", "S3 bucket name"),
    ("sdds_bucket_name", "a..b", "adjacent dots"),
    ("sdds_bucket_name", "192.168.1.1", "IP address"),
    ("sdds_bucket_name", "xn--bucket", "xn--"),
    ("sdds_bucket_name", "bucket-s3alias", "-s3alias"),
    ("sdds_sns_topic_arn", "not-an-arn", "SNS topic ARN"),
    ("sdds_sns_topic_arn", "arn:aws:sqs:us-east-1:111122223333:q", "not an ARN of 'sqs'"),
    ("sdds_sns_topic_arn", "arn:aws-cn:sns:cn-north-1:111122223333:t", "'aws' partition"),
    ("sdds_sns_topic_arn", "arn:aws:sns:us-east-1:1111:t", "SNS topic ARN"),
    ("allow_marketplace_access", "true", "True, False or None"),
    ("enable_cas", 1, "True, False or None"),
    ("clazar_account_uid", "", "1-128"),
]


@pytest.mark.parametrize(("field", "value", "form"), BAD_MARKETPLACE)
def test_bad_marketplace_option_names_field_and_form(field: str, value: object, form: str) -> None:
    with pytest.raises(OptionError) as caught:
        MarketplaceOptions(**{field: value})
    assert isinstance(caught.value, ValueError)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert form in str(caught.value)


BAD_COSELL = [
    ("existing_sandbox_role", "arn:aws:s3:::bucket", "not an ARN of 's3'"),
    ("existing_sandbox_role", "arn:aws:iam::111122223333:user/bob", "IAM role ARN"),
    ("existing_sandbox_role", "arn:aws:iam::1111:role/x", "IAM role ARN"),
    ("existing_production_role", "arn:aws-us-gov:iam::111122223333:role/x", "'aws' partition"),
    ("existing_production_role", "bad name", "IAM role name"),
    ("existing_production_role", "r" * 65, "IAM role name"),
]


@pytest.mark.parametrize(("field", "value", "form"), BAD_COSELL)
def test_bad_cosell_option(field: str, value: str, form: str) -> None:
    with pytest.raises(OptionError, match=field) as caught:
        CosellOptions(**{field: value})
    assert form in str(caught.value)


def test_partition_decides_which_arns_are_accepted() -> None:
    arn = "arn:aws-cn:iam::111122223333:role/path/Sandbox"
    assert CosellOptions(partition="aws-cn", existing_sandbox_role=arn).existing_sandbox_role == arn
    with pytest.raises(OptionError, match="partition"):
        CosellOptions(partition="aws-mars")


def test_good_values_are_kept() -> None:
    options = MarketplaceOptions(
        clazar_account_id="999988887777",
        external_id="a-b_c+=,.@:/x",
        role_name="Clazar.Role@team",
        sdds_sns_topic_arn=GOOD_TOPIC,
        sdds_bucket_name="my-sdds.bucket-1",
        cas_bucket_name="",
        allow_marketplace_access=True,
    )
    assert options.sdds_sns_topic_arn == GOOD_TOPIC
    assert options.cas_bucket_name == ""


def test_api_url_must_be_https() -> None:
    with pytest.raises(OptionError, match="api_url"):
        MarketplaceOptions(api_url="http://api.clazar.io/report")


def test_parse_value_from_strings() -> None:
    assert parse_value(MarketplaceOptions, "enable_cas", "true") is True
    assert parse_value(MarketplaceOptions, "enable_cas", "deploy") is None
    assert parse_value(MarketplaceOptions, "cas_bucket_name", "") == ""
    assert parse_value(MarketplaceOptions, "api_url", "development").startswith("https://")
    with pytest.raises(OptionError, match="true, false or deploy"):
        parse_value(MarketplaceOptions, "enable_cas", "yes")
    with pytest.raises(OptionError, match=r"one of: .*role_name"):
        parse_value(MarketplaceOptions, "rolename", "x")


@pytest.mark.parametrize("target", list(STACKS.values()), ids=lambda s: s.short)
def test_each_option_condition_is_declared_once_and_tests_its_parameter(target: Stack) -> None:
    conditions = as_dict(target.build())["Conditions"]
    for name, spec in option_fields(target.options):
        decided_later = spec.kind.is_flag or spec.kind.optional or spec.kind.is_number
        assert (spec.condition is not None) == decided_later, name
        if spec.condition is not None:
            tested = "true" if spec.kind.is_flag else "0" if spec.kind.is_number else ""
            equals = {"Fn::Equals": [{"Ref": spec.parameter}, tested]}
            assert conditions[spec.condition] == equals, name


def test_a_number_option_takes_whole_numbers_from_python_and_the_command_line() -> None:
    """The number kind: an int of at least its MinValue in Python, digits on the command
    line (``deploy`` leaves it to a Number parameter), and a clear error otherwise."""
    assert parse_value(MarketplaceOptions, "noncurrent_version_days", "30") == 30
    assert parse_value(MarketplaceOptions, "noncurrent_version_days", "0") == 0
    assert parse_value(MarketplaceOptions, "noncurrent_version_days", "deploy") is None
    for text in ("-1", "1.5", "thirty", ""):
        with pytest.raises(OptionError, match="a whole number of days, 0 or more or deploy"):
            parse_value(MarketplaceOptions, "noncurrent_version_days", text)
    assert MarketplaceOptions(noncurrent_version_days=0).noncurrent_version_days == 0
    for bad in (-1, 1.5, "30", True):
        with pytest.raises(OptionError, match="noncurrent_version_days"):
            MarketplaceOptions(noncurrent_version_days=bad)
