"""A fake of the network model's API for exec tests: hosts with fixed addresses and fixed outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Conn:
    ok: bool
    error: str | None
    ip: str | None
    target: Any = None
    message: str = ""


@dataclass
class Http:
    status: int | None
    body: str
    error: str | None
    message: str
    seconds: float = 0.0


@dataclass
class Answer:
    name: str
    addresses: tuple[str, ...] = ()
    fqdn: str | None = None
    cname: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class FakeNetwork:
    """host → (ip, outcome): outcome is an HTTP status to answer, or "refused"/"timeout"; unknown hosts are NXDOMAIN."""

    def __init__(self, hosts: dict[str, tuple[str, Any]], dns_ok: bool = True) -> None:
        self.hosts, self.dns_ok = hosts, dns_ok

    def connect(self, src_pod: dict[str, Any], host: str, port: int, protocol: str = "TCP") -> Conn:
        if host == "10.96.0.10" and port == 53:
            return Conn(self.dns_ok, None if self.dns_ok else "timeout", host)
        if host not in self.hosts:
            return Conn(False, "nxdomain", None)
        ip, outcome = self.hosts[host]
        return Conn(False, outcome, ip) if isinstance(outcome, str) else Conn(True, None, ip)

    def http(self, src_pod: dict[str, Any], method: str, url: str, timeout: float = 5) -> Http:
        host = url.split("://", 1)[-1].split("/", 1)[0].split(":")[0]
        return Http(self.hosts[host][1], f"{method} {url} ok\n", None, "")

    def resolve(self, name: str) -> Answer:
        if name not in self.hosts:
            return Answer(name, error="nxdomain")
        return Answer(name, (self.hosts[name][0],), fqdn=f"{name}.shop.svc.cluster.local")
