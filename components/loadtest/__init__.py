"""The in-cluster load test: a pass/fail gate Job per server after each deployment, and the Locust UI."""

from .component import LoadTest

__all__ = ["LoadTest"]
