"""Report files in a log directory and the file trigger, as an operator uses them."""

import os
import re
import shutil
import signal
import stat
import tempfile
import time

from gmrtest import Victim, check, run, split_json_reports, split_text_reports

NAME_RE = re.compile(r"victim-basic_gurumeditation_(\d{14})(_\d+)?(\.json)?$")


def report_files(d):
    return sorted(f for f in os.listdir(d) if NAME_RE.match(f))


def wait_files(d, n, timeout=10):
    deadline = time.monotonic() + timeout
    while len(report_files(d)) < n:
        check(time.monotonic() < deadline, "expected %d report files in %s: %r"
              % (n, d, os.listdir(d)))
        time.sleep(0.01)
    return report_files(d)


def sig_caught(pid, signo):
    with open("/proc/%d/status" % pid) as f:
        mask = int(re.search(r"^SigCgt:\s*([0-9a-f]+)$", f.read(), re.M).group(1), 16)
    return bool(mask & (1 << (signo - 1)))


def test_reports_go_to_new_files_in_log_dir():
    d = tempfile.mkdtemp(prefix="gmr-logdir-")
    try:
        with Victim("victim-basic", "--log-dir", d) as v:
            v.wait_ready()
            start = time.gmtime()
            # 20 reports as fast as they come: many within one second, none overwritten.
            for n in range(1, 21):
                v.kill(signal.SIGUSR2)
                wait_files(d, n)
            files = report_files(d)
            check(len(files) == 20 and len(set(files)) == 20, "20 distinct files: %r" % files)
            for f in files:
                m = NAME_RE.match(f)
                check(time.strftime("%Y%m%d%H%M%S", start) <= m.group(1), "UTC timestamp")
                st = os.lstat(os.path.join(d, f))
                check(stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600,
                      "mode of %s: %o" % (f, st.st_mode))
                with open(os.path.join(d, f)) as fh:
                    reps = split_text_reports(fh.read())
                check(len(reps) == 1 and "end = yes\n" in reps[0], "complete report in " + f)
            check(any(NAME_RE.match(f).group(2) for f in files) or
                  len({NAME_RE.match(f).group(1) for f in files}) == 20,
                  "same-second reports got a suffix")
            check(not [f for f in os.listdir(d) if f.startswith(".")], "no temporary files left")
            check(v.stop() == 0, "exit")
            check(v.err == b"", "nothing on stderr: %r" % v.err[:300])
    finally:
        shutil.rmtree(d)


def test_json_report_files_end_in_json():
    d = tempfile.mkdtemp(prefix="gmr-logdir-")
    try:
        with Victim("victim-basic", "--log-dir", d, "--json") as v:
            v.wait_ready()
            v.kill(signal.SIGUSR2)
            f = wait_files(d, 1)[0]
            check(f.endswith(".json"), "name %s" % f)
            with open(os.path.join(d, f)) as fh:
                docs = split_json_reports(fh.read())
            check(len(docs) == 1 and docs[0]["header"]["pid"] == v.pid, "the report")
            check(v.stop() == 0, "exit")
    finally:
        shutil.rmtree(d)


def test_missing_log_dir_falls_back_to_stderr_with_reason():
    d = tempfile.mkdtemp(prefix="gmr-logdir-")
    missing = os.path.join(d, "does-not-exist")
    try:
        with Victim("victim-basic", "--log-dir", missing) as v:
            v.wait_ready()
            v.kill(signal.SIGUSR2)
            text = v.wait_stderr(lambda t: "end = yes\n" in t)
            first, rest = text.split("\n", 1)
            check(first == "libgmr: cannot write the report to log_dir %s: No such file or "
                           "directory; writing it here instead" % missing, "reason: %r" % first)
            check(len(split_text_reports(rest)) == 1, "the whole report follows")
            check(v.stop() == 0, "exit")
    finally:
        shutil.rmtree(d)


def test_symlink_planted_at_report_name_is_not_followed():
    d = tempfile.mkdtemp(prefix="gmr-logdir-")
    target = os.path.join(d, "victim-target")
    try:
        with open(target, "w") as f:
            f.write("precious\n")
        # Plant links at the names of the next few seconds.
        now = time.time()
        for s in range(0, 5):
            name = "victim-basic_gurumeditation_" + time.strftime("%Y%m%d%H%M%S",
                                                                   time.gmtime(now + s))
            os.symlink(target, os.path.join(d, name))
        with Victim("victim-basic", "--log-dir", d) as v:
            v.wait_ready()
            v.kill(signal.SIGUSR2)
            deadline = time.monotonic() + 10
            while True:
                files = [f for f in report_files(d) if not os.path.islink(os.path.join(d, f))]
                if files:
                    break
                check(time.monotonic() < deadline, "no report file")
                time.sleep(0.01)
            check(NAME_RE.match(files[0]).group(2), "a suffixed name: %s" % files[0])
            with open(target) as f:
                check(f.read() == "precious\n", "the link target is untouched")
            check(v.stop() == 0, "exit")
    finally:
        shutil.rmtree(d)


def test_file_trigger_touch_delete_recreate():
    d = tempfile.mkdtemp(prefix="gmr-trigger-")
    path = os.path.join(d, "gmr_trigger")  # absent at start
    try:
        with Victim("victim-basic", "--json", "--file-trigger", path) as v:
            v.wait_ready()
            # The file trigger replaces the signal trigger, as in oslo.reports.
            if not os.environ.get("GMR_VICTIM_WRAPPER"):  # a tool may catch every signal
                check(not sig_caught(v.pid, signal.SIGUSR2), "SIGUSR2 left alone")
            with open(path, "w"):
                pass  # created: a report
            v.wait_stderr(lambda t: len(split_json_reports(t)) >= 1)
            check(v.json_reports()[0]["header"]["trigger"] == "file " + path, "trigger")
            time.sleep(1.1)  # triggers are at least one interval apart
            os.utime(path)  # touched: a report
            v.wait_stderr(lambda t: len(split_json_reports(t)) >= 2)
            os.unlink(path)
            time.sleep(1.1)
            with open(path, "w") as f:  # re-created: still watched
                f.write("x")
            v.wait_stderr(lambda t: len(split_json_reports(t)) >= 3)
            check(v.stop() == 0, "exit")
            check(len(v.json_reports()) == 3, "one report per change")
    finally:
        shutil.rmtree(d)


if __name__ == "__main__":
    run([
        test_reports_go_to_new_files_in_log_dir,
        test_json_report_files_end_in_json,
        test_missing_log_dir_falls_back_to_stderr_with_reason,
        test_symlink_planted_at_report_name_is_not_followed,
        test_file_trigger_touch_delete_recreate,
    ])
