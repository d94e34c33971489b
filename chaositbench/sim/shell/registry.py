"""The commands the simulated shell knows, registered by name."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable

if TYPE_CHECKING:
    from .context import ExecContext
    from .interpreter import Shell


@dataclass
class Output:
    """What a command wrote and its exit status."""

    stdout: str = ""
    stderr: str = ""
    code: int = 0


@dataclass
class Invocation:
    """One run of a command: its name and arguments, its standard input, and the shell it runs in."""

    name: str
    args: list[str]
    stdin: str
    shell: "Shell"

    @property
    def ctx(self) -> "ExecContext":
        return self.shell.ctx

    def path(self, name: str) -> str:
        """An argument path made absolute against the shell's working directory."""
        return posixpath.normpath(posixpath.join(self.shell.cwd, name))

    def fail(self, message: str, code: int = 1) -> Output:
        return Output(stderr=f"{self.name}: {message}\n", code=code)


CommandFn = Callable[[Invocation], Awaitable[Output]]
COMMANDS: dict[str, CommandFn] = {}
BIN_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin")


def command(*names: str) -> Callable[[CommandFn], CommandFn]:
    """Register a coroutine function as the implementation of ``names``."""
    def register(fn: CommandFn) -> CommandFn:
        for name in names:
            COMMANDS[name] = fn
        return fn
    return register


def find(name: str) -> CommandFn | None:
    """The command a name (``cat`` or ``/bin/cat``) runs, if the image has it."""
    if "/" in name:
        directory, base = posixpath.split(posixpath.normpath(name))
        return COMMANDS.get(base) if directory in BIN_DIRS else None
    return COMMANDS.get(name)
