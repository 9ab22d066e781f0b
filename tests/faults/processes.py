"""Looking at a running service's processes through /proc: its children, and their memory."""

from __future__ import annotations

import threading
from pathlib import Path

CAPTURE_WORKER = b"app.capture.worker"


def children(pid: int) -> list[int]:
    """The process ids of ``pid``'s children (of every thread of it)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # the thread ended meanwhile
            continue
    return found


def family(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        pending += children(current)
    return pids


def capture_worker(pid: int) -> int | None:
    """The process id of the capture worker among ``pid``'s children, if one runs."""
    for child in children(pid):
        try:
            if CAPTURE_WORKER in Path(f"/proc/{child}/cmdline").read_bytes():
                return child
        except OSError:
            continue
    return None


def rss_bytes(pid: int) -> int:
    """The resident memory of ``pid`` (VmRSS), 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class RssSampler:
    """The largest resident memory of a process and its descendants together, sampled on a
    thread every ``interval_s`` until stopped."""

    def __init__(self, pid: int, interval_s: float = 0.05):
        self.pid = pid
        self.peak = 0
        self._interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopping.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.peak = max(self.peak, sum(rss_bytes(pid) for pid in family(self.pid)))
            self._stopping.wait(self._interval_s)
