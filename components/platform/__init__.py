"""Where the workloads run: the cluster (existing or AKS), its node pools and the secret store."""
