"""Load: a storm of 10,000 trigger signals while application threads do blocking I/O, blocked
threads under many reports, and 1000 reports while 100 threads are created and destroyed
without pause.  Reports are coalesced and never nested, no data is lost, the process lives."""

import os
import re
import subprocess
import time

from gmrtest import SANITIZED, Victim, check, run, section, split_json_reports, split_text_reports

WRAPPED = bool(os.environ.get("GMR_VICTIM_WRAPPER"))
TOOL = SANITIZED or WRAPPED
VICTIM_DIR = os.environ.get("GMR_VICTIM_DIR", ".")

# Calls that must never fail with EINTR while the trigger handler (SA_RESTART) runs on their
# thread: the kernel restarts them, or glibc retries.
RESTARTED = {"pipe_read", "pipe_write", "socket_read", "socket_write", "accept", "connect",
             "tcp_read", "sem_wait", "pthread_cond_wait", "pthread_mutex_lock"}
# Calls that signal(7) says fail with EINTR after any handler, SA_RESTART or not.
ALWAYS_EINTR = {"nanosleep", "clock_nanosleep", "poll", "epoll_wait", "select", "sigtimedwait",
                "sem_timedwait", "read_rcvtimeo"}
SYSTEM_BANNER = "====" + "System".center(64) + "===="


def counters(text, kind):
    out = {}
    for m in re.finditer(r"^%s (\S+) (.*)$" % kind, text, re.M):
        out[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(-?\d+)", m.group(2))}
    return out


def storm(pid, count, mode):
    out = subprocess.run([os.path.join(VICTIM_DIR, "victim-storm-kill"), str(pid), str(count),
                          mode], stdout=subprocess.PIPE, check=True, timeout=60).stdout.decode()
    m = re.match(r"SENT (\d+) (\d+) (\d+)", out)
    check(m and int(m.group(1)) == count, "signals sent: %r" % out)
    return int(m.group(3))


def test_storm_of_10000_signals_during_blocking_io():
    with Victim("victim-storm", "--io") as v:
        v.wait_ready(timeout=30)
        us_kill = storm(v.pid, 10000, "kill")
        us_queue = storm(v.pid, 10000, "sigqueue")
        time.sleep(0.5)  # the transfers go on under the reports
        # Wait for the reports the storm caused to be written completely.
        deadline = time.monotonic() + (300 if TOOL else 60)
        while True:
            v._pump(0.2)
            text = v.err.decode("utf-8", "replace")
            reps = split_text_reports(text)
            if reps and SYSTEM_BANNER in reps[-1] and text.endswith("\n\n"):
                n = len(reps)
                v._pump(1.0)
                if len(split_text_reports(v.err.decode("utf-8", "replace"))) == n:
                    break
            check(time.monotonic() < deadline, "reports after the storm: %r" % text[-500:])
        v.send("stop")
        v.wait_stdout(r"STOPPED\n", timeout=300 if TOOL else 60)
        io = counters(v.out.decode(), "IO")
        check(v.stop(timeout=30) == 0, "the process survived the storm")

        text = v.err.decode("utf-8", "replace")
        reps = split_text_reports(text)
        signals = 0
        for r in reps:
            check(r.count("Guru Meditation") == 1 and SYSTEM_BANNER in r,
                  "each report complete and not nested in another")
            m = re.search(r"^trigger = signal SIGUSR2(?: \(x(\d+)\))?$", r, re.M)
            check(m, "trigger line: %r" % r[:600])
            signals += int(m.group(1) or 1)
        check(1 <= len(reps) <= 20000 and len(reps) < signals + 1,
              "coalesced: %d reports for %d handler runs" % (len(reps), signals))
        check(signals <= 20000, "never more handler runs than signals: %d" % signals)
        print("storm: 2 x 10000 signals sent in %.1f ms (kill) and %.1f ms (sigqueue); "
              "%d handler runs (the rest merged while pending); %d reports"
              % (us_kill / 1000, us_queue / 1000, signals, len(reps)))

        for name in ("pipe", "socket"):
            r, w = io[name + "_read"], io[name + "_write"]
            check(r["bad"] == 0 and r["bytes"] == w["bytes"] and r["bytes"] > 0,
                  "%s transfer intact: %r %r" % (name, r, w))
        check(io["tcp_read"]["bad"] == 0 and io["tcp_read"]["bytes"] > 0, "tcp transfer intact")
        for name, c in io.items():
            check(c["errors"] == 0, "%s: no error: %r" % (name, c))
            if name in RESTARTED:
                check(c["early_eintr"] == 0, "%s never sees EINTR: %r" % (name, c))
            else:
                check(name in ALWAYS_EINTR, "unexpected call %s" % name)
        seen = sorted(n for n, c in io.items() if c["early_eintr"])
        print("calls that saw EINTR during the storm: %s" % ", ".join(seen))


def test_blocked_threads_on_the_quiet_path_are_never_interrupted():
    n = 3 if TOOL else 20
    with Victim("victim-storm", "--quiet") as v:
        v.wait_ready(timeout=30)
        v.send("reports %d json" % n)
        m = v.wait_stdout(r"REPORTED failed=(\d+)\n", timeout=300)
        check(m.group(1) == b"0", "reports written")
        docs = split_json_reports(v.out.decode("utf-8", "replace"))
        check(len(docs) == n, "%d reports" % len(docs))
        signalled = {}
        for doc in docs:
            for t in section(doc, "Threads")["threads"]:
                name = t.get("name", "")
                if name.startswith("w_") and t.get("capture") != "quiet":
                    signalled[name] = signalled.get(name, 0) + 1
        v.send("stop")
        v.wait_stdout(r"STOPPED\n", timeout=60)
        quiet = counters(v.out.decode(), "QUIET")
        check(v.stop(timeout=30) == 0, "exit")
        print("blocked threads captured by signal instead of the quiet path: %s"
              % (", ".join("%s (%d/%d)" % (k, c, n) for k, c in sorted(signalled.items()))
                 or "none"))
        print("blocked threads that saw EINTR: %s"
              % (", ".join("%s (%d)" % (k, c["early_eintr"]) for k, c in sorted(quiet.items())
                           if c["early_eintr"]) or "none"))
        check(len(quiet) == 12, "every blocked thread counted: %r" % sorted(quiet))
        for name, c in quiet.items():
            tname = "w_" + name[:13]
            if not TOOL:
                # Every blocked thread is captured quietly in every report, so none is ever
                # interrupted: not even nanosleep(), poll() or epoll_wait(), which a handler
                # would cut short.
                check(tname not in signalled, "%s: captured by signal in %d of %d reports" % (
                    tname, signalled.get(tname, 0), n))
                check(c["early_eintr"] == 0, "%s: %d EINTR" % (name, c["early_eintr"]))
            else:
                # A tool's syscall wrappers may defeat the quiet path: a thread is then
                # interrupted at most once per report that took it by signal.
                check(c["early_eintr"] <= signalled.get(tname, 0),
                      "%s: %d EINTR, signalled in %d reports" % (
                          name, c["early_eintr"], signalled.get(tname, 0)))


def test_1000_reports_while_100_threads_come_and_go():
    reports, threads, seconds = (1000, 100, 240) if not TOOL else (100, 20, 200)
    with Victim("victim-storm", "--churn", str(threads), "--reports", str(reports),
                "--seconds", str(seconds)) as v:
        v.wait_ready(timeout=30)
        m = v.wait_stdout(r"CHURN (.*)\n", timeout=seconds + 60)
        res = {k: float(x) for k, x in re.findall(r"(\w+)=([\d.]+)", m.group(1).decode())}
        check(v.stop(timeout=60) == 0, "exit status")
        check(res["malformed"] == 0, "malformed reports: %s" % v.err[:3000])
        check(res["reports"] >= (reports if not TOOL else 10), "reports written: %r" % res)
        check(res["created"] > res["reports"], "threads came and went: %r" % res)
        print("churn: %d reports in %.1f s (%.1f/s), %d threads created meanwhile, %d threads "
              "seen exiting during a capture, at most %d threads"
              % (res["reports"], res["seconds"], res["reports"] / res["seconds"],
                 res["created"], res["exited_while_captured"], res["max_threads"]))


if __name__ == "__main__":
    run([
        test_storm_of_10000_signals_during_blocking_io,
        test_blocked_threads_on_the_quiet_path_are_never_interrupted,
        test_1000_reports_while_100_threads_come_and_go,
    ])
