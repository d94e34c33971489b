"""The process and its machine: ``ps``, ``df``, ``free``, ``hostname``, ``id``, ``whoami``, ``date``, ``uname``, ``sleep``.

Resource figures are the kubelet eviction manager's own observations
(:mod:`..controllers.eviction_manager`): a container's usage is its declared
needs grown over the simulated minutes it has run; the root filesystem is the
node's ephemeral storage, shared by every pod on it and by the node's own files,
so ``df`` agrees with what the node reports — and shows the root filesystem at
least 90 % full while the node has ``DiskPressure``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .. import clock
from ..controllers.eviction_manager import MEMORY, STORAGE, container_usage, observe
from ..quantity import QuantityError, bytes_of
from .registry import Invocation, Output, command

MAX_SLEEP_S = 10.0
SHM_BYTES = 64 * 1024 * 1024
#: while the node reports DiskPressure, df shows at least this share of the root filesystem used
PRESSURE_USED_SHARE = 0.9
DEFAULT_DISK_BYTES = 100 * 1024 ** 3


def _quantity(value: Any) -> int | None:
    try:
        return bytes_of(str(value)) if value is not None else None
    except QuantityError:
        return None


def _human(value: int) -> str:
    """busybox ``-h`` sizes: ``0``, ``512.0K``, ``96.0M``, ``97.9G``."""
    if value <= 0:
        return "0"
    size, unit = value / 1024, "K"
    for next_unit in "MGT":
        if size < 1024:
            break
        size, unit = size / 1024, next_unit
    return f"{size:.1f}{unit}"


def _own_usage(inv: Invocation) -> tuple[int, int]:
    """(working set, ephemeral storage) of this container now."""
    name = inv.ctx.container.get("name")
    mine = next((u for u in container_usage(inv.ctx.pod, clock.now(), inv.ctx.time_scale) if u.name == name), None)
    return (mine.memory, mine.storage) if mine else (inv.ctx.needs.memory_bytes, inv.ctx.needs.storage_bytes)


def _disk_pressure(inv: Invocation) -> bool:
    return any(c.get("type") == "DiskPressure" and c.get("status") == "True"
               for c in (inv.ctx.node.get("status") or {}).get("conditions") or [])


@command("df")
async def df(inv: Invocation) -> Output:
    human = any(a.startswith("-") and "h" in a for a in inv.args)
    node = inv.ctx.node
    usages = {p["metadata"]["uid"]: container_usage(p, clock.now(), inv.ctx.time_scale) for p in inv.ctx.pods_on_node}
    observed = observe(node, usages)[STORAGE] if node else None
    size = observed.capacity if observed and observed.capacity else DEFAULT_DISK_BYTES
    used = size - observed.available if observed and observed.capacity else _own_usage(inv)[1]
    if _disk_pressure(inv):
        used = max(used, int(size * PRESSURE_USED_SHARE) + 1)
    rows = [("overlay", size, used, "/"), ("tmpfs", SHM_BYTES, 0, "/dev"), ("shm", SHM_BYTES, 0, "/dev/shm"),
            ("/dev/root", size, used, "/etc/hosts")]
    if human:
        header = f"{'Filesystem':<20}{'Size':>10}{'Used':>10}{'Available':>10} Use% Mounted on\n"
        cells = [(name, _human(total), _human(u), _human(total - u), total, u, mount)
                 for name, total, u, mount in rows]
    else:
        header = f"{'Filesystem':<20}{'1K-blocks':>10}{'Used':>10}{'Available':>10} Use% Mounted on\n"
        cells = [(name, str(total // 1024), str(u // 1024), str((total - u) // 1024), total, u, mount)
                 for name, total, u, mount in rows]
    lines = [f"{name:<20}{a:>10}{b:>10}{c:>10} {-(-100 * u // total) if total else 0:>3}% {mount}\n"
             for name, a, b, c, total, u, mount in cells]
    return Output(stdout=header + "".join(lines))


@command("free")
async def free(inv: Invocation) -> Output:
    divisor = 1024 * 1024 if "-m" in inv.args else 1024 ** 3 if "-g" in inv.args else 1024
    limit = _quantity(((inv.ctx.container.get("resources") or {}).get("limits") or {}).get(MEMORY))
    total = limit or _quantity(((inv.ctx.node.get("status") or {}).get("capacity") or {}).get(MEMORY)) or 16 * 1024 ** 3
    used = min(_own_usage(inv)[0], total)
    row = [total, used, total - used, 0, 0, total - used]
    return Output(stdout=f"{'':<13}{'total':>12}{'used':>12}{'free':>12}{'shared':>12}{'buff/cache':>12}"
                         f"{'available':>12}\n" + "Mem:         " + "".join(f"{v // divisor:>12}" for v in row)
                         + "\nSwap:        " + "".join(f"{0:>12}" for _ in range(3)) + "\n")


@command("ps")
async def ps(inv: Invocation) -> Output:
    user = "root" if inv.ctx.uid == 0 else str(inv.ctx.uid)
    started = clock.parse(next((((s.get("state") or {}).get("running") or {}).get("startedAt")
                                for s in (inv.ctx.pod.get("status") or {}).get("containerStatuses") or []
                                if s.get("name") == inv.ctx.container.get("name")), None))
    uptime = max((clock.now() - started).total_seconds(), 0.0) / max(inv.ctx.time_scale, 1e-9) if started else 0.0
    cpu_seconds = int(uptime * inv.ctx.needs.cpu_millis / 1000)
    processes = [(1, f"{cpu_seconds // 60}:{cpu_seconds % 60:02d}", " ".join(inv.ctx.cmdline()))]
    if inv.ctx.exec_command and inv.ctx.exec_command[0].rsplit("/", 1)[-1] != "ps":
        processes.append((7, "0:00", " ".join(inv.ctx.exec_command)))
    processes.append((13, "0:00", "ps " + " ".join(inv.args) if inv.args else "ps"))
    return Output(stdout="PID   USER     TIME  COMMAND\n"
                         + "".join(f"{pid:>5} {user:<8} {time:>5} {cmd}\n" for pid, time, cmd in processes))


@command("hostname")
async def hostname(inv: Invocation) -> Output:
    return Output(stdout=inv.ctx.hostname + "\n")


@command("id")
async def id_(inv: Invocation) -> Output:
    uid = inv.ctx.uid
    if uid == 0:
        return Output(stdout="uid=0(root) gid=0(root) groups=0(root),1(bin),2(daemon),3(sys),4(adm),6(disk),"
                             "10(wheel),11(floppy),20(dialout),26(tape),27(video)\n")
    return Output(stdout=f"uid={uid} gid={uid} groups={uid}\n")


@command("whoami")
async def whoami(inv: Invocation) -> Output:
    if inv.ctx.uid == 0:
        return Output(stdout="root\n")
    return inv.fail(f"unknown uid {inv.ctx.uid}")


@command("date")
async def date(inv: Invocation) -> Output:
    now = clock.now()
    if inv.args and inv.args[0].startswith("+"):
        return Output(stdout=now.strftime(inv.args[0][1:]) + "\n")
    return Output(stdout=now.strftime("%a %b %e %H:%M:%S UTC %Y") + "\n")


@command("uname")
async def uname(inv: Invocation) -> Output:
    info = (inv.ctx.node.get("status") or {}).get("nodeInfo") or {}
    kernel = info.get("kernelVersion") or "6.8.0"
    parts = {"s": "Linux", "n": inv.ctx.hostname, "r": kernel, "v": "#1 SMP PREEMPT_DYNAMIC", "m": "x86_64"}
    flags = "".join(a.lstrip("-") for a in inv.args if a.startswith("-"))
    chosen = "snrvm" if "a" in flags else "".join(f for f in "snrvm" if f in flags) or "s"
    return Output(stdout=" ".join(parts[f] for f in chosen) + (" Linux" if "a" in flags else "") + "\n")


@command("sleep")
async def sleep(inv: Invocation) -> Output:
    try:
        seconds = float(inv.args[0].rstrip("s")) if inv.args else -1.0
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        return inv.fail(f"invalid number '{inv.args[0] if inv.args else ''}'")
    await asyncio.sleep(min(seconds, MAX_SLEEP_S))
    return Output()
