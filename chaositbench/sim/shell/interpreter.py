"""Runs parsed scripts: lists, pipelines, redirections, variables and the shell's own built-ins."""

from __future__ import annotations

import re
import time

from .context import ExecContext
from .filesystem import Entry
from .registry import Invocation, Output, command, find
from .syntax import AndOr, Command, ForLoop, IfClause, Pipeline, ShellSyntaxError, WhileLoop, Word, parse

SHELLS = ("sh", "ash", "bash")
#: a ``while`` loop stops after this many rounds or seconds (a real one runs until the client gives up)
MAX_LOOP_ROUNDS = 1000
MAX_LOOP_SECONDS = 30.0
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)


class ShellExit(Exception):
    """``exit N``: ends the script with status ``code``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Shell:
    """One shell process (``sh`` or ``bash``) inside an exec session."""

    def __init__(self, ctx: ExecContext, name: str = "sh") -> None:
        self.ctx, self.name = ctx, name
        self.variables = dict(ctx.env)
        self.status = 0
        self.exited = False  # ``exit`` ran
        self.cwd = "/"

    def not_found(self, program: str) -> Output:
        if self.name == "bash":
            return Output(stderr=f"bash: {program}: command not found\n", code=127)
        return Output(stderr=f"{self.name}: {program}: not found\n", code=127)

    async def run_script(self, script: str, stdin: str = "") -> Output:
        """Run a whole script (``sh -c SCRIPT``); ``exit`` ends it."""
        try:
            lists = parse(script)
        except ShellSyntaxError as err:
            return Output(stderr=f"{self.name}: syntax error: {err}\n", code=2)
        total = Output()
        try:
            for and_or in lists:
                await self._and_or(and_or, stdin, total)
        except ShellExit as done:
            self.status, self.exited = done.code, True
        except ShellSyntaxError as err:  # found while expanding, e.g. in $((...))
            total.stderr += f"{self.name}: {err}\n"
            self.status = 2
        total.code = self.status
        return total

    async def run_argv(self, argv: list[str], stdin: str = "") -> Output:
        """Run one program with arguments as they are (no shell syntax), as the runtime does for exec."""
        fn = find(argv[0])
        if fn is None or argv[0] in ("exit", "cd", "export", ":"):
            return self.not_found(argv[0])
        try:
            return await fn(Invocation(argv[0].rsplit("/", 1)[-1], argv[1:], stdin, self))
        except ShellExit as done:
            return Output(code=done.code)

    async def _and_or(self, and_or: AndOr, stdin: str, total: Output) -> None:
        await self._pipeline(and_or.first, stdin, total)
        for op, pipeline in and_or.rest:
            if (op == "&&") == (self.status == 0):
                await self._pipeline(pipeline, stdin, total)

    async def _pipeline(self, pipeline: Pipeline, stdin: str, total: Output) -> None:
        data = stdin
        for index, cmd in enumerate(pipeline.commands):
            last = index == len(pipeline.commands) - 1
            try:
                out = await (self._command(cmd, data) if isinstance(cmd, Command) else self._compound(cmd, data))
            except ShellExit as done:
                if len(pipeline.commands) == 1:
                    raise
                out = Output(code=done.code)
            total.stderr += out.stderr
            if last:
                total.stdout += out.stdout
                self.status = out.code
            data = out.stdout
        if pipeline.negated:
            self.status = 0 if self.status else 1

    async def _list(self, lists: list[AndOr], stdin: str, total: Output) -> None:
        for and_or in lists:
            await self._and_or(and_or, stdin, total)

    async def _compound(self, node: ForLoop | IfClause | WhileLoop, stdin: str) -> Output:
        """Run a ``for``, ``if`` or ``while``/``until`` command; its output is its body's."""
        total = Output()
        if isinstance(node, ForLoop):
            errors: list[str] = []
            outputs = await self._substitute(node.items, errors)
            total.stderr += "".join(errors)
            variables = {**self.variables, "?": str(self.status)}
            self.status = 0
            for item in [field for w in node.items for field in w.fields(variables, outputs)]:
                self.variables[node.name] = item
                await self._list(node.body, stdin, total)
        elif isinstance(node, IfClause):
            for condition, body in node.branches:
                await self._list(condition, stdin, total)
                if self.status == 0:
                    await self._list(body, stdin, total)
                    break
            else:
                self.status = 0
                await self._list(node.otherwise, stdin, total)
        else:
            deadline, status = time.monotonic() + MAX_LOOP_SECONDS, 0
            for _ in range(MAX_LOOP_ROUNDS):
                await self._list(node.condition, stdin, total)
                if (self.status == 0) == node.until or time.monotonic() > deadline:
                    break
                await self._list(node.body, stdin, total)
                status = self.status
            self.status = status
        total.code = self.status
        return total

    async def _substitute(self, words: list[Word], errors: list[str]) -> dict[str, str]:
        """Run the command substitutions of ``words`` in subshells: script → output without trailing newlines."""
        outputs: dict[str, str] = {}
        for script in (s for w in words for s in w.scripts()):
            sub = Shell(self.ctx, self.name)
            sub.variables, sub.cwd = dict(self.variables), self.cwd
            result = await sub.run_script(script)
            errors.append(result.stderr)
            outputs[script] = result.stdout.rstrip("\n")
        return outputs

    async def _command(self, cmd: Command, stdin: str) -> Output:
        variables = {**self.variables, "?": str(self.status), "0": self.name}
        errors: list[str] = []
        outputs = await self._substitute(cmd.words + [r.target for r in cmd.redirects], errors)
        words: list[str] = []
        assignments: dict[str, str] = {}
        for word in cmd.words:
            text = word.expand(variables, outputs)
            match = _ASSIGNMENT.match(text)
            if not words and match and word.parts[0][0] == "lit" and "=" in word.parts[0][1]:
                assignments[match.group(1)] = match.group(2)
            else:
                words.extend(word.fields(variables, outputs))
        sinks: dict[int, tuple[str, str]] = {1: ("out", ""), 2: ("err", "")}
        for redirect in cmd.redirects:
            target = redirect.target.expand(variables, outputs)
            if redirect.op == "<":
                entry = self.ctx.fs.get(self._abs(target))
                if entry is None or entry.kind == "dir":
                    return Output(stderr=f"{self.name}: can't open '{target}': No such file or directory\n", code=1)
                stdin = entry.content
            elif redirect.op == ">&":
                sinks[redirect.fd] = sinks.get(int(target) if target.isdigit() else 1, ("out", ""))
            else:
                path = self._abs(target)
                parent = self.ctx.fs.get(path.rsplit("/", 1)[0] or "/")
                if parent is None or parent.kind != "dir":
                    return Output(stderr=f"{self.name}: can't create {target}: nonexistent directory\n", code=1)
                if path != "/dev/null" and (redirect.op == ">" or self.ctx.fs.get(path) is None):
                    self.ctx.fs.add_file(path, "")
                sinks[redirect.fd] = ("file", path)
        if not words:
            self.variables.update(assignments)
            return Output(stderr="".join(errors))
        saved = dict(self.variables)
        self.variables.update(assignments)
        try:
            fn = find(words[0])
            out = self.not_found(words[0]) if fn is None else \
                await fn(Invocation(words[0].rsplit("/", 1)[-1], words[1:], stdin, self))
        finally:
            if assignments:
                self.variables = saved
        routed = self._route(out, sinks)
        routed.stderr = "".join(errors) + routed.stderr
        return routed

    def _route(self, out: Output, sinks: dict[int, tuple[str, str]]) -> Output:
        routed = Output(code=out.code)
        for fd, text in ((1, out.stdout), (2, out.stderr)):
            kind, path = sinks.get(fd, ("out", ""))
            if kind == "out":
                routed.stdout += text
            elif kind == "err":
                routed.stderr += text
            elif path != "/dev/null":
                entry = self.ctx.fs.get(path) or Entry("file")
                self.ctx.fs.add_file(path, entry.content + text)
        return routed

    def _abs(self, path: str) -> str:
        return path if path.startswith("/") else (self.cwd.rstrip("/") + "/" + path)


# -- the shell's own commands -----------------------------------------------------
@command(*SHELLS)
async def _sh(inv: Invocation) -> Output:
    shell = Shell(inv.ctx, inv.name)
    shell.variables, shell.cwd = dict(inv.shell.variables), inv.shell.cwd
    if inv.args[:1] == ["-c"]:
        if len(inv.args) < 2:
            return inv.fail("-c requires an argument", 2)
        return await shell.run_script(inv.args[1], inv.stdin)
    if inv.args:
        entry = inv.ctx.fs.get(inv.path(inv.args[0]))
        if entry is None or entry.kind == "dir":
            return inv.fail(f"can't open '{inv.args[0]}': No such file or directory", 2)
        return await shell.run_script(entry.content, inv.stdin)
    return await shell.run_script(inv.stdin)


@command("exit")
async def _exit(inv: Invocation) -> Output:
    code = inv.shell.status
    if inv.args:
        if not inv.args[0].lstrip("-").isdigit():
            raise ShellExit(2)
        code = int(inv.args[0]) & 0xFF
    raise ShellExit(code)


@command("cd")
async def _cd(inv: Invocation) -> Output:
    target = inv.path(inv.args[0] if inv.args else inv.shell.variables.get("HOME", "/"))
    entry = inv.ctx.fs.get(target)
    if entry is None or entry.kind != "dir":
        return Output(stderr=f"{inv.shell.name}: cd: can't cd to {inv.args[0] if inv.args else target}: "
                             "No such file or directory\n", code=2)
    inv.shell.cwd = target
    return Output()


@command("pwd")
async def _pwd(inv: Invocation) -> Output:
    return Output(stdout=inv.shell.cwd + "\n")


@command("export")
async def _export(inv: Invocation) -> Output:
    for arg in inv.args:
        name, _, value = arg.partition("=")
        inv.shell.variables[name] = value if "=" in arg else inv.shell.variables.get(name, "")
    return Output()


@command("true", ":")
async def _true(inv: Invocation) -> Output:
    return Output()


@command("false")
async def _false(inv: Invocation) -> Output:
    return Output(code=1)


def _test(inv: Invocation, args: list[str]) -> bool:
    """The truth of a ``test`` expression: ``!``, ``-z``/``-n``, ``=``/``!=``, integer comparisons, ``-e/-f/-d``."""
    if args[:1] == ["!"]:
        return not _test(inv, args[1:])
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        op, value = args
        entry = inv.ctx.fs.get(inv.path(value)) if op in ("-e", "-f", "-d", "-s", "-r") else None
        checks = {"-z": value == "", "-n": value != "", "-e": entry is not None,
                  "-f": entry is not None and entry.kind != "dir", "-d": entry is not None and entry.kind == "dir",
                  "-s": entry is not None and bool(entry.content), "-r": entry is not None}
        if op not in checks:
            raise ValueError(f"{op}: unknown operand")
        return checks[op]
    if len(args) == 3:
        left, op, right = args
        if op in ("=", "=="):
            return left == right
        if op == "!=":
            return left != right
        numbers = {"-eq": int.__eq__, "-ne": int.__ne__, "-lt": int.__lt__, "-le": int.__le__, "-gt": int.__gt__,
                   "-ge": int.__ge__}
        if op in numbers:
            for value in (left, right):
                if not value.lstrip("-").isdigit():
                    raise ValueError(f"{value}: bad number")
            return bool(numbers[op](int(left), int(right)))
    if not args:
        return False
    raise ValueError("syntax error")


@command("test", "[")
async def _test_command(inv: Invocation) -> Output:
    args = list(inv.args)
    if inv.name == "[":
        if args[-1:] != ["]"]:
            return inv.fail("missing ]", 2)
        args = args[:-1]
    try:
        return Output(code=0 if _test(inv, args) else 1)
    except ValueError as err:
        return inv.fail(str(err), 2)
