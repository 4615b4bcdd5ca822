"""Shared fixtures for the whole suite, registered as plugins so every folder can use them."""

pytest_plugins = [
    "tests.fixtures.plans",  # rendered_plans: the offline plan of every stack in stacks/
    "tests.fixtures.onnx_fixtures",  # tiny_onnx_model_dir, onnx_server: the kit's ONNX server on loopback
    "tests.fixtures.shared",  # shared_dir, shared_path(): upstream data in ../shared, skipped clearly where absent
]
