"""Setup the test process shares instead of repeating (issue 16: "share expensive setup").

Neither changes what a test sees, only how often the same work is done:

- :func:`one_botocore_loader`: every ``mock_aws`` starts a new default boto3 session, and
  each new botocore session reads and parses the same service models and endpoint data
  again (about 25 ms a client, hundreds of clients per run). The test process keeps one
  data loader (botocore's own ``Loader``, whose cache holds parsed, read-only data) for
  every session.
- :func:`moto_parses_with_libyaml`: moto reads every template body with PyYAML's pure-Python
  loader (about 0.3 s for the Role & Access template, on each create, update and change
  set). Its CloudFormation modules get libyaml's loader instead, with moto's own tag
  constructor: the same constructor and resolver, only the parser differs. Only a run with
  slow tests (the ones that deploy) does this: importing moto's CloudFormation takes 0.9 s.
"""

from __future__ import annotations

import functools
import types
from typing import Any


def one_botocore_loader() -> None:
    import botocore.loaders
    import botocore.session

    botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)


def moto_parses_with_libyaml() -> None:
    import yaml
    from moto.cloudformation import models, responses
    from moto.cloudformation.utils import yaml_tag_constructor

    if not yaml.__with_libyaml__:
        return  # PyYAML built without libyaml: moto keeps its own loader

    class Loader(yaml.CLoader):  # type: ignore[misc]
        pass

    yaml.add_multi_constructor("", yaml_tag_constructor, Loader=Loader)

    def registered(*args: Any, **kwargs: Any) -> None:
        """moto registers its constructor before each load: it already is, on Loader."""

    moto_yaml = types.SimpleNamespace(**vars(yaml))
    moto_yaml.Loader = Loader
    moto_yaml.add_multi_constructor = registered
    for module in (models, responses):
        assert module.yaml is yaml, f"{module.__name__} no longer reads templates with PyYAML"
        module.yaml = moto_yaml
