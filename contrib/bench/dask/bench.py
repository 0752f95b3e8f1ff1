#!/usr/bin/python3
"""Dask distributed, the job peer: the workloads mist's job benchmarks run,
on a local Dask cluster of the same shape (contrib/bench/dask.sh runs both
side by side).

  bench.py empty N WORKERS    N independent no-op tasks, then wait for all
  bench.py dag N W WORKERS    dagjob's DAG: task i = i + v[i-W] + v[i//2]
                              (W chains side by side), wait for task N

Prints one line: "dask <workload> tasks N workers K seconds S rate R" and,
for the DAG, the value (checked against the one computed here).
Debian's python3-distributed; workers are processes with 2 threads each,
as mist's agents run 2 executors on this machine.
"""
import sys
import time

from dask.distributed import Client, LocalCluster, wait


def noop(_):
    return None


def tsum(i, *inputs):
    total = i
    for v in inputs:
        total += v
    return total & 0xFFFFFFFFFFFFFFFF


def expected(n, w):
    v = [0] * (n + 1)
    for i in range(1, n + 1):
        v[i] = i
        if i > w:
            v[i] += v[i - w]
        if i > 2:
            v[i] += v[i // 2]
        v[i] &= 0xFFFFFFFFFFFFFFFF
    return v[n]


def main():
    kind = sys.argv[1]
    n = int(sys.argv[2])
    if kind == "empty":
        workers = int(sys.argv[3])
    else:
        width = int(sys.argv[3])
        workers = int(sys.argv[4])
    with LocalCluster(n_workers=workers, threads_per_worker=2,
                      processes=True, dashboard_address=None) as cl, \
            Client(cl) as c:
        c.submit(noop, 0).result()  # the workers are up
        t0 = time.monotonic()
        if kind == "empty":
            futs = c.map(noop, range(n), pure=False)
            wait(futs)
            value = None
        else:
            f = [None] * (n + 1)
            for i in range(1, n + 1):
                deps = []
                if i > width:
                    deps.append(f[i - width])
                if i > 2:
                    deps.append(f[i // 2])
                f[i] = c.submit(tsum, i, *deps, pure=False)
            value = f[n].result()
        s = time.monotonic() - t0
    line = f"dask {kind} tasks {n} workers {workers} seconds {s:.3f} rate {n / s:.0f}"
    if kind == "dag":
        want = expected(n, width)
        line += f" value {value} ({'right' if value == want else 'WRONG'})"
    print(line)


if __name__ == "__main__":
    main()
