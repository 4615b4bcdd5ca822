"""The dev and prod plans, run once for every platform test that reads them unchanged.

A test module that needs a variant (another secret, another pool) defines its own fixture of the
same name, which takes precedence over these.
"""

import pytest

from .harness import run, stack_raw


@pytest.fixture(scope="session")
def dev():
    return run(stack_raw("dev"), "dev")


@pytest.fixture(scope="session")
def prod():
    return run(stack_raw("prod"), "prod")
