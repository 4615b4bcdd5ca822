"""Vertical Pod Autoscaler facts the kit relies on, read in kubernetes/autoscaler at tag
vertical-pod-autoscaler-1.7.1 (vertical-pod-autoscaler/deploy/vpa-v1-crd-gen.yaml), checked 2026-12-03.

AKS runs its own managed VPA when ManagedCluster workloadAutoScalerProfile.verticalPodAutoscaler.enabled
is true (pulumi-azure-native 3.29.0 containerservice.ManagedClusterWorkloadAutoScalerProfileVerticalPodAutoscalerArgs).
"""

from __future__ import annotations

API = "autoscaling.k8s.io/v1"  # the CRD's only served version (v1beta2: served false)
KIND = "VerticalPodAutoscaler"
CRD = "verticalpodautoscalers.autoscaling.k8s.io"
SOURCE = "github.com/kubernetes/autoscaler tag vertical-pod-autoscaler-1.7.1 vertical-pod-autoscaler/deploy/vpa-v1-crd-gen.yaml"
# spec.updatePolicy.updateMode enum: Off, Initial, Recreate, InPlaceOrRecreate, InPlace, Auto (default
# Recreate; Auto is kept for compatibility). The kit uses Off (recommend) and Recreate (auto), which
# older VPAs (a cluster's own, AKS's managed one) know too.
UPDATE_MODES = {"recommend": "Off", "auto": "Recreate"}
# spec.resourcePolicy.containerPolicies[].controlledValues enum: RequestsAndLimits, RequestsOnly.
CONTROLLED_VALUES = "RequestsAndLimits"
# The updater's --min-replicas default (2): fewer live replicas and it never evicts
# (vertical-pod-autoscaler/pkg/updater/config/config.go at the same tag).
UPDATER_MIN_REPLICAS = 2
# Container images of the upstream recommender, which preflight looks for on existing clusters.
RECOMMENDER_IMAGE = "vpa-recommender"


def _object(properties: dict, required: tuple[str, ...] = ()) -> dict:
    out = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    return out


_QUANTITIES = {"type": "object", "additionalProperties": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}
# The part of the v1 openAPIV3Schema (SOURCE) the kit's VPAs use, strict like ../shared/crd-schemas'
# `_strict` files. Used by the plan scan only while ../shared lacks the upstream schema file.
SPEC_SCHEMA = _object({
    "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
    "spec": _object({
        "targetRef": _object({"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "name": {"type": "string"}},
                             ("kind", "name")),
        "updatePolicy": _object({
            "updateMode": {"type": "string", "enum": ["Off", "Initial", "Recreate", "InPlaceOrRecreate", "InPlace", "Auto"]},
            "minReplicas": {"type": "integer", "format": "int32"}}),
        "resourcePolicy": _object({"containerPolicies": {"type": "array", "items": _object({
            "containerName": {"type": "string"},
            "mode": {"type": "string", "enum": ["Auto", "Off"]},
            "controlledResources": {"type": "array", "items": {"type": "string"}},
            "controlledValues": {"type": "string", "enum": ["RequestsAndLimits", "RequestsOnly"]},
            "minAllowed": _QUANTITIES, "maxAllowed": _QUANTITIES})}}),
    }, ("targetRef",)),
}, ("spec",))
