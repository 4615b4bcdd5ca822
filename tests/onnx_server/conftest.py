# Until tests/conftest.py registers the plugin (pytest_plugins = ["tests.fixtures.onnx_fixtures"]).
from tests.fixtures.onnx_fixtures import *  # noqa: F401,F403
