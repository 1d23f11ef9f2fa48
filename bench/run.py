#!/usr/bin/env python3
"""Benchmark of the Threads section (a program, not a timed test).

For each thread count N it starts bench/victim-bench with N threads parked 20 calls deep
(blocked in read(), or spinning with --busy) -- once with text reports (the default format of
triggered reports) and once with JSON reports -- and measures:
  - signal-to-report-complete wall time of the first (cold) and later (warm) reports: from
    kill(SIGUSR2) until the whole report has arrived on the victim's stderr (JSON: the closing
    brace; text: the last line of the System section, the last section).  With --runs R each
    victim is started R times: cold is the median of the R first reports, warm the median of
    the --warm reports that follow each;
  - the Threads section's own time (its "stats.elapsed_us", from the JSON reports);
  - the longest time any thread spent in the capture handler ("stats.max_interrupted_ns");
  - peak extra RSS during the report: VmHWM after minus VmRSS before, with the high-water
    mark reset through /proc/PID/clear_refs ("5") just before the signal (the larger of the
    text and JSON victims' figures);
  - on the same process: `eu-stack -i -s -p PID` and `gdb -p PID -batch -ex 'thread apply
    all bt'` wall times (ptrace: run as root or with kernel.yama.ptrace_scope=0).
Prints a markdown table, after a line saying whether separate debug information under
/usr/lib/debug was visible (to measure without it, run the script in a mount namespace with an
empty directory bound over /usr/lib/debug).

The cost libgmr adds to a coroutine switch is measured by another program, not this script:
BUILD/bench/bench-coro (bench/bench-coro.c).

Usage: bench/run.py [--build DIR] [--sizes 10,100,1000,4000] [--variants blocked,busy]
                    [--runs 1] [--warm 1] [--no-peers]
"""

import argparse
import fcntl
import json
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time


F_SETPIPE_SZ = 1031
TEXT_END = re.compile(rb"\nswap_free = [0-9]+ kB\n\n$")


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Victim:
    def __init__(self, exe, n, busy, text):
        self.text = text
        args = [exe, "--threads", str(n)] + (["--busy"] if busy else []) + (["--text"] if text else [])
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        line = self.proc.stdout.readline()
        if not line.startswith(b"READY"):
            raise RuntimeError("victim did not start: %r %r" % (line, self.proc.stderr.read()))

    def complete(self, tail):
        """True when @tail (the last bytes received) ends the report."""
        if not self.text:
            return tail.endswith(b"\n}\n")
        # The text report's last section is System, whose last line is swap_free.
        return TEXT_END.search(tail) is not None

    def report(self):
        """Triggers one report; returns (seconds, parsed document or text, extra peak RSS in KiB)."""
        with open("/proc/%d/clear_refs" % self.pid, "w") as f:
            f.write("5")
        rss_before = status_kib(self.pid, "VmRSS")
        fd = self.proc.stderr.fileno()
        # A 1 MiB pipe, so the report is not timed in 64 KiB ping-pong with this reader.
        fcntl.fcntl(fd, F_SETPIPE_SZ, 1 << 20)
        chunks = []
        start = time.monotonic()
        os.kill(self.pid, signal.SIGUSR2)
        tail = b""
        while True:
            select.select([fd], [], [], 60)
            chunk = os.read(fd, 1 << 22)
            if not chunk:
                raise RuntimeError("victim closed stderr")
            chunks.append(chunk)
            tail = (tail + chunk)[-64:]
            if self.complete(tail):
                break
        took = time.monotonic() - start
        hwm = status_kib(self.pid, "VmHWM")
        data = b"".join(chunks)
        doc = data.decode("utf-8", "replace") if self.text else json.loads(data)
        return took, doc, hwm - rss_before

    def stop(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def threads_section(doc):
    for s in doc["sections"]:
        if s["type"] == "threads":
            return s
    raise RuntimeError("no Threads section")


def timed(cmd, timeout=600):
    start = time.monotonic()
    try:
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None
    return time.monotonic() - start


def ms(s):
    return "%.1f" % (s * 1000) if s is not None else "n/a"


def debuginfo_visible():
    return os.path.isdir("/usr/lib/debug/.build-id") and bool(os.listdir("/usr/lib/debug/.build-id"))


def ratio(a, b):
    return "%.3f" % (a / b) if a is not None and b else "n/a"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(here, "..", "build-threads"))
    ap.add_argument("--sizes", default="10,100,1000,4000")
    ap.add_argument("--variants", default="blocked,busy")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--warm", type=int, default=1)
    ap.add_argument("--no-peers", action="store_true")
    args = ap.parse_args()
    exe = os.path.join(args.build, "bench", "victim-bench")
    have_eu = shutil.which("eu-stack") and not args.no_peers
    have_gdb = shutil.which("gdb") and not args.no_peers

    print("separate debug information under /usr/lib/debug: %s; %d run(s) per cell, %d warm "
          "report(s) per run, medians" % ("visible" if debuginfo_visible() else "not visible",
                                          args.runs, args.warm))
    print()
    print("| N | threads | text cold ms | text warm ms | json cold ms | json warm ms | "
          "section cold/warm ms | quiet/signal | longest interruption µs | "
          "peak extra RSS MiB | eu-stack -i -s ms | gdb bt ms | text warm / eu-stack | "
          "json warm / eu-stack | text warm / gdb |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    sys.stdout.flush()
    for variant in args.variants.split(","):
        for n in [int(x) for x in args.sizes.split(",")]:
            busy = variant == "busy"
            res = {}
            rss = []
            for text in (True, False):
                colds, warms, sections, longest = [], [], [], 0
                for run in range(args.runs):
                    v = Victim(exe, n, busy, text)
                    try:
                        cold, doc, r = v.report()
                        colds.append(cold)
                        rss.append(r)
                        docs = [doc]
                        for _ in range(args.warm):
                            warm, doc, r = v.report()
                            warms.append(warm)
                            rss.append(r)
                            docs.append(doc)
                        if not text:
                            st = [threads_section(d)["stats"] for d in docs]
                            sections.append(st)
                            longest = max([longest] + [x["max_interrupted_ns"] for x in st])
                        last = run == args.runs - 1
                        if not text and last:
                            eu = timed(["eu-stack", "-i", "-s", "-p", str(v.pid)]) if have_eu else None
                            gdb = timed(["gdb", "-p", str(v.pid), "-batch", "-ex",
                                         "thread apply all bt"]) if have_gdb else None
                    finally:
                        v.stop()
                res[text] = (statistics.median(colds), statistics.median(warms), sections, longest)
            tcold, twarm = res[True][0], res[True][1]
            cold, warm, sections, longest = res[False]
            sec_cold = statistics.median([st[0]["elapsed_us"] for st in sections]) / 1000.0
            sec_warm = statistics.median([x["elapsed_us"] for st in sections for x in st[1:]]) / 1000.0
            last = sections[-1][-1]
            print("| %d | %s | %s | %s | %s | %s | %.1f / %.1f | %d/%d | %.1f | %.1f | %s | %s "
                  "| %s | %s | %s |" % (
                      n, variant, ms(tcold), ms(twarm), ms(cold), ms(warm), sec_cold, sec_warm,
                      last["quiet"], last["signal"], longest / 1000.0, max(rss) / 1024.0,
                      ms(eu), ms(gdb), ratio(twarm, eu), ratio(warm, eu), ratio(twarm, gdb)))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
