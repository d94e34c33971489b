"""The simulated shell of ``kubectl exec``: parsing, the pod's environment and files, and its commands."""

from __future__ import annotations

import asyncio
import base64
import json
import math

import pytest

from chaositbench.sim import clock
from chaositbench.sim.cluster import Cluster
from chaositbench.sim.kinds import preferred
from chaositbench.sim.quantity import bytes_of
from chaositbench.sim.shell import ExecContext, Output, build_context, run
from chaositbench.sim.shell.syntax import ShellSyntaxError, parse, tokenize
from exec_harness import FakeNetwork

PODS, NODES = preferred("", "Pod"), preferred("", "Node")


# -- parsing -------------------------------------------------------------------------------
def words(script: str) -> list[str]:
    return [w.expand({"A": "1", "?": "0"}) for kind, w in tokenize(script) if kind == "word"]  # type: ignore[union-attr]


def test_quotes_escapes_and_variables() -> None:
    assert words("""echo 'a $A' "b $A ${A}x" c\\ d $A$A "\\$A" $ ''""") == \
        ["echo", "a $A", "b 1 1x", "c d", "11", "$A", "$", ""]


def test_lists_pipelines_and_redirections_parse() -> None:
    [first, second] = parse("curl -s x | grep -i ok && echo yes || exit 3; ls 2>&1 >/dev/null")
    assert [len(p.commands) for p in [first.first] + [p for _, p in first.rest]] == [2, 1, 1]
    assert [op for op, _ in first.rest] == ["&&", "||"]
    [cmd] = second.first.commands
    assert [(r.fd, r.op, r.target.expand({})) for r in cmd.redirects] == [(2, ">&", "1"), (1, ">", "/dev/null")]
    assert parse("# only a comment\n\n") == []


@pytest.mark.parametrize("script, message", [
    ("echo 'open", "unterminated quoted string"),
    ('echo "open', "unterminated quoted string"),
    ("| grep x", 'unexpected "|"'),
    ("echo a &&", "unexpected end of file"),
    ("echo a ;; echo b", 'unexpected ";"'),
    ("echo $(hostname", r"unterminated \$\("),
    ("echo `hostname", "unterminated `"),
])
def test_syntax_errors(script: str, message: str) -> None:
    with pytest.raises(ShellSyntaxError, match=message):
        parse(script)


# -- a pod on a cluster ---------------------------------------------------------------------------
POD = {
    "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}, "annotations": {
        "chaositbench.io/needs": "app: {memory: {workingSet: 96Mi}, ephemeralStorage: {usage: 1Gi}}"}},
    "spec": {
        "nodeName": "worker",
        "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["legacy.example"]}],
        "containers": [{
            "name": "app", "image": "registry.example/shop/web:1.2", "command": ["/app/web"], "args": ["--port=8080"],
            "resources": {"limits": {"memory": "256Mi"}}, "ports": [{"containerPort": 8080}],
            "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
            "env": [{"name": "DB_HOST", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "db_host"}}},
                    {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                    {"name": "DSN", "value": "postgres://$(DB_HOST):5432 $$(kept)"}],
            "volumeMounts": [{"name": "config", "mountPath": "/etc/web"},
                             {"name": "config", "mountPath": "/etc/app.yaml", "subPath": "app.yaml"},
                             {"name": "creds", "mountPath": "/var/secrets"}]}],
        "volumes": [{"name": "config", "configMap": {"name": "settings"}},
                    {"name": "creds", "secret": {"secretName": "creds",
                                                 "items": [{"key": "password", "path": "db/password"}]}}]},
}


def make_context(network: FakeNetwork | None = None, disk_pressure: bool = False,
                 node_disk_used: str | None = None) -> ExecContext:
    cluster = Cluster()
    api = cluster.api
    api.create(preferred("", "Namespace"), "", {"metadata": {"name": "shop"}})
    api.create(preferred("", "ServiceAccount"), "shop", {"metadata": {"name": "default"}})
    api.create(preferred("", "ConfigMap"), "shop", {"metadata": {"name": "settings"}, "data": {
        "db_host": "postgres.data", "app.yaml": "gateway: stripe\n", "mode": "live"}})
    api.create(preferred("", "Secret"), "shop", {"metadata": {"name": "creds"}, "data": {
        "password": base64.b64encode(b"s3cret").decode()}})
    api.create(preferred("", "Service"), "shop", {"metadata": {"name": "pay-api"}, "spec": {
        "selector": {"app": "pay"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
    node_name = api.list(NODES)[0][-1]["metadata"]["name"]
    pod = api.create(PODS, "shop", {**POD, "spec": {**POD["spec"], "nodeName": node_name}})
    pod["status"] = {"phase": "Running", "podIP": "10.244.1.7", "containerStatuses": [
        {"name": "app", "image": "registry.example/shop/web:1.2", "imageID": "", "ready": True, "restartCount": 0,
         "state": {"running": {"startedAt": clock.rfc3339()}}}]}
    pod = api.update(PODS, "shop", "web-1", pod, subresource="status")
    if disk_pressure:
        node = api.get(NODES, "", node_name)
        node["status"]["conditions"] = [{"type": "DiskPressure", "status": "True"}]
        api.update(NODES, "", node_name, node, subresource="status")
    if node_disk_used:
        node = api.get(NODES, "", node_name)
        node["metadata"].setdefault("annotations", {})["chaositbench.io/node-disk-used"] = node_disk_used
        api.update(NODES, "", node_name, node)
    if network is not None:
        cluster.network = network  # type: ignore[assignment]
    ctx = build_context(cluster, pod, "app", ["sh"])
    if network is not None:
        ctx.resolver = network.resolve  # type: ignore[assignment]
    return ctx


def sh(ctx: ExecContext, script: str, stdin: str = "") -> Output:
    return asyncio.run(run(ctx, ["sh", "-c", script], stdin))


@pytest.fixture(scope="module")
def ctx() -> ExecContext:
    return make_context(FakeNetwork({"pay-api": ("10.96.40.1", 200), "down": ("10.96.40.2", "refused"),
                                     "blocked": ("10.96.40.3", "timeout"), "sick": ("10.96.40.4", 503)}))


# -- environment and files ------------------------------------------------------------------------
def test_environment_as_the_kubelet_builds_it(ctx: ExecContext) -> None:
    env = dict(line.split("=", 1) for line in sh(ctx, "env").stdout.splitlines() if "=" in line)
    assert env["HOSTNAME"] == "web-1" and env["PATH"].startswith("/usr/local/sbin")
    assert env["DB_HOST"] == "postgres.data" and env["DB_PASSWORD"] == "s3cret"
    assert env["POD_NAME"] == "web-1" and env["POD_IP"] == "10.244.1.7" and env["MEM"] == "256"
    assert env["DSN"] == "postgres://postgres.data:5432 $(kept)"
    assert env["CFG_mode"] == "live" and "CFG_app.yaml" in env
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1" and env["KUBERNETES_PORT"] == "tcp://10.96.0.1:443"
    assert env["PAY_API_SERVICE_PORT_HTTP"] == "80" and env["PAY_API_PORT_80_TCP_PROTO"] == "tcp"
    out = sh(ctx, "printenv DB_HOST NOPE")
    assert (out.stdout, out.code) == ("postgres.data\n", 1)


def test_mounted_files(ctx: ExecContext) -> None:
    assert sh(ctx, "cat /etc/web/mode /etc/app.yaml /var/secrets/db/password").stdout == "livegateway: stripe\ns3cret"
    assert sh(ctx, "ls /etc/web").stdout == "app.yaml\ndb_host\nmode\n"
    assert "mode -> ..data/mode" in sh(ctx, "ls -l /etc/web").stdout
    hosts = sh(ctx, "cat /etc/hosts").stdout
    assert "10.244.1.7\tweb-1\n" in hosts and "10.1.2.3\tlegacy.example" in hosts
    assert sh(ctx, "cat /etc/resolv.conf").stdout == (
        "search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n")
    assert sh(ctx, "cat /proc/1/cmdline").stdout == "/app/web\0--port=8080\0"
    token = sh(ctx, "cat /var/run/secrets/kubernetes.io/serviceaccount/token").stdout
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["sub"] == "system:serviceaccount:shop:default"
    assert sh(ctx, "cat /var/run/secrets/kubernetes.io/serviceaccount/namespace").stdout == "shop"
    missing = sh(ctx, "cat /nope")
    assert (missing.stderr, missing.code) == ("cat: can't open '/nope': No such file or directory\n", 1)


# -- the interpreter ---------------------------------------------------------------------------
def test_pipes_lists_and_exit_codes(ctx: ExecContext) -> None:
    assert sh(ctx, "env | grep ^DB_ | wc -l").stdout == "2\n"
    assert sh(ctx, "cat /etc/hosts | head -n 2 | tail -1").stdout == "127.0.0.1\tlocalhost\n"
    assert sh(ctx, "false && echo no || echo yes; echo $?").stdout == "yes\n0\n"
    assert sh(ctx, "echo one; exit 3; echo never").stdout == "one\n" and sh(ctx, "exit 3").code == 3
    assert sh(ctx, "! true").code == 1 and sh(ctx, "X=5; echo $X ${X}0").stdout == "5 50\n"
    assert sh(ctx, "nope 2>&1").stdout == "sh: nope: not found\n"
    assert sh(ctx, "echo hi > /tmp/f && cat /tmp/f; cat /dev/null").stdout == "hi\n"
    assert sh(ctx, "cd /etc/web && pwd && ls | head -1").stdout == "/etc/web\napp.yaml\n"
    assert sh(ctx, "grep -c o", stdin="foo\nbar\nboo\n").stdout == "2\n"
    assert sh(ctx, "head -c 3 /etc/web/mode; tail -n +2", stdin="1\n2\n3\n").stdout == "liv2\n3\n"
    assert sh(ctx, "printf '%s=%d\\n' a 1 b 2; printf '[%-3s|%3s]' x y").stdout == "a=1\nb=2\n[x  |  y]"
    assert sh(ctx, "echo $(hostname)-`echo $(printenv DB_HOST)` \"$(echo 'a)b')\"").stdout == "web-1-postgres.data a)b\n"
    substituted = sh(ctx, "H=$(nope); echo \"[$H]\"")
    assert (substituted.stdout, substituted.stderr) == ("[]\n", "sh: nope: not found\n")


def test_compound_commands_fields_and_arithmetic(ctx: ExecContext) -> None:
    loop = "for h in pay-api down; do curl -s -o /dev/null -w \"$h %{http_code}\\n\" $h; done"
    assert sh(ctx, loop).stdout == "pay-api 200\ndown 000\n"
    assert sh(ctx, "for f in $(ls /etc/web); do echo \"<$f>\"; done").stdout == "<app.yaml>\n<db_host>\n<mode>\n"
    assert sh(ctx, "for f in \"$(ls /etc/web)\"; do echo \"<$f>\"; done | wc -l").stdout == "3\n"
    assert sh(ctx, "if curl -sf sick; then echo up; elif [ -f /etc/hosts ]; then echo hosts; else echo no; fi"
              ).stdout == "hosts\n"
    assert sh(ctx, "if false; then echo x; fi; echo $?").stdout == "0\n"
    assert sh(ctx, "i=0; while [ $i -lt 3 ]; do echo $i; i=$((i+1)); done; until true; do echo no; done"
              ).stdout == "0\n1\n2\n"
    assert sh(ctx, "X=4; echo $((7/2)) \"$((2*(3+$X)))\" $(( (X+1) % 3 ))").stdout == "3 14 2\n"
    assert sh(ctx, "[ -z \"\" ] && [ a != b ] && test 3 -ge 3 && [ -d /etc ] && ! [ -e /nope ] && echo ok").stdout == \
        "ok\n"
    assert sh(ctx, "[ 1 -lt x ]").code == 2 and sh(ctx, "echo $((1/0))").stderr == "sh: divide by zero\n"
    assert sh(ctx, "if true; then echo x").stderr == "sh: syntax error: unexpected end of file\n"


def test_unknown_commands_are_127(ctx: ExecContext) -> None:
    out = asyncio.run(run(ctx, ["nope"]))
    assert (out.stderr, out.code) == ("sh: nope: not found\n", 127)
    out = asyncio.run(run(ctx, ["bash", "-c", "vim x"]))
    assert (out.stderr, out.code) == ("bash: vim: command not found\n", 127)
    assert sh(ctx, "echo 'x").code == 2


# -- network commands ---------------------------------------------------------------------------
def test_curl(ctx: ExecContext) -> None:
    out = sh(ctx, "curl -s http://pay-api/healthz")
    assert (out.stdout, out.code) == ("GET http://pay-api/healthz ok\n", 0)
    assert sh(ctx, "curl -s -o /dev/null -w '%{http_code}' sick").stdout == "503"
    assert sh(ctx, "curl -sf sick").code == 22
    assert sh(ctx, "curl -sSf sick").stderr == "curl: (22) The requested URL returned error: 503\n"
    cases = {"curl http://nowhere/": (6, "curl: (6) Could not resolve host: nowhere\n"),
             "curl down:8080": (7, "curl: (7) Failed to connect to down port 8080 after 2 ms: "
                                   "Couldn't connect to server\n"),
             "curl -m 0.01 blocked": (28, "curl: (28) Connection timed out after 11 milliseconds\n")}
    for script, (code, message) in cases.items():
        out = sh(ctx, script)
        assert (out.code, out.stderr) == (code, message), script
    assert sh(ctx, "curl -s down").stderr == ""


def test_listening_sockets(ctx: ExecContext) -> None:
    lines = sh(ctx, "netstat -tln").stdout.splitlines()
    assert lines[0] == "Active Internet connections (only servers)" and lines[2].split() == [
        "tcp", "0", "0", ":::8080", ":::*", "LISTEN"]
    assert sh(ctx, "ss -tln | grep -c LISTEN").stdout == "1\n"


def test_wget_nslookup_getent_dig_nc(ctx: ExecContext) -> None:
    assert sh(ctx, "wget -qO- pay-api/x").stdout == "GET http://pay-api/x ok\n"
    assert sh(ctx, "wget -qO- -T 1 down").stderr == "wget: can't connect to remote host (10.96.40.2): " \
                                                     "Connection refused\n"
    assert sh(ctx, "wget -qO- sick").stderr == "wget: server returned error: HTTP/1.1 503 Service Unavailable\n"
    found = sh(ctx, "nslookup pay-api")
    assert "Name:\tpay-api.shop.svc.cluster.local\nAddress: 10.96.40.1\n" in found.stdout and found.code == 0
    missing = sh(ctx, "nslookup nowhere")
    assert (missing.stderr, missing.code) == ("** server can't find nowhere: NXDOMAIN\n\n", 1)
    assert sh(ctx, "getent hosts pay-api").stdout == "10.96.40.1      pay-api.shop.svc.cluster.local\n"
    assert sh(ctx, "getent hosts nowhere").code == 2
    assert sh(ctx, "dig +short pay-api").stdout == "10.96.40.1\n"
    assert sh(ctx, "nc -zv pay-api 80").stderr == "pay-api (10.96.40.1:80) open\n"
    refused = sh(ctx, "nc -z -v -w 1 down 5432")
    assert (refused.stderr, refused.code) == ("nc: down (10.96.40.2:5432): Connection refused\n", 1)


def test_dns_unreachable() -> None:
    ctx = make_context(FakeNetwork({"pay-api": ("10.96.40.1", 200)}, dns_ok=False))
    ctx.time_scale = 0.0001
    out = sh(ctx, "nslookup pay-api")
    assert (out.stdout, out.code) == (";; connection timed out; no servers could be reached\n\n", 1)


# -- processes and resources ---------------------------------------------------------------------
def test_process_and_identity(ctx: ExecContext) -> None:
    ps = sh(ctx, "ps").stdout.splitlines()
    assert ps[0] == "PID   USER     TIME  COMMAND" and ps[1].endswith(" /app/web --port=8080")
    assert ps[1].split()[0] == "1"
    assert sh(ctx, "hostname; whoami; id -u 2>/dev/null | head -c 0").stdout == "web-1\nroot\n"
    assert sh(ctx, "uname -a").stdout.startswith("Linux web-1 ")


def test_free_and_df(ctx: ExecContext) -> None:
    mem = sh(ctx, "free -m").stdout.splitlines()[1].split()
    assert mem[:3] == ["Mem:", "256", "96"]
    root = sh(ctx, "df -h").stdout.splitlines()[1].split()
    assert root[0] == "overlay" and root[-1] == "/" and int(root[4].rstrip("%")) < 50
    full = make_context(node_disk_used="60Gi")
    capacity = bytes_of(full.node["status"]["capacity"]["ephemeral-storage"])
    expected = math.ceil(100 * (60 * 1024 ** 3 + 1024 ** 3) / capacity)  # the node's files and the pod's 1Gi
    assert sh(full, "df /").stdout.splitlines()[1].split()[4] == f"{expected}%"
    pressured = make_context(disk_pressure=True)
    root = sh(pressured, "df -h /").stdout.splitlines()[1].split()
    assert int(root[4].rstrip("%")) >= 90


def test_the_cluster_network_model_without_dns_endpoints() -> None:
    ctx = make_context()  # the cluster's own network model: kube-dns has no ready endpoint (nothing runs)
    out = sh(ctx, "curl http://pay-api/")
    assert (out.code, out.stderr) == (6, "curl: (6) Could not resolve host: pay-api\n")
    assert sh(ctx, "nslookup pay-api").code == 1
