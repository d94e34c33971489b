"""A run's child processes (the simulated cluster, Prometheus) survive a Ctrl-C but never the run itself."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

CHILD_OF_A_KILLED_RUN = """
import sys, time
from chaositbench.sim.children import spawn
child = spawn([sys.executable, "-c", "import time; time.sleep(60)"], open(sys.argv[1], "wb"))
print(child.pid, flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_child_dies_with_a_run_that_is_killed(tmp_path: Path) -> None:
    run = subprocess.Popen([sys.executable, "-c", CHILD_OF_A_KILLED_RUN, str(tmp_path / "child.log")],
                           stdout=subprocess.PIPE, text=True)
    child = int(run.stdout.readline())
    assert _alive(child)
    run.kill()  # no chance to clean up: the kernel's parent-death signal must stop the child
    run.wait(timeout=10)
    assert _wait_gone(child), "the child outlived the killed run"


def test_a_child_does_not_get_the_terminals_sigint(tmp_path: Path) -> None:
    from chaositbench.sim.children import spawn

    with (tmp_path / "child.log").open("wb") as log:
        child = spawn([sys.executable, "-c", "import time; time.sleep(30)"], log)
    try:
        # a Ctrl-C goes to the foreground process group: the child is in none of ours
        assert os.getsid(child.pid) == child.pid != os.getsid(0)
        assert os.getpgid(child.pid) != os.getpgid(0)
    finally:
        child.kill()
        child.wait()


def test_a_run_started_with_sigint_ignored_gets_it_back_for_its_child(tmp_path: Path) -> None:
    """A shell's background job (or a pytest-xdist worker) ignores SIGINT and passes that on; ``sigint_default``
    gives the child ``chaos run`` its Ctrl-C back, so that it can be interrupted and roll back."""
    program = ("import signal, subprocess, sys\n"
               "from chaositbench.sim.children import sigint_default\n"
               "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
               "child = subprocess.Popen([sys.executable, '-c', 'import time; print(1, flush=True); time.sleep(30)'],"
               " stdout=subprocess.PIPE, preexec_fn=sigint_default if sys.argv[1] == 'default' else None)\n"
               "child.stdout.readline()\n"
               "child.send_signal(signal.SIGINT)\n"
               "try:\n    print(child.wait(timeout=5))\nexcept subprocess.TimeoutExpired:\n    child.kill()\n"
               "    print('ignored')\n")
    outcomes = {mode: subprocess.run([sys.executable, "-c", program, mode], capture_output=True, text=True,
                                     timeout=60).stdout.strip() for mode in ("default", "inherited")}
    assert outcomes == {"default": "-2", "inherited": "ignored"}  # -2: ended by its SIGINT (KeyboardInterrupt)
