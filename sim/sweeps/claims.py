"""An atomic claim on a sweep point, so that no two processes ever run the same point at once.

Sweeps into one folder may overlap: the same command started twice, a re-run while the
first is still going, SLURM array tasks on several nodes. Before a job runs a point it
*claims* it by creating ``points/<id>.lock`` with ``O_CREAT | O_EXCL``, which the file
system grants to exactly one process (also over NFS v3+). The lock holds its owner (host,
process id and the process's start time) and is removed when the point's file is written.

A killed job leaves its lock behind; such a lock is *stale* and is broken:

- on the same host, when its process is gone (or the id now belongs to a process started
  later: ids are reused);
- on another host, when it has not been touched for ``stale_after`` seconds: an owner
  touches its lock after every run, so only a dead (or frozen) owner lets it age.

Breaking is itself serialised (a ``.break`` file, also ``O_EXCL``), and the breaker checks
the lock still holds the stale owner before removing it, so two processes that both find
a stale lock cannot both end up owning the point.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

HOST = socket.gethostname()
BREAK_STALE_SECONDS = 60.0  # a .break file older than this was left by a breaker that died mid-way


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: float  # the process's start time (psutil): tells a reused process id apart

    @staticmethod
    def me() -> "Owner":
        return Owner(HOST, os.getpid(), _start_time(os.getpid()) or 0.0)

    def as_text(self) -> str:
        return json.dumps({"host": self.host, "pid": self.pid, "started": self.started})


def _start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, ValueError):
        return None


def read_owner(lock: Path) -> Owner | None:
    """The owner written in a lock file, or None if it is gone or not (yet) readable."""
    try:
        data: dict[str, Any] = json.loads(lock.read_text())
        return Owner(str(data["host"]), int(data["pid"]), float(data["started"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_stale(lock: Path, owner: Owner | None, stale_after: float) -> bool:
    """Is this lock left by a process that no longer runs (see the module docstring)?"""
    try:
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return False  # released meanwhile: not stale, just gone
    if owner is None:  # unreadable: an owner is writing it right now, or died while writing it
        return age > BREAK_STALE_SECONDS
    if owner.host == HOST:
        started = _start_time(owner.pid)
        return started is None or abs(started - owner.started) > 1.0
    return age > stale_after


def try_claim(lock: Path, stale_after: float) -> bool:
    """Claim the point of ``lock`` for this process; False if a live process holds it."""
    for _ in range(3):  # a stale lock is broken, then claimed afresh
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = read_owner(lock)
            if owner == Owner.me():
                return True  # claimed earlier by this very process
            if not is_stale(lock, owner, stale_after) or not _break(lock, owner):
                return False
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(Owner.me().as_text())
        return True
    return False


def _break(lock: Path, stale: Owner | None) -> bool:
    """Remove a stale lock if it still holds ``stale``; True if it is gone now."""
    guard = lock.with_name(lock.name + ".break")
    try:
        fd = os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        try:
            if time.time() - guard.stat().st_mtime > BREAK_STALE_SECONDS:
                guard.unlink(missing_ok=True)
        except FileNotFoundError:
            pass
        return False
    os.close(fd)
    try:
        if read_owner(lock) == stale:
            lock.unlink(missing_ok=True)
        return not lock.exists()
    finally:
        guard.unlink(missing_ok=True)


def touch(lock: Path) -> None:
    """Show that the owner is alive (called after every run of the point)."""
    try:
        os.utime(lock)
    except FileNotFoundError:
        pass


def release(lock: Path) -> None:
    """Give the point up (its file is written, or the job gives up)."""
    if read_owner(lock) == Owner.me():
        lock.unlink(missing_ok=True)


def wait_released(lock: Path, stale_after: float, poll: float, timeout: float | None = None,
                  first_poll: float = 0.01) -> bool:
    """Wait until nobody holds ``lock`` (released, or found stale); False on ``timeout`` seconds.

    Looks after ``first_poll`` seconds, then twice as long each time up to ``poll``: at the
    end of a sweep a job waits here for the last point another job of the sweep is
    finishing, and the sweep ends only when both have returned (with a fixed 0.5 s poll
    that was 0.25 s lost on average); a point held for long is still looked at only every
    ``poll`` seconds.
    """
    start = time.monotonic()
    pause = min(first_poll, poll)
    while lock.exists():
        if is_stale(lock, read_owner(lock), stale_after):
            return True
        if timeout is not None and time.monotonic() - start > timeout:
            return False
        time.sleep(pause)
        pause = min(2 * pause, poll)
    return True
