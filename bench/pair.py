#!/usr/bin/env python3
"""Run two shell commands interleaved RUNS times; print medians and ratio.

usage: pair.py NAME BYTES RUNS OURS PEER PEERNAME
Wall time from time.monotonic around the process; peak RSS from GNU time
(%M, KiB) around the command: ru_maxrss of a direct child of this Python
process would include Python's own pages from before the exec.
"""
import os, statistics, subprocess, sys, tempfile, time

name, nbytes, runs, ours, peer, peername = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]

rss_file = tempfile.NamedTemporaryFile(prefix="bench-rss-")

def once(cmd):
    t = time.monotonic()
    status = subprocess.call(["/usr/bin/time", "-q", "-f", "%M", "-o", rss_file.name,
                              "bash", "-c", "exec " + cmd], stdout=subprocess.DEVNULL)
    dt = time.monotonic() - t
    if status != 0:
        sys.exit(f"bench: command failed ({status}): {cmd}")
    with open(rss_file.name) as f:
        return dt, int(f.read().split()[-1])

once(ours); once(peer)  # warm-up (page cache)
a, b, ra, rb = [], [], [], []
for _ in range(runs):
    t, r = once(ours); a.append(t); ra.append(r)
    t, r = once(peer); b.append(t); rb.append(r)
ma, mb = statistics.median(a), statistics.median(b)
ratios = statistics.median([y / x for x, y in zip(a, b)])
unit = "MB/s" if nbytes > 0 else "runs/s"
def rate(t):
    return (nbytes / 1e6 / t) if nbytes > 0 else 1 / t
print(f"{name:28} ours {rate(ma):9.1f} {unit}  {peername} {rate(mb):9.1f} {unit}  "
      f"ratio {ratios:5.2f}x  peak RSS ours {max(ra)/1024:.1f} MiB, {peername} {max(rb)/1024:.1f} MiB")
