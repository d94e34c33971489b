"""Network tools: ``curl``, ``wget``, ``nslookup``, ``getent hosts``, ``dig``, ``nc``, ``netstat``/``ss``.

Each asks the network model what the request meets (DNS, Service translation,
NetworkPolicy, the listener) and prints what the real tool prints for that
outcome, with its exit status. A request nobody answers waits its timeout,
scaled by the cluster's time scale and capped, so that the agent feels it.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from ..network.model import listeners
from .registry import Invocation, Output, command

CLUSTER_DNS = "10.96.0.10"
#: how long the kernel keeps retrying a SYN nobody answers before connect() fails (Linux defaults)
KERNEL_CONNECT_TIMEOUT_S = 130.0
#: the longest real wait a simulated timeout may cost, whatever the time scale
MAX_WALL_WAIT_S = 5.0
DEFAULT_PORTS = {"http": 80, "https": 443}


async def _wait(inv: Invocation, simulated_seconds: float) -> None:
    await asyncio.sleep(min(simulated_seconds * inv.ctx.time_scale, MAX_WALL_WAIT_S))


def _dns_failed(conn: Any) -> bool:
    """Whether a failed connection failed while resolving the name (no address was dialled)."""
    return conn.ip is None and conn.error in ("refused", "timeout", "nxdomain")


def _seconds(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _curl_options(args: list[str]) -> tuple[dict[str, Any], str | None, str | None]:
    """curl's options we honour, the URL, and an error (an unknown option) if any."""
    opts: dict[str, Any] = {"method": None, "silent": False, "show_error": False, "verbose": False, "output": None,
                            "write_out": None, "max_time": None, "connect_timeout": None, "fail": False,
                            "include": False, "head": False}
    takes_value = {"-o": "output", "--output": "output", "-w": "write_out", "--write-out": "write_out",
                   "-m": "max_time", "--max-time": "max_time", "--connect-timeout": "connect_timeout",
                   "-X": "method", "--request": "method", "-H": None, "--header": None, "-d": "data",
                   "--data": "data", "--data-raw": "data", "-A": None, "--user-agent": None, "-u": None,
                   "--retry": None, "--resolve": None, "--cacert": None, "-e": None}
    letters = {"s": "silent", "S": "show_error", "v": "verbose", "f": "fail", "i": "include", "I": "head",
               "k": None, "L": None, "4": None, "6": None}
    longs = {"--silent": "silent", "--show-error": "show_error", "--verbose": "verbose", "--fail": "fail",
             "--include": "include", "--head": "head", "--insecure": None, "--location": None}
    url = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in takes_value:
            if i + 1 >= len(args):
                return opts, url, f"curl: option {arg}: requires parameter"
            if takes_value[arg]:
                opts[takes_value[arg]] = args[i + 1]
            i += 2
            continue
        if arg in longs:
            if longs[arg]:
                opts[longs[arg]] = True
        elif arg.startswith("-") and not arg.startswith("--") and len(arg) > 1:
            rest = arg[1:]
            while rest:
                letter, rest = rest[0], rest[1:]
                if f"-{letter}" in takes_value:
                    value = rest or (args[i + 1] if i + 1 < len(args) else None)
                    if value is None:
                        return opts, url, f"curl: option -{letter}: requires parameter"
                    if not rest:
                        i += 1
                    if takes_value[f"-{letter}"]:
                        opts[takes_value[f"-{letter}"]] = value
                    rest = ""
                elif letter in letters:
                    if letters[letter]:
                        opts[letters[letter]] = True
                else:
                    return opts, url, f"curl: option -{letter}: is unknown"
        elif arg.startswith("--"):
            return opts, url, f"curl: option {arg}: is unknown"
        else:
            url = arg
        i += 1
    return opts, url, None


def _write_out(template: str, status: int | None, seconds: float) -> str:
    text = template.replace("\\n", "\n").replace("\\t", "\t")
    return (text.replace("%{http_code}", f"{status or 0:03d}").replace("%{response_code}", f"{status or 0:03d}")
            .replace("%{time_total}", f"{seconds:.6f}"))


@command("curl")
async def curl(inv: Invocation) -> Output:
    opts, url, error = _curl_options(inv.args)
    if error:
        return Output(stderr=error + "\ncurl: try 'curl --help' or 'curl --manual' for more information\n", code=2)
    if url is None:
        return Output(stderr="curl: no URL specified\ncurl: try 'curl --help' or 'curl --manual' for more "
                             "information\n", code=2)
    full = url if "://" in url else f"http://{url}"
    parts = urlsplit(full)
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    limits = [t for t in (_seconds(str(opts["max_time"])) if opts["max_time"] else None,
                          _seconds(str(opts["connect_timeout"])) if opts["connect_timeout"] else None) if t]
    timeout = min(limits) if limits else KERNEL_CONNECT_TIMEOUT_S
    method = opts["method"] or ("HEAD" if opts["head"] else "POST" if opts.get("data") else "GET")
    network, pod = inv.ctx.network, inv.ctx.pod
    conn = network.connect(pod, host, port)
    out = Output()
    show_errors = not opts["silent"] or opts["show_error"]
    if opts["verbose"]:
        if conn.ip:
            out.stderr += f"*   Trying {conn.ip}:{port}...\n"
        if conn.ok:
            out.stderr += (f"* Connected to {host} ({conn.ip}) port {port}\n> {method} {parts.path or '/'} HTTP/1.1\n"
                           f"> Host: {parts.netloc}\n> User-Agent: curl/8.5.0\n> Accept: */*\n>\n")
    if not conn.ok:
        if conn.error == "timeout":
            await _wait(inv, timeout)
        millis = int(timeout * 1000) + 1
        if conn.error == "nxdomain" or (_dns_failed(conn) and conn.error == "refused"):
            out.code, message = 6, f"Could not resolve host: {host}"
        elif conn.error == "timeout" and _dns_failed(conn):
            out.code, message = 28, f"Resolving timed out after {millis - 1} milliseconds"
        elif conn.error == "timeout" and limits:
            out.code, message = 28, f"Connection timed out after {millis} milliseconds"
        elif conn.error == "timeout":
            out.code, message = 28, f"Failed to connect to {host} port {port} after {millis} ms: " \
                                    "Couldn't connect to server"
        else:
            out.code, message = 7, f"Failed to connect to {host} port {port} after 2 ms: Couldn't connect to server"
        if show_errors:
            out.stderr += f"curl: ({out.code}) {message}\n"
        if opts["write_out"]:
            out.stdout += _write_out(opts["write_out"], 0, timeout if conn.error == "timeout" else 0.002)
        return out
    result = network.http(pod, method, full, timeout=timeout)
    status = result.status or 0
    if opts["verbose"]:
        out.stderr += f"< HTTP/1.1 {status} {_phrase(status)}\n< Content-Length: {len(result.body)}\n<\n"
    if opts["fail"] and status >= 400:
        out.code = 22
        if show_errors:
            out.stderr += f"curl: (22) The requested URL returned error: {status}\n"
    else:
        body = "" if method == "HEAD" else result.body
        if opts["include"] or opts["head"]:
            body = f"HTTP/1.1 {status} {_phrase(status)}\r\nContent-Length: {len(result.body)}\r\n\r\n" + body
        if opts["output"] is None or opts["output"] == "-":
            out.stdout += body
        elif opts["output"] != "/dev/null":
            inv.ctx.fs.add_file(inv.path(opts["output"]), body)
    if opts["write_out"]:
        out.stdout += _write_out(opts["write_out"], status, result.seconds or 0.003)
    return out


@command("wget")
async def wget(inv: Invocation) -> Output:
    quiet, output, timeout, spider, url = False, None, 900.0, False, None
    args = list(inv.args)
    while args:
        arg = args.pop(0)
        if arg in ("-q", "--quiet"):
            quiet = True
        elif arg in ("--spider", "-S"):
            spider = spider or arg == "--spider"
        elif arg.startswith("-qO"):
            quiet, output = True, arg[3:] or (args.pop(0) if args else "-")
        elif arg in ("-O", "--output-document"):
            output = args.pop(0) if args else "-"
        elif arg.startswith("-O"):
            output = arg[2:]
        elif arg in ("-T", "--timeout"):
            timeout = _seconds(args.pop(0) if args else "") or timeout
        elif arg.startswith("-T"):
            timeout = _seconds(arg[2:]) or timeout
        elif arg.startswith("--timeout="):
            timeout = _seconds(arg.split("=", 1)[1]) or timeout
        elif arg.startswith("-"):
            return Output(stderr=f"wget: unrecognized option '{arg}'\n", code=1)
        else:
            url = arg
    if url is None:
        return Output(stderr="BusyBox v1.36.1 multi-call binary.\n\nUsage: wget [-cqS] [--spider] [-O FILE] "
                             "[-o LOGFILE] [--header STR] [-T SEC] URL...\n", code=1)
    full = url if "://" in url else f"http://{url}"
    parts = urlsplit(full)
    host, port = parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    conn = inv.ctx.network.connect(inv.ctx.pod, host, port)
    out = Output()
    if conn.ip and not quiet:
        out.stderr += f"Connecting to {parts.netloc} ({conn.ip}:{port})\n"
    if not conn.ok:
        if conn.error == "timeout":
            await _wait(inv, timeout)
        if conn.error == "nxdomain" or _dns_failed(conn):
            out.stderr += f"wget: bad address '{parts.netloc}'\n"
        elif conn.error == "timeout":
            out.stderr += "wget: download timed out\n"
        else:
            out.stderr += f"wget: can't connect to remote host ({conn.ip}): Connection refused\n"
        out.code = 1
        return out
    result = inv.ctx.network.http(inv.ctx.pod, "GET", full, timeout=timeout)
    status = result.status or 0
    if status >= 400:
        out.stderr += f"wget: server returned error: HTTP/1.1 {status} {_phrase(status)}\n"
        out.code = 1
        return out
    if spider:
        out.stderr += "" if quiet else "remote file exists\n"
    elif output == "-":
        out.stdout += result.body
    else:
        name = output or (parts.path.rstrip("/").rsplit("/", 1)[-1] or "index.html")
        if name != "/dev/null":
            inv.ctx.fs.add_file(inv.path(name), result.body)
        if not quiet:
            out.stderr += f"saving to '{name}'\n{name}              100% |********************************| " \
                          f"{len(result.body):>5}  0:00:00 ETA\n'{name}' saved\n"
    return out


def _dns_reachable(inv: Invocation) -> str | None:
    """None when the cluster DNS answers this pod; else the error (``timeout`` or ``refused``)."""
    conn = inv.ctx.network.connect(inv.ctx.pod, CLUSTER_DNS, 53, "UDP")
    return None if conn.ok else conn.error


@command("nslookup")
async def nslookup(inv: Invocation) -> Output:
    names = [a for a in inv.args if not a.startswith("-")]
    if not names:
        return Output(stderr="BusyBox v1.36.1 multi-call binary.\n\nUsage: nslookup [-type=QUERY_TYPE] "
                             "[-debug] HOST [DNS_SERVER]\n", code=1)
    name = names[0]
    if (error := _dns_reachable(inv)) is not None:
        if error == "timeout":
            await _wait(inv, 15)
        return Output(stdout=";; connection timed out; no servers could be reached\n\n", code=1)
    header = f"Server:\t\t{CLUSTER_DNS}\nAddress:\t{CLUSTER_DNS}:53\n\n"
    answer = inv.ctx.resolve(name)
    if not answer.ok:
        return Output(stdout=header, stderr=f"** server can't find {name}: NXDOMAIN\n\n", code=1)
    fqdn = answer.fqdn or name
    text = header
    if answer.cname:
        text += f"{fqdn}\tcanonical name = {answer.cname}\n"
        fqdn = answer.cname
    text += "".join(f"Name:\t{fqdn}\nAddress: {ip}\n" for ip in answer.addresses) + "\n"
    return Output(stdout=text)


@command("getent")
async def getent(inv: Invocation) -> Output:
    if not inv.args:
        return Output(stderr="getent: wrong number of arguments\n", code=1)
    if inv.args[0] not in ("hosts", "ahosts"):
        return Output(stderr=f"Unknown database: {inv.args[0]}\n", code=1)
    out = Output()
    for name in inv.args[1:]:
        if (error := _dns_reachable(inv)) is not None:
            if error == "timeout":
                await _wait(inv, 10)
            out.code = 2
            continue
        answer = inv.ctx.resolve(name)
        if not answer.ok:
            out.code = 2
            continue
        out.stdout += f"{answer.addresses[0]:<15} {answer.cname or answer.fqdn or name}\n"
    return out


@command("dig")
async def dig(inv: Invocation) -> Output:
    short = "+short" in inv.args
    names = [a for a in inv.args if not a.startswith(("+", "-", "@"))]
    name = names[0] if names else "."
    if (error := _dns_reachable(inv)) is not None:
        if error == "timeout":
            await _wait(inv, 15)
        reason = "timed out" if error == "timeout" else "connection refused"
        return Output(stdout=f";; communications error to {CLUSTER_DNS}#53: {reason}\n"
                             ";; no servers could be reached\n", code=9)
    answer = inv.ctx.resolve(name)
    if short:
        return Output(stdout="".join(ip + "\n" for ip in answer.addresses) if answer.ok else "")
    status = "NOERROR" if answer.ok else "NXDOMAIN"
    records = "".join(f"{name}.\t\t30\tIN\tA\t{ip}\n" for ip in answer.addresses)
    return Output(stdout=f";; ->>HEADER<<- opcode: QUERY, status: {status}\n\n;; QUESTION SECTION:\n;{name}.\t\t\tIN\tA\n"
                         + (f"\n;; ANSWER SECTION:\n{records}" if records else "")
                         + f"\n;; SERVER: {CLUSTER_DNS}#53({CLUSTER_DNS}) (UDP)\n\n")


@command("nc", "netcat")
async def nc(inv: Invocation) -> Output:
    verbose, scan, udp, wait, operands = False, False, False, None, []
    args = list(inv.args)
    while args:
        arg = args.pop(0)
        if arg == "-w":
            wait = _seconds(args.pop(0) if args else "")
        elif arg.startswith("-w") and len(arg) > 2:
            wait = _seconds(arg[2:])
        elif arg.startswith("-") and len(arg) > 1:
            verbose |= "v" in arg
            scan |= "z" in arg
            udp |= "u" in arg
        else:
            operands.append(arg)
    if len(operands) != 2 or not operands[1].isdigit():
        return Output(stderr="BusyBox v1.36.1 multi-call binary.\n\nUsage: nc [OPTIONS] HOST PORT  - connect\n",
                      code=1)
    host, port = operands[0], int(operands[1])
    conn = inv.ctx.network.connect(inv.ctx.pod, host, port, "UDP" if udp else "TCP")
    where = f"{host} ({conn.ip}:{port})"
    if conn.ok:
        return Output(stderr=f"{where} open\n" if verbose else "")
    if conn.error == "nxdomain" or _dns_failed(conn):
        return Output(stderr=f"nc: bad address '{host}'\n", code=1)
    if conn.error == "timeout":
        await _wait(inv, wait if wait else KERNEL_CONNECT_TIMEOUT_S)
        return Output(stderr=f"nc: {where}: Operation timed out\n" if verbose else "nc: timed out\n", code=1)
    return Output(stderr=f"nc: {where}: Connection refused\n" if verbose else "nc: can't connect to remote host "
                         f"({conn.ip}): Connection refused\n", code=1)


@command("netstat", "ss")
async def netstat(inv: Invocation) -> Output:
    """Listening sockets of the pod (its containers share one network namespace): what the containers declare."""
    spec = inv.ctx.pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    sockets = sorted({(listener.protocol.lower(), listener.port)
                      for container in (spec.get("containers") or []) + sidecars
                      for listener in listeners(inv.ctx.pod, container)})
    if inv.name == "ss":
        rows = "".join(f"{'LISTEN' if proto == 'tcp' else 'UNCONN':<7}{0:>6} {4096 if proto == 'tcp' else 0:>7}"
                       f"{'*:' + str(port):>22}{'*:*':>20}\n" for proto, port in sockets)
        return Output(stdout=f"{'State':<7}{'Recv-Q':>6} {'Send-Q':>7}{'Local Address:Port':>22}"
                             f"{'Peer Address:Port':>20}\n" + rows)
    rows = "".join(f"{proto:<6}{0:>6}{0:>7} {':::' + str(port):<23} {':::*':<23} {'LISTEN' if proto == 'tcp' else '':<11}\n"
                   for proto, port in sockets)
    return Output(stdout="Active Internet connections (only servers)\n"
                         "Proto Recv-Q Send-Q Local Address           Foreign Address         State       \n" + rows)
