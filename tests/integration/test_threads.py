"""The Threads section against real processes: every thread present with its name, state and
stack; known functions in order with file:line; blocked threads captured without being woken;
running ones by the capture signal; what cannot be captured explained."""

import ctypes
import os
import re
import signal
import socket
import tempfile
import time

from gmrtest import (SOURCE_DIR, TSAN, Victim, check, run, section, split_json_reports,
                     split_text_reports, text_section)

VICTIM_SRC = os.path.join(SOURCE_DIR, "tests/integration/helpers/victim-threads.c")
CXX_SRC = os.path.join(SOURCE_DIR, "tests/integration/helpers/victim-threads-cxx.cpp")
QUIET_ROLES = ("sleeper", "reader", "poller", "waiter")


def marker_lines(path):
    """AT:<function> markers -> line numbers."""
    lines = {}
    with open(path) as f:
        for n, text in enumerate(f, 1):
            for m in re.finditer(r"AT:(\w+)", text):
                lines[m.group(1)] = n
    return lines


MARKS = marker_lines(VICTIM_SRC)


def threads_of(doc):
    return section(doc, "Threads")["threads"]


def by_name(threads, name):
    found = [t for t in threads if t.get("name") == name]
    check(len(found) == 1, "one thread named %r: %r" % (name, [t.get("name") for t in threads]))
    return found[0]


def task_ids(pid):
    return sorted(int(t) for t in os.listdir("/proc/%d/task" % pid))


def check_chain(t, role, victim):
    """role_5 .. role_1 appear in order, consecutive, with the marked file:line."""
    names = [f.get("function") for f in t["frames"]]
    want = ["%s_%d" % (role, i) for i in range(5, 0, -1)]
    check(all(w in names for w in want), "%s frames: %r" % (role, names))
    first = names.index(want[0])
    check(names[first:first + 5] == want, "%s order: %r" % (role, names))
    for i, fn in enumerate(want):
        f = t["frames"][first + i]
        check(f["file"].endswith("victim-threads.c"), "%s file %r" % (fn, f.get("file")))
        if fn in MARKS:
            # An interrupted busy loop may stop on the loop's body line, just below the mark.
            ok = f["line"] == MARKS[fn] or (i == 0 and f["line"] == MARKS[fn] + 1)
            check(ok, "%s line %r, want %d" % (fn, f.get("line"), MARKS[fn]))
        check(f["module"].endswith("/" + victim), "%s module %r" % (fn, f.get("module")))
        check(re.fullmatch(r"0x[0-9a-f]+", f["pc"]) and re.fullmatch(r"0x[0-9a-f]+", f["offset"]),
              "pc/offset of %s" % fn)
        check(f["inlined"] is False, "%s not inlined" % fn)
    check("source" in t["frames"][first + 1] and "AT:%s" % want[1] in t["frames"][first + 1]["source"],
          "source line of %s: %r" % (want[1], t["frames"][first + 1].get("source")))
    # The walk reaches the thread's start.
    check(names[-1] in ("__clone3", "clone3", "__clone", "clone"), "outermost %r" % names[-1])


def json_report(v, trigger=True):
    n = len(v.json_reports())
    if trigger:
        v.kill(signal.SIGUSR2)
    else:
        v.send("report json")
    v.wait_stderr(lambda t: len(split_json_reports(t)) > n, timeout=20)
    return v.json_reports()[n]


def every_thread_with_known_frames(victim):
    with Victim(victim, "--json") as v:
        v.wait_ready()
        tids = task_ids(v.pid)
        doc = json_report(v)
        sec = section(doc, "Threads")
        threads = sec["threads"]
        check(sorted(t["tid"] for t in threads) == tids, "every tid: %r vs %r"
              % (sorted(t["tid"] for t in threads), tids))
        check(sec["capture_signal"] == "SIGRTMAX", "capture signal %r" % sec.get("capture_signal"))
        main = [t for t in threads if t.get("main")]
        check(len(main) == 1 and main[0]["tid"] == v.pid, "main thread")
        # The main thread is quiet unless it happened to run at that moment (then by signal).
        # Under ThreadSanitizer it has just read the nudge line (gmrtest.TSAN) and may still
        # be running without an intercepted call when the capture times out: then explained.
        if not (TSAN and main[0].get("unavailable")):
            check((main[0]["capture"] == "quiet" or main[0]["state"] == "running") and
                  "main" in [f.get("function") for f in main[0].get("frames", [])],
                  "main thread's stack: %r" % main[0])
        rep = by_name(threads, "gmr-reporter")
        check(rep["note"] == "this thread wrote the report" and "frames" not in rep, "reporter")
        for role in QUIET_ROLES:
            t = by_name(threads, role)
            check(t["capture"] == "quiet", "%s captured quietly: %r" % (role, t))
            check(t["state"] == "sleeping", "%s state %r" % (role, t["state"]))
            check_chain(t, role, victim)
        check(by_name(threads, "sleeper")["syscall"] in ("clock_nanosleep", "nanosleep"), "syscall")
        check(by_name(threads, "reader")["syscall"] == "read", "read")
        check(by_name(threads, "poller")["syscall"] in ("epoll_wait", "epoll_pwait"), "epoll")
        check(by_name(threads, "waiter")["syscall"] == "futex", "futex")
        spin = by_name(threads, "spinner")
        check(spin["capture"] == "signal" and spin["interrupted_ns"] > 0, "spinner by signal: %r"
              % {k: spin[k] for k in spin if k != "frames"})
        check_chain(spin, "spinner", victim)
        blk = by_name(threads, "blocker")
        check(blk["capture"] == "none" and "frames" not in blk, "blocker not captured")
        check(blk["unavailable"] == "running, and it blocks the capture signal (SIGRTMAX)",
              "blocker reason %r" % blk["unavailable"])
        for t in threads:
            check(isinstance(t["cpu_user_ms"], int) and isinstance(t["cpu_system_ms"], int), "cpu")
        st = sec["stats"]
        check(st["threads"] == len(threads) and st["quiet"] + st["signal"] + st["not_captured"]
              == len(threads), "stats %r" % st)
        check(v.stop() == 0, "exit")


def test_known_frames_without_frame_pointers():
    every_thread_with_known_frames("victim-threads-nofp")


def test_known_frames_with_frame_pointers():
    every_thread_with_known_frames("victim-threads")


def test_text_view_shows_frames_and_source():
    with Victim("victim-threads-nofp", "--no-blocker") as v:
        v.wait_ready()
        v.kill(signal.SIGUSR2)
        text = v.wait_stderr(lambda t: "====                           Processes" in t)
        body = text_section(split_text_reports(text)[0], "Threads")
        tid = by_name_text(body, "reader")
        check(re.search(r"^------ +Thread #%d \(reader\) +------$" % tid, body, re.M), "banner")
        check(re.search(r"^state = sleeping, cpu = \d+ ms user \+ \d+ ms system\n"
                        r"captured = quiet, blocked in read$", body, re.M), "header lines")
        line = MARKS["reader_4"]
        check(re.search(r"^  #\d+ +0x[0-9a-f]+ in reader_4 \(/\S*victim-threads\.c:%d\) "
                        r"\[victim-threads-nofp\+0x[0-9a-f]+\]\n    `static NOINLINE int reader_4\(int x\) "
                        r"\{ int r = reader_5\(x \+ 1\); /\* AT:reader_4 \*/" % line, body, re.M),
              "frame line with source: %s" % body[:3000])
        check(re.search(r"^  #\d+ +0x[0-9a-f]+ in __clone3 .*\[libc\.so\.6\+0x[0-9a-f]+\]$", body, re.M),
              "libc frame")
        check(v.stop() == 0, "exit")


def by_name_text(body, name):
    m = re.search(r"Thread #(\d+) \(%s\)" % name, body)
    check(m, "thread %s in text" % name)
    return int(m.group(1))


def test_blocked_thread_is_not_woken_by_reports():
    with Victim("victim-threads-nofp", "--json", "--no-blocker") as v:
        v.wait_ready()
        start = time.monotonic()
        for i in range(3):
            doc = json_report(v)
            check(by_name(threads_of(doc), "sleeper")["capture"] == "quiet", "quiet")
            time.sleep(0.3)
        check(b"SLEPT" not in v.out, "sleeper woke early: %r" % v.out)
        m = v.wait_stdout(r"SLEPT (\d+) (\d+)\n", timeout=15)
        slept, err = int(m.group(1)), int(m.group(2))
        check(err == 0 and slept >= 9990, "nanosleep(10 s) lasted %d ms, errno %d" % (slept, err))
        check(time.monotonic() - start >= 9.0, "not early")
        check(v.stop() == 0, "exit")


libc = ctypes.CDLL(None, use_errno=True)


class Sigval(ctypes.Union):
    _fields_ = [("sival_int", ctypes.c_int), ("sival_ptr", ctypes.c_void_p)]


def sigqueue(pid, sig, value):
    libc.sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, Sigval]
    return libc.sigqueue(pid, sig, Sigval(sival_ptr=value))


def test_capture_signal_from_another_process_is_ignored():
    with Victim("victim-threads-nofp", "--json", "--no-blocker") as v:
        v.wait_ready()
        rtmax = signal.SIGRTMAX
        os.kill(v.pid, rtmax)
        for i in range(200):
            # Forged values: small slot numbers with guessed cookies, and plain garbage.
            check(sigqueue(v.pid, rtmax, (i << 16) | (i % 64)) == 0, "sigqueue")
            check(sigqueue(v.pid, rtmax, 0xFFFFFFFFFFFFFFFF - i) == 0, "sigqueue")
        v.send("ping")
        v.wait_stdout("PONG")
        check(v.proc.poll() is None, "victim alive")
        # Reports still work, including while forged signals keep arriving.
        for _ in range(3):
            n = len(v.json_reports())
            v.kill(signal.SIGUSR2)
            for i in range(50):
                sigqueue(v.pid, rtmax, (i << 16) | 3)
            v.wait_stderr(lambda t: len(split_json_reports(t)) > n, timeout=20)
            doc = v.json_reports()[n]
            spin = by_name(threads_of(doc), "spinner")
            check(spin["capture"] == "signal", "spinner still captured: %r" % spin.get("unavailable"))
        check(v.stop() == 0, "exit")


def test_reports_while_threads_come_and_go():
    with Victim("victim-threads-nofp", "--no-blocker") as v:
        v.wait_ready()
        v.send("churn on")
        v.wait_stdout("CHURNING")
        for i in range(100):
            v.send("report json")
            v.wait_stdout(r"DONE 0\n", timeout=20)
            docs = split_json_reports(v.out.decode("utf-8", "replace"))
            check(len(docs) == 1, "report %d parses" % i)
            v.out = b""
            threads = threads_of(docs[0])
            names = [t.get("name") for t in threads]
            for role in QUIET_ROLES + ("spinner",):
                check(role in names, "report %d lists %s" % (i, role))
            for t in threads:
                check("frames" in t or "unavailable" in t or t.get("note"),
                      "report %d: thread %r neither captured nor explained" % (i, t))
                if "unavailable" in t:
                    # A thread caught before it named itself has the program's name
                    # (truncated to 15 bytes); glibc starts a thread with every signal blocked.
                    unnamed = (t.get("name") == "victim-threads-" and not t.get("main") and
                               "blocks the capture signal" in t["unavailable"])
                    check(t.get("name") in ("short-lived", "churner", None) or unnamed
                          or t["unavailable"].startswith("exited"), "reason %r" % t)
            reader = by_name(threads, "reader")
            check(reader["capture"] == "quiet" and "reader_1" in
                  [f.get("function") for f in reader["frames"]], "reader stack in report %d" % i)
        v.send("churn off")
        v.wait_stdout("CHURN OFF")
        check(v.stop() == 0, "exit")
        check(v.err == b"", "nothing on stderr: %r" % v.err[-500:])


def test_without_setup_running_threads_are_explained():
    with Victim("victim-threads-nofp", "--no-setup", "--no-blocker") as v:
        v.wait_ready()
        v.send("report json")
        v.wait_stdout(r"DONE 0\n")
        doc = split_json_reports(v.out.decode())[0]
        sec = section(doc, "Threads")
        check("capture_signal" not in sec, "no capture signal")
        threads = sec["threads"]
        for role in QUIET_ROLES:
            check_chain(by_name(threads, role), role, "victim-threads-nofp")
        spin = by_name(threads, "spinner")
        check(spin["capture"] == "none" and "gmr_setup_autorun()" in spin["unavailable"],
              "spinner explained: %r" % spin)
        me = [t for t in threads if t.get("main")][0]
        check(me["note"] == "this thread wrote the report", "the caller wrote it")
        check(v.stop() == 0, "exit")
        check(v.err == b"", "nothing on stderr")


def test_explicit_capture_signal_in_use_is_refused():
    sig = int(signal.SIGRTMIN) + 3
    with Victim("victim-threads-nofp", "--capture-signal", str(sig), "--occupy") as v:
        v.wait_ready()
        check(b"SETUP -16\n" in v.out, "setup refused: %r" % v.out)
        err = v.err.decode()
        check(re.fullmatch(r"libgmr: capture signal SIGRTMIN\+3 already has a handler[^\n]*\n", err),
              "one-line message: %r" % err)
        check(v.stop() == 0, "exit")


def test_explicit_free_capture_signal_is_used():
    sig = int(signal.SIGRTMIN) + 5
    with Victim("victim-threads-nofp", "--json", "--capture-signal", str(sig), "--no-blocker") as v:
        v.wait_ready()
        doc = json_report(v)
        check(section(doc, "Threads")["capture_signal"] == "SIGRTMIN+5", "signal name")
        check(by_name(threads_of(doc), "spinner")["capture"] == "signal", "captured by it")
        check(v.stop() == 0, "exit")


def test_group_identical_stacks_in_text():
    with Victim("victim-threads-nofp", "--group", "--twins", "5", "--no-blocker") as v:
        v.wait_ready()
        v.send("report text")
        v.wait_stdout(r"DONE 0\n")
        body = text_section(split_text_reports(v.out.decode())[0], "Threads")
        check(re.search(r"^------ +6 threads with this stack +------$", body, re.M),
              "group banner: %s" % body[:2000])
        check(len(re.findall(r"^- Thread #\d+ \((twin|reader)\): sleeping, quiet in read$", body,
                              re.M)) == 6, "six items: %s" % body[:2000])
        check(len(re.findall(r" in reader_3 ", body)) == 1, "the stack once")
        v.out = b""
        v.send("report json")
        v.wait_stdout(r"DONE 0\n")
        doc = split_json_reports(v.out.decode())[-1]
        sec = section(doc, "Threads")
        check(sec["group_identical"] is True, "stored in the model")
        check(len([t for t in sec["threads"] if t.get("name") == "twin"]) == 5, "JSON lists all")
        check(v.stop() == 0, "exit")


def test_deep_recursion_is_cut_and_counted():
    with Victim("victim-threads-nofp", "--json", "--deep", "10000", "--no-blocker",
                "--no-spinner") as v:
        v.wait_ready()
        doc = json_report(v)
        sec = section(doc, "Threads")
        deep = by_name(sec["threads"], "deep")
        check(deep["capture"] == "quiet", "quiet: %r" % deep.get("note"))
        names = [f.get("function") for f in deep["frames"]]
        physical = [f for f in deep["frames"] if not f["inlined"]]
        check(len(physical) == sec["max_frames"] == 256, "cut at 256: %d" % len(physical))
        check(names.count("deep_recurse") >= 250, "recursion shown")
        check(deep["more_frames_exact"] is True and 9700 <= deep["more_frames"] <= 9800,
              "counted: %r" % deep.get("more_frames"))
        v.send("report text")
        v.wait_stdout(r"DONE 0\n")
        body = text_section(split_text_reports(v.out.decode())[0], "Threads")
        check(re.search(r"^  \.\.\. \d{4} more frames$", body, re.M), "text says how many more")
        check(v.stop() == 0, "exit")


def test_debuginfod_is_never_contacted():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    with tempfile.TemporaryDirectory() as cache:
        env = {"DEBUGINFOD_URLS": "http://127.0.0.1:%d" % port, "DEBUGINFOD_CACHE_PATH": cache,
               "DEBUGINFOD_TIMEOUT": "2"}
        with Victim("victim-threads-nofp", "--json", "--dumper", "--no-blocker", env=env) as v:
            v.wait_ready()
            doc = json_report(v)
            dumper = by_name(threads_of(doc), "dumper")
            mods = [f.get("module", "") for f in dumper["frames"]]
            check(any("libjansson" in m for m in mods), "a frame in libjansson: %r" % mods)
            names = [f.get("function") for f in dumper["frames"]]
            check("dump_cb" in names and "dumper_3" in names, "through the library: %r" % names)
            try:
                conn, _ = listener.accept()
                conn.close()
                check(False, "the report connected to DEBUGINFOD_URLS")
            except BlockingIOError:
                pass
            check(v.stop() == 0, "exit")
    listener.close()


def _tgkill(pid, tid, sig):
    return ctypes.CDLL(None, use_errno=True).tgkill(pid, tid, sig)


def test_main_thread_exited():
    # Once main() has called pthread_exit(), the leader's /proc/PID/{maps,fd,exe,cmdline} read
    # as empty; the report reads the process's files through a living thread.  Found: no
    # module was known, so no thread had a stack and blocked ones were signalled instead.
    with Victim("victim-threads", "--json", "--exit-main") as v:
        v.wait_ready()
        deadline = time.monotonic() + 10
        while not open("/proc/%d/stat" % v.pid).read().rsplit(")", 1)[1].split()[0] == "Z":
            check(time.monotonic() < deadline, "main thread exited")
            time.sleep(0.01)
        # To the spinner: sent to the process, the signal would go to any thread now that
        # main is gone, and cut a blocked one's call short (it would then take the signal
        # path, or return); the spinner just runs the handler (under ThreadSanitizer at its
        # next atomic load).
        spinner = [int(t) for t in os.listdir("/proc/%d/task" % v.pid)
                   if open("/proc/%d/task/%s/comm" % (v.pid, t)).read().strip() == "spinner"]
        check(len(spinner) == 1, "the spinner thread")
        check(_tgkill(v.pid, spinner[0], signal.SIGUSR2) == 0, "tgkill")
        v.wait_stderr(lambda t: len(split_json_reports(t)) >= 1, timeout=20)
        doc = v.json_reports()[0]
        sec = section(doc, "Threads")
        check("note" not in sec, "no note on the section: %r" % sec.get("note"))
        threads = sec["threads"]
        for role in QUIET_ROLES:
            t = by_name(threads, role)
            check(t["capture"] == "quiet", "%s captured quietly: %r" % (role, t))
            check_chain(t, role, "victim-threads")
        check_chain(by_name(threads, "spinner"), "spinner", "victim-threads")
        objs = section(doc, "Shared Objects")["data"]
        check(any(o["path"].endswith("/victim-threads") for o in objs),
              "the program among the shared objects: %r" % objs[:2])
        files = str(section(doc, "Open Files")["data"])
        check("pipe:" in files, "the victim's pipe among the open files: %s" % files[:500])
        proc = section(doc, "Processes")["process"]
        check("victim-threads --json --exit-main" in proc.get("command", ""),
              "command line: %r" % proc.get("command"))
        v.proc.kill()


def test_cxx_names_are_demangled():
    lines = marker_lines(CXX_SRC)
    with Victim("victim-threads-cxx") as v:
        v.wait_ready()
        v.send("report json")
        v.wait_stdout(r"DONE 0\n")
        doc = split_json_reports(v.out.decode())[0]
        t = by_name(threads_of(doc), "cxx-worker")
        frames = t["frames"]
        names = [f.get("function", "") for f in frames]
        want = ["shop::Warehouse::wait_for_stock(int)", "shop::Queue<long>::drain(long)",
                "shop::risky(int)"]
        for w in want:
            check(w in names, "%s in %r" % (w, names))
        check(names.index(want[0]) < names.index(want[1]) < names.index(want[2]), "order")
        wait = frames[names.index(want[0]) - 1]
        check(wait["inlined"] is True and wait["function"].startswith(
              "void std::condition_variable::wait<"), "inlined wait: %r" % wait)
        check(frames[names.index(want[0])]["line"] == lines["wait_for_stock"], "wait line")
        lam = [f for f in frames[names.index(want[2]) + 1:] if "operator()" in f.get("function", "")]
        check(lam and lam[0]["line"] == lines["lambda"], "the lambda's frame: %r" % names)
        check(any(n.startswith("std::thread::_State_impl<") and n.endswith("::_M_run()")
                  for n in names), "std::thread's _M_run, demangled: %r" % names)
        f = frames[names.index(want[1])]
        check(f["file"].endswith("victim-threads-cxx.cpp") and f["line"] == lines["drain"],
              "drain line %r" % f.get("line"))
        check(not any(n.startswith("_Z") for n in names), "no mangled names: %r" % names)
        # _start (crt1.o, no debug information) follows main's code: it has no file:line of
        # main's compile unit.  Found: it showed a line of std_thread.h.
        main = [th for th in threads_of(doc) if th.get("main")][0]
        start = [f for f in main["frames"] if f.get("function") == "_start"]
        check(start and "file" not in start[0], "_start without a line: %r" % start)
        check(v.stop() == 0, "exit")


if __name__ == "__main__":
    run([
        test_known_frames_without_frame_pointers,
        test_known_frames_with_frame_pointers,
        test_text_view_shows_frames_and_source,
        test_blocked_thread_is_not_woken_by_reports,
        test_capture_signal_from_another_process_is_ignored,
        test_reports_while_threads_come_and_go,
        test_without_setup_running_threads_are_explained,
        test_explicit_capture_signal_in_use_is_refused,
        test_explicit_free_capture_signal_is_used,
        test_group_identical_stacks_in_text,
        test_deep_recursion_is_cut_and_counted,
        test_debuginfod_is_never_contacted,
        test_cxx_names_are_demangled,
        test_main_thread_exited,
    ])
