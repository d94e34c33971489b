"""Admin-side checks of the demo app for agent tests (the fixtures ``demo`` and ``configuration`` are in conftest)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from conftest import KUBECTL

NAMESPACES = ("shop", "payments", "data")
AGENT_TIMEOUT_S = 40


def admin_json(kubeconfig: Path, *args: str) -> Any:
    out = subprocess.run([str(KUBECTL), *args, "-o", "json"], capture_output=True, text=True, check=True,
                         env={**os.environ, "KUBECONFIG": str(kubeconfig)}).stdout
    return json.loads(out)


def unavailable(kubeconfig: Path) -> list[str]:
    """Workloads of the demo namespaces whose replicas are not all updated and ready."""
    missing = []
    for namespace in NAMESPACES:
        for item in admin_json(kubeconfig, "get", "deploy,sts", "-n", namespace)["items"]:
            wanted, status = item["spec"].get("replicas", 1), item.get("status") or {}
            if wanted == 0 or status.get("readyReplicas", 0) != wanted or status.get("updatedReplicas", 0) != wanted:
                missing.append(f"{item['kind']}/{namespace}/{item['metadata']['name']}")
    return missing


def wait_available(kubeconfig: Path, timeout_s: float) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while (missing := unavailable(kubeconfig)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return missing


def wait_no_pressure(kubeconfig: Path, timeout_s: float) -> list[str]:
    """Nodes still reporting a pressure condition after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        pressed = [node["metadata"]["name"] for node in admin_json(kubeconfig, "get", "nodes")["items"]
                   if any(c["type"].endswith("Pressure") and c["status"] == "True" for c in node["status"]["conditions"])]
        if not pressed or time.monotonic() > deadline:
            return pressed
        time.sleep(0.5)
