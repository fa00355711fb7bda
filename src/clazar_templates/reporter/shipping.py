"""How ``handler.py`` ships: both templates inline the file, byte for byte, as their
reporter's ``index.py`` (``Code.ZipFile``).

Nothing here rewrites code: the function CloudFormation runs, the file a reviewer reads in
this repository and the one the tests load and run are the same text. One handler serves
both stacks; the Role & Access stack never asks it to verify roles (its function's role has
no ``iam:GetRole``). Templates too big for an inline ``TemplateBody`` deploy from S3
(``template.render.TEMPLATE_BODY_LIMIT``).
"""

import functools
from pathlib import Path

__all__ = ["HANDLER", "source"]

HANDLER = Path(__file__).with_name("handler.py")
"""The reporter's code, as it ships."""


@functools.cache
def source() -> str:
    """The code a template inlines as ``Code.ZipFile``: ``handler.py``'s text, unchanged."""
    return HANDLER.read_bytes().decode("utf-8")
