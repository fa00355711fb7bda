"""The Role & Access stack (``clazar-marketplace``).

Resources come in the order of the vendor's "Permissions and Roles" list (seed 002): the
Clazar role, the queue, Marketplace access, then CAS & SDDS, and the reporter last. Every
permission comes from :mod:`clazar_templates.policies`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from troposphere import GetAtt, Join, Ref, Select, Split, Sub, Template, iam, kms, s3, sns

from .. import policies as p
from ..options import MarketplaceOptions
from .base import (
    Flag,
    StackBuilder,
    pick,
    present,
    sub,
    unless,
    vendor_root,
    when,
    within,
)
from .messaging import (
    add_queue,
    add_queue_policy,
    add_rules,
    dead_letter_queue,
    event_rules_flag,
    rule_arns,
)
from .reporting import add_reporter
from .suppressions import (
    FEED_BUCKET,
    INLINE_POLICY,
    MARKETPLACE_OPT_IN,
    NO_RESOURCE_TYPE,
    Suppression,
    scanner_metadata,
)

NAME = "clazar-marketplace"
DESCRIPTION = (
    "Clazar Role & Access: the role Clazar assumes in this account with your external ID, "
    "the queue and CAS/SDDS data feeds it reads, and a one-time report to Clazar"
)
ROLE = "ClazarRole"
QUEUE = "ClazarSqsQueue"
KEY = "ClazarKmsKey"
EVENT_RULES = {
    # logical ID: (every event of these sources, on the default bus in us-east-1)
    "ClazarAgreementEventsRule": (
        ("aws.agreement-marketplace",),
        "AWS Marketplace agreement and license events to the Clazar queue",
    ),
    "ClazarCatalogEventsRule": (
        ("aws.marketplacecatalog",),
        "AWS Marketplace catalog events to the Clazar queue",
    ),
    "ClazarSellerEventsRule": (
        ("aws.marketplace",),
        "AWS Marketplace seller events (e.g. Disbursement Paused) to the Clazar queue",
    ),
}


def build_marketplace(options: MarketplaceOptions | None = None) -> Template:
    """The Role & Access template for ``options`` (all left to deploy time by default)."""
    b = StackBuilder(options or MarketplaceOptions(), NAME, DESCRIPTION)
    rules = event_rules_flag(b)
    policies = [clazar_role(b)]
    policies.append(clazar_sqs(b, rules))
    policies += marketplace_access(b)
    cas = Feed.declare(b, "Cas", b.flag("enable_cas"))
    sdds = Feed.declare(b, "Sdds", True)
    key = kms_key(b, cas, sdds)
    for feed in (cas, sdds):
        feed_bucket(b, feed)
        feed_topic(b, feed)
    policies += feed_access(b, cas, sdds)
    for feed in (cas, sdds):
        feed_subscription(b, feed)
    rule_arns = add_rules(b, EVENT_RULES, QUEUE, rules)
    sqs_send_policy(b, cas, sdds, rules, rule_arns)
    outputs(b, cas, sdds, key)
    report = report_properties(b, cas, sdds, key)
    report["EventBridge"] = pick(rules, "true", "false")
    if rules is not False:  # the rules Clazar may check, comma-separated
        report["EventRuleArns"] = when(rules, Join(",", rule_arns))
    add_reporter(b, "ClazarReporter", report, policies)
    return b.finish()


# --- Clazar Role ------------------------------------------------------------------------


def clazar_role(b: StackBuilder) -> Ref:
    b.add(
        iam.Role(
            ROLE,
            **role_name(b),
            Description="Assumed by Clazar, with your external ID, to work with AWS Marketplace",
            AssumeRolePolicyDocument=p.document(
                p.trust_clazar_account(vendor_root(b), b.value("external_id"))
            ),
        )
    )
    return inline_policy(b, "ClazarRolePolicyAccess", p.read_own_role(GetAtt(ROLE, "Arn")))


def role_name(b: StackBuilder) -> dict[str, Any]:
    """The seller's role name; none (CloudFormation makes a unique one) when it is empty."""
    generated, name = b.made_or_given("role_name")
    return {} if generated is True else {"RoleName": unless(generated, name)}


def inline_policy(
    b: StackBuilder,
    name: str,
    *statements: Any,
    condition: Flag = True,
    suppress: tuple[Suppression, ...] = (),
) -> Any:
    """An ``AWS::IAM::Policy`` named ``name`` on the Clazar role; its Ref (for the reporter)."""
    made = b.add(
        iam.PolicyType(
            name,
            PolicyName=name,
            Roles=[Ref(ROLE)],
            PolicyDocument=p.document(*statements),
            Metadata=scanner_metadata(*suppress, INLINE_POLICY),
        ),
        condition,
    )
    return None if made is None else when(condition, Ref(made))


# --- Clazar SQS -------------------------------------------------------------------------


def clazar_sqs(b: StackBuilder, rules: Flag) -> Any:
    """The queue and its dead-letter queue, which also keeps what the rules could not
    deliver; the Clazar role's policy to read both."""
    dead_letters = GetAtt(dead_letter_queue(QUEUE), "Arn")
    undelivered = when(rules, p.keep_undelivered_events(dead_letters, rule_arns(EVENT_RULES)))
    queue_arn, dlq_arn = add_queue(b, QUEUE, dead_letter_statements=present(undelivered))
    return inline_policy(b, "ClazarSqsAccess", p.consume_queue([queue_arn, dlq_arn]))


# --- Clazar Marketplace Access ----------------------------------------------------------


def marketplace_access(b: StackBuilder) -> list[Any]:
    allowed = b.flag("allow_marketplace_access")
    return present(
        inline_policy(
            b,
            "ClazarMarketplaceAccessPolicy",
            p.manage_marketplace(),
            p.deny_beyond_selling(),
            condition=allowed,
            suppress=(MARKETPLACE_OPT_IN,),
        ),
        inline_policy(
            b,
            "ClazarMarketplaceFulfillmentPolicy",
            p.fulfill_saas_customers(),
            p.read_catalog_entities(),
            condition=b.flag("allow_marketplace_fulfillment"),
            suppress=(NO_RESOURCE_TYPE,),
        ),
        inline_policy(
            b,
            "ClazarMarketplaceSnsAccessPolicy",
            p.subscribe_marketplace_topics(GetAtt(QUEUE, "Arn")),
            p.check_marketplace_topics(),
        ),
    )


# --- CAS & SDDS -------------------------------------------------------------------------


@dataclass(frozen=True)
class Feed:
    """One data feed (CAS or SDDS): whether it is on, and the bucket and topic it uses.

    ``new_*`` say the stack creates the topic/bucket (the single ``Equals`` condition on the
    parameter, which every ``Fn::If`` between created and given branches on); ``create_*``
    add "the feed is on"; ``given_*`` are the seller's topic ARN and bucket name.
    """

    prefix: str  # "Cas" or "Sdds": logical IDs and parameter names start with it
    enabled: Flag
    new_topic: Flag = False
    new_bucket: Flag = False
    create_topic: Flag = False
    create_bucket: Flag = False
    existing_bucket: Flag = False
    given_topic: Any = None
    given_bucket: Any = None

    @classmethod
    def declare(cls, b: StackBuilder, prefix: str, on: Flag) -> Feed:
        """The feed ``prefix``, on when the flag ``on`` holds; its options start with
        ``prefix.lower()``."""
        if on is False:
            return cls(prefix, False)
        low = prefix.lower()
        new_topic, topic = b.made_or_given(f"{low}_sns_topic_arn")
        new_bucket, bucket = b.made_or_given(f"{low}_bucket_name")
        return cls(
            prefix,
            on,
            new_topic,
            new_bucket,
            create_topic=b.all_of(f"Create{prefix}SnsTopic", on, new_topic),
            create_bucket=b.all_of(f"Create{prefix}Bucket", on, new_bucket),
            existing_bucket=b.all_of(
                f"UseExisting{prefix}Bucket",
                on,
                b.negate(f"Existing{prefix}BucketGiven", new_bucket),
            ),
            given_topic=topic,
            given_bucket=bucket,
        )

    @property
    def topic_arn(self) -> Any:
        """The topic in use: the stack's own, or the given one."""
        return pick(self.new_topic, Ref(f"{self.prefix}SnsTopic"), self.given_topic)

    @property
    def bucket_name(self) -> Any:
        return pick(self.new_bucket, Ref(f"{self.prefix}Bucket"), self.given_bucket)

    def bucket_arn(self, suffix: str = "") -> Any:
        """ARN of the bucket in use (``suffix="/*"`` for its objects)."""
        return pick(self.new_bucket, self.created_bucket_arn(suffix), self.given_bucket_arn(suffix))

    def created_bucket_arn(self, suffix: str = "") -> Any:
        logical = f"{self.prefix}Bucket"
        return Sub("${" + logical + ".Arn}" + suffix) if suffix else GetAtt(logical, "Arn")

    def given_bucket_arn(self, suffix: str = "") -> Any:
        return sub("arn:${AWS::Partition}:s3:::${B}" + suffix, B=self.given_bucket)

    @property
    def topic_region(self) -> Any:
        """Region of a given topic (its subscription is made there); None if created."""
        if self.new_topic is True:
            return None
        if isinstance(self.given_topic, str):
            return self.given_topic.split(":")[3]
        return unless(self.new_topic, Select(3, Split(":", self.given_topic)))


def kms_key(b: StackBuilder, cas: Feed, sdds: Feed) -> Flag:
    """The key that encrypts the buckets and topics this stack creates (none if it creates
    none). Retained with the buckets, so their data stays readable after stack deletion."""
    needed = b.any_of(
        "CreateKmsKey", cas.create_bucket, cas.create_topic, sdds.create_bucket, sdds.create_topic
    )
    b.add(
        kms.Key(
            KEY,
            Description="Encrypts the Clazar CAS/SDDS data-feed buckets and topics",
            EnableKeyRotation=True,
            KeyPolicy=p.document(p.account_manages_key(), p.marketplace_reports_use_key()),
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        ),
        needed,
    )
    b.add(
        kms.Alias(
            "ClazarKmsKeyAlias",
            AliasName=Sub("alias/clazar-${AWS::StackName}"),
            TargetKeyId=Ref(KEY),
        ),
        needed,
    )
    return needed


def feed_bucket(b: StackBuilder, feed: Feed) -> None:
    name = f"{feed.prefix}Bucket"
    if feed.create_bucket is False:
        return  # (and no NoncurrentVersionDays parameter for a bucket not made)
    bucket = b.add(
        s3.Bucket(
            name,
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                            SSEAlgorithm="aws:kms",
                            KMSMasterKeyID=GetAtt(KEY, "Arn"),
                        ),
                        BucketKeyEnabled=True,
                    ),
                ]
            ),
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True,
                BlockPublicPolicy=True,
                IgnorePublicAcls=True,
                RestrictPublicBuckets=True,
            ),
            OwnershipControls=s3.OwnershipControls(
                Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
            LifecycleConfiguration=feed_lifecycle(b),
            Metadata=scanner_metadata(*FEED_BUCKET),
        ),
        feed.create_bucket,
    )
    if bucket is None:
        return
    b.add(
        s3.BucketPolicy(
            f"{name}Policy",
            Bucket=Ref(bucket),
            PolicyDocument=p.document(
                p.marketplace_reports_write(Sub("${" + name + ".Arn}/*")),
                p.deny_insecure_transport(
                    [p.Action("s3", "*")], [GetAtt(name, "Arn"), Sub("${" + name + ".Arn}/*")]
                ),
            ),
        ),
        feed.create_bucket,
    )


ABORT_UPLOADS_DAYS = 7  # an upload not completed in a week is abandoned


def feed_lifecycle(b: StackBuilder) -> s3.LifecycleConfiguration:
    """Keeps a versioned, retained bucket from growing without bound: incomplete multipart
    uploads are aborted after a week, noncurrent versions expire after NoncurrentVersionDays
    (0 keeps them). Current objects, the feeds themselves, never expire."""
    keep, days = b.zero_or_number("noncurrent_version_days")
    rules = [
        s3.LifecycleRule(
            Id="AbortIncompleteUploads",
            Status="Enabled",
            AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(
                DaysAfterInitiation=ABORT_UPLOADS_DAYS
            ),
        ),
        unless(
            keep,
            s3.LifecycleRule(
                Id="ExpireNoncurrentVersions",
                Status="Enabled",
                NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=days),
            ),
        ),
    ]
    return s3.LifecycleConfiguration(Rules=present(*rules))


def feed_topic(b: StackBuilder, feed: Feed) -> None:
    name = f"{feed.prefix}SnsTopic"
    topic = b.add(
        sns.Topic(
            name,
            TopicName=Sub(f"clazar-{feed.prefix.lower()}-" + "${AWS::StackName}"),
            KmsMasterKeyId=GetAtt(KEY, "Arn"),
        ),
        feed.create_topic,
    )
    if topic is None:
        return
    b.add(
        sns.TopicPolicy(
            f"{name}Policy",
            Topics=[Ref(topic)],
            PolicyDocument=p.document(
                p.marketplace_reports_publish(Ref(topic)),
                p.deny_insecure_transport([p.Action("sns", "Publish")], [Ref(topic)]),
            ),
        ),
        feed.create_topic,
    )


def feed_access(b: StackBuilder, cas: Feed, sdds: Feed) -> list[Any]:
    """The role's policies on the feeds in use; their Refs, for the reporter."""
    feeds = [f for f in (cas, sdds) if f.enabled is not False]
    topics = present(*[when(f.enabled, f.topic_arn) for f in feeds])
    return present(
        generate_cas_policy(b, cas),
        inline_policy(
            b,
            "ClazarAnalyticsSnsAccessPolicy",
            p.subscribe_feed_topics(topics, GetAtt(QUEUE, "Arn")),
            p.check_feed_topics(topics),
        ),
        inline_policy(
            b,
            "ClazarS3AccessPolicy",
            p.read_feed_objects(present(*[when(f.enabled, f.bucket_arn("/*")) for f in feeds])),
            p.list_feed_buckets(present(*[when(f.enabled, f.bucket_arn()) for f in feeds])),
        ),
        kms_access_policy(b, feeds),
    )


def generate_cas_policy(b: StackBuilder, cas: Feed) -> Any:
    """With EnableCas=true: generate CAS data sets into the CAS bucket and topic in use, and
    encrypt them with the stack's key only where CAS's own bucket or topic uses it."""
    if cas.enabled is False:
        return None
    own = [within(cas.enabled, made) for made in (cas.create_bucket, cas.create_topic)]
    key_in_use = b.any_of("CasUsesKmsKey", *own)  # CAS's own bucket or topic uses the key
    return inline_policy(
        b,
        "ClazarGenerateCasPolicy",
        p.generate_cas_data_sets(),
        p.pass_role_to_cas(GetAtt(ROLE, "Arn")),
        p.deliver_cas_data_sets([cas.bucket_arn("/*")], cas.topic_arn),
        *present(
            when(within(cas.enabled, key_in_use), p.encrypt_cas_data_sets(GetAtt(KEY, "Arn")))
        ),
        condition=cas.enabled,
        suppress=(NO_RESOURCE_TYPE,),
    )


def kms_access_policy(b: StackBuilder, feeds: list[Feed]) -> Any:
    """Decrypt with the stack's key for buckets it created, and via S3 for given buckets."""
    created = b.any_of("CreatesFeedBucket", *[f.create_bucket for f in feeds])
    given = b.any_of("UsesExistingFeedBucket", *[f.existing_bucket for f in feeds])
    created_arns = [when(within(created, f.create_bucket), f.created_bucket_arn()) for f in feeds]
    given_arns = [
        when(within(given, f.existing_bucket), arn)
        for f in feeds
        for arn in (f.given_bucket_arn(), f.given_bucket_arn("/*"))
    ]
    return inline_policy(
        b,
        "ClazarKmsKeyAccessPolicy",
        *present(
            when(created, p.decrypt_feed_objects(GetAtt(KEY, "Arn"), present(*created_arns))),
            when(given, p.decrypt_existing_feed_objects(present(*given_arns))),
        ),
    )


def feed_subscription(b: StackBuilder, feed: Feed) -> None:
    if feed.enabled is False:
        return
    props: dict[str, Any] = {
        "TopicArn": feed.topic_arn,
        "Protocol": "sqs",
        "Endpoint": GetAtt(QUEUE, "Arn"),
    }
    if feed.topic_region is not None:
        props["Region"] = feed.topic_region
    b.add(sns.SubscriptionResource(f"{feed.prefix}SnsSubscription", **props), feed.enabled)


def sqs_send_policy(
    b: StackBuilder, cas: Feed, sdds: Feed, rules: Flag, rule_arns: list[Any]
) -> None:
    queue_arn = GetAtt(QUEUE, "Arn")
    topics = present(*[when(f.enabled, f.topic_arn) for f in (cas, sdds)])
    add_queue_policy(
        b,
        "ClazarSqsSendPolicy",
        QUEUE,
        [
            p.deliver_topics_to_queue(queue_arn, topics),
            *present(when(rules, p.deliver_events_to_queue(queue_arn, rule_arns))),
        ],
    )


# --- Outputs and the report -------------------------------------------------------------


def outputs(b: StackBuilder, cas: Feed, sdds: Feed, key: Flag) -> None:
    b.output("ClazarRoleArn", "The role Clazar assumes", GetAtt(ROLE, "Arn"))
    b.output("ExternalId", "The external ID Clazar presents", b.value("external_id"))
    b.output("ClazarSqsQueueUrl", "Queue Clazar reads notifications from", Ref(QUEUE))
    b.output("ClazarSqsQueueArn", "ARN of that queue", GetAtt(QUEUE, "Arn"))
    for feed in (cas, sdds):
        label = feed.prefix.upper()
        b.output(
            f"{feed.prefix}BucketName",
            f"{label} bucket (for the enrollment form)",
            feed.bucket_name,
            feed.enabled,
        )
        b.output(
            f"{feed.prefix}SnsTopicArn",
            f"{label} SNS topic (for the enrollment form)",
            feed.topic_arn,
            feed.enabled,
        )
    b.output(
        "ClazarKmsKeyArn",
        "Key that encrypts the buckets and topics this stack created",
        GetAtt(KEY, "Arn"),
        key,
    )


def report_properties(b: StackBuilder, cas: Feed, sdds: Feed, key: Flag) -> dict[str, Any]:
    """What the reporter tells Clazar, beyond the stack's identity."""
    props: dict[str, Any] = {
        "RoleArn": GetAtt(ROLE, "Arn"),
        "ExternalId": b.value("external_id"),
        "QueueUrl": Ref(QUEUE),
        "QueueArn": GetAtt(QUEUE, "Arn"),
        "MarketplaceAccess": pick(b.flag("allow_marketplace_access"), "true", "false"),
        "MarketplaceFulfillment": pick(b.flag("allow_marketplace_fulfillment"), "true", "false"),
        "CasEnabled": pick(cas.enabled, "true", "false"),
    }
    for feed in (cas, sdds):
        if feed.enabled is not False:
            props[f"{feed.prefix}BucketName"] = when(feed.enabled, feed.bucket_name)
            props[f"{feed.prefix}SnsTopicArn"] = when(feed.enabled, feed.topic_arn)
    if key is not False:
        props["KmsKeyArn"] = when(key, GetAtt(KEY, "Arn"))
    return props
