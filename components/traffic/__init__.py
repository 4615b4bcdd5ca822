"""Traffic, scaling and isolation: the authenticated gateway (Envoy Gateway + Envoy AI Gateway),
KEDA autoscaling on queue depth, and NetworkPolicies. Pure builders per concern; `Traffic` (in
component.py) declares them."""
