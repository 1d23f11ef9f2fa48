"""`meson install` gives a usable library: the README's example, compiled against the installed
header with pkg-config and run, writes a report with its own section on SIGUSR2."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from gmrtest import BUILD_DIR, SOURCE_DIR, check, run, split_text_reports


def test_installed_library_builds_and_runs_readme_example():
    tmp = tempfile.mkdtemp(prefix="gmr-install-")
    try:
        dest = os.path.join(tmp, "root")
        subprocess.run(["meson", "install", "--no-rebuild", "--quiet", "-C", BUILD_DIR,
                        "--destdir", dest], check=True, stdout=subprocess.DEVNULL)
        pcs = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs if f == "gmr.pc"]
        check(len(pcs) == 1, "one gmr.pc installed: %r" % pcs)
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]),
                   PKG_CONFIG_SYSROOT_DIR=dest)
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "gmr"], env=env,
                               check=True, capture_output=True, text=True).stdout.split()
        exe = os.path.join(tmp, "minimal")
        subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror",
                        os.path.join(SOURCE_DIR, "examples", "minimal.c"), "-o", exe] + flags,
                       check=True)
        libdirs = [f[2:] for f in flags if f.startswith("-L")]
        proc = subprocess.Popen([exe], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=dict(os.environ, LD_LIBRARY_PATH=":".join(libdirs)))
        try:
            line = proc.stdout.readline().decode()
            check(re.match(r"kill -USR2 \d+ for a report", line), "started: %r" % line)
            os.kill(proc.pid, signal.SIGUSR2)
            err = b""
            deadline = time.monotonic() + 10
            while b"requests = " not in err and time.monotonic() < deadline:
                err += os.read(proc.stderr.fileno(), 65536)
            reps = split_text_reports(err.decode())
            check(len(reps) == 1, "one report: %r" % err[-500:])
            check("product = example-service\n" in reps[0], "Package section")
            check(re.search(r"Request Stats +====\n=+\nrequests = \d+\n", reps[0]),
                  "own section")
        finally:
            proc.kill()
            proc.wait()
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    run([test_installed_library_builds_and_runs_readme_example])
