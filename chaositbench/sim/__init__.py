"""The embedded simulated Kubernetes cluster (API server, store, controllers)."""
