"""The offline plan of the load-test variant stack, rendered once for every module that reads it."""

import pytest

from tests.fixtures.plans import render_plan

from .helpers import GATEWAY_UI_STACK


@pytest.fixture(scope="session")
def gateway_ui_plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("gateway-ui")
    proc = render_plan(["--config-file", str(GATEWAY_UI_STACK)], out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out
