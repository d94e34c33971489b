"""``kubectl exec`` and the official client's ``stream`` against the simulated cluster, over WebSocket."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream

from chaositbench.sim.exec_stream import status_of
from chaositbench.sim.server import SimServer
from conftest import Kubectl
from polling import eventually

NS = "exec-test"
WAIT_S = 20.0

MANIFESTS = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: {NS}}}
data: {{db_host: postgres.data}}
---
apiVersion: v1
kind: Service
metadata: {{name: pay-api, namespace: {NS}}}
spec:
  selector: {{app: pay}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: down, namespace: {NS}}}
spec:
  selector: {{app: nobody}}
  ports: [{{port: 8080}}]
---
apiVersion: v1
kind: Pod
metadata:
  name: pay
  namespace: {NS}
  labels: {{app: pay}}
  annotations:
    chaositbench.io/needs: "app: {{listen: [{{port: 8080, paths: {{/healthz: 200}}}}]}}"
spec:
  containers:
  - {{name: app, image: nginx:1.27}}
---
apiVersion: v1
kind: Pod
metadata: {{name: fenced, namespace: {NS}, labels: {{role: fenced}}}}
spec:
  containers:
  - {{name: app, image: busybox:1.36, command: [sleep, infinity]}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: fenced-dns-only, namespace: {NS}}}
spec:
  podSelector: {{matchLabels: {{role: fenced}}}}
  policyTypes: [Egress]
  egress:
  - ports: [{{port: 53, protocol: UDP}}, {{port: 53, protocol: TCP}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: {NS}}}
spec:
  initContainers:
  - {{name: init, image: busybox:1.36, command: [sh, -c, "true"]}}
  containers:
  - name: app
    image: nginx:1.27
    env:
    - {{name: DB_HOST, valueFrom: {{configMapKeyRef: {{name: settings, key: db_host}}}}}}
  - {{name: sidecar, image: busybox:1.36, command: [sleep, infinity]}}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimServer, Kubectl, Path]]:
    sim = SimServer(time_scale=0.2).start()
    kubeconfig = sim.write_kubeconfig(tmp_path_factory.mktemp("exec") / "config")
    kubectl = Kubectl(kubeconfig, tmp_path_factory.mktemp("exec-cache"))
    kubectl("apply", "-f", "-", input=MANIFESTS)
    for namespace, selector in ((NS, "app=pay"), (NS, "!app,!role"), (NS, "role=fenced"),
                                ("kube-system", "k8s-app=kube-dns")):
        eventually(lambda: "True" in kubectl("get", "pods", "-n", namespace, "-l", selector, "-o",
                                             "jsonpath={.items[*].status.conditions[?(@.type=='Ready')].status}"),
                   f"{selector} pods in {namespace} to be ready")
    yield sim, kubectl, kubeconfig
    sim.stop()


def exec_(kubectl: Kubectl, *command: str, container: str = "app") -> Any:
    return kubectl.run("exec", "web", "-n", NS, "-c", container, "--", *command, check=False)


def test_env_shows_the_resolved_environment(cluster: tuple[SimServer, Kubectl, Path]) -> None:
    _, kubectl, _ = cluster
    result = exec_(kubectl, "env")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "DB_HOST=postgres.data" in lines and "HOSTNAME=web" in lines
    assert "PAY_API_SERVICE_PORT=80" in lines and "KUBERNETES_SERVICE_HOST=10.96.0.1" in lines


def test_curl_and_dns_through_the_cluster_network(cluster: tuple[SimServer, Kubectl, Path]) -> None:
    _, kubectl, _ = cluster
    result = exec_(kubectl, "sh", "-c", f"curl -s http://pay-api.{NS}/healthz")
    assert (result.returncode, result.stdout) == (0, "OK\n"), result.stderr
    refused = exec_(kubectl, "sh", "-c", "curl down:8080")
    assert refused.returncode == 7
    assert refused.stderr == ("curl: (7) Failed to connect to down port 8080 after 2 ms: Couldn't connect to server\n"
                              "command terminated with exit code 7\n")
    lookup = exec_(kubectl, "nslookup", "pay-api")
    assert lookup.returncode == 0, lookup.stderr
    assert f"Name:\tpay-api.{NS}.svc.cluster.local\n" in lookup.stdout
    resolv = exec_(kubectl, "cat", "/etc/resolv.conf")
    assert resolv.stdout.startswith(f"search {NS}.svc.cluster.local svc.cluster.local cluster.local\n"
                                    "nameserver 10.96.0.10\n")


def test_network_policy_drops_what_it_does_not_allow(cluster: tuple[SimServer, Kubectl, Path]) -> None:
    _, kubectl, _ = cluster

    def fenced(script: str) -> Any:
        return kubectl.run("exec", "fenced", "-n", NS, "--", "sh", "-c", script, check=False)
    timed_out = fenced(f"curl -sS -m 1 http://pay-api.{NS}/healthz")
    assert timed_out.returncode == 28
    assert timed_out.stderr == ("curl: (28) Connection timed out after 1001 milliseconds\n"
                                "command terminated with exit code 28\n")
    assert fenced("nslookup pay-api | tail -2 | head -1").stdout.startswith("Address: ")  # DNS is allowed
    nc = fenced("nc -zv -w 1 pay-api 80")
    assert nc.returncode == 1 and nc.stderr.startswith("nc: pay-api (") and "Operation timed out" in nc.stderr


def test_unknown_command_is_127(cluster: tuple[SimServer, Kubectl, Path]) -> None:
    _, kubectl, _ = cluster
    result = exec_(kubectl, "nope")
    assert result.returncode == 127
    assert result.stderr == "sh: nope: not found\ncommand terminated with exit code 127\n"
    failing = exec_(kubectl, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (failing.returncode, failing.stdout) == (3, "out\n")
    assert failing.stderr == "err\ncommand terminated with exit code 3\n"


def test_container_choice_and_errors(cluster: tuple[SimServer, Kubectl, Path]) -> None:
    _, kubectl, _ = cluster
    ps = exec_(kubectl, "ps", container="sidecar")
    assert ps.stdout.splitlines()[1].split()[0] == "1" and ps.stdout.splitlines()[1].endswith("sleep infinity")
    assert exec_(kubectl, "true", container="missing").stderr == \
        "error: container missing is not valid for pod web out of: app, sidecar, init (init)\n"
    init = exec_(kubectl, "true", container="init")
    assert init.returncode == 1
    assert init.stderr == 'error: unable to upgrade connection: container not found ("init")\n'


def test_exec_needs_create_on_pods_exec(cluster: tuple[SimServer, Kubectl, Path]) -> None:
    _, kubectl, _ = cluster
    kubectl("create", "role", "exec-get", "-n", NS, "--verb=get", "--resource=pods,pods/exec")
    kubectl("create", "rolebinding", "exec-get", "-n", NS, "--role=exec-get", "--user=viewer")
    denied = kubectl.run("exec", "web", "-n", NS, "-c", "app", "--as=viewer", "--", "true", check=False)
    assert denied.returncode == 1
    assert 'User "viewer" cannot create resource "pods/exec" in API group "" in the namespace "exec-test"' \
        in denied.stderr
    kubectl("create", "role", "exec-create", "-n", NS, "--verb=create", "--resource=pods/exec")
    kubectl("create", "rolebinding", "exec-create", "-n", NS, "--role=exec-create", "--user=viewer")
    allowed = kubectl.run("exec", "web", "-n", NS, "-c", "app", "--as=viewer", "--", "hostname", check=False)
    assert (allowed.returncode, allowed.stdout) == (0, "web\n"), allowed.stderr


def test_stdin_is_piped_to_the_command(cluster: tuple[SimServer, Kubectl, Path]) -> None:
    _, kubectl, _ = cluster
    result = kubectl.run("exec", "-i", "web", "-n", NS, "-c", "app", "--", "sh", input="echo $HOSTNAME\nexit 4\n",
                         check=False)
    assert (result.returncode, result.stdout) == (4, "web\n")
    counted = kubectl.run("exec", "-i", "web", "-n", NS, "-c", "app", "--", "wc", "-l", input="a\nb\n", check=False)
    assert counted.stdout == "2\n"


def test_python_client_stream(cluster: tuple[SimServer, Kubectl, Path]) -> None:
    _, _, kubeconfig = cluster
    api = config.new_client_from_config(config_file=str(kubeconfig))
    core = client.CoreV1Api(api)
    out = stream(core.connect_get_namespaced_pod_exec, "web", NS, container="app",
                 command=["sh", "-c", "printenv DB_HOST"], stderr=True, stdin=False, stdout=True, tty=False)
    assert out == "postgres.data\n"
    ws = stream(core.connect_get_namespaced_pod_exec, "web", NS, container="app", command=["sh", "-c", "exit 5"],
                stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    ws.run_forever(timeout=10)
    assert ws.returncode == 5
    with pytest.raises(ApiException) as refused:
        stream(core.connect_get_namespaced_pod_exec, "web", NS, container="missing", command=["true"],
               stderr=True, stdin=False, stdout=True, tty=False)
    assert "400" in str(refused.value) and "container missing is not valid for pod web" in str(refused.value)
    api.close()


def test_interactive_shell_on_a_terminal(cluster: tuple[SimServer, Kubectl, Path]) -> None:
    _, _, kubeconfig = cluster
    api = config.new_client_from_config(config_file=str(kubeconfig))
    ws = stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, "web", NS, container="app", command=["sh"],
                stdin=True, stdout=True, stderr=True, tty=True, _preload_content=False)
    ws.write_stdin("echo $DB_HOST\n")
    seen = ""

    def more() -> bool:
        nonlocal seen
        ws.update(timeout=0.2)
        seen += ws.read_stdout() if ws.peek_stdout() else ""
        return seen.count("/ # ") >= 2
    eventually(more, "the second prompt")
    assert seen == "/ # echo $DB_HOST\r\npostgres.data\r\n/ # "
    ws.write_stdin("exit 4\n")
    ws.run_forever(timeout=10)
    assert ws.returncode == 4
    api.close()


def test_status_channel_objects() -> None:
    assert status_of(["env"], 0) == {"metadata": {}, "status": "Success"}
    failure = status_of(["sh", "-c", "x"], 127)
    assert failure["reason"] == "NonZeroExitCode"
    assert failure["details"] == {"causes": [{"reason": "ExitCode", "message": "127"}]}
    assert failure["message"] == ("command terminated with non-zero exit code: error executing command "
                                  "[sh -c x], exit code 127")
