"""The one reader of template data: a template's text as plain data.

Everything else that reads a template (the permission reference, the diff, the diagram, the
live check) starts from :func:`load_template`.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["load_template"]


def load_template(text: str) -> dict[str, Any]:
    """A YAML or JSON template as plain data, short-form intrinsics (``!Sub``) expanded.

    Read with cfn-lint's decoder, as ``lint`` reads it; a ValueError names the first problem
    when ``text`` is not a CloudFormation template.
    """
    from cfnlint.decode.decode import decode_str

    template, problems = decode_str(text)
    if problems or not isinstance(template, dict) or "Resources" not in template:
        raise ValueError(problems[0].message if problems else "no Resources section")
    return dict(json.loads(json.dumps(template)))
