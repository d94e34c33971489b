"""NetworkPolicy evaluation as the ``networking.k8s.io/v1`` specification defines it.

A pod is *isolated* for a direction when at least one policy of its own
namespace selects it (``podSelector``; the empty selector selects every pod of
the namespace) and lists that direction in ``policyTypes`` (absent
``policyTypes`` default to ``Ingress``, plus ``Egress`` when egress rules are
present). Policies are additive: traffic in an isolated direction is allowed
when *some* selecting policy has a rule whose peers and ports both match;
non-isolated directions allow everything. A connection needs the source's
egress and the destination's ingress to allow it.

Peers: ``podSelector`` alone matches pods of the policy's namespace;
``namespaceSelector`` alone matches every pod of the matching namespaces
(namespace labels, which always include ``kubernetes.io/metadata.name``);
both in one peer match pods satisfying both (AND), while separate peers are
alternatives (OR); ``ipBlock`` matches addresses inside ``cidr`` and outside
every ``except`` — applied to pod IPs and to addresses outside the cluster
alike. A rule without peers (``from``/``to`` absent or empty) matches every
peer; a direction whose rule list is absent or empty allows nothing.

Ports: a rule without ports matches every port; a port entry matches the
protocol (default TCP) and, when given, the number, the inclusive range
``port..endPort``, or a name resolved against the *destination* pod's
container ports (for egress too); an entry with only a protocol matches every
port of it. The port is the one the destination pod receives (after a
Service's ``targetPort`` translation), as the packet filter sees it.

Out of scope: host-network pods and traffic from or to nodes (real plugins
differ there; this model treats such addresses as external IPs).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Mapping, Union

from ..selectors import LabelSelector, selector_from_object
from ..store import Obj

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Endpoint:
    """One end of a connection: an IP address, and the pod owning it (None outside the cluster's pods)."""

    ip: str
    pod: Obj | None = None

    @property
    def namespace(self) -> str | None:
        return self.pod["metadata"].get("namespace") if self.pod else None

    @property
    def labels(self) -> dict[str, str]:
        return (self.pod["metadata"].get("labels") or {}) if self.pod else {}


@dataclass(frozen=True)
class Decision:
    """The verdict on one connection, with the policies that decided it (``namespace/name``).

    ``egress_isolating``/``ingress_isolating`` list the policies selecting the
    source (egress) or destination (ingress) for that direction;
    ``egress_allowing``/``ingress_allowing`` those among them with a matching
    rule. A direction denies when it is isolated and no policy allows.
    """

    allowed: bool
    egress_isolating: tuple[str, ...] = ()
    egress_allowing: tuple[str, ...] = ()
    ingress_isolating: tuple[str, ...] = ()
    ingress_allowing: tuple[str, ...] = ()

    @property
    def egress_denied(self) -> bool:
        return bool(self.egress_isolating) and not self.egress_allowing

    @property
    def ingress_denied(self) -> bool:
        return bool(self.ingress_isolating) and not self.ingress_allowing

    def explain(self) -> str:
        """One sentence naming why the connection is (not) allowed."""
        if self.allowed:
            return "allowed" + "".join(
                f"; {d} allowed by {', '.join(p)}" for d, p in (("egress", self.egress_allowing),
                                                                  ("ingress", self.ingress_allowing)) if p)
        parts = [f"{d} denied: isolated by {', '.join(p)} and no rule matches"
                 for d, p, denied in (("egress", self.egress_isolating, self.egress_denied),
                                      ("ingress", self.ingress_isolating, self.ingress_denied)) if denied]
        return "; ".join(parts)


def policy_types(policy: Obj) -> tuple[str, ...]:
    """``spec.policyTypes``, defaulted as the API server does when absent."""
    spec = policy.get("spec") or {}
    if spec.get("policyTypes"):
        return tuple(spec["policyTypes"])
    return ("Ingress", "Egress") if spec.get("egress") else ("Ingress",)


@dataclass(frozen=True)
class _Peer:
    pods: LabelSelector | None
    namespaces: LabelSelector | None
    block: tuple[IPNetwork, tuple[IPNetwork, ...]] | None
    invalid_block: bool = False  # an ipBlock whose CIDRs do not parse matches nothing


@dataclass(frozen=True)
class _Rule:
    peers: tuple[_Peer, ...]  # empty: every peer
    ports: tuple[Mapping[str, Any], ...]  # empty: every port


@dataclass(frozen=True)
class CompiledPolicy:
    """A policy with its selectors parsed once."""

    name: str  # namespace/name
    namespace: str
    types: tuple[str, ...]
    selector: LabelSelector
    ingress: tuple[_Rule, ...]
    egress: tuple[_Rule, ...]


def _peer(raw: Mapping[str, Any] | None) -> _Peer:
    raw = raw or {}
    pods, namespaces, block = raw.get("podSelector"), raw.get("namespaceSelector"), raw.get("ipBlock")
    parsed = None
    if block is not None:
        try:
            parsed = (ipaddress.ip_network(block.get("cidr", ""), strict=False),
                      tuple(ipaddress.ip_network(c, strict=False) for c in block.get("except") or []))
        except ValueError:
            return _Peer(None, None, None, invalid_block=True)
    return _Peer(None if pods is None else selector_from_object(pods),
                 None if namespaces is None else selector_from_object(namespaces), parsed)


def _rules(raw: list[Any] | None, peers_key: str) -> tuple[_Rule, ...]:
    return tuple(_Rule(tuple(_peer(p) for p in (r or {}).get(peers_key) or []),
                       tuple(p or {} for p in (r or {}).get("ports") or [])) for r in raw or [])


_COMPILED: dict[tuple[str, str, str], CompiledPolicy] = {}


def compile_policy(policy: Obj) -> CompiledPolicy:
    """Parse a policy's selectors (cached per stored version)."""
    meta = policy["metadata"]
    key = (meta.get("namespace", ""), meta["name"], meta.get("resourceVersion", ""))
    if key[2] and key in _COMPILED:
        return _COMPILED[key]
    spec = policy.get("spec") or {}
    compiled = CompiledPolicy(f"{key[0]}/{key[1]}", key[0], policy_types(policy),
                              selector_from_object(spec.get("podSelector") or {}),
                              _rules(spec.get("ingress"), "from"), _rules(spec.get("egress"), "to"))
    if key[2]:
        if len(_COMPILED) > 4096:
            _COMPILED.clear()
        _COMPILED[key] = compiled
    return compiled


def selects(policy: Obj, pod: Obj) -> bool:
    """The policy's ``podSelector`` selects ``pod`` (same namespace only)."""
    compiled = compile_policy(policy)
    return compiled.namespace == pod["metadata"].get("namespace") and \
        compiled.selector.matches(pod["metadata"].get("labels"))


@lru_cache(maxsize=65536)
def _address(ip: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(ip)
    except ValueError:
        return None


def _peer_matches(peer: _Peer, policy_namespace: str, other: Endpoint,
                  namespace_labels: Mapping[str, Mapping[str, str]]) -> bool:
    """One ``NetworkPolicyPeer`` matches the other end of the connection."""
    if peer.invalid_block:
        return False
    if peer.block is not None:
        address = _address(other.ip)
        cidr, excepted = peer.block
        return address is not None and address in cidr and not any(address in e for e in excepted)
    if other.pod is None or (peer.pods is None and peer.namespaces is None):
        return False
    namespace = other.namespace or ""
    if peer.namespaces is not None:
        if not peer.namespaces.matches({**namespace_labels.get(namespace, {}), NAME_LABEL: namespace}):
            return False
    elif namespace != policy_namespace:
        return False
    return peer.pods is None or peer.pods.matches(other.labels)


def named_port(pod: Obj | None, name: str, protocol: str) -> int | None:
    """The number of the destination pod's container port called ``name`` with ``protocol``."""
    if pod is None:
        return None
    spec = pod.get("spec") or {}
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for port in container.get("ports") or []:
            if port.get("name") == name and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def port_matches(entry: Mapping[str, Any], port: int, protocol: str, destination: Endpoint) -> bool:
    """One ``NetworkPolicyPort`` matches the destination port and protocol."""
    if (entry.get("protocol") or "TCP") != protocol:
        return False
    want = entry.get("port")
    if want is None:
        return True
    if isinstance(want, str) and not want.isdigit():
        return named_port(destination.pod, want, protocol) == port
    low = int(want)
    high = int(entry["endPort"]) if entry.get("endPort") is not None else low
    return low <= port <= high


def _rule_matches(rule: _Rule, policy_namespace: str, other: Endpoint, destination: Endpoint, port: int,
                  protocol: str, namespace_labels: Mapping[str, Mapping[str, str]]) -> bool:
    """An ingress (``from``) or egress (``to``) rule matches the peer and the port."""
    if rule.peers and not any(_peer_matches(p, policy_namespace, other, namespace_labels) for p in rule.peers):
        return False
    return not rule.ports or any(port_matches(p, port, protocol, destination) for p in rule.ports)


def _direction(policies: list[CompiledPolicy], direction: str, subject: Endpoint, other: Endpoint,
               destination: Endpoint, port: int, protocol: str, namespace_labels: Mapping[str, Mapping[str, str]]
               ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The policies isolating ``subject`` for ``direction``, and those of them allowing the traffic."""
    if subject.pod is None:
        return (), ()
    namespace, labels = subject.namespace, subject.labels
    isolating: list[str] = []
    allowing: list[str] = []
    for policy in policies:
        if policy.namespace != namespace or direction not in policy.types or not policy.selector.matches(labels):
            continue
        isolating.append(policy.name)
        rules = policy.ingress if direction == "Ingress" else policy.egress
        if any(_rule_matches(r, policy.namespace, other, destination, port, protocol, namespace_labels)
               for r in rules):
            allowing.append(policy.name)
    return tuple(isolating), tuple(allowing)


def evaluate(policies: Iterable[Obj], namespace_labels: Mapping[str, Mapping[str, str]], source: Endpoint,
             destination: Endpoint, port: int, protocol: str = "TCP") -> Decision:
    """Decide a connection from ``source`` to ``destination:port/protocol`` under ``policies``.

    ``policies`` may span namespaces (only each pod's own namespace's
    policies isolate it); ``namespace_labels`` maps namespace names to their
    labels for ``namespaceSelector``.
    """
    compiled = [compile_policy(p) for p in policies if not p["metadata"].get("deletionTimestamp")]
    egress = _direction(compiled, "Egress", source, destination, destination, port, protocol, namespace_labels)
    ingress = _direction(compiled, "Ingress", destination, source, destination, port, protocol, namespace_labels)
    decision = Decision(True, egress[0], egress[1], ingress[0], ingress[1])
    return Decision(not decision.egress_denied and not decision.ingress_denied, *egress, *ingress)
