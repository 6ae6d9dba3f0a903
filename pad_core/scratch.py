"""Scratch folders padsweep makes on a node: engine workdirs, checkpoints staged for upload, checkpoints downloaded
for a resume, best weights fetched for a resume, artifacts spooled through an MLflow outage.

At paper scale one staged ViT-B/16 MoE checkpoint is ~6 GB. The process that makes a folder removes it when done,
but a process that is killed cannot: Ray SIGKILLs a trial's actor when a scheduler stops it or its node is lost,
and an upload that fails leaves its folder behind. Each folder therefore carries its owner in its name
(``padsweep-<kind>-<pid>-<process start>-<host>-<random>``), and whoever makes the next scratch folder on that host
first removes those whose owner is gone (:func:`reap`). A killed trial's scratch goes when the next trial on its
node checkpoints, instead of filling the node's disk over a sweep.

Owner checks: the process id must be alive and, where ``/proc`` says, have started at the recorded time (a
recycled pid is not the owner). The host tag covers the hostname, the boot and the pid namespace: a folder made in
another container that shares this temp folder (even one that shares the hostname, ``--network=host``) belongs to
another "host" and is never touched, since its pids mean nothing here.
Standard library only: the engine, the Ray workers and the test suite all use it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator

PREFIX = "padsweep-"
NAME = re.compile(r"^padsweep-([a-z]+)-(\d+)-(\d+)-([0-9a-f]{8})-")  # kind, pid, process start, host tag
_KIND = re.compile(r"^[a-z]+$")


def _read(path: str, link: bool = False) -> str:
    try:
        if link:
            return os.readlink(path)
        with open(path) as src:
            return src.read().strip()
    except OSError:
        return ""


@functools.cache
def host_tag() -> str:
    """8 hex digits naming where this process's pids mean something: hostname, boot and pid namespace (a hostname
    may hold dashes; the folder name may not, around it)."""
    where = (socket.gethostname(), _read("/proc/sys/kernel/random/boot_id"), _read("/proc/self/ns/pid", link=True))
    return hashlib.sha1("\n".join(where).encode()).hexdigest()[:8]


def process_start(pid: int) -> int:
    """When ``pid`` started, in clock ticks since boot (Linux ``/proc``); 0 where that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as src:
            fields = src.read().rsplit(")", 1)[1].split()
        return int(fields[19])  # field 22 of proc(5); the split starts at field 3
    except (OSError, IndexError, ValueError):
        return 0


def owner_alive(pid: int, start: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # gone, or a pid no process can have
        return False
    except PermissionError:  # another user's live process
        return True
    now = process_start(pid)
    return start == 0 or now == 0 or now == start


def _prefix(kind: str) -> str:
    if not _KIND.match(kind):
        raise ValueError(f"scratch kind {kind!r}: lowercase letters only (it is parsed back from the folder name)")
    pid = os.getpid()
    return f"{PREFIX}{kind}-{pid}-{process_start(pid)}-{host_tag()}-"


def make(kind: str) -> str:
    """A new empty folder owned by this process; the caller removes it (a killed caller's is reaped)."""
    reap()
    return tempfile.mkdtemp(prefix=_prefix(kind))


def fresh_path(kind: str) -> str:
    """A unique scratch path that does not exist yet: the target of a rename (``shutil.move(src, path)``)."""
    path = make(kind)
    os.rmdir(path)
    return path


@contextlib.contextmanager
def folder(kind: str) -> Iterator[str]:
    """``make`` for the length of a ``with`` block: removed at its end, whatever happens."""
    path = make(kind)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def owner(name: str) -> tuple[int, int] | None:
    """(pid, process start) of the scratch folder named ``name`` on this host; None for any other name."""
    match = NAME.match(name)
    return (int(match[2]), int(match[3])) if match and match[4] == host_tag() else None


def reap(root: str | None = None) -> list[str]:
    """Remove the scratch folders under ``root`` (the temp folder) whose owner on this host is gone."""
    root, removed = root or tempfile.gettempdir(), []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        found = owner(entry.name)
        if found and not owner_alive(*found):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed
