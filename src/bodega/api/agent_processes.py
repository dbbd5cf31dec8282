"""The agents of `bodega serve`: `bodega agent` child processes, so tasks never hold the server's GIL.

Each child runs at background CPU priority (`--low-priority`): on a busy machine the server's
request handlers get the cores first, and the tasks take what is left.  The server talks to
them over their stdin (`--wake-on-stdin`): a line means "a task was queued, claim it now", and
the end of input means "stop": at a clean shutdown the server closes the pipes, and when the
server dies the pipes close with it, so no agent outlives it.  A task an agent was running then
stops at its next checkpoint; one whose agent was killed too is ended by the recovery of the
next process that opens the home.  A child that dies meanwhile is started again.
"""
from __future__ import annotations

import logging
import subprocess
import sys
import threading

log = logging.getLogger("bodega.serve")

RESTART_EVERY = 1.0  # seconds between looks for an agent that died
STOP_GRACE = 30.0  # seconds agents get to stop at their task's next checkpoint before they are killed


class AgentProcesses:
    """`count` agent processes on one home, woken when a task is queued and restarted when one dies."""

    def __init__(self, home: str, count: int, *, poll: float = 5.0) -> None:
        self.argv = [sys.executable, "-m", "bodega", "agent", "--home", home, "--poll", str(poll),
                     "--low-priority", "--wake-on-stdin"]
        self.count = count
        self.procs: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        """Starts the agents and the thread that restarts those that die."""
        with self._lock:
            self.procs = [self._spawn() for _ in range(self.count)]
        if self.count:
            self._watcher = threading.Thread(target=self._watch, name="bodega-agent-watch", daemon=True)
            self._watcher.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)

    def wake(self) -> None:
        """Tells every agent a task was queued (a line on its stdin), so one claims it now."""
        with self._lock:
            for proc in self.procs:
                try:
                    assert proc.stdin is not None
                    proc.stdin.write(b"\n")
                    proc.stdin.flush()
                except OSError:  # it died: the watcher starts another, which looks at the queue first
                    pass

    def _watch(self) -> None:
        while not self._stopping.wait(RESTART_EVERY):
            with self._lock:
                if self._stopping.is_set():
                    return
                for i, proc in enumerate(self.procs):
                    if proc.poll() is not None:
                        log.warning("bodega: agent process %d exited with status %s: starting another",
                                    proc.pid, proc.returncode)
                        _close(proc)
                        self.procs[i] = self._spawn()

    def stop(self) -> None:
        """Stops the agents (each cancels its task at the next checkpoint); kills those that do not stop in time."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
        with self._lock:
            for proc in self.procs:
                _close(proc)
            for proc in self.procs:
                try:
                    proc.wait(timeout=STOP_GRACE)
                except subprocess.TimeoutExpired:
                    log.warning("bodega: agent process %d did not stop in %g s: killed", proc.pid, STOP_GRACE)
                    proc.kill()
                    proc.wait()


def _close(proc: subprocess.Popen[bytes]) -> None:
    """Closes the agent's stdin: the end of input tells it to stop."""
    try:
        if proc.stdin is not None:
            proc.stdin.close()
    except OSError:  # it died with a line unread in the pipe
        pass
