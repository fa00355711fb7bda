"""A seller's stack of the previous release upgrades to this one, in moto, for both stacks.

The previous release is the one before ``__version__`` in ``releases/manifest.json``; its
committed text (``releases/<version>/<name>.yaml``) is deployed as a seller deployed it, then
``upgrade`` plans and applies this version, published (the Role & Access template is over
the TemplateBody limit, so it goes by URL, as the quick-create link does). What the plan must
say is what a seller's SRE reads before ``--apply``: the versions, the permissions that grow,
the new one-time secret, and the parameters whose default changed but keep their old value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from clazar_templates import __version__, to_json
from clazar_templates.aws.publishing import DEFAULT_PREFIX, template_key
from clazar_templates.aws.upgrade import UpgradeError, apply_upgrade, plan_upgrade
from clazar_templates.stacks import STACKS
from clazar_templates.template.reading import load_template
from conftest import Deployment
from support import DEPLOY_VALUES

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
BUCKET = "clazar-published"
SECRET = {"ClazarSecretKey": "n3w-s3cr3t-0123456789"}


def previous_release() -> str:
    """The release before this package's version (versions compared as numbers)."""
    released = json.loads((ROOT / "releases/manifest.json").read_text(encoding="utf-8"))
    older = [v for v in released if v != __version__]
    return max(older, key=lambda v: tuple(int(part) for part in v.split(".")))


PREVIOUS = previous_release()
NEW_IN_1_1_0 = {  # what the upgrade must create (CHANGELOG 1.1.0), with the new defaults
    "marketplace": {"ClazarMarketplaceFulfillmentPolicy", "ClazarSellerEventsRule"},
    "cosell": {"ClazarResourceSnapshotJobRole", "ClazarCosellEventsRule"},
}


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_the_previous_release_upgrades_to_this_one(stack: str, cloudformation: Deployment) -> None:
    target = STACKS[stack]
    old = load_template(
        (ROOT / "releases" / PREVIOUS / f"{target.name}.yaml").read_text(encoding="utf-8")
    )
    # Every parameter given, defaults too (moto's update counts one it was not given as
    # changed, and then updates resources whose Condition is false; AWS does neither).
    declared = old.get("Parameters", {})
    values = {k: str(spec.get("Default", DEPLOY_VALUES.get(k))) for k, spec in declared.items()}
    # Every bucket created: moto updates a resource whose Condition is false when a parameter
    # is new (NoncurrentVersionDays), and fails on the CAS bucket it never made.
    values.update({"EnableCas": "true"} if "EnableCas" in values else {})
    client = cloudformation.client
    client.create_stack(
        StackName="clazar",
        TemplateBody=json.dumps(old),  # moto's YAML loader mangles !Condition
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    assert cloudformation.wait("clazar")["StackStatus"] == "CREATE_COMPLETE"

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    key = template_key(DEFAULT_PREFIX, __version__, target.name)
    s3.put_object(Bucket=BUCKET, Key=key, Body=to_json(target.build()).encode())

    plan = plan_upgrade(
        "clazar", __version__, bucket=BUCKET, client=client, parameters=SECRET,
        keep_change_set=True,
    )  # fmt: skip
    assert (plan.from_version, plan.to_version) == (PREVIOUS, __version__)
    assert plan.permissions.grew  # 1.1.0 grants more (CHANGELOG): the seller must accept it
    report = plan.to_markdown()
    assert "EnableEventBridge stays false; the new default is true" in report
    assert "n3w-s3cr3t" not in report
    with pytest.raises(UpgradeError, match="permissions grow"):
        apply_upgrade(plan, progress=lambda _: None)
    assert client.list_change_sets(StackName="clazar")["Summaries"] == []

    # Applied as the plan advises, taking the new default: EventBridge (moto also cannot update
    # a stack whose Fn::If names a resource its Condition leaves out: it resolves the GetAtt
    # first, where AWS does not).
    taken = {**SECRET, "EnableEventBridge": "true"}
    plan = plan_upgrade(
        "clazar", __version__, bucket=BUCKET, client=client, parameters=taken,
        keep_change_set=True,
    )  # fmt: skip
    result = apply_upgrade(plan, accept_growth=True, progress=lambda _: None, poll=0.01)
    assert result.ok, result
    deployed: Any = client.get_template(StackName="clazar")["TemplateBody"]
    deployed = deployed if isinstance(deployed, dict) else json.loads(deployed)
    assert deployed["Metadata"]["Clazar"]["Version"] == __version__
    resources = client.list_stack_resources(StackName="clazar")["StackResourceSummaries"]
    made = {r["LogicalResourceId"] for r in resources}
    assert NEW_IN_1_1_0[stack] <= made, NEW_IN_1_1_0[stack] - made
