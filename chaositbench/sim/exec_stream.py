"""The ``pods/{name}/exec`` subresource over WebSocket, as kubectl (≥ 1.30) and the official clients speak it.

The request (GET or POST) carries ``command`` (repeated), ``container``,
``stdin``, ``stdout``, ``stderr`` and ``tty``, and asks to upgrade to a
WebSocket with the subprotocol ``v5.channel.k8s.io`` (or ``v4.channel.k8s.io``).
Every binary message starts with its channel byte: 0 stdin, 1 stdout, 2 stderr,
3 status (a ``Status`` object when the command ends), 4 terminal resize, and,
in v5, 255 close (``[255, 0]``: the client's stdin reached its end).

Like kube-apiserver ≥ 1.35, a WebSocket upgrade of a GET is also authorized as
``create`` on ``pods/exec``. Errors before the upgrade are the real ones: the
apiserver's 400s (bad container, no host, a completed pod) and the kubelet's
500 ``container not found ("x")`` for a container that is not running, which
kubectl prints as ``unable to upgrade connection: ...``. The command runs in the
simulated shell (:mod:`.shell`); a bare shell with stdin reads its script line by
line, as an interactive ``kubectl exec -it POD -- sh`` does.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from . import shell
from .errors import bad_request, method_not_allowed
from .request import ResourcePath
from .shell.interpreter import SHELLS, Shell
from .store import Obj

if TYPE_CHECKING:
    from .apiserver import APIServer
    from .auth import UserInfo

log = logging.getLogger(__name__)

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, STATUS, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
CHUNK = 32 * 1024
#: how long a command reading stdin waits for the client to send more before it gives up on it
STDIN_IDLE_S = 30.0
PROMPT = {"sh": "/ # ", "ash": "/ # ", "bash": "root@{host}:/# "}


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true")


def _container(pod: Obj, requested: str | None) -> str:
    """The container to exec into, with the apiserver's errors for a bad or missing name."""
    spec, name = pod.get("spec") or {}, pod["metadata"]["name"]
    names = [c["name"] for c in spec.get("containers") or []]
    others = [c["name"] for c in (spec.get("initContainers") or []) + (spec.get("ephemeralContainers") or [])]
    if requested:
        if requested not in names + others:
            raise bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    if len(names) == 1:
        return names[0]
    raise bad_request(f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]")


def _running(pod: Obj, container: str) -> bool:
    status = pod.get("status") or {}
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []) + \
            (status.get("ephemeralContainerStatuses") or []):
        if cs.get("name") == container:
            return "running" in (cs.get("state") or {})
    return False


def status_of(argv: list[str], code: int) -> dict[str, Any]:
    """The status-channel ``Status`` of a finished command."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(argv)}], exit code {code}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


async def handle_exec(server: "APIServer", request: web.Request, user: "UserInfo", target: ResourcePath,
                      verb: str) -> web.StreamResponse:
    """Serve ``pods/{name}/exec`` (already authorized for ``verb``)."""
    if verb not in ("get", "create"):
        raise method_not_allowed()
    if verb == "get":
        server._authorize(user, "create", target)
    pod = server.api.get(target.kind, target.namespace or "", target.name or "")
    argv = request.query.getall("command", [])
    if not argv:
        raise bad_request("you must specify at least 1 command")
    streams = {name: _flag(request, name) for name in ("stdin", "stdout", "stderr", "tty")}
    if not (streams["stdin"] or streams["stdout"] or streams["stderr"]):
        raise bad_request("you must specify at least one of stdin, stdout, stderr")
    container = _container(pod, request.query.get("container"))
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise bad_request(f"cannot exec into a container in a completed pod; current phase is {phase}")
    if not (pod.get("spec") or {}).get("nodeName"):
        raise bad_request(f"pod {pod['metadata']['name']} does not have a host assigned")
    if not _running(pod, container):
        return web.Response(status=500, text=f'container not found ("{container}")', content_type="text/plain")
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise bad_request("Upgrade request required")
    ws = web.WebSocketResponse(protocols=PROTOCOLS, compress=False)
    await ws.prepare(request)
    session = _Session(ws, streams, ws.ws_protocol == PROTOCOLS[0])
    try:
        ctx = shell.build_context(server.cluster, pod, container, argv)
        program = argv[0].rsplit("/", 1)[-1]
        if streams["stdin"] and program in SHELLS and len(argv) == 1:
            code = await session.interactive(Shell(ctx, program))
        else:
            stdin = await session.read_stdin() if streams["stdin"] else ""
            result = await shell.run(ctx, argv, stdin)
            await session.write(result.stdout, result.stderr)
            code = result.code
        await session.send(STATUS, json.dumps(status_of(argv, code)).encode())
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception as exc:  # a bug in the shell must end the session with a status, not a dropped socket
        log.exception("exec %s in %s/%s failed", argv, target.namespace, target.name)
        await session.send(STATUS, json.dumps({"metadata": {}, "status": "Failure", "reason": "InternalError",
                                               "code": 500, "message": f"{type(exc).__name__}: {exc}"}).encode())
    await ws.close()
    return ws


class _Session:
    """The channels of one upgraded exec connection."""

    def __init__(self, ws: web.WebSocketResponse, streams: dict[str, bool], v5: bool) -> None:
        self.ws, self.streams, self.v5 = ws, streams, v5

    async def send(self, channel: int, data: bytes) -> None:
        for start in range(0, max(len(data), 1), CHUNK):
            await self.ws.send_bytes(bytes([channel]) + data[start:start + CHUNK])

    async def write(self, stdout: str, stderr: str) -> None:
        """Send output on its channels; a terminal has one stream and turns ``\\n`` into ``\\r\\n``."""
        if self.streams["tty"]:
            text = (stdout + stderr).replace("\r\n", "\n").replace("\n", "\r\n")
            if text and (self.streams["stdout"] or self.streams["stderr"]):
                await self.send(STDOUT, text.encode())
            return
        if stdout and self.streams["stdout"]:
            await self.send(STDOUT, stdout.encode())
        if stderr and self.streams["stderr"]:
            await self.send(STDERR, stderr.encode())

    async def _receive(self) -> bytes | None:
        """The next stdin bytes; None at the end of stdin (v5 close signal, a closed socket, or a long silence)."""
        while True:
            try:
                msg = await self.ws.receive(timeout=STDIN_IDLE_S)
            except asyncio.TimeoutError:
                return None
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return None
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT) or not msg.data:
                continue
            # the Python client sends str data as text frames: the first character is the channel
            if msg.type == WSMsgType.TEXT:
                channel, payload = ord(msg.data[0]), msg.data[1:].encode()
            else:
                channel, payload = msg.data[0], bytes(msg.data[1:])
            if channel == STDIN:
                return payload
            if channel == CLOSE and self.v5 and payload[:1] == bytes([STDIN]):
                return None

    async def read_stdin(self) -> str:
        chunks: list[bytes] = []
        while (data := await self._receive()) is not None:
            chunks.append(data)
        return b"".join(chunks).decode("utf-8", errors="replace")

    async def interactive(self, sh: Shell) -> int:
        """A shell reading commands from stdin, one line at a time, until ``exit`` or the end of stdin."""
        tty = self.streams["tty"]
        prompt = PROMPT.get(sh.name, "$ ").format(host=sh.ctx.hostname)
        if tty:
            await self.write(prompt, "")
        pending = ""
        while (data := await self._receive()) is not None:
            text = data.decode("utf-8", errors="replace")
            if tty:
                await self.write(text.replace("\r", "\n"), "")
            pending += text.replace("\r", "\n")
            while "\n" in pending:
                line, pending = pending.split("\n", 1)
                result = await sh.run_script(line)
                await self.write(result.stdout, result.stderr)
                if sh.exited:
                    return sh.status
                if tty:
                    await self.write(prompt, "")
        if pending.strip():
            result = await sh.run_script(pending)
            await self.write(result.stdout, result.stderr)
        return sh.status
