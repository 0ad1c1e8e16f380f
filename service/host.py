"""What the host lets this process use: its cores (the cpuset, and a cgroup CPU quota such as a
Kubernetes CPU limit), and glibc's malloc tuning. Used by gunicorn.conf.py and the batch script.

Standard library only: gunicorn's master imports it before any worker exists.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
from pathlib import Path

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers


def available_cores(cgroup_root: Path = Path("/sys/fs/cgroup"), self_cgroup: Path = Path("/proc/self/cgroup")) -> int:
    """Whole cores this process may keep busy: its cpuset, capped by a CFS quota (rounded down,
    at least 1: a 1.5-core limit runs one single-threaded worker at full speed, not two throttled)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = cpu_quota(cgroup_root, self_cgroup)
    if quota is not None:
        cores = min(cores, max(1, math.floor(quota)))
    return cores


def cpu_quota(cgroup_root: Path = Path("/sys/fs/cgroup"), self_cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """The CPU quota in cores (quota / period) of this process's cgroup or any of its parents,
    the smallest; None when there is none or it cannot be read. cgroup v2 (cpu.max) and v1."""
    limits = []
    for directory in _cgroup_v2_dirs(cgroup_root, self_cgroup):
        fields = _read(directory / "cpu.max").split()
        if len(fields) == 2 and fields[0] != "max":
            limits.append(_ratio(fields[0], fields[1]))
    for name in ("cpu", "cpu,cpuacct"):
        directory = cgroup_root / name
        limits.append(_ratio(_read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")))
    limits = [limit for limit in limits if limit is not None]
    return min(limits) if limits else None


def _cgroup_v2_dirs(cgroup_root: Path, self_cgroup: Path) -> list[Path]:
    """This process's cgroup v2 directory and its parents up to the root (a container sees "/")."""
    relative = next((line[3:].strip() for line in _read(self_cgroup).splitlines() if line.startswith("0::")), "/")
    directory = cgroup_root / relative.lstrip("/")
    dirs = [directory, *directory.parents]
    return [d for d in dirs if d == cgroup_root or cgroup_root in d.parents]


def _ratio(quota: str, period: str) -> float | None:
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def set_malloc_mmap_threshold(size: int, trim: int | None = None) -> bool:
    """Fix glibc's mmap threshold (and trim threshold): False when the C library is not glibc."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # musl, macOS: nothing to tune
        return False
    mallopt(M_MMAP_THRESHOLD, size)
    if trim is not None:
        mallopt(M_TRIM_THRESHOLD, trim)
    return True


def sibling_pids() -> list[int]:
    """The processes that share this one's parent (the workers of a gunicorn master, this one among
    them), from /proc."""
    parent = os.getppid()
    try:
        return sorted(int(pid) for pid in Path(f"/proc/{parent}/task/{parent}/children").read_text().split())
    except OSError:  # a kernel without CONFIG_PROC_CHILDREN: every process's parent, one by one
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if int(_read(entry / "stat").rsplit(")", 1)[1].split()[1]) == parent:
                        found.append(int(entry.name))
                except (IndexError, ValueError):
                    continue
        return sorted(found)


def port_is_free(host: str, port: int) -> bool:
    """Whether a TCP port can be bound on `host` now (without SO_REUSEPORT)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed connection's TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
