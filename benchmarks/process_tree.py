"""Measure a whole process tree: wall time, CPU (user + system) and peak RSS of its process tree.

``measure_process(command)`` starts the command, samples the resident memory of the process and
all its descendants every ``interval`` s (Linux ``/proc``), and reaps it with ``os.wait4``, whose
resource usage covers the process and every descendant it waited for. Peak RSS is the largest
sampled sum over the tree, or the largest single process's ``ru_maxrss`` if that is higher (a
peak between two samples).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["ProcessMeasure", "measure_process", "tree_rss_mib"]

_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcessMeasure:
    """What one run of a command cost."""

    returncode: int
    wall_s: float
    cpu_user_s: float
    cpu_sys_s: float
    peak_rss_mib: float
    max_single_rss_mib: float

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s

    def as_record(self) -> dict[str, Any]:
        return {**{k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()},
                "cpu_s": round(self.cpu_s, 3)}


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
        except OSError:
            continue
        out.extend(int(c) for c in text.split())
    return out


def tree_rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants now, MiB (0 once it is gone)."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        todo.extend(_children(p))
    return total * _PAGE / 2**20


def measure_process(command: list[str], *, env: dict[str, str] | None = None, cwd: str | Path | None = None,
                    stdout: Path | None = None, timeout: float = 4 * 3600, interval: float = 0.02) -> ProcessMeasure:
    """Run ``command`` to its end and return what it cost; its output goes to ``stdout`` (a file) or is dropped.

    :raises TimeoutError: after ``timeout`` s (the process is killed first).
    """
    sink = open(stdout, "wb") if stdout is not None else subprocess.DEVNULL
    try:
        started = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT)
        peak = 0.0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss_mib(proc.pid))
                done.wait(interval)

        sampler = threading.Thread(target=sample, name="tree-rss", daemon=True)
        sampler.start()
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise TimeoutError(f"{command[0]} ran longer than {timeout:.0f} s")
            time.sleep(0.005)
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen
    finally:
        if stdout is not None:
            sink.close()
    single = usage.ru_maxrss / 1024  # KiB on Linux
    return ProcessMeasure(returncode=proc.returncode, wall_s=wall, cpu_user_s=usage.ru_utime,
                          cpu_sys_s=usage.ru_stime, peak_rss_mib=max(peak, single), max_single_rss_mib=single)
