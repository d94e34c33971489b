"""The network model: cluster DNS, Service translation, NetworkPolicy and HTTP answers between pods."""

from typing import Any

from .apiserver import bootstrap_apiserver_endpoints
from .dns import Resolution, bootstrap_dns, resolve, reverse
from .model import Connection, HttpResult, Network
from .policy import Decision, evaluate

__all__ = ["Connection", "Decision", "HttpResult", "Network", "Resolution", "bootstrap_dns", "bootstrap_network",
           "evaluate", "resolve", "reverse"]


def bootstrap_network(api: Any) -> None:
    """The objects networking needs from the start: the API server's endpoints and the DNS add-on (after nodes)."""
    bootstrap_apiserver_endpoints(api)
    bootstrap_dns(api)
