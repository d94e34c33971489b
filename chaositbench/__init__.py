"""chaositbench: a benchmark of AI agents on Kubernetes incident response."""

__version__ = "0.1.0"
