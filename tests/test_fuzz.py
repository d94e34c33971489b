"""Malformed input thrown at the simulated API server over HTTPS, with the admin token.

A seeded generator builds a bounded number of bad requests: garbage paths,
malformed and mistyped bodies, broken patches of every content type, bad query
parameters, bad methods and credentials. Whatever the input, the server must
answer as kube-apiserver does:

- never a 5xx, except the 500s kube-apiserver gives by design (a strategic merge
  patch list item without its merge key, an unknown ``$patch`` directive, an
  apply configuration that does not fit the schema: plain Go errors surfacing
  from the patch code, answered with an empty reason);
- every non-2xx JSON answer is a ``Status`` (kind Status, status Failure, code
  equal to the HTTP status, a reason and a message); the only non-JSON errors
  are ``404 page not found`` for paths outside the API, as the real server's;
- nothing stored gets corrupted: afterwards every object still has its
  identity metadata, every kind in discovery still lists (JSON and Table), and
  ``kubectl get all -A`` works.

Two rejections happen in aiohttp's HTTP parser before the API server sees the
request, so they are only checked to be 4xx: unknown method tokens and request
lines longer than aiohttp's 8190-byte limit (kube-apiserver, on Go's net/http,
would route both). Reproduce a failure with the printed case; every test draws
from its own ``random.Random`` seeded with a fixed number.
"""

from __future__ import annotations

import base64
import copy
import http.client
import json
import random
import re
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import quote, urlencode

import pytest
import yaml

from chaositbench.sim.server import SimServer
from conftest import Kubectl

SEED = 20261125
NAMESPACE = "fuzz"
JSON = "application/json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")
#: 500s that kube-apiserver answers by design: plain Go errors of its patch code passed through as they are
#: (a strategic merge patch list item without its merge key, an unknown ``$patch``, an apply configuration
#: that does not fit the schema: kubernetes/kubernetes#139253).
SERVER_ERRORS_BY_DESIGN = re.compile(
    r"does not contain declared merge key: |^unknown patch type: |^failed to create typed patch object ")
AIOHTTP_LINE_LIMIT = 8190
#: Requests per generator: together well under a minute on a laptop.
CASES = {"paths": 1500, "creates": 1000, "updates": 400, "patches": 1500, "params": 1000}

# --- manifests the generators start from ------------------------------------------------

POD_SPEC: dict[str, Any] = {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                                            "ports": [{"containerPort": 8080}],
                                            "env": [{"name": "MODE", "value": "fuzz"}],
                                            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}


def manifests(name: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Collection path and a valid manifest named ``name``, per kind under test."""
    ns = f"/api/v1/namespaces/{NAMESPACE}"
    labels = {"app": name}
    return {
        "configmaps": (f"{ns}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                             "metadata": {"name": name, "labels": {"fuzz": "yes"},
                                                          "annotations": {"a": "b"}},
                                             "data": {"k": "v"}, "binaryData": {"b": "AAEC"}}),
        "secrets": (f"{ns}/secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                                       "type": "Opaque", "data": {"k": "dg=="}, "stringData": {"s": "t"}}),
        "services": (f"{ns}/services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                                         "spec": {"selector": labels, "ports": [{"name": "http", "port": 80,
                                                                                 "targetPort": 8080}]}}),
        "pods": (f"{ns}/pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
                                 "spec": copy.deepcopy(POD_SPEC)}),
        "deployments": (f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
                     "template": {"metadata": {"labels": labels}, "spec": copy.deepcopy(POD_SPEC)}}}),
        "networkpolicies": (f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/networkpolicies", {
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name},
            "spec": {"podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 8080}]}]}}),
        "roles": (f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}/roles", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": name},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}),
        "poddisruptionbudgets": (f"/apis/policy/v1/namespaces/{NAMESPACE}/poddisruptionbudgets", {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}}}),
        "horizontalpodautoscalers": (f"/apis/autoscaling/v2/namespaces/{NAMESPACE}/horizontalpodautoscalers", {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 1, "maxReplicas": 2,
                     "metrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]}}),
        "namespaces": ("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": name, "labels": labels}}),
    }


#: Objects created before fuzzing, that updates and patches aim at (kind, name).
TARGETS = [("configmaps", "cm"), ("secrets", "sec"), ("services", "svc"), ("deployments", "web"),
           ("networkpolicies", "np"), ("roles", "role"), ("poddisruptionbudgets", "pdb"), ("pods", "pod")]

# --- garbage ---------------------------------------------------------------------------

# Integers are bad on purpose: out of int32/int64 range, negative or fractional. A valid large replica
# count would make the controllers create that many pods, which is load, not malformed input.
GARBAGE_SCALARS: list[Any] = [None, "", "x", "名前", "\u0000", "a" * 300, "2026-13-45T99:99:99Z", "-1", "1Gi",
                              "1.5.5Ki", "../..", -1, 2**31, 2**63, 2**64, -(2**63) - 1, 1.5, -0.0, 1e308,
                              True, False]
ODD_KEYS = ["", "$patch", "$retainKeys", "unknownField", "ünï", "a" * 300, "$setElementOrder/containers",
            "$deleteFromPrimitiveList/finalizers", "metadata", "apiVersion"]


def nested(depth: int, leaf: Any = None) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


def garbage_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.55:
        return rng.choice(GARBAGE_SCALARS)
    if roll < 0.75:
        return rng.choice([[], {}, [None], [1, "a", {}], {"a": {"b": [1]}}, {"$patch": "delete"},
                           {"$patch": "replace"}, [{"$patch": "delete"}], [{"name": None}], {"": ""}])
    if roll < 0.9:
        return nested(rng.choice([5, 50, 200]), rng.choice(GARBAGE_SCALARS))
    return "z" * rng.choice([1000, 70_000, 300_000])


def slots(doc: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key) of a JSON document, to overwrite or delete one value."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield doc, key
            yield from slots(value)
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield doc, index
            yield from slots(value)


def mutate(rng: random.Random, doc: dict[str, Any], changes: int | None = None) -> dict[str, Any]:
    """``doc`` with one to three values replaced by garbage, deleted, or given odd keys."""
    doc = copy.deepcopy(doc)
    for _ in range(changes or rng.randint(1, 3)):
        places = list(slots(doc))
        if not places:
            doc["garbage"] = garbage_value(rng)
            continue
        container, key = rng.choice(places)
        roll = rng.random()
        if roll < 0.15 and isinstance(container, dict):
            del container[key]
        elif roll < 0.3 and isinstance(container[key], dict):
            container[key][rng.choice(ODD_KEYS)] = garbage_value(rng)
        else:
            container[key] = garbage_value(rng)
    return doc


def protobuf_field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (lengths here stay below 128)."""
    return bytes([number << 3 | 2, len(payload)]) + payload


def garbage_body(rng: random.Random) -> tuple[bytes, str]:
    """A body that is no valid object of any kind (or claims the wrong content type), and its content type."""
    envelope = protobuf_field(1, protobuf_field(1, b"v1") + protobuf_field(2, b"ConfigMap"))
    choices: list[tuple[bytes, str]] = [
        (b"", JSON), (b"{", JSON), (b"}", JSON), (b"nul", JSON), (b"not json", JSON), (b"\xff\xfe\x00", JSON),
        (b"[]", JSON), (b"null", JSON), (b"0", JSON), (b"1e999", JSON), (b'"str"', JSON), (b"true", JSON),
        (b'{"a":1,}', JSON), (b"{'single': 1}", JSON), (b'{"metadata": {"name": "x"}} trailing', JSON),
        (b'{"metadata": {"name": "dup"}, "metadata": 5}', JSON), (b"\x00" * 64, JSON),
        (b"[" * 20_000 + b"]" * 20_000, JSON), (b'{"a":' * 2000 + b"null" + b"}" * 2000, JSON),
        (b'{"metadata": {"name": "deep"}, "data": ' + b"[" * 900 + b"]" * 900 + b"}", JSON),
        (b'{"metadata": {"name": "deep", "labels": ' + b'{"a":' * 900 + b"1" + b"}" * 901 + b"}", JSON),
        (bytes(rng.getrandbits(8) for _ in range(200)), JSON),
        (b"k8s\x00" + bytes(rng.getrandbits(8) for _ in range(60)), "application/vnd.kubernetes.protobuf"),
        (b"k8s\x00" + envelope + protobuf_field(2, bytes(rng.getrandbits(8) for _ in range(40))),
         "application/vnd.kubernetes.protobuf"),
        (b"k8s\x00" + envelope + b"\x12\x7f\x0a", "application/vnd.kubernetes.protobuf"),
        (b"apiVersion: v1\nkind: ConfigMap\n", "application/yaml"),
        (b'{"metadata": {"name": "x"}}', "text/plain"),
    ]
    return rng.choice(choices)


# --- the HTTP side ---------------------------------------------------------------------


@dataclass
class Reply:
    method: str
    path: str
    status: int
    content_type: str
    body: bytes
    streamed: bool  # a 2xx chunked stream (watch, log follow) left unread

    def describe(self) -> str:
        return f"{self.method} {self.path[:300]} -> {self.status} {self.content_type}: {self.body[:600]!r}"

    def json(self) -> Any:
        return json.loads(self.body)


class RawClient:
    """HTTPS requests on a keep-alive connection, with the path sent exactly as given."""

    def __init__(self, host: str, port: int, ca_file: Path, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.context = ssl.create_default_context(cafile=str(ca_file))
        self.connection: http.client.HTTPSConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        sent = {"Authorization": f"Bearer {self.token}", "Accept": JSON, **(headers or {})}
        if content_type is not None:
            sent["Content-Type"] = content_type
        for attempt in (1, 2):
            connection = self.connection or http.client.HTTPSConnection(self.host, self.port, context=self.context,
                                                                         timeout=20)
            try:
                connection.request(method, path, body=body, headers=sent)
                response = connection.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                self.connection = None
                if attempt == 2:
                    raise
                continue
            content_type_back = response.getheader("Content-Type", "")
            if 200 <= response.status < 300 and response.getheader("Transfer-Encoding") == "chunked":
                connection.close()  # an endless stream: drop the connection instead of reading it
                self.connection = None
                return Reply(method, path, response.status, content_type_back, b"", streamed=True)
            data = response.read()
            self.connection = None if response.will_close else connection
            return Reply(method, path, response.status, content_type_back, data, streamed=False)
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body: Any = None, content_type: str = JSON) -> Reply:
        return self.request(method, path, None if body is None else json.dumps(body).encode(), content_type)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


def check(reply: Reply) -> None:
    """The invariants of every answer (see the module docstring)."""
    where = reply.describe()
    if reply.method == "HEAD":
        assert reply.status < 500, where
        return
    if reply.status >= 500:
        body = reply.json()
        assert body.get("kind") == "Status" and body.get("code") == reply.status, where
        assert SERVER_ERRORS_BY_DESIGN.search(body.get("message", "")), f"unexpected server error: {where}"
        assert not body.get("reason"), where  # StatusReasonUnknown
        return
    if 200 <= reply.status < 300:
        if not reply.streamed and reply.content_type.startswith(JSON):
            assert isinstance(reply.json(), dict), where
        return
    if not reply.content_type.startswith(JSON):
        assert reply.status == 404 and reply.body == b"404 page not found\n", where
        assert not re.match(r"/apis?(/|$)", reply.path), f"an API path answered without a Status: {where}"
        return
    body = reply.json()
    assert body.get("kind") == "Status" and body.get("apiVersion") == "v1", where
    assert body.get("status") == "Failure" and body.get("code") == reply.status, where
    assert isinstance(body.get("reason"), str) and body["reason"], where
    assert isinstance(body.get("message"), str) and body["message"], where


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_sim() -> Iterator[SimServer]:
    """A cluster of its own: fuzzing deletes and rewrites things other tests rely on."""
    server = SimServer(time_scale=0.2).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def raw(fuzz_sim: SimServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawClient]:
    """An admin client of the fuzzed cluster, with the namespace and the target objects created."""
    assert fuzz_sim.cluster is not None and fuzz_sim.certificates is not None
    ca_file = tmp_path_factory.mktemp("fuzz-ca") / "ca.crt"
    ca_file.write_bytes(fuzz_sim.certificates.ca_pem)
    client = RawClient(fuzz_sim.host, fuzz_sim.port, ca_file, fuzz_sim.cluster.admin_token())
    namespace = manifests(NAMESPACE)["namespaces"]
    assert client.json("POST", namespace[0], namespace[1]).status == 201
    for kind, name in TARGETS:
        path, manifest = manifests(name)[kind]
        reply = client.json("POST", path, manifest)
        assert reply.status == 201, reply.describe()
    yield client
    client.close()


def run_cases(raw: RawClient, cases: Callable[[random.Random, RawClient], Iterator[Reply]], seed_offset: int) -> int:
    """Check every reply a generator produces; returns how many there were."""
    count = 0
    for reply in cases(random.Random(SEED + seed_offset), raw):
        check(reply)
        count += 1
    return count


def target_path(kind: str, name: str) -> str:
    return f"{manifests(name)[kind][0]}/{quote(name, safe='')}"


def current(raw: RawClient, kind: str, name: str) -> dict[str, Any] | None:
    reply = raw.request("GET", target_path(kind, name))
    check(reply)
    return reply.json() if reply.status == 200 else None


# --- paths and methods -----------------------------------------------------------------

SEGMENTS = ["api", "apis", "v1", "v2", "v1beta1", "apps", "batch", "metrics.k8s.io", "nonexistent.io",
            "namespaces", NAMESPACE, "default", "kube-system", "pods", "configmaps", "deployments", "services",
            "nodes", "events", "status", "scale", "log", "exec", "proxy", "eviction", "binding", "token",
            "finalize", "watch", "..", ".", "%2e%2e", "%2E", "%00", "a%00b", "%2F", "%", "%zz", "%ff", "",
            "web", "cm", "NAME", "-", "a.b", "*", "~", "%20", "'", "%22", "%3Cscript%3E", "openapi", "version",
            quote("ünïcødé"), quote("😀"), quote("名前"), "x" * 300, "y" * 3000]
KNOWN_PATHS = [target_path(kind, name) for kind, name in TARGETS] + [
    "/api/v1/namespaces/fuzz/pods/pod/log", "/apis/apps/v1/namespaces/fuzz/deployments/web/scale",
    "/api/v1/namespaces/fuzz/pods/status", "/api/v1/pods/pod/status", "/api/v1/namespaces/fuzz/configmaps/cm/status",
    "/apis/apps/v1/deployments/web", "/apis/apps/v2/deployments", "/api/v2/pods", "/apis/nonexistent.io/v1/foos",
    "/apis/apps/v1/namespaces/fuzz/pods", "/api/v1/namespaces/fuzz/deployments", "/apis/apps",
    "/apis/apps/v1/namespaces/fuzz/deployments/web/status/extra", "/api/v1/namespaces//pods",
    "/api/v1/nodes/chaositbench-worker/proxy", "/openapi/v3/apis/apps/v9", "/openapi/v2", "/version/extra"]
METHODS = ["GET", "GET", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]


def path_cases(rng: random.Random, raw: RawClient) -> Iterator[Reply]:
    for _ in range(CASES["paths"]):
        if rng.random() < 0.4:
            segments = rng.choice(KNOWN_PATHS).strip("/").split("/")
            segments[rng.randrange(len(segments))] = rng.choice(SEGMENTS)
            path = "/" + "/".join(segments)
        else:
            path = "/" + "/".join(rng.choice(SEGMENTS) for _ in range(rng.randint(1, 8)))
        path = path[:AIOHTTP_LINE_LIMIT - 100]
        if rng.random() < 0.2:
            path += "?" + rng.choice(["watch=1&timeoutSeconds=1", "limit=1", "%zz=%zz", "a=b&a=c", "=", "&&"])
        method = rng.choice(METHODS)
        if method == "DELETE" and NAMESPACE in path:
            method = "GET"  # the namespace and the targets stay for the other fuzz tests
        body, content_type = garbage_body(rng) if method in ("POST", "PUT", "PATCH") else (None, None)
        yield raw.request(method, path, body, content_type)


def test_garbage_paths_and_methods(raw: RawClient) -> None:
    assert run_cases(raw, path_cases, 1) == CASES["paths"]


def test_parser_level_rejections_are_client_errors(raw: RawClient) -> None:
    """Unknown method tokens and overlong request lines never reach the API server, but still get a 4xx."""
    for method in ("FOO", "GETX", "M-SEARCH", "PROPFIND"):
        reply = raw.request(method, "/api/v1/namespaces/fuzz/configmaps")
        assert 400 <= reply.status < 500, reply.describe()
    reply = raw.request("GET", "/api/v1/namespaces/fuzz/configmaps/" + "n" * 20_000)
    assert 400 <= reply.status < 500, reply.describe()
    reply = raw.request("GET", "/api/v1/namespaces/fuzz/configmaps/cm")
    assert reply.status == 200, "the server still answers after parser-level rejections"


def test_bad_credentials(raw: RawClient) -> None:
    """A bearer token that does not authenticate is 401; no usable bearer token at all is the anonymous user."""
    expected = {"Bearer x": 401, "bearer " + raw.token + "x": 401, "Bearer a.b.c": 401,
                "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.": 401, "Bearer": 403, "Bearer ": 403,
                "Basic Zm9vOmJhcg==": 403, "Negotiate abc": 403, "": 403}
    for authorization, status in expected.items():
        reply = raw.request("GET", "/api/v1/namespaces/fuzz/configmaps", headers={"Authorization": authorization})
        check(reply)
        assert reply.status == status, (authorization, reply.describe())
        assert reply.json()["reason"] == ("Unauthorized" if status == 401 else "Forbidden")


# --- bodies ----------------------------------------------------------------------------

WRONG_TYPE_META = [("apiVersion", "v2"), ("apiVersion", "apps/v1"), ("apiVersion", ""), ("apiVersion", 5),
                   ("apiVersion", None), ("kind", "Pod"), ("kind", "ConfigMapList"), ("kind", ""), ("kind", ["x"]),
                   ("kind", "Status")]


def create_cases(rng: random.Random, raw: RawClient) -> Iterator[Reply]:
    kinds = list(manifests("x"))
    for i in range(CASES["creates"]):
        kind = rng.choice(kinds)
        path, manifest = manifests(f"fz{i}")[kind]
        roll = rng.random()
        if roll < 0.2:
            body, content_type = garbage_body(rng)
        elif roll < 0.3:
            key, value = rng.choice(WRONG_TYPE_META)
            body, content_type = json.dumps({**manifest, key: value}).encode(), JSON
        else:
            body, content_type = json.dumps(mutate(rng, manifest)).encode(), JSON
        query = rng.choice(["", "", "?dryRun=All", "?fieldValidation=Strict", "?fieldValidation=Ignore",
                            "?fieldManager=fuzzer", "?pretty=true"])
        yield raw.request("POST", path + query, body, content_type)


def test_malformed_create_bodies(raw: RawClient) -> None:
    assert run_cases(raw, create_cases, 2) == CASES["creates"]


def test_oversized_bodies(raw: RawClient) -> None:
    """A ConfigMap over 1 MiB is Invalid; a body over the server's request limit is 413, not a crash."""
    big = {"metadata": {"name": "big"}, "data": {"k": "v" * (1024 * 1024 + 1)}}
    reply = raw.json("POST", f"/api/v1/namespaces/{NAMESPACE}/configmaps", big)
    check(reply)
    assert reply.status == 422, reply.describe()
    reply = raw.request("POST", f"/api/v1/namespaces/{NAMESPACE}/configmaps", b" " * (9 * 1024 * 1024), JSON)
    check(reply)
    assert reply.status == 413 and reply.json()["reason"] == "RequestEntityTooLarge", reply.describe()


def test_deep_and_self_inflating_bodies_are_bad_requests(raw: RawClient) -> None:
    """Nesting beyond what the server handles, and YAML aliases that expand a small text, are 400s."""
    collection = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
    for body in (b"[" * 20_000 + b"]" * 20_000, b'{"metadata": {"name": "deep", "labels": ' + b'{"a":' * 300
                 + b'"v"' + b"}" * 301 + b"}"):
        reply = raw.request("POST", collection, body, JSON)
        check(reply)
        assert reply.status == 400 and "exceeded max depth" in reply.json()["message"], reply.describe()
    reply = raw.request("PATCH", f"{collection}/laughs?fieldManager=fuzz", BILLION_LAUGHS.encode(),
                        "application/apply-patch+yaml")
    check(reply)
    assert reply.status == 400 and reply.json()["message"] == "yaml: document contains excessive aliasing", \
        reply.describe()


def update_cases(rng: random.Random, raw: RawClient) -> Iterator[Reply]:
    for _ in range(CASES["updates"]):
        kind, name = rng.choice(TARGETS)
        obj = current(raw, kind, name)
        if obj is None:
            continue
        roll = rng.random()
        if roll < 0.6:
            changed = mutate(rng, obj)
            if isinstance(changed.get("metadata"), dict) and rng.random() < 0.5:
                changed["metadata"].pop("resourceVersion", None)  # no precondition: the update goes further
            body, content_type = json.dumps(changed).encode(), JSON
        elif roll < 0.8:
            meta = obj["metadata"]
            key, value = rng.choice([("name", "other"), ("namespace", "default"), ("resourceVersion", "1"),
                                     ("resourceVersion", "abc"), ("uid", "not-the-uid"), ("generation", -5),
                                     ("creationTimestamp", "yesterday"), ("deletionTimestamp", "2020-01-01T00:00:00Z")])
            body, content_type = json.dumps({**obj, "metadata": {**meta, key: value}}).encode(), JSON
        else:
            body, content_type = garbage_body(rng)
        path = target_path(kind, name)
        if kind in ("services", "deployments", "pods", "poddisruptionbudgets") and rng.random() < 0.25:
            path += "/status"
        yield raw.request("PUT", path, body, content_type)


def test_malformed_update_bodies(raw: RawClient) -> None:
    assert run_cases(raw, update_cases, 3) > CASES["updates"] // 2


@pytest.mark.parametrize("metadata", [None, -0.0, 0, "", [], False, "x", [1]])
def test_updates_with_malformed_metadata(raw: RawClient, metadata: Any) -> None:
    """``"metadata": null`` is an empty ObjectMeta; any other non-object is a 400, never a server error."""
    obj = current(raw, "configmaps", "cm")
    assert obj is not None
    reply = raw.json("PUT", target_path("configmaps", "cm"), {**obj, "metadata": metadata})
    check(reply)
    assert reply.status == (200 if metadata is None else 400), reply.describe()
    reply = raw.json("POST", f"/api/v1/namespaces/{NAMESPACE}/configmaps", {"data": {"k": "v"}, "metadata": metadata})
    check(reply)
    assert reply.status == (422 if metadata is None else 400), reply.describe()


# --- patches ---------------------------------------------------------------------------

DIRECTIVE_PATCHES: list[Any] = [
    {"$patch": "delete"}, {"$patch": "replace"}, {"$patch": "bogus"}, {"metadata": {"$patch": "delete"}},
    {"metadata": {"labels": {"$patch": "replace", "x": "y"}}}, {"metadata": {"finalizers": [{"$patch": "delete"}]}},
    {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
    {"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}, {"metadata": {"$setElementOrder/ownerReferences": 5}},
    {"metadata": {"ownerReferences": [{"$patch": "delete"}]}},
    {"spec": {"template": {"spec": {"containers": [{"$patch": "delete"}]}}}},
    {"spec": {"template": {"spec": {"containers": [{"image": "nginx"}]}}}},
    {"spec": {"template": {"spec": {"containers": [{"name": "app", "$patch": "bogus"}]}}}},
    {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "ghost"}],
                                    "containers": [{"name": "app"}]}}}},
    {"spec": {"template": {"spec": {"$setElementOrder/containers": "x"}}}},
    {"spec": {"template": {"spec": {"containers": [[1]]}}}},
    {"spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"value": "no-name"}]}]}}}},
    {"spec": {"template": {"spec": {"containers": [{"name": "app", "ports": [{"protocol": "TCP"}]}]}}}},
    {"spec": {"template": {"spec": {"volumes": [{"name": "v", "$retainKeys": ["name"], "emptyDir": {}}]}}}},
    {"spec": {"$retainKeys": ["replicas"], "replicas": 1}}, {"spec": {"strategy": {"$retainKeys": 5}}},
    {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
    {"spec": {"ports": [{"$patch": "delete"}]}}, {"spec": {"ports": [{"port": 80, "$patch": "delete"}]}},
    {"spec": {"ports": {"$patch": "replace"}}}, {"spec": {"ingress": [{"$patch": "delete"}]}},
    {"spec": {"containers": [{"$patch": "replace"}]}}, {"data": {"$patch": "delete"}}, {"data": [1, 2]},
    {"rules": [{"$patch": "replace"}]}, {"rules": {"$patch": "delete"}}, {"status": {"$patch": "delete"}},
]
JSON_PATCH_OPS = ["add", "remove", "replace", "move", "copy", "test", "bogus", None, 5]
JSON_PATCH_PATHS = ["", "/", "/metadata", "/metadata/labels/a", "/metadata/labels/a~1b", "/metadata/labels/~2",
                    "/metadata/name", "/metadata/uid", "/metadata/resourceVersion", "/metadata/finalizers/-",
                    "/data/k", "/data", "/spec/replicas", "/spec/template/spec/containers/0/image",
                    "/spec/template/spec/containers/99", "/spec/template/spec/containers/-",
                    "/spec/template/spec/containers/-1", "/spec/template/spec/containers/01", "/spec/ports/0/port",
                    "/rules/0/verbs/0", "/status", "/kind", "/apiVersion", "/nope/deeper/still", "no-slash", 5, None]
#: Under 1 KiB of YAML whose aliases expand to 10^8 strings.
BILLION_LAUGHS = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 8))
GARBAGE_YAML = ["a: [", ":\n:", "- 1\n- 2", "!!python/object/apply:os.system ['true']", "? [1]\n: 2", "&a [*a]",
                "a: &x 1\nb: *y", "\t- tab", "apiVersion: v1\nkind: ConfigMap\n", "{\"json\": \"as yaml\"}", "~",
                "%YAML 9.9\n---\na: 1", "a: 1\n---\nb: 2", "kind: [\n" * 300, "data: &d {a: *d}", BILLION_LAUGHS]


def json_patch(rng: random.Random) -> list[Any]:
    ops: list[Any] = []
    for _ in range(rng.randint(1, 4)):
        op: dict[str, Any] = {"op": rng.choice(JSON_PATCH_OPS), "path": rng.choice(JSON_PATCH_PATHS)}
        if rng.random() < 0.7:
            op["value"] = garbage_value(rng) if rng.random() < 0.7 else "ok"
        if rng.random() < 0.3:
            op["from"] = rng.choice(JSON_PATCH_PATHS)
        if rng.random() < 0.1:
            del op[rng.choice(list(op))]
        ops.append(op if rng.random() < 0.95 else rng.choice(["string-op", 7, None, []]))
    return ops


def patch_cases(rng: random.Random, raw: RawClient) -> Iterator[Reply]:
    for _ in range(CASES["patches"]):
        kind, name = rng.choice(TARGETS)
        content_type = rng.choice(PATCH_TYPES + PATCH_TYPES + (
            JSON, "text/plain", "", "application/yaml", "application/json-patch+json; charset=utf-8",
            "application/strategic-merge-patch+json;foo=bar", "application/vnd.kubernetes.protobuf"))
        query = ""
        roll = rng.random()
        if roll < 0.15:
            body, _ = garbage_body(rng)
        elif content_type.startswith("application/json-patch+json"):
            body = json.dumps(json_patch(rng) if roll < 0.9 else {"op": "add"}).encode()
        elif content_type == "application/apply-patch+yaml":
            query = rng.choice(["?fieldManager=fuzz", "?fieldManager=fuzz&force=true", "", "?fieldManager=",
                                "?fieldManager=fuzz&force=x", f"?fieldManager={'m' * 200}"])
            if roll < 0.4:
                body = rng.choice(GARBAGE_YAML).encode()
            else:
                manifest = manifests(name)[kind][1]
                applied = mutate(rng, manifest) if roll < 0.9 else rng.choice(DIRECTIVE_PATCHES)
                body = (yaml.safe_dump(applied) if rng.random() < 0.5 else json.dumps(applied)).encode()
        else:
            if roll < 0.6:
                patch = rng.choice(DIRECTIVE_PATCHES)
            else:
                obj = current(raw, kind, name) or manifests(name)[kind][1]
                patch = mutate(rng, {k: v for k, v in obj.items() if k in ("metadata", "spec", "data", "rules")},
                               changes=rng.randint(1, 2))
            body = json.dumps(patch).encode()
        path = target_path(kind, name)
        if kind in ("deployments", "services", "pods") and rng.random() < 0.2:
            path += rng.choice(["/status", "/scale"])
        yield raw.request("PATCH", path + query, body, content_type)


def test_malformed_patches(raw: RawClient) -> None:
    assert run_cases(raw, patch_cases, 4) == CASES["patches"]


def test_strategic_merge_patch_server_errors_are_by_design(raw: RawClient) -> None:
    """The two 500s kube-apiserver answers for strategic merge patches, with its Go error texts."""
    patch = {"spec": {"ports": [{"targetPort": 8443}]}}
    reply = raw.json("PATCH", target_path("services", "svc"), patch, "application/strategic-merge-patch+json")
    assert reply.status == 500, reply.describe()
    assert reply.json()["message"] == "map: map[targetPort:8443] does not contain declared merge key: port"
    reply = raw.json("PATCH", target_path("configmaps", "cm"), {"metadata": {"labels": {"$patch": "bogus"}}},
                     "application/strategic-merge-patch+json")
    assert reply.status == 500, reply.describe()
    assert reply.json()["message"] == "unknown patch type: bogus in map: map[$patch:bogus]"


# --- query parameters and headers ----------------------------------------------------

BAD_PARAMS: dict[str, list[str]] = {
    "labelSelector": ["a in (", "!!a", "a=b=c", "a in ()", "x" * 70 + "=v", "a==b", ",", "a,,b", "=v", "a!=",
                      "a in (b,c", "%", "a notin b", "a=" + "v" * 70, "é=1", "a b", "a=(b)", "fuzz=yes,!"],
    "fieldSelector": ["metadata.name", "foo=bar", "metadata.name==", "=x", "status.phase=Running", "spec.nodeName=x",
                      "metadata.name=a,", "metadata.name in (a)", "metadata.name=a=b", "involvedObject.kind=Pod",
                      "metadata.namespace!=", "a" * 500],
    "limit": ["-1", "abc", "99999999999999999999", "1.5", "", "0x10", "１"],
    "continue": ["garbage", "", "=", base64.urlsafe_b64encode(b'{"rv": "x"}').decode(),
                 base64.urlsafe_b64encode(b"[]").decode(), base64.urlsafe_b64encode(b'{"rv": 1, "start": "ab"}').decode(),
                 base64.urlsafe_b64encode(b'{"rv": 1, "start": [1]}').decode(), base64.urlsafe_b64encode(b"\xff").decode()],
    "resourceVersion": ["abc", "-1", "99999999999999999999999", "", "1.5", "0"],
    "resourceVersionMatch": ["x", "Exact", "NotOlderThan", ""],
    "timeoutSeconds": ["x", "-1", "1.5", ""],
    "watch": ["x", "1", "false", ""],
    "allowWatchBookmarks": ["x", "true"],
    "sendInitialEvents": ["x", "true"],
    "propagationPolicy": ["x", "", "foreground", "Orphan "],
    "gracePeriodSeconds": ["x", "-5", "1.5", "99999999999999999999"],
    "orphanDependents": ["x", "true"],
    "dryRun": ["x", "", "all", "All"],
    "fieldValidation": ["x", "", "strict"],
    "fieldManager": ["m" * 200, "", "ü"],
    "includeObject": ["x", "None", "Object"],
    "pretty": ["x"],
}
ACCEPTS = [JSON, TABLE, "application/json;as=Table;v=v2;g=meta.k8s.io", "application/vnd.kubernetes.protobuf",
           "text/html", "*/*", "application/yaml", "garbage;;;", "application/json;as=PartialObjectMetadataList"]


def param_cases(rng: random.Random, raw: RawClient) -> Iterator[Reply]:
    collections = [f"/api/v1/namespaces/{NAMESPACE}/configmaps", f"/api/v1/namespaces/{NAMESPACE}/pods",
                   f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", "/api/v1/events", "/api/v1/nodes",
                   "/api/v1/namespaces", "/apis/apps/v1/deployments"]
    for i in range(CASES["params"]):
        params = {key: rng.choice(BAD_PARAMS[key]) for key in rng.sample(sorted(BAD_PARAMS), rng.randint(1, 3))}
        if params.get("watch") in ("1", "") or "watch" not in params and rng.random() < 0.1:
            params["timeoutSeconds"] = "1"  # a watch that does start must end
        accept = rng.choice(ACCEPTS)
        action = rng.choice(["list", "list", "get", "delete", "deletecollection", "create"])
        if action == "list":
            path, method, body = rng.choice(collections), "GET", None
        elif action == "get":
            path, method, body = target_path(*rng.choice(TARGETS)), "GET", None
        elif action == "create":
            path, manifest = manifests(f"param{i}")["configmaps"]
            method, body = "POST", json.dumps(manifest).encode()
        else:
            path, manifest = manifests(f"doomed{i}")["configmaps"]
            manifest["metadata"]["labels"] = {"doomed": "yes"}
            check(raw.json("POST", path, manifest))
            method, body = "DELETE", None
            if action == "delete":
                path += f"/doomed{i}"
            else:  # only ever the throw-away objects, whatever the garbage selector
                params["labelSelector"] = "doomed=yes," + params.get("labelSelector", "doomed")
        query = urlencode(params, quote_via=quote)
        yield raw.request(method, f"{path}?{query}", body, JSON if body else None, headers={"Accept": accept})


def test_bad_query_parameters(raw: RawClient) -> None:
    assert run_cases(raw, param_cases, 5) == CASES["params"]


# --- afterwards: nothing is corrupted ----------------------------------------------------


def discovered_resources(raw: RawClient) -> list[tuple[str, dict[str, Any]]]:
    """(group-version path, resource) for every listable resource in the discovery documents."""
    versions = [("/api/v1", "v1")]
    groups = raw.request("GET", "/apis")
    assert groups.status == 200
    for group in groups.json()["groups"]:
        versions += [(f"/apis/{v['groupVersion']}", v["groupVersion"]) for v in group["versions"]]
    found = []
    for prefix, _ in versions:
        reply = raw.request("GET", prefix)
        assert reply.status == 200, reply.describe()
        found += [(prefix, r) for r in reply.json()["resources"] if "/" not in r["name"] and "list" in r["verbs"]]
    return found


def test_state_survives_fuzzing(fuzz_sim: SimServer, raw: RawClient, tmp_path: Path) -> None:
    assert fuzz_sim.cluster is not None
    store = fuzz_sim.cluster.store

    def stored() -> list[tuple[str, dict[str, Any]]]:
        return [(key, json.loads(json.dumps(obj))) for key, obj in store.iter_all()]

    objects = fuzz_sim.call(stored)
    assert len(objects) > 100
    for key, obj in objects:
        meta = obj.get("metadata")
        assert isinstance(meta, dict), (key, obj)
        assert isinstance(meta.get("name"), str) and meta["name"], (key, meta)
        assert isinstance(meta.get("uid"), str) and meta["uid"], (key, meta)
        assert isinstance(meta.get("resourceVersion"), str) and meta["resourceVersion"].isdigit(), (key, meta)
        assert isinstance(meta.get("creationTimestamp"), str), (key, meta)
        assert isinstance(meta.get("labels", {}), dict) and isinstance(meta.get("annotations", {}), dict), (key, meta)

    resources = discovered_resources(raw)
    assert len(resources) > 30
    for prefix, resource in resources:
        for accept in (JSON, TABLE):
            reply = raw.request("GET", f"{prefix}/{resource['name']}", headers={"Accept": accept})
            assert reply.status == 200, reply.describe()
            body = reply.json()
            assert body["kind"] == ("Table" if accept == TABLE else f"{resource['kind']}List"), reply.describe()
        reply = raw.request("GET", f"{prefix}/{resource['name']}?labelSelector=fuzz%3Dyes&limit=2")
        assert reply.status == 200, reply.describe()

    kubectl = Kubectl(fuzz_sim.write_kubeconfig(tmp_path / "kubeconfig"), tmp_path / "cache")
    assert "NAMESPACE" in kubectl("get", "all", "-A")
    assert "fuzz" in kubectl("get", "namespaces")
    kubectl("get", "configmaps,secrets,roles,networkpolicies,pdb", "-n", NAMESPACE, "-o", "yaml")


def test_controllers_survive_fuzzing(raw: RawClient) -> None:
    """A Deployment created after the fuzzing still becomes available: no controller died on garbage."""
    namespace = manifests("after-fuzz")["namespaces"]
    assert raw.json("POST", namespace[0], namespace[1]).status == 201
    path, manifest = manifests("after")["deployments"]
    path = path.replace(f"/namespaces/{NAMESPACE}/", "/namespaces/after-fuzz/")
    assert raw.json("POST", path, manifest).status == 201
    deadline = time.monotonic() + 45
    while True:
        status = raw.request("GET", f"{path}/after").json().get("status", {})
        if status.get("availableReplicas") == 1:
            break
        assert time.monotonic() < deadline, f"deployment never became available: {status}"
        time.sleep(0.2)
