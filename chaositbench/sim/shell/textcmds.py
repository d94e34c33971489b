"""Files and text: ``env``, ``printenv``, ``echo``, ``printf``, ``cat``, ``ls``, ``grep``, ``head``, ``tail``, ``wc`` (busybox style)."""

from __future__ import annotations

import re
from datetime import datetime

from .filesystem import Entry
from .registry import Invocation, Output, command


def _split_flags(args: list[str], with_value: str = "") -> tuple[set[str], dict[str, str], list[str]]:
    """Single-letter flags (``-la`` = ``-l -a``), flags taking a value (letters in ``with_value``), operands."""
    flags: set[str] = set()
    values: dict[str, str] = {}
    operands: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            operands += args[i + 1:]
            break
        if arg.startswith("-") and len(arg) > 1 and not arg[1:].isdigit():
            for j, letter in enumerate(arg[1:], start=1):
                if letter in with_value:
                    rest = arg[j + 1:]
                    if rest:
                        values[letter] = rest
                    elif i + 1 < len(args):
                        i += 1
                        values[letter] = args[i]
                    break
                flags.add(letter)
        else:
            operands.append(arg)
        i += 1
    return flags, values, operands


@command("env")
async def env(inv: Invocation) -> Output:
    return Output(stdout="".join(f"{k}={v}\n" for k, v in inv.shell.variables.items() if k not in ("?", "0")))


@command("printenv")
async def printenv(inv: Invocation) -> Output:
    if not inv.args:
        return await env(inv)
    found = [inv.shell.variables[name] for name in inv.args if name in inv.shell.variables]
    return Output(stdout="".join(v + "\n" for v in found), code=0 if len(found) == len(inv.args) else 1)


@command("echo")
async def echo(inv: Invocation) -> Output:
    args = inv.args
    newline = True
    if args[:1] == ["-n"]:
        newline, args = False, args[1:]
    return Output(stdout=" ".join(args) + ("\n" if newline else ""))


_DIRECTIVE = re.compile(r"%(-?\d*)([sdi%])")
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "r": "\r"}


def _unescape(text: str) -> str:
    return re.sub(r"\\([ntr\\])", lambda m: _ESCAPES[m.group(1)], text)


@command("printf")
async def printf(inv: Invocation) -> Output:
    """``printf FORMAT [ARG]...`` with ``%s``, ``%d``, ``%i``, ``%%``, widths and ``\\n``/``\\t`` escapes;
    the format is reused while arguments remain, as POSIX says."""
    if not inv.args:
        return inv.fail("usage: printf FORMAT [ARGUMENT]...")
    fmt, args, out = _unescape(inv.args[0]), list(inv.args[1:]), ""
    while True:
        used = 0

        def fill(match: re.Match[str]) -> str:
            nonlocal used
            if match.group(2) == "%":
                return "%"
            value = args[used] if used < len(args) else ""
            used += 1
            if match.group(2) in "di":
                value = str(int(value)) if value.lstrip("-").isdigit() else "0"
            width = match.group(1)
            return f"{value:<{width[1:]}}" if width.startswith("-") else f"{value:>{width or 0}}"
        out += _DIRECTIVE.sub(fill, fmt)
        args = args[used:]
        if not args or not used:
            return Output(stdout=out)


@command("cat")
async def cat(inv: Invocation) -> Output:
    out = Output()
    for name in inv.args or ["-"]:
        if name == "-":
            out.stdout += inv.stdin
            continue
        entry = inv.ctx.fs.get(inv.path(name))
        if entry is None:
            out.stderr += f"cat: can't open '{name}': No such file or directory\n"
            out.code = 1
        elif entry.kind == "dir":
            out.stderr += "cat: read error: Is a directory\n"
            out.code = 1
        else:
            out.stdout += entry.content
    return out


def _mode_text(entry: Entry) -> str:
    kind = {"dir": "d", "link": "l"}.get(entry.kind, "-")
    bits = "".join(("r" if entry.mode & (4 << s) else "-") + ("w" if entry.mode & (2 << s) else "-")
                   + ("x" if entry.mode & (1 << s) else "-") for s in (6, 3, 0))
    if entry.mode & 0o1000:
        bits = bits[:-1] + "t"
    return kind + bits


def _long_line(name: str, entry: Entry, when: datetime) -> str:
    size = 4096 if entry.kind == "dir" else len(entry.link or entry.content.encode())
    shown = f"{name} -> {entry.link}" if entry.kind == "link" else name
    return (f"{_mode_text(entry)} {2 if entry.kind == 'dir' else 1:>4} root     root     {size:>9} "
            f"{when:%b %e %H:%M} {shown}")


@command("ls")
async def ls(inv: Invocation) -> Output:
    flags, _, operands = _split_flags(inv.args)
    out = Output()
    when = inv.ctx.started
    targets = operands or ["."]
    for index, name in enumerate(targets):
        path = inv.path(name)
        entry = inv.ctx.fs.get(path)
        if entry is None:
            out.stderr += f"ls: {name}: No such file or directory\n"
            out.code = 1
            continue
        if entry.kind != "dir" or "d" in flags:
            out.stdout += (_long_line(name, entry, when) if "l" in flags else name) + "\n"
            continue
        if len(targets) > 1:
            out.stdout += ("\n" if index else "") + f"{name}:\n"
        names = inv.ctx.fs.children(path)
        if "a" in flags:
            names = [".", ".."] + names
        elif "A" not in flags:
            names = [n for n in names if not n.startswith(".")]
        if "l" in flags:
            out.stdout += f"total {len(names) * 4}\n"
            for child in names:
                child_entry = entry if child in (".", "..") else inv.ctx.fs.get(f"{path.rstrip('/')}/{child}")
                out.stdout += _long_line(child, child_entry or entry, when) + "\n"
        else:
            out.stdout += "".join(n + "\n" for n in names)
    return out


@command("grep", "egrep")
async def grep(inv: Invocation) -> Output:
    flags, values, operands = _split_flags(inv.args, with_value="e")
    pattern = values.get("e")
    if pattern is None:
        if not operands:
            return Output(stderr="BusyBox v1.36.1 multi-call binary.\n\nUsage: grep [-HhnlLoqvsrRiwFE] [-m N] "
                                 "[-A|B|C N] { PATTERN | -e PATTERN... | -f FILE... } [FILE]...\n", code=2)
        pattern = operands.pop(0)
    try:
        regex = re.compile(re.escape(pattern) if "F" in flags else pattern, re.I if "i" in flags else 0)
    except re.error:
        return inv.fail(f"bad regex '{pattern}'", 2)
    out, matched = Output(), 0
    sources: list[tuple[str, str]] = []
    for name in operands or ["-"]:
        if name == "-":
            sources.append(("(standard input)", inv.stdin))
            continue
        entry = inv.ctx.fs.get(inv.path(name))
        if entry is None or entry.kind == "dir":
            out.stderr += f"grep: {name}: {'Is a directory' if entry else 'No such file or directory'}\n"
            continue
        sources.append((name, entry.content))
    for label, text in sources:
        count = 0
        for number, line in enumerate(text.splitlines(), start=1):
            hit = bool(regex.search(line))
            if hit == ("v" in flags):
                continue
            count += 1
            if "c" not in flags and "q" not in flags:
                prefix = f"{label}:" if len(sources) > 1 else ""
                out.stdout += prefix + (f"{number}:" if "n" in flags else "") + line + "\n"
        if "c" in flags:
            out.stdout += (f"{label}:" if len(sources) > 1 else "") + f"{count}\n"
        matched += count
    if "q" in flags:
        out.stdout = ""
    out.code = 2 if out.stderr and not matched else (0 if matched else 1)
    return out


def _count_option(inv: Invocation, default: int) -> tuple[int, list[str], bool]:
    """``-n N``, ``-nN``, ``-N`` or ``-n +N`` (tail: from line N): the count, operands, and whether it is ``+N``."""
    args, count, operands, from_start = inv.args, default, [], False
    i = 0
    while i < len(args):
        arg = args[i]
        value = None
        if arg == "-n" and i + 1 < len(args):
            value, i = args[i + 1], i + 1
        elif arg.startswith("-n"):
            value = arg[2:]
        elif arg.startswith("-") and arg[1:].isdigit():
            value = arg[1:]
        else:
            operands.append(arg)
        if value is not None:
            from_start = value.startswith("+")
            count = int(value.lstrip("+-")) if value.lstrip("+-").isdigit() else default
        i += 1
    return count, operands, from_start


async def _lines_of(inv: Invocation, operands: list[str]) -> tuple[str, Output]:
    if not operands:
        return inv.stdin, Output()
    entry = inv.ctx.fs.get(inv.path(operands[0]))
    if entry is None or entry.kind == "dir":
        return "", inv.fail(f"{operands[0]}: No such file or directory")
    return entry.content, Output()


@command("head")
async def head(inv: Invocation) -> Output:
    """``head [-n N | -N | -c BYTES] [FILE]``."""
    if "-c" in inv.args[:-1]:
        at = inv.args.index("-c")
        size, operands = inv.args[at + 1], inv.args[:at] + inv.args[at + 2:]
        text, error = await _lines_of(inv, operands)
        if error.code or not size.isdigit():
            return error if error.code else inv.fail(f"invalid number '{size}'")
        return Output(stdout=text.encode()[:int(size)].decode("utf-8", errors="ignore"))
    count, operands, _ = _count_option(inv, 10)
    text, error = await _lines_of(inv, operands)
    if error.code:
        return error
    return Output(stdout="".join(text.splitlines(keepends=True)[:count]))


@command("tail")
async def tail(inv: Invocation) -> Output:
    count, operands, from_start = _count_option(inv, 10)
    text, error = await _lines_of(inv, operands)
    if error.code:
        return error
    lines = text.splitlines(keepends=True)
    return Output(stdout="".join(lines[max(count - 1, 0):] if from_start else lines[-count:] if count else []))


@command("wc")
async def wc(inv: Invocation) -> Output:
    flags, _, operands = _split_flags(inv.args)
    text, error = await _lines_of(inv, operands)
    if error.code:
        return error
    counts = {"l": text.count("\n"), "w": len(text.split()), "c": len(text.encode())}
    chosen = [letter for letter in "lwc" if letter in flags] or ["l", "w", "c"]
    suffix = f" {operands[0]}" if operands else ""
    if len(chosen) == 1:
        return Output(stdout=f"{counts[chosen[0]]}{suffix}\n")
    return Output(stdout=" ".join(f"{counts[letter]:>9}" for letter in chosen) + suffix + "\n")
