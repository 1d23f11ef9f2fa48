"""Faults inside the host process: threads that cannot be interrupted, that sleep
uninterruptibly, that exit while being captured or whose stacks hold garbage; fork and exec
around reports; a log directory that cannot take the report; a trigger file that is deleted,
re-created or replaced by a directory.  Each report must be complete, say what it could not
capture, and leave a process that keeps working."""

import os
import re
import shutil
import signal
import tempfile
import time

from gmrtest import (SANITIZED, Victim, check, run, section, split_json_reports,
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
            masks = dict(re.findall(r"(Sig\w+):\s*([0-9a-f]+)\n", text))
            for k in ("SigBlk", "SigIgn", "SigCgt"):
                check(int(masks[k], 16) == 0, "%s of the new image: %s" % (k, masks[k]))
            check_keeps_working(s)
    finally:
        shutil.rmtree(d)


if __name__ == "__main__":
    run([
        test_exec_inherits_no_descriptor_and_no_signal_disposition,
    ])
