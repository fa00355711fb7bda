"""Publish the templates to S3, where the platform's "Launch Stack" links point.

Each template goes to ``<prefix>/<version>/<name>.yaml`` (immutable: republishing a version
with other content is refused) and ``<prefix>/latest/<name>.yaml`` (overwritten). Every
template is built with the version stamped in it and linted, and every versioned key is
compared with what is already in the bucket, before anything is uploaded, so a refused
publish changes nothing. Content is compared by S3's own SHA-256 checksum (sent with each
upload, verified and kept by S3) or the bytes, never by metadata, which anyone with write
access can copy onto other bytes. ``latest/`` switches as one: see ``_Uploads.switch_latest``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .._version import __version__
from ..errors import FieldError
from ..options import bucket_name_problem, version_problem
from ..patterns import fullmatch, region_problem
from ..stacks import STACKS
from .errors import aws_errors, aws_message, error_code
from .layout import DEFAULT_PREFIX, DOT_SEGMENTS, LATEST, prefix_problem

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_PREFIX",
    "LATEST",
    "PublishError",
    "PublishedObject",
    "object_url",
    "publish",
    "read_published",
    "template_key",
]

CONTENT_TYPE = "text/yaml; charset=utf-8"  # browsers show it, CloudFormation reads it

Progress = Callable[[str], None]


class PublishError(FieldError):
    """Publishing refused; ``field`` names the bad argument, or is None (conflict, lint)."""


@dataclass(frozen=True)
class PublishedObject:
    """One S3 object of a publish, and what was (or, in a dry run, would be) done to it."""

    template: str
    version: str  # the version published, or "latest"
    key: str
    url: str
    sha256: str
    action: str  # "upload" or "unchanged"


def template_key(prefix: str, version: str, template: str) -> str:
    """``<prefix>/<version>/<template>.yaml`` (no leading slash; no prefix if it is empty)."""
    return "/".join(part for part in (prefix.strip("/"), version, f"{template}.yaml") if part)


def object_url(bucket: str, region: str, key: str) -> str:
    """The HTTPS URL of an object (path style for dotted bucket names, whose virtual-host
    name would not match S3's TLS certificate)."""
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    if "." in bucket:
        return f"https://s3.{region}.{domain}/{bucket}/{quote(key)}"
    return f"https://{bucket}.s3.{region}.{domain}/{quote(key)}"


def parse_object_url(url: str) -> tuple[str, str, str, str]:
    """(bucket, region, prefix, version) of a template URL in the layout :func:`object_url`
    and :func:`template_key` write (either addressing style); PublishError("template-url")
    for any other URL, naming the form."""
    from urllib.parse import unquote

    form = (
        "an https:// URL of a published template: https://<bucket>.s3.<region>.amazonaws.com/"
        "<prefix>/<version>/<name>.yaml"
    )
    found = fullmatch(
        r"https://(?:(?P<host>[a-z0-9-]+)\.s3\.(?P<r1>[a-z0-9-]+)|s3\.(?P<r2>[a-z0-9-]+))"
        r"\.amazonaws\.com(?:\.cn)?/(?P<path>[!-~]+)",
        url,
    )
    if not found:
        raise PublishError("template-url", f"{url!r} is not {form}")
    path = unquote(found["path"]).split("/")
    bucket = found["host"] or path.pop(0)
    if len(path) < 2 or not path[-1].endswith(".yaml"):
        raise PublishError("template-url", f"{url!r} is not {form}")
    return bucket, found["r1"] or found["r2"], "/".join(path[:-2]), path[-2]


def check_location(bucket: str, prefix: str, version: str | None) -> None:
    """Raise PublishError naming the argument if the bucket, prefix or version is malformed
    (``version=None``: the ``latest`` alias, which can be read but not published)."""
    problem = bucket_name_problem(bucket)
    if problem:
        raise PublishError("bucket", f"{bucket!r} is not an S3 bucket name: {problem}")
    problem = prefix_problem(prefix)
    if problem:
        raise PublishError("prefix", f"{prefix!r} is not valid; {problem}")
    if version is None:
        return
    if version == LATEST:
        raise PublishError("version", f"{LATEST!r} is the moving alias, not a version")
    if version in DOT_SEGMENTS:
        raise PublishError("version", f"{version!r} is a path segment, not a version")
    problem = version_problem(version)
    if problem:
        raise PublishError("version", f"{version!r} is not valid; {problem}")


def build_versioned(version: str, progress: Progress) -> dict[str, str]:
    """Template name -> YAML with ``version`` stamped in; PublishError on lint findings."""
    from ..template.render import lint, to_yaml

    texts: dict[str, str] = {}
    problems: list[str] = []
    for target in STACKS.values():
        text = to_yaml(target.build(target.options(version=version)))
        findings = lint(text)
        problems += [f"{target.name}.yaml: {finding}" for finding in findings]
        progress(f"built {target.name}.yaml {version} ({len(text.encode())} bytes), linted")
        texts[target.name] = text
    if problems:
        raise PublishError(
            None, "cfn-lint found problems; nothing was uploaded:\n" + "\n".join(problems)
        )
    return texts


def publish(
    bucket: str,
    *,
    prefix: str = DEFAULT_PREFIX,
    version: str = __version__,
    region: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    client: Any = None,
) -> list[PublishedObject]:
    """Publish every template as ``version`` (and as latest) to ``bucket``.

    ``region`` is the bucket's (found with GetBucketLocation when None); ``client`` an S3
    client to use instead of a new one. With ``dry_run`` the bucket is read, not written.
    Raises PublishError for bad arguments, lint findings, a version already published with
    other content, or an upload that failed (saying what latest/ holds after it); botocore
    errors while reading the bucket pass through.
    """
    say = progress or (lambda _message: None)
    check_location(bucket, prefix, version)
    if region is not None and region_problem(region):
        raise PublishError("region", str(region_problem(region)))
    texts = build_versioned(version, say)
    if client is None:
        import boto3

        client = boto3.client("s3", region_name=region)
    region = region or bucket_region(client, bucket)
    plan, before = _plan(client, bucket, region, prefix, version, texts)
    conflicts = [o.key for o in plan if o.action == "conflict"]
    if conflicts:
        raise PublishError(
            None,
            f"version {version} is already published with different content "
            f"({', '.join(conflicts)}); a published version never changes, so nothing was "
            "uploaded. Publish a new version.",
        )
    for obj in plan:
        if obj.action == "unchanged":
            say(f"unchanged s3://{bucket}/{obj.key}")
        elif dry_run:
            say(f"would upload s3://{bucket}/{obj.key}")
    if not dry_run:
        uploads = _Uploads(client, bucket, texts, version, say)
        uploads.version_keys([o for o in plan if o.version != LATEST])
        uploads.switch_latest([o for o in plan if o.version == LATEST], before)
    return plan


def _plan(
    client: Any, bucket: str, region: str, prefix: str, version: str, texts: dict[str, str]
) -> tuple[list[PublishedObject], dict[str, Stored | None]]:
    """Each object to upload, leave "unchanged", or refuse ("conflict": a versioned key that
    holds other content); and latest/ as found, which a failed switch puts back."""
    plan: list[PublishedObject] = []
    before: dict[str, Stored | None] = {}
    for name, text in texts.items():
        digest = hashlib.sha256(text.encode()).hexdigest()
        for alias in (version, LATEST):
            key = template_key(prefix, alias, name)
            if alias == LATEST:
                old = before[key] = stored(client, bucket, key)
                found = hashlib.sha256(old.body).hexdigest() if old else None
            else:
                found = stored_sha256(client, bucket, key)
            action = "unchanged" if found == digest else "upload"
            if found is not None and found != digest and alias != LATEST:
                action = "conflict"
            plan.append(
                PublishedObject(name, alias, key, object_url(bucket, region, key), digest, action)
            )
    return plan, before


@dataclass(frozen=True)
class _Uploads:
    """The writes of one publish: the versioned keys first, then the switch of latest/."""

    client: Any
    bucket: str
    texts: dict[str, str]  # template name -> text
    version: str
    say: Progress

    def version_keys(self, objects: list[PublishedObject]) -> None:
        """Upload the versioned keys; on a failure latest/ has not been touched yet."""
        _, failed = self.each(objects)
        if failed:
            key, error = failed
            raise PublishError(
                None,
                f"uploading s3://{self.bucket}/{key} failed ({aws_message(error)}); latest/ was "
                f"not touched and what was uploaded of {self.version} is kept (a version never "
                "changes): run publish again to finish it",
            ) from error

    def switch_latest(
        self, objects: list[PublishedObject], before: dict[str, Stored | None]
    ) -> None:
        """Move every latest/ object to the new version, or none of them.

        S3 cannot write several objects at once, and CloudFormation's launch links must name
        a template itself (no manifest can be followed), so latest/ switches by write, roll
        back and verify: after a failed upload, the objects already moved get back the bytes
        (and headers) they had before this publish, or are deleted if they did not exist, so
        latest/ is one version, never a mix. Last, every latest/ object is read back by S3's
        own checksum: another writer in between is reported, not overwritten again.
        """
        written, failed = self.each(objects)
        if failed:
            key, error = failed
            stuck = self.restore(written, before)
            raise PublishError(
                None, _switch_failed(self.bucket, key, error, written, stuck)
            ) from error
        try:
            moved = [
                o.key for o in objects if stored_sha256(self.client, self.bucket, o.key) != o.sha256
            ]
        except aws_errors() as error:
            raise PublishError(
                None,
                f"every latest/ object was uploaded, but reading them back failed "
                f"({aws_message(error)}): run publish again to verify the switch",
            ) from error
        if moved:
            raise PublishError(
                None,
                f"latest/ changed while this publish switched it ({', '.join(moved)} now hold "
                "other content: another publish at the same time?); run publish again",
            )

    def each(
        self, objects: list[PublishedObject]
    ) -> tuple[list[str], tuple[str, Exception] | None]:
        """Upload, in order, each object planned for upload until one fails: the keys
        written, and the key that failed with its error (None when all went up)."""
        written: list[str] = []
        for obj in objects:
            if obj.action != "upload":
                continue
            try:
                _upload(self.client, self.bucket, obj, self.texts[obj.template], self.version)
            except aws_errors() as error:
                return written, (obj.key, error)
            written.append(obj.key)
            self.say(f"uploaded s3://{self.bucket}/{obj.key}")
        return written, None

    def restore(self, keys: list[str], before: dict[str, Stored | None]) -> list[str]:
        """Put ``keys`` back as they were; the keys that could not be (none, normally)."""
        stuck = []
        for key in reversed(keys):
            old = before.get(key)
            try:
                if old is None:
                    self.client.delete_object(Bucket=self.bucket, Key=key)
                else:
                    self.client.put_object(
                        Bucket=self.bucket,
                        Key=key,
                        Body=old.body,
                        ContentType=old.content_type,
                        CacheControl=old.cache_control,
                        Metadata=old.metadata,
                        ChecksumSHA256=_checksum(old.body),
                    )
            except aws_errors():
                stuck.append(key)
        return stuck


def _switch_failed(
    bucket: str, key: str, error: Exception, written: list[str], stuck: list[str]
) -> str:
    failed = f"uploading s3://{bucket}/{key} failed ({aws_message(error)})"
    if not stuck:
        undone = f" ({', '.join(written)} undone)" if written else ""
        return (
            f"{failed}; latest/ was put back as it was before this publish{undone}, so it is "
            "one version, not a mix: run publish again"
        )
    return (
        f"{failed}, and putting latest/ back failed too: latest/ is now mixed ("
        f"{', '.join(stuck)} hold the new version, the rest the old one): run publish again "
        "to finish the switch"
    )


def _upload(client: Any, bucket: str, obj: PublishedObject, text: str, version: str) -> None:
    body = text.encode()
    latest = obj.version == LATEST
    extra: dict[str, Any] = {} if latest else {"IfNoneMatch": "*"}  # S3 refuses a rewrite
    client.put_object(
        Bucket=bucket,
        Key=obj.key,
        Body=body,
        ContentType=CONTENT_TYPE,
        CacheControl="no-cache" if latest else "max-age=31536000, immutable",
        ChecksumSHA256=_checksum(body),  # S3 verifies it, and keeps it: see stored_sha256
        Metadata={"template-version": version},
        **extra,
    )


def _checksum(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def read_published(
    bucket: str, prefix: str, version: str, template: str, *, client: Any = None
) -> str:
    """The text of ``template`` (``clazar-marketplace``) published as ``version`` (or
    ``latest``) in the layout :func:`publish` writes.

    Raises PublishError naming a malformed bucket, prefix or version (before any call);
    botocore errors (no such key, access denied) and UnicodeDecodeError pass through.
    """
    check_location(bucket, prefix, None if version == LATEST else version)
    if client is None:
        import boto3

        client = boto3.client("s3")
    key = template_key(prefix, version, template)
    return str(client.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8"))


def bucket_region(client: Any, bucket: str) -> str:
    """The bucket's region (GetBucketLocation answers None for us-east-1, EU for eu-west-1)."""
    location = client.get_bucket_location(Bucket=bucket).get("LocationConstraint") or ""
    return {"": "us-east-1", "EU": "eu-west-1"}.get(location, str(location))


@dataclass(frozen=True)
class Stored:
    """An object as S3 holds it: its bytes, and the headers a restore writes back."""

    body: bytes
    content_type: str
    cache_control: str
    metadata: dict[str, str]


def stored(client: Any, bucket: str, key: str) -> Stored | None:
    """The object at ``key``, or None if there is none."""
    try:
        got = client.get_object(Bucket=bucket, Key=key)
    except aws_errors() as error:
        if _missing(error):
            return None
        raise
    return Stored(
        got["Body"].read(),
        got.get("ContentType", CONTENT_TYPE),
        got.get("CacheControl", "no-cache"),
        dict(got.get("Metadata", {})),
    )


def stored_sha256(client: Any, bucket: str, key: str) -> str | None:
    """SHA-256 (hex) of the object at ``key``, or None if there is none.

    S3's own ``ChecksumSHA256`` (which S3 computes or verifies from the bytes on upload)
    when the object has a full-object one, else the bytes themselves. Never user metadata:
    anyone who can write the object can copy that onto other bytes.
    """
    try:
        head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except aws_errors() as error:
        if _missing(error):
            return None
        raise
    checksum = head.get("ChecksumSHA256", "")
    whole = head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
    if checksum and whole and "-" not in checksum:  # "-N": a checksum of N parts
        return base64.b64decode(checksum).hex()
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return hashlib.sha256(body).hexdigest()


def _missing(error: Exception) -> bool:
    return error_code(error) in ("404", "NoSuchKey", "NotFound")
