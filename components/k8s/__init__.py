"""Pure builders: typed specs in, Kubernetes object dicts out. No Pulumi imports except in declare.py."""
