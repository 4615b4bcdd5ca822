"""Shared fixtures for the whole suite, registered as plugins so every folder can use them."""

pytest_plugins = [
    # First: the others import it, and pytest rewrites a plugin's asserts only if it imports it first.
    "tests.fixtures.shared",  # shared_dir, shared_path(): upstream data in ../shared, skipped clearly where absent
    "tests.fixtures.plans",  # rendered_plans: the offline plan of every stack in stacks/
    "tests.fixtures.onnx_fixtures",  # tiny_onnx_model_dir, onnx_server: the kit's ONNX server on loopback
]


def pytest_runtest_teardown(item):
    """Locust runs only in subprocesses: importing it here would gevent-patch this process, and every later
    Pulumi mock-engine test would then fail on a patched event loop far from the test that caused it."""
    import sys

    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_anything_patched():
        raise AssertionError(f"{item.nodeid} left the test process gevent-patched (it imported locust): "
                             "run Locust code in a subprocess, or import it lazily")
