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
