"""Child processes of a run (the simulated cluster, its Prometheus) that must outlive a Ctrl-C but not the run.

A terminal's Ctrl-C sends SIGINT to the whole foreground process group. The run must then roll
back against a cluster that is still there, and stop its children itself at the end; so each
child gets its own session. And should the run be killed outright, the kernel sends the child
SIGTERM when its parent dies (Linux ``PR_SET_PDEATHSIG``), so nothing is left behind. (The kernel
ties that signal to the thread that started the child: start children from a thread that lives as
long as they should, as the control and the fixtures do from the main thread.)
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))


def spawn(argv: list[str], log: IO[bytes] | int, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session, output to ``log``, terminated if this process dies."""
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
                            start_new_session=True, preexec_fn=_die_with_parent)


def sigint_default() -> None:
    """For ``preexec_fn``: the child gets SIGINT's default action back. A process started with SIGINT
    ignored (a background job of a shell, a pytest-xdist worker) passes that on to what it runs, and a
    ``chaos run`` that ignores SIGINT can be neither interrupted nor made to roll back by it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
