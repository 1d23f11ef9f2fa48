"""Shared helpers for libgmr's integration tests.

A test starts a victim program (tests/integration/helpers/victim-*.c), waits until it prints
READY on stdout, triggers reports the way an operator would (kill -USR2, touching a file) and
checks what the process really wrote.  Reports go to the victim's stderr, which the test reads
through a pipe.
"""

import ctypes
import json
import os
import re
import select
import signal
import subprocess
import sys
import time

VICTIM_DIR = os.environ.get("GMR_VICTIM_DIR", ".")
BUILD_DIR = os.environ.get("GMR_BUILD_DIR", ".")
SOURCE_DIR = os.environ.get("GMR_SOURCE_DIR", ".")

# Set by meson for sanitizer builds to b_sanitize's value (see tests/integration/meson.build).
SANITIZED = bool(os.environ.get("GMR_SANITIZED"))
# ThreadSanitizer runs the handler of an asynchronous signal at once only when the thread that
# receives it is blocked in a call TSan knows may block (read(), poll(), pause(), ...);
# otherwise it records the signal and runs the handler when that thread next enters or leaves
# an intercepted function or makes an atomic operation, with a copy of the context of the
# moment the signal arrived.  A thread that loops without either never runs it.  The victims'
# main threads wait in fgets(), which TSan does not count as blocking, so a signal they receive
# waits for the next line on stdin (Victim.nudge()); and a capture signal taken late comes with
# registers of one moment and a stack of a later one (docs/reliability.md, "CI").
TSAN = "thread" in os.environ.get("GMR_SANITIZED", "").split(",")

BANNER = "=" * 72

_libc = ctypes.CDLL(None, use_errno=True)


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


class Victim:
    """A running victim process whose stderr (where reports go) is collected."""

    def __init__(self, name, *args, env=None, cwd=None):
        path = os.path.join(VICTIM_DIR, name)
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        # GMR_VICTIM_WRAPPER runs victims under a tool, e.g. "valgrind --error-exitcode=99 -q".
        wrapper = os.environ.get("GMR_VICTIM_WRAPPER", "").split()
        self.proc = subprocess.Popen(
            [*wrapper, path, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            cwd=cwd,
        )
        self.pid = self.proc.pid
        self.out = b""
        self.err = b""
        self.eof = set()

    def _pump(self, timeout):
        """Reads whatever stdout/stderr have within @timeout seconds."""
        fds = [f for f in (self.proc.stdout, self.proc.stderr) if f and f not in self.eof]
        if not fds:
            if timeout:
                time.sleep(timeout)
            return False
        ready, _, _ = select.select(fds, [], [], timeout)
        got = False
        for f in ready:
            chunk = os.read(f.fileno(), 1 << 20)
            if not chunk:
                self.eof.add(f)
            elif f is self.proc.stdout:
                self.out += chunk
            else:
                self.err += chunk
            got = got or bool(chunk)
        return got

    def wait_stdout(self, pattern, timeout=10.0):
        """Waits until stdout matches @pattern (a regex); returns the match."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern.encode(), self.out)
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None and not self._pump(0):
                raise TestFailure(
                    "victim %d: no %r on stdout; stdout=%r stderr=%r"
                    % (self.pid, pattern, self.out[-2000:], self.err[-2000:]))
            self._pump(min(left, 0.2))

    def wait_ready(self, timeout=10.0):
        self.wait_stdout(r"READY\n", timeout)

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def kill(self, sig=signal.SIGUSR2):
        if TSAN:
            # To the main thread, then nudged (see TSAN above): sent to the process, the
            # signal could go to a thread that spins without an intercepted call and never
            # be handled.
            if _libc.tgkill(self.pid, self.pid, sig) < 0:
                raise OSError(ctypes.get_errno(), "tgkill")
            self.nudge()
        else:
            os.kill(self.pid, sig)

    def nudge(self):
        """Under TSan, sends an empty line (the victims ignore it, and programs that read no
        stdin never see it): a signal that went to the main thread, waiting in fgets(), is
        handled when fgets() returns (see TSAN above)."""
        if TSAN and self.proc.poll() is None:
            try:
                self.send("")
            except (BrokenPipeError, ValueError):
                pass

    def wait_stderr(self, predicate, timeout=10.0, what="report"):
        """Waits until predicate(stderr text) is true; returns the text."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.err.decode("utf-8", "replace")
            if predicate(text):
                return text
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("victim %d: timed out waiting for %s; stderr tail=%r"
                                  % (self.pid, what, text[-3000:]))
            self._pump(min(left, 0.2))

    def text_reports(self, text=None):
        """Splits stderr into complete text reports (each ends with the END_MARK section)."""
        text = self.err.decode("utf-8", "replace") if text is None else text
        return split_text_reports(text)

    def json_reports(self):
        return split_json_reports(self.err.decode("utf-8", "replace"))

    def stop(self, timeout=10.0):
        """Closes stdin (victims exit on EOF) and waits; returns the exit status."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise TestFailure("victim %d did not exit" % self.pid)
            self._pump(0.1)
        while self._pump(0):
            pass
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except Exception:
                pass


REPORT_START = BANNER + "\n====" + "Guru Meditation".center(64) + "====\n"


def split_text_reports(text):
    """Returns the complete text reports in @text (a report ends with an empty line and is
    followed by the next report's banner or the end of the text)."""
    parts = text.split(REPORT_START)
    reports = []
    for p in parts[1:]:
        reports.append(REPORT_START + p)
    return reports


def split_json_reports(text):
    """Returns the complete JSON reports in @text, parsed; other text around them (a text
    report, a "{" in a source line) is skipped."""
    dec = json.JSONDecoder()
    docs = []
    i = 0
    while True:
        j = text.find("{", i)
        if j < 0:
            break
        try:
            doc, end = dec.raw_decode(text, j)
        except ValueError:
            i = j + 1
            continue
        if isinstance(doc, dict) and "format_version" in doc:
            docs.append(doc)
        i = end
    return docs


def section(doc, title):
    for s in doc["sections"]:
        if s["title"] == title:
            return s
    raise TestFailure("no section %r in report" % title)


def text_section(report, title):
    """The body of section @title in a text report (between its banner and the next one)."""
    head = BANNER + "\n====" + title.center(64) + "====\n" + BANNER + "\n"
    i = report.find(head)
    check(i >= 0, "no section %r in text report" % title)
    body = report[i + len(head):]
    j = body.find(BANNER + "\n====")
    return body if j < 0 else body[:j]


def run(tests):
    """Runs test functions; prints one line each; exits non-zero on any failure."""
    failed = 0
    names = sys.argv[1:]
    for t in tests:
        if names and t.__name__ not in names:
            continue
        start = time.monotonic()
        try:
            t()
            print("ok   %s (%.2fs)" % (t.__name__, time.monotonic() - start))
        except Exception as e:  # noqa: BLE001 - report every failure the same way
            failed += 1
            print("FAIL %s: %s: %s" % (t.__name__, type(e).__name__, e))
        sys.stdout.flush()
    sys.exit(1 if failed else 0)
