"""The network model: cluster DNS, Service translation, NetworkPolicy and HTTP answers between pods."""

from .dns import Resolution, bootstrap_dns, resolve
from .model import Connection, HttpResult, Network
from .policy import Decision, evaluate

__all__ = ["Connection", "Decision", "HttpResult", "Network", "Resolution", "bootstrap_dns", "evaluate", "resolve"]
