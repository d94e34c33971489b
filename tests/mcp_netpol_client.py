"""An MCP client acting as the agent, run by the ``mcp`` agent as its ``CHAOSITBENCH_MCP_CLIENT``.

It reads the incident resource, lists namespaces and NetworkPolicies through the ``kubectl``
tool, re-admits the namespace a policy lost, and submits that policy as the root cause.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scripted_sre import lost_peer_patch, output  # noqa: E402


async def main() -> None:
    async with Client(os.environ["CHAOSITBENCH_MCP_URL"]) as client:
        incident = json.loads((await client.read_resource("chaositbench://incident")).contents[0].text)

        async def kubectl(*args: str) -> str:
            return (await client.call_tool("kubectl", {"args": list(args)})).content[0].text

        namespaces = incident["namespaces"]
        existing = set(output(await kubectl("get", "namespaces", "-o", "jsonpath={.items[*].metadata.name}")).split())
        policies = []
        for namespace in namespaces:
            for name in output(await kubectl("get", "networkpolicies", "-n", namespace, "-o", "name")).split():
                policies.append(json.loads(output(await kubectl("get", name, "-n", namespace, "-o", "json"))))
        meta, args = lost_peer_patch(policies, existing, namespaces)
        patched = await kubectl(*args)
        assert patched.startswith("exit code 0"), patched
        await client.call_tool("submit_diagnosis", {
            "category": "network-policy", "kind": "NetworkPolicy", "namespace": meta["namespace"],
            "name": meta["name"], "summary": "the ingress policy admitted a namespace that is gone"})


if __name__ == "__main__":
    anyio.run(main)
