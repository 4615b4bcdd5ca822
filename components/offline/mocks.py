"""Mocks for Pulumi's engine: providers answer with their inputs plus what a real provider would
add that the program reads back (ids, generated values, credentials)."""

from __future__ import annotations

import base64
import threading
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

OFFLINE_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: offline, cluster: {server: "https://offline.invalid:443"}}]
contexts: [{name: offline, context: {cluster: offline, user: offline}}]
current-context: offline
users: [{name: offline, user: {token: offline-placeholder}}]
"""


class RecordingMonitor(MockMonitor):
    """Records every registration with its parent URN and inputs (secrets still marked), which
    the mock callbacks are not told. Registrations arrive from several threads."""

    def __init__(self, mocks: "SlmkitMocks"):
        super().__init__(mocks)
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
            with self._lock:
                self.records.append({
                    "type": request.type, "name": request.name, "urn": response.urn,
                    "parent": request.parent, "custom": bool(request.custom), "inputs": inputs,
                })
        return response


class SlmkitMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        state = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = f"offline-generated-{args.name}"
        # --- azure: outputs of Azure resources (AKS engineer) ---
        if args.typ.startswith("azure-native:"):
            state.setdefault("name", args.inputs.get("resourceName") or args.name)
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        # --- azure: invoke results (AKS engineer) ---
        if args.token == "azure-native:containerservice:listManagedClusterUserCredentials":
            value = base64.b64encode(OFFLINE_KUBECONFIG.encode()).decode()
            return {"kubeconfigs": [{"name": "clusterUser", "value": value}]}, None
        return {}, None
