"""The hardened defaults every pod the kit runs gets (Pod Security Standard `restricted`)."""

from __future__ import annotations

RUN_AS_USER = 10001


def pod_security_context(uid: int = RUN_AS_USER) -> dict:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "fsGroupChangePolicy": "OnRootMismatch",  # a 40 GiB model cache must not be chowned at every start
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict:
    return {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
