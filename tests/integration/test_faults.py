"""Faults inside the host process: threads that cannot be interrupted, that sleep
uninterruptibly, that exit while being captured or whose stacks hold garbage; fork and exec
around reports; a log directory that cannot take the report; a trigger file that is deleted,
re-created or replaced by a directory.  Each report must be complete, say what it could not
capture, and leave a process that keeps working."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from gmrtest import (SANITIZED, TSAN, Victim, check, run, section, split_json_reports,
                     split_text_reports)

# Under valgrind or a sanitizer, blocked threads may be captured by signal instead of the
# quiet path (their stacks pass through the tool's own syscall wrappers).
WRAPPED = bool(os.environ.get("GMR_VICTIM_WRAPPER"))
TOOL = SANITIZED or WRAPPED
SECTION_TITLES = ["Package", "Threads", "Processes", "Environment", "Resources", "Limits",
                  "Open Files", "Shared Objects", "System"]


class Session:
    """A victim-fault process and the reports it writes on stdout on request."""

    def __init__(self, *args, env=None):
        self.v = Victim("victim-fault", *args, env=env)
        self.pos = 0

    def __enter__(self):
        self.v.__enter__()
        self.v.wait_ready(timeout=30)
        self.pos = len(self.v.out)
        return self

    def __exit__(self, *exc):
        self.v.__exit__(*exc)

    def command(self, line, answer, timeout=30):
        """Sends @line; waits for the regex @answer after what was read so far."""
        self.v.send(line)
        deadline = time.monotonic() + timeout
        pat = re.compile(answer.encode())
        while True:
            m = pat.search(self.v.out, self.pos)
            if m:
                text = self.v.out[self.pos:m.start()].decode("utf-8", "replace")
                self.pos = m.end()
                return m, text
            check(time.monotonic() < deadline, "no %r after %r: %r" % (
                answer, line, self.v.out[self.pos:][-2000:]))
            self.v._pump(0.1)

    def report(self):
        m, text = self.command("report json", r"DONE (-?\d+)\n")
        check(m.group(1) == b"0", "gmr_write_report returned %s" % m.group(1))
        docs = split_json_reports(text)
        check(len(docs) == 1, "one JSON report: %r" % text[:300])
        check_complete(docs[0])
        return docs[0]

    def threads(self):
        return {int(m.group(2)): m.group(1).decode() for m in
                re.finditer(rb"THREAD (\S+) (\d+)\n", self.v.out)}


def check_complete(doc):
    titles = [s["title"] for s in doc["sections"]]
    check([t for t in titles if t in SECTION_TITLES] == SECTION_TITLES,
          "every section, in order: %r" % titles)
    for s in doc["sections"]:
        check("error" not in s, "section %s failed: %r" % (s["title"], s.get("error")))
    for t in section(doc, "Threads")["threads"]:
        cap = t.get("capture")
        check(cap in ("quiet", "signal", "none"), "capture path of %r" % t)
        if cap == "none":
            check(t.get("unavailable") or t.get("note"), "uncaptured thread explained: %r" % t)
        else:
            check(t.get("frames") or t.get("unwind_error"), "captured thread has frames: %r" % t)


def by_tid(doc, tid):
    for t in section(doc, "Threads")["threads"]:
        if t["tid"] == tid:
            return t
    raise AssertionError("thread %d missing from the report" % tid)


def functions(t):
    return [f.get("function") for f in t.get("frames", [])]


SYSTEM_BANNER = "====" + "System".center(64) + "===="


def complete_text_reports(text):
    """The text reports in @text that were written to the end (System is the last section)."""
    reps = split_text_reports(text)
    if reps and not text.endswith("\n\n"):
        reps.pop()
    return [r for r in reps if SYSTEM_BANNER in r]


def check_keeps_working(s):
    s.command("ping", r"PONG\n")
    s.v.kill(signal.SIGUSR2)
    text = s.v.wait_stderr(lambda t: len(complete_text_reports(t)) >= 1, timeout=30)
    rep = complete_text_reports(text)[-1]
    check("====" + "System".center(64) + "====" in rep, "triggered report complete: %r"
          % rep[-1500:])
    check(s.v.stop(timeout=30) == 0, "exit status")


def test_thread_blocking_every_signal():
    with Session("--sigblock") as s:
        names = {v: k for k, v in s.threads().items()}
        start = time.monotonic()
        doc = s.report()
        spin = by_tid(doc, names["sigblock_spin"])
        check(spin["capture"] == "none" and "blocks the capture signal" in spin["unavailable"],
              "the spinning thread is named with the reason: %r" % spin)
        reader = by_tid(doc, names["sigblock_read"])
        if TOOL:
            check(reader["capture"] in ("quiet", "none"), "reader: %r" % reader)
        else:
            check(reader["capture"] == "quiet" and "sigblock_reader" in functions(reader),
                  "the blocked reader is captured without a signal: %r" % reader)
        # Threads that cannot take the signal are skipped, not waited for.
        check(time.monotonic() - start < 10, "report time")
        s.command("release", r"RELEASED\n")
        check_keeps_working(s)


def test_thread_in_uninterruptible_sleep():
    # A thread that called vfork() sleeps in state D (TASK_KILLABLE) until its child execs
    # or exits; no signal reaches it meanwhile.
    if WRAPPED or TSAN:
        print("skip: valgrind and ThreadSanitizer run vfork() as fork()")
        return
    with Session("--dstate") as s:
        m = re.search(rb"DSTATE (\d+) (\S)\n", s.v.out)
        tid, state = int(m.group(1)), m.group(2).decode()
        check(state == "D", "the vfork() parent is in uninterruptible sleep: %s" % state)
        doc = s.report()
        t = by_tid(doc, tid)
        check(t["state"] == "disk sleep", "state shown: %r" % t["state"])
        threads = section(doc, "Threads")
        if not TOOL:
            # glibc's vfork() keeps its return address in rdi, which the quiet path takes
            # from the system call's arguments: the walk goes on into the caller.
            check(t["capture"] == "quiet" and "vfork_waiter" in functions(t),
                  "the vfork() parent is captured on the quiet path: %r" % t)
            # ... so the report never waits the capture timeout for a thread that cannot
            # take the signal.
            check(threads["stats"]["signal_phase_us"] < threads["capture_timeout_ms"] * 500,
                  "no wait for the capture timeout: %r" % threads["stats"])
        elif t["capture"] == "quiet":
            # A sanitizer's vfork() interceptor keeps its caller's return address off the
            # stack (in a spill area) until vfork() returns: its frame stands for vfork_waiter.
            check("vfork_waiter" in functions(t) or "vfork" in functions(t),
                  "frames: %r" % functions(t))
        else:
            # A tool's own vfork() wrapper may defeat the quiet path: the thread is then named,
            # with the reason and its state.
            check(t["capture"] == "none" and "disk sleep" in t["unavailable"],
                  "explained: %r" % t)
        procs = section(doc, "Processes")["process"]
        check(any(c["ppid"] == s.v.pid for c in procs["children"]),
              "the vfork() child is listed: %r" % procs)
        s.command("release", r"RELEASED\n")
        doc = s.report()
        check(all(t["tid"] != tid for t in section(doc, "Threads")["threads"]), "thread gone")
        check_keeps_working(s)


def test_garbage_frame_pointers_and_return_addresses():
    if WRAPPED:
        print("skip: valgrind tracks the stack pointer itself and gives up on these threads")
        return
    with Session("--garbage") as s:
        if b"GARBAGE unsupported" in s.v.out:
            print("skip: garbage frames are laid out for x86_64 only")
            return
        names = {v: k for k, v in s.threads().items()}
        for _ in range(5):
            doc = s.report()
            for name in ("garbage_cycle", "garbage_wild", "garbage_down", "garbage_read"):
                t = by_tid(doc, names[name])
                if TSAN and (name != "garbage_read" or t["capture"] == "none"):
                    # The three spinners loop in assembly and garbage_read blocks in a raw
                    # system call: none of them calls a function TSan intercepts, so TSan
                    # never runs the capture signal's handler there (gmrtest.TSAN).  The
                    # spinners, and garbage_read when the quiet path could not walk it, are
                    # named as not answering, and the report goes on.
                    check(t["capture"] == "none" and "did not answer" in t["unavailable"],
                          "%s explained: %r" % (name, t))
                    continue
                check(t["capture"] in ("quiet", "signal"), "%s captured: %r" % (name, t))
                fns = functions(t)
                check(fns and fns[0] is not None and fns[0].startswith("garbage_"),
                      "%s: the interrupted function is first: %r" % (name, fns))
                check(len(t["frames"]) <= section(doc, "Threads")["max_frames"], "bounded")
                if t["capture"] == "quiet":
                    # A quiet-path walk is kept only when it reaches the thread's first frame,
                    # so garbage never shows there: every frame is in a loaded module.
                    check(all(f.get("module") for f in t["frames"]) and "unwind_error" not in t,
                          "%s: %r" % (name, t["frames"]))
        s.command("release", r"RELEASED\n")
        check_keeps_working(s)


def test_threads_exiting_while_captured():
    # victim-threads' churn creates and joins short-lived threads without pause.
    with Victim("victim-threads", "--json", "--no-blocker") as v:
        v.wait_ready(timeout=30)
        v.send("churn on")
        time.sleep(0.2)
        exited = 0
        for i in range(1, 21):
            v.kill(signal.SIGUSR2)
            v.wait_stderr(lambda t: len(split_json_reports(t)) >= i, timeout=30)
        v.send("churn off")
        docs = v.json_reports()
        check(len(docs) == 20, "20 reports")
        for doc in docs:
            check(section(doc, "Threads")["threads"], "threads listed")
            for t in section(doc, "Threads")["threads"]:
                cap = t.get("capture")
                check(cap in ("quiet", "signal", "none"), "path: %r" % t)
                if cap == "none":
                    check(t.get("unavailable") or t.get("note"), "explained: %r" % t)
                    exited += "exited" in (t.get("unavailable") or "")
        print("threads that exited while being captured: %d" % exited)
        check(v.stop(timeout=30) == 0, "exit")


def test_fork_while_reports_run():
    # Children forked while another thread writes reports get a working libgmr of their own:
    # each writes two reports (the second must name the child) and exits; none hangs (locks
    # held at fork time) or crashes.  Found by this test: the parent's reporter was inside
    # dl_iterate_phdr() (Shared Objects) at fork(), and glibc leaves the loader's lock held in
    # the child; the child's own report then waited for it for good (docs/reliability.md).
    if WRAPPED:
        print("skip: fork children of a program run under a tool are not run by the tool")
        return
    if TSAN:
        # libgmr's fork handler starts the child's reporter thread; ThreadSanitizer does not
        # support new threads in the child of a multi-threaded fork (it turns itself off there,
        # and with die_after_fork=0 its thread registry still holds the parent's threads:
        # "dup thread with used id", then children hang with every signal blocked).
        print("skip: ThreadSanitizer does not support threads started after a multi-threaded fork")
        return
    if SANITIZED:
        # AddressSanitizer's allocator (gcc 12's libasan) takes none of its locks around
        # fork(): when a parent thread is allocating at that moment, the child inherits the
        # lock of that size class held, and the child's first malloc() of that size waits for
        # good (gdb: SizeClassAllocator64::GetFromAllocator -> Mutex::Lock, from the child's
        # own report, after fork() has returned).  Any allocating fork child of a threaded
        # program under that runtime can hang so; no fork handler of libgmr can prevent it.
        print("skip: the sanitizer's allocator is not fork-safe")
        return
    n = 40
    with Session() as s:
        m, _ = s.command("forkstorm %d" % n, r"FORKSTORM ok=(\d+) failed=(\d+)\n",
                         timeout=240)
        check(int(m.group(1)) == n and int(m.group(2)) == 0, "children: %r" % m.group(0))
        s.report()
        check_keeps_working(s)


def test_trigger_reaching_a_fork_child_before_its_reporter():
    # The trigger signal reaches the child inside fork(), before libgmr's fork handler has
    # given the child its own reporter: the child writes one report for it, as itself; the
    # parent writes none.
    if WRAPPED:
        print("skip: fork children of a program run under a tool are not run by the tool")
        return
    if TSAN:
        print("skip: ThreadSanitizer runs no signal handler in a multi-threaded fork's child")
        return
    with Session("--json") as s:
        m, _ = s.command("forksig", r"CHILD (\d+)\n")
        child = int(m.group(1))
        s.v.wait_stderr(lambda t: len(split_json_reports(t)) >= 1, timeout=30)
        time.sleep(0.5)  # a second report (the parent's, or the child's again) would be here
        docs = s.v.json_reports()
        check([d["header"]["pid"] for d in docs] == [child],
              "one report, the child's: %r" % [d["header"] for d in docs])
        check(docs[0]["header"]["trigger"] == "signal SIGUSR2", "trigger %r" %
              docs[0]["header"]["trigger"])
        m, _ = s.command("reap", r"REAPED (-?\d+)\n")
        check(m.group(1) == b"0", "child status %s" % m.group(1))
        s.command("ping", r"PONG\n")
        check(s.v.stop(timeout=30) == 0, "exit status")


def test_exec_inherits_no_descriptor_and_no_signal_disposition():
    d = tempfile.mkdtemp(prefix="gmr-exec-")
    try:
        trigger = os.path.join(d, "trigger")
        env = {"XDG_RUNTIME_DIR": d}
        with Session("--file-trigger", trigger, "--control-socket", env=env) as s:
            s.report()  # the symbolizer has now opened ELF and debug files
            m, text = s.command("exec", r"EXECED (-?\d+)\n")
            check(m.group(1) == b"0", "exec'd child status %s" % m.group(1))
            fds = dict(re.findall(r"FD (\d+) (.*)\n", text))
            check(sorted(fds) == ["0", "1", "2"],
                  "only stdin, stdout and stderr cross exec: %r" % fds)
            masks = {k: int(v, 16) for k, v in re.findall(r"(Sig\w+):\s*([0-9a-f]+)\n", text)}
            # What the victim itself inherited (its main thread made the child).
            with open("/proc/%d/status" % s.v.pid) as f:
                own = {k: int(v, 16) for k, v in re.findall(r"(Sig\w+):\s*([0-9a-f]+)\n",
                                                            f.read())}
            for k in ("SigBlk", "SigIgn"):
                check(masks[k] == own[k], "%s of the new image: %x, the victim's: %x"
                      % (k, masks[k], own[k]))
            # A sanitizer's runtime catches SIGSEGV, SIGBUS and SIGFPE in the new image itself.
            ours = (1 << (signal.SIGUSR2 - 1)) | sum(
                1 << (s - 1) for s in range(signal.SIGRTMIN, signal.SIGRTMAX + 1))
            check(masks["SigCgt"] & ours == 0 and (SANITIZED or masks["SigCgt"] == 0),
                  "SigCgt of the new image: %x" % masks["SigCgt"])
            check_keeps_working(s)
    finally:
        shutil.rmtree(d)


def wait_stderr_report(v, n, timeout=30):
    return v.wait_stderr(lambda t: len(complete_text_reports(t)) >= n, timeout=timeout)


def check_fallback(v, reason_re):
    text = wait_stderr_report(v, 1)
    first = text.split("\n", 1)[0]
    check(re.match(r"libgmr: cannot write the report to log_dir .*: %s; writing it here "
                   r"instead$" % reason_re, first), "one-line reason first: %r" % first)
    check(len(split_text_reports(text)) == 1, "the whole report follows")


class AsUser(Victim):
    """A victim run under another uid and gid (root only)."""

    def __init__(self, uid, name, *args):
        path = os.path.join(os.environ.get("GMR_VICTIM_DIR", "."), name)
        wrapper = os.environ.get("GMR_VICTIM_WRAPPER", "").split()
        self.proc = subprocess.Popen([*wrapper, path, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     user=uid, group=uid, extra_groups=[], cwd="/")
        self.pid = self.proc.pid
        self.out = self.err = b""
        self.eof = set()


def test_log_dir_unwritable_for_an_unprivileged_user():
    if os.geteuid() != 0:
        print("skip: needs root to run the victim as another user")
        return
    d = tempfile.mkdtemp(prefix="gmr-logdir-")
    os.chmod(d, 0o755)  # owned by root: nobody cannot create files there
    try:
        v = AsUser(65534, "victim-fault", "--log-dir", d)
        with v:
            v.wait_ready(timeout=30)
            v.kill(signal.SIGUSR2)
            check_fallback(v, "Permission denied")
            check(os.listdir(d) == [], "nothing left in the directory")
            check(v.stop(timeout=30) == 0, "exit")
    finally:
        shutil.rmtree(d)


def mount(*args):
    return subprocess.run(["mount", *args], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def test_log_dir_on_read_only_mount():
    if os.geteuid() != 0:
        print("skip: needs root to mount")
        return
    d = tempfile.mkdtemp(prefix="gmr-logdir-")
    try:
        if not (mount("--bind", d, d) and mount("-o", "remount,bind,ro", d)):
            print("skip: cannot bind-mount read-only here")
            return
        try:
            with Victim("victim-fault", "--log-dir", d) as v:
                v.wait_ready(timeout=30)
                v.kill(signal.SIGUSR2)
                check_fallback(v, "Read-only file system")
                check(v.stop(timeout=30) == 0, "exit")
        finally:
            subprocess.run(["umount", d])
    finally:
        shutil.rmtree(d)


def test_log_dir_full():
    if os.geteuid() != 0:
        print("skip: needs root to mount a small tmpfs")
        return
    d = tempfile.mkdtemp(prefix="gmr-logdir-")
    try:
        if not mount("-t", "tmpfs", "-o", "size=8k,mode=0755", "tmpfs", d):
            print("skip: cannot mount tmpfs here")
            return
        try:
            with Victim("victim-fault", "--log-dir", d) as v:
                v.wait_ready(timeout=30)
                v.kill(signal.SIGUSR2)
                check_fallback(v, "No space left on device")
                check(os.listdir(d) == [], "the partial file is removed: %r" % os.listdir(d))
                check(v.stop(timeout=30) == 0, "exit")
        finally:
            subprocess.run(["umount", d])
    finally:
        shutil.rmtree(d)


def test_log_dir_beyond_file_size_limit():
    # RLIMIT_FSIZE: write() fails with EFBIG and the kernel sends SIGXFSZ, whose default
    # action would kill the process.
    d = tempfile.mkdtemp(prefix="gmr-logdir-")
    try:
        with Victim("victim-fault", "--log-dir", d, "--fsize-limit", "4096") as v:
            v.wait_ready(timeout=30)
            for n in (1, 2):
                v.kill(signal.SIGUSR2)
                wait_stderr_report(v, n)
            first = v.err.decode().split("\n", 1)[0]
            check(re.match(r"libgmr: cannot write the report to log_dir .*: File too large; "
                           r"writing it here instead$", first), "reason: %r" % first)
            check(os.listdir(d) == [], "no partial file: %r" % os.listdir(d))
            check(v.stop(timeout=30) == 0, "the process survived SIGXFSZ")
    finally:
        shutil.rmtree(d)


def test_trigger_file_deleted_recreated_and_replaced_by_a_directory():
    d = tempfile.mkdtemp(prefix="gmr-trigger-")
    path = os.path.join(d, "trigger")
    try:
        with open(path, "w"):
            pass
        with Victim("victim-fault", "--json", "--file-trigger", path) as v:
            v.wait_ready(timeout=30)
            count = [0]

            def expect_report(what):
                count[0] += 1
                v.wait_stderr(lambda t: len(split_json_reports(t)) >= count[0], timeout=30,
                              what="report after " + what)
                time.sleep(1.1)  # triggers are at least one interval apart

            time.sleep(1.1)
            os.utime(path)
            expect_report("touch")
            os.unlink(path)
            os.mkdir(path)  # a directory where the file was
            time.sleep(1.5)
            os.rmdir(path)
            with open(path, "w") as f:  # a file again
                f.write("x")
            expect_report("re-creation after the directory")
            os.unlink(path)
            time.sleep(1.1)
            with open(path, "w"):
                pass
            expect_report("re-creation")
            # A rename over the file replaces it, as editors do.
            with open(path + ".new", "w") as f:
                f.write("new")
            os.rename(path + ".new", path)
            expect_report("replacement")
            # The whole directory goes away and comes back.
            shutil.rmtree(d)
            time.sleep(1.1)
            os.mkdir(d)
            with open(path, "w"):
                pass
            expect_report("directory re-created")
            docs = v.json_reports()
            check(len(docs) == count[0], "one report per change: %d" % len(docs))
            for doc in docs:
                check(doc["header"]["trigger"] == "file " + path, "trigger %r" %
                      doc["header"]["trigger"])
            v.kill(signal.SIGUSR2)  # the explicit signal trigger works beside the file
            v.wait_stderr(lambda t: len(split_json_reports(t)) > count[0], timeout=30)
            check(v.stop(timeout=30) == 0, "exit")
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    run([
        test_thread_blocking_every_signal,
        test_thread_in_uninterruptible_sleep,
        test_garbage_frame_pointers_and_return_addresses,
        test_threads_exiting_while_captured,
        test_fork_while_reports_run,
        test_trigger_reaching_a_fork_child_before_its_reporter,
        test_exec_inherits_no_descriptor_and_no_signal_disposition,
        test_log_dir_unwritable_for_an_unprivileged_user,
        test_log_dir_on_read_only_mount,
        test_log_dir_full,
        test_log_dir_beyond_file_size_limit,
        test_trigger_file_deleted_recreated_and_replaced_by_a_directory,
    ])
