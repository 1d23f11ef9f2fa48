"""Helpers shared by the tests of libgmr-preload.so, the gmr command and the real programs."""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from gmrtest import TestFailure, check

PRELOAD = os.environ.get("GMR_PRELOAD", "libgmr-preload.so")
CLI = os.environ.get("GMR_CLI", "gmr")


class Runtime:
    """A private runtime directory (XDG_RUNTIME_DIR) and a scratch directory, removed after."""

    def __enter__(self):
        self.root = tempfile.mkdtemp(prefix="gmr-it-")
        self.xdg = os.path.join(self.root, "run")
        os.mkdir(self.xdg, 0o700)
        self.sockdir = os.path.join(self.xdg, "gmr")
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.root, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def env(self, **extra):
        """The environment of a preloaded program (and of gmr, which finds its sockets)."""
        env = {"LD_PRELOAD": PRELOAD, "XDG_RUNTIME_DIR": self.xdg}
        env.update(extra)
        return env

    def gmr(self, *args, timeout=60, stdin=None):
        """Runs gmr; returns (exit code, stdout bytes, stderr text)."""
        env = dict(os.environ)
        env["XDG_RUNTIME_DIR"] = self.xdg
        env.pop("LD_PRELOAD", None)
        p = subprocess.run([CLI, *args], env=env, capture_output=True, timeout=timeout,
                           input=stdin)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")

    def socket_of(self, pid):
        return os.path.join(self.sockdir, "%d.sock" % pid)


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TestFailure("timed out waiting for " + what)
        time.sleep(0.05)


def report_files(d):
    return sorted(f for f in os.listdir(d) if "_gurumeditation_" in f and not f.startswith("."))


def caught_signals(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"^SigCgt:\s*([0-9a-f]+)$", f.read(), re.M)
    mask = int(m.group(1), 16)
    return {s for s in range(1, 65) if mask >> (s - 1) & 1}


def threads_of(doc):
    for s in doc["sections"]:
        if s.get("type") == "threads":
            return s.get("threads", [])
    raise TestFailure("no Threads section")


def functions(thread):
    return [f.get("function") or "" for f in thread.get("frames", [])]


def normalize(text):
    """Masks what differs between two reports of one process taken moments apart."""
    text = re.sub(r"^(time|trigger) = .*$", r"\1 = X", text, flags=re.M)
    return re.sub(r"\d+", "0", text)


def gmr_json(rt, pid):
    code, out, err = rt.gmr("report", str(pid), "--format", "json")
    check(code == 0, "gmr report %d: %d %s" % (pid, code, err))
    return json.loads(out)


def kill_quietly(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
