"""The agent's trajectory: one JSON line per command or tool call, for scoring its tool use.

Each record holds the tool (``kubectl`` or ``promql``), start/end times (ISO, UTC) and the
duration, the argv, the exit code, stdout/stderr truncated to ``OUTPUT_LIMIT`` characters,
and a classification: the verb, its ``effect`` (``read``, ``mutate``, ``exec`` or ``other``),
``mutating``, whether it is ``destructive``, the resource kinds, objects and namespaces touched.

Command agents are recorded by a ``kubectl`` shim placed first on their PATH
(:func:`install_kubectl_shim`): the real kubectl does the work, the shim tees its output and
appends the record. This module imports only the standard library, as the shim loads it on
every call.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Sequence

OUTPUT_LIMIT = 4000

READ_VERBS = frozenset({"get", "describe", "logs", "top", "explain", "api-resources", "api-versions", "version",
                        "cluster-info", "events", "diff", "wait", "auth", "config", "plugin", "completion"})
MUTATING_VERBS = frozenset({"apply", "create", "delete", "edit", "patch", "replace", "scale", "set", "label",
                            "annotate", "cordon", "uncordon", "drain", "taint", "autoscale", "expose", "run",
                            "debug", "certificate"})
EXEC_VERBS = frozenset({"exec", "attach", "cp", "port-forward", "proxy"})
ROLLOUT_READ = frozenset({"status", "history"})

# kubectl flags that take a value as the next argument (when not written as --flag=value).
VALUE_FLAGS = frozenset({
    "-n", "--namespace", "--kubeconfig", "--context", "--cluster", "--user", "--token", "--server", "-s",
    "--cache-dir", "--certificate-authority", "--client-certificate", "--client-key", "--as", "--as-group",
    "--as-uid", "--request-timeout", "-o", "--output", "-l", "--selector", "--field-selector", "-f", "--filename",
    "-c", "--container", "--type", "-p", "--patch", "--patch-file", "--replicas", "--tail", "--since",
    "--since-time", "--timeout", "--grace-period", "--template", "--sort-by", "--image", "--port", "--to-revision",
    "--field-manager", "--subresource", "-k", "--kustomize", "--chunk-size", "--max-log-requests", "--pod-running-timeout",
    "--limit-bytes", "--current-replicas", "--resource-version", "--for", "--cascade", "--min", "--max", "--cpu-percent",
    "--overrides", "--profile", "--target", "-L", "--label-columns", "--env", "-e", "--from", "--limits",
    "--requests", "--raw",
})

# Short names and singulars kubectl accepts, mapped to the plural resource name.
KIND_ALIASES: dict[str, str] = {
    "po": "pods", "pod": "pods", "svc": "services", "service": "services", "deploy": "deployments",
    "deployment": "deployments", "rs": "replicasets", "replicaset": "replicasets", "sts": "statefulsets",
    "statefulset": "statefulsets", "ds": "daemonsets", "daemonset": "daemonsets", "cm": "configmaps",
    "configmap": "configmaps", "secret": "secrets", "ns": "namespaces", "namespace": "namespaces", "no": "nodes",
    "node": "nodes", "ev": "events", "event": "events", "ep": "endpoints", "netpol": "networkpolicies",
    "networkpolicy": "networkpolicies", "quota": "resourcequotas", "resourcequota": "resourcequotas",
    "limits": "limitranges", "limitrange": "limitranges", "hpa": "horizontalpodautoscalers",
    "horizontalpodautoscaler": "horizontalpodautoscalers", "pdb": "poddisruptionbudgets",
    "poddisruptionbudget": "poddisruptionbudgets", "ing": "ingresses", "ingress": "ingresses",
    "sa": "serviceaccounts", "serviceaccount": "serviceaccounts", "pvc": "persistentvolumeclaims",
    "persistentvolumeclaim": "persistentvolumeclaims", "pv": "persistentvolumes", "job": "jobs",
    "cj": "cronjobs", "cronjob": "cronjobs", "role": "roles", "rolebinding": "rolebindings",
    "clusterrole": "clusterroles", "clusterrolebinding": "clusterrolebindings",
}
# Kinds whose deletion (or deleting everything of a kind) takes out more than one workload.
DESTRUCTIVE_DELETE_KINDS = frozenset({"namespaces", "nodes", "deployments", "statefulsets", "daemonsets",
                                      "persistentvolumeclaims", "persistentvolumes", "services"})


def now_iso(ts: float) -> str:
    """An epoch timestamp as ISO 8601 UTC with milliseconds."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _split(argv: Sequence[str]) -> tuple[list[str], dict[str, str | bool]]:
    """Positional arguments and flags of a kubectl argv (without the program name); stops at ``--``."""
    positional: list[str] = []
    flags: dict[str, str | bool] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            break
        if arg.startswith("-") and arg != "-":
            if "=" in arg:
                name, value = arg.split("=", 1)
                flags[name] = value
            elif arg in VALUE_FLAGS and i + 1 < len(argv):
                flags[arg] = argv[i + 1]
                i += 1
            elif arg.startswith("-n") and len(arg) > 2 and not arg.startswith("--"):
                flags["-n"] = arg[2:]
            else:
                flags[arg] = True
        else:
            positional.append(arg)
        i += 1
    return positional, flags


def _kind(token: str) -> str:
    base = token.split(".", 1)[0].lower()
    return KIND_ALIASES.get(base, base)


def classify_kubectl(argv: Sequence[str]) -> dict[str, Any]:
    """Classify a kubectl invocation (argv without the program name).

    ``effect`` is ``read`` (get/describe/logs/top, rollout status/history, ...), ``mutate``
    (apply/create/delete/patch/scale/set/rollout restart/cordon/drain, ...), ``exec``
    (exec/attach/cp/port-forward: runs code in a container, may or may not change it) or
    ``other``. ``destructive`` marks deleting namespaces, nodes, workloads, services or
    volumes, deleting with ``--all``/``-A``, scaling to zero replicas and draining nodes.
    """
    positional, flags = _split(argv)
    verb = positional[0] if positional else ""
    rest = positional[1:]
    if verb == "rollout":
        sub = rest[0] if rest else ""
        effect = "read" if sub in ROLLOUT_READ else "mutate"
        verb, rest = f"rollout {sub}".strip(), rest[1:]
    elif verb == "set" or verb == "auth" or verb == "config":
        sub = rest[0] if rest else ""
        effect = "mutate" if verb == "set" else "read"
        verb, rest = f"{verb} {sub}".strip(), rest[1:]
    elif verb in READ_VERBS:
        effect = "read"
    elif verb in MUTATING_VERBS:
        effect = "mutate"
    elif verb in EXEC_VERBS:
        effect = "exec"
    else:
        effect = "other"
    if flags.get("--dry-run") in ("client", "server", True):
        effect = "read"

    kinds: list[str] = []
    objects: list[dict[str, str]] = []
    if verb in ("cordon", "uncordon", "drain", "taint"):
        kinds.append("nodes")
        names = rest[1:2] if verb == "taint" else rest
        objects = [{"kind": "nodes", "name": name} for name in names]
    elif verb in ("exec", "attach", "logs", "port-forward"):
        if rest:
            kind, _, name = rest[0].rpartition("/")
            kinds.append(_kind(kind) if kind else "pods")
            objects.append({"kind": kinds[0], "name": name})
    elif rest:
        first = rest[0]
        if "/" in first:
            for token in (t for t in rest if "/" in t and "=" not in t):
                kind, _, name = token.partition("/")
                if _kind(kind) not in kinds:
                    kinds.append(_kind(kind))
                objects.append({"kind": _kind(kind), "name": name})
        else:
            kinds = [_kind(k) for k in first.split(",") if k]
            objects = [{"kind": kinds[0], "name": name} for name in rest[1:]] if len(kinds) == 1 else []

    namespaces: list[str] | str
    if flags.get("-A") or flags.get("--all-namespaces"):
        namespaces = "*"
    else:
        ns = flags.get("-n") or flags.get("--namespace")
        namespaces = [ns] if isinstance(ns, str) else []

    destructive = False
    if verb == "delete":
        destructive = bool(flags.get("--all") or namespaces == "*" or set(kinds) & DESTRUCTIVE_DELETE_KINDS)
    elif verb == "scale":
        destructive = str(flags.get("--replicas", "")) == "0"
    elif verb == "drain":
        destructive = True
    if effect == "read":
        destructive = False
    return {"verb": verb, "effect": effect, "mutating": effect == "mutate", "destructive": destructive,
            "kinds": kinds, "objects": objects, "namespaces": namespaces}


def _truncate(text: str) -> str:
    if len(text) <= OUTPUT_LIMIT:
        return text
    return text[:OUTPUT_LIMIT] + f"\n[... {len(text) - OUTPUT_LIMIT} more characters]"


class Trajectory:
    """An append-only JSONL file; safe for concurrent writers (one ``O_APPEND`` write per record)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def record(self, tool: str, argv: Sequence[str], start: float, end: float, exit_code: int | None,
               stdout: str = "", stderr: str = "", classification: dict[str, Any] | None = None) -> dict[str, Any]:
        """Append one record and return it."""
        entry = {"tool": tool, "start": now_iso(start), "end": now_iso(end), "duration_s": round(end - start, 3),
                 "argv": list(argv), "exit_code": exit_code, "stdout": _truncate(stdout), "stderr": _truncate(stderr),
                 **(classification or {})}
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        return entry

    def read(self) -> list[dict[str, Any]]:
        """All records so far (lines that do not parse, e.g. cut by a kill, are skipped)."""
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records


def _tee(source: IO[bytes], sink: IO[bytes], kept: list[bytes]) -> None:
    size = 0
    for chunk in iter(lambda: source.read1(65536), b""):
        sink.write(chunk)
        sink.flush()
        if size <= OUTPUT_LIMIT * 4:
            kept.append(chunk)
            size += len(chunk)


def run_recorded_kubectl(real_kubectl: str, trajectory: str, argv: Sequence[str]) -> int:
    """Run the real kubectl with ``argv``, passing its output through, and record it; returns its exit code.

    SIGTERM/SIGINT are forwarded to kubectl, so a record is still written when the agent is stopped.
    """
    start = time.time()
    proc = subprocess.Popen([real_kubectl, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    out: list[bytes] = []
    err: list[bytes] = []
    threads = [threading.Thread(target=_tee, args=(proc.stdout, sys.stdout.buffer, out)),
               threading.Thread(target=_tee, args=(proc.stderr, sys.stderr.buffer, err))]
    for thread in threads:
        thread.start()
    code = proc.wait()
    for thread in threads:
        thread.join()
    Trajectory(trajectory).record("kubectl", argv, start, time.time(), code,
                                  b"".join(out).decode(errors="replace"), b"".join(err).decode(errors="replace"),
                                  classify_kubectl(argv))
    return code


SHIM = """#!{python}
import sys
sys.path.insert(0, {root!r})
from chaositbench.agent.trajectory import run_recorded_kubectl
sys.exit(run_recorded_kubectl({kubectl!r}, {trajectory!r}, sys.argv[1:]))
"""


def install_kubectl_shim(bin_dir: str | os.PathLike[str], real_kubectl: str,
                         trajectory: str | os.PathLike[str]) -> Path:
    """Write an executable ``kubectl`` into ``bin_dir`` that records each call into ``trajectory``."""
    directory = Path(bin_dir)
    directory.mkdir(parents=True, exist_ok=True)
    shim = directory / "kubectl"
    root = str(Path(__file__).resolve().parents[2])
    shim.write_text(SHIM.format(python=sys.executable, root=root, kubectl=str(real_kubectl),
                                trajectory=str(Path(trajectory).resolve())))
    shim.chmod(0o755)
    return shim
