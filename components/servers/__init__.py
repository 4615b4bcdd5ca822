"""Model servers: one ComponentResource per engine over the shared builders in common.py."""

from .component import ModelServer

__all__ = ["ModelServer"]
