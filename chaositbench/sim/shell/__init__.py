"""A small simulated shell run in a pod's context, for ``kubectl exec``.

:func:`run` executes the argv of an exec request: ``sh -c SCRIPT`` (or
``bash -c``) runs a script of the POSIX subset :mod:`.syntax` parses; any other
argv runs one program. The programs are those registered in :mod:`.registry`
(text and file tools, network clients, process and machine information);
anything else is ``sh: X: not found`` with status 127.
"""

from __future__ import annotations

from . import netcmds, syscmds, textcmds  # noqa: F401  (they register their commands)
from .context import ExecContext, build_context
from .interpreter import SHELLS, Shell
from .registry import Output

__all__ = ["ExecContext", "Output", "build_context", "run"]


async def run(ctx: ExecContext, argv: list[str], stdin: str = "") -> Output:
    """Run an exec request's command in ``ctx`` and return what it wrote and its exit status."""
    program = argv[0].rsplit("/", 1)[-1]
    shell = Shell(ctx, program if program in SHELLS else "sh")
    return await shell.run_argv(argv, stdin)
