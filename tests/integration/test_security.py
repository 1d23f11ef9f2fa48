"""Security: report files are private and never written through a planted symlink; secrets
appear in no output of any kind; capture signals from other processes, with forged values,
change nothing."""

import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time

from gmrtest import (SANITIZED, Victim, check, run, section, split_json_reports,
                     split_text_reports)

VICTIM_DIR = os.environ.get("GMR_VICTIM_DIR", ".")
TOOL = SANITIZED or bool(os.environ.get("GMR_VICTIM_WRAPPER"))
SYSTEM_BANNER = "====" + "System".center(64) + "===="
NAME_RE = re.compile(r"^victim-fault_gurumeditation_\d{14}(_\d+)?(\.json)?$")

# Planted secrets: each must appear in no report, no file and no line on stderr.
SECRETS = {
    "conf_secret": "pw-conf-6f1c93",          # [keystone] password (a secret option)
    "conf_list": "key-list-2b7e51",           # [keystone] extra_keys (a secret list)
    "conf_url": "pw-url-a4d820",              # [database] connection = mysql://u:<pw>@...
    "conf_unregistered": "tok-unreg-93c1aa",  # [extra] api_token, not registered
    "cli_secret": "pw-cli-5d02f7",            # --keystone-password <pw> on the command line
    "cli_url": "pw-cliurl-77e0b3",            # --transport-url=rabbit://u:<pw>@...
    "env_secret": "pw-env-c81d4e",            # DB_PASSWORD
    "env_token": "tok-env-0b9f6c",            # SERVICE_AUTH_TOKEN
    "env_url": "pw-envurl-e3a117",            # DATABASE_URL=postgresql://u:<pw>@...
    "env_session": "sess-env-4c55d0",         # SESSION_COOKIE
}


def complete_text_reports(text):
    reps = split_text_reports(text)
    if reps and not text.endswith("\n\n"):
        reps.pop()
    return [r for r in reps if SYSTEM_BANNER in r]


def wait_count(v, token, n, timeout=300 if TOOL else 60):
    """Waits until @token appears @n times on the victim's stdout."""
    deadline = time.monotonic() + timeout
    while v.out.count(token) < n:
        check(time.monotonic() < deadline and v.proc.poll() is None,
              "%d x %r on stdout: %r" % (n, token, v.out[-1000:]))
        v._pump(0.1)


def test_secrets_appear_in_no_output():
    d = tempfile.mkdtemp(prefix="gmr-secrets-")
    try:
        logdir = os.path.join(d, "reports")
        os.mkdir(logdir)
        conf = os.path.join(d, "service.conf")
        with open(conf, "w") as f:
            f.write("[database]\nconnection = mysql://nova:%s@db.example:3306/nova\n\n"
                    "[keystone]\npassword = %s\nextra_keys = a,%s,b\n\n"
                    "[extra]\napi_token = %s\n\n"
                    "[oslo_reports]\nlog_dir = %s\n"
                    % (SECRETS["conf_url"], SECRETS["conf_secret"], SECRETS["conf_list"],
                       SECRETS["conf_unregistered"], logdir))
        env = {"DB_PASSWORD": SECRETS["env_secret"],
               "SERVICE_AUTH_TOKEN": SECRETS["env_token"],
               "DATABASE_URL": "postgresql://app:%s@db.example/app" % SECRETS["env_url"],
               "SESSION_COOKIE": SECRETS["env_session"],
               "XDG_RUNTIME_DIR": d}
        args = ["--config", conf, "--control-socket", "--",
                "--keystone-password", SECRETS["cli_secret"],
                "--transport-url=rabbit://guest:%s@mq.example:5672/" % SECRETS["cli_url"]]
        outputs = {}
        with Victim("victim-fault", *args, env=env) as v:
            v.wait_ready(timeout=30)
            for n, fmt in enumerate(("text", "json"), 1):
                v.send("report " + fmt)
                wait_count(v, b"DONE 0\n", n)
            v.kill(signal.SIGUSR2)  # a file in log_dir
            deadline = time.monotonic() + 30
            while not [f for f in os.listdir(logdir) if NAME_RE.match(f)]:
                check(time.monotonic() < deadline, "no report file in log_dir")
                time.sleep(0.05)
            gmr = os.environ.get("GMR_CLI")
            if gmr:  # the control socket, through the gmr command
                for fmt in ("text", "json"):
                    r = subprocess.run([gmr, "report", str(v.pid), "--format", fmt],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       env=dict(os.environ, XDG_RUNTIME_DIR=d), timeout=60)
                    outputs["gmr report " + fmt] = r.stdout + r.stderr
            check(v.stop(timeout=30) == 0, "exit")
            outputs["stdout (gmr_write_report text and json)"] = v.out
            outputs["stderr"] = v.err
        docs = split_json_reports(v.out.decode("utf-8", "replace"))
        check(docs, "a JSON report")
        check("Configuration" in [s["title"] for s in docs[0]["sections"]], "configuration")
        check(b"mysql://nova:***@db.example" in v.out, "URL shown with its password masked")
        for f in os.listdir(logdir):
            with open(os.path.join(logdir, f), "rb") as fh:
                outputs["file " + f] = fh.read()
        check(len(outputs) >= 3, "outputs collected: %r" % list(outputs))
        for where, data in outputs.items():
            for what, secret in SECRETS.items():
                check(secret.encode() not in data,
                      "%s leaked into %s: %r" % (what, where, data[
                          max(0, data.find(secret.encode()) - 200):][:400]))
        print("outputs searched: %s" % ", ".join(sorted(outputs)))
    finally:
        shutil.rmtree(d)


def test_report_files_private_and_planted_symlinks_not_followed():
    # A world-writable sticky directory, like /tmp, where another user plants symlinks at
    # the names the next reports will take, and at names that do not exist yet.
    d = tempfile.mkdtemp(prefix="gmr-sticky-")
    os.chmod(d, 0o1777)
    victim_dir = tempfile.mkdtemp(prefix="gmr-target-")
    try:
        target = os.path.join(victim_dir, "precious")
        with open(target, "w") as f:
            f.write("precious\n")
        dangling = os.path.join(victim_dir, "created-through-a-link")
        now = time.time()
        planted = []
        for s in range(0, 6):
            base = "victim-fault_gurumeditation_" + time.strftime(
                "%Y%m%d%H%M%S", time.gmtime(now + s))
            for name, dest in ((base, target), (base + "_1", dangling),
                               (base + ".json", dangling)):
                os.symlink(dest, os.path.join(d, name))
                planted.append(name)
                if os.geteuid() == 0:
                    os.lchown(os.path.join(d, name), 65534, 65534)
        with Victim("victim-fault", "--log-dir", d) as v:
            v.wait_ready(timeout=30)
            os.umask(0o022)
            for n in range(1, 4):
                v.kill(signal.SIGUSR2)
                deadline = time.monotonic() + 30
                while len([f for f in os.listdir(d) if NAME_RE.match(f) and
                           not os.path.islink(os.path.join(d, f))]) < n:
                    check(time.monotonic() < deadline, "report %d not written" % n)
                    time.sleep(0.02)
            check(v.stop(timeout=30) == 0, "exit")
        files = [f for f in os.listdir(d) if not os.path.islink(os.path.join(d, f))]
        check(len(files) == 3, "three report files: %r" % files)
        for f in files:
            st = os.lstat(os.path.join(d, f))
            check(stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600,
                  "%s: mode %o" % (f, st.st_mode))
            check(st.st_uid == os.geteuid(), "owned by the process's user")
        for name in planted:
            check(os.path.islink(os.path.join(d, name)), "planted link %s left alone" % name)
        with open(target) as f:
            check(f.read() == "precious\n", "the link target is untouched")
        check(not os.path.exists(dangling), "nothing created through a dangling link")
        check(not [f for f in os.listdir(d) if f.startswith(".")], "no temporary file left")
    finally:
        shutil.rmtree(d)
        shutil.rmtree(victim_dir)


def forge(pid, count, sig, tid=None):
    cmd = [os.path.join(VICTIM_DIR, "victim-storm-kill"), str(pid), str(count), "forge",
           str(sig)] + ([str(tid)] if tid else [])
    out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, timeout=120).stdout.decode()
    return int(re.match(r"SENT (\d+)", out).group(1))


def capture_signal_of(doc):
    name = section(doc, "Threads")["capture_signal"]
    if name == "SIGRTMAX":
        return signal.SIGRTMAX
    m = re.match(r"SIGRT(MIN|MAX)([+-]\d+)?$", name)
    base = signal.SIGRTMIN if m.group(1) == "MIN" else signal.SIGRTMAX
    return base + int(m.group(2) or 0)


def test_forged_capture_signals_are_ignored():
    # Other processes queue the capture signal with si_code SI_QUEUE and si_pid forged to the
    # victim's own pid (rt_sigqueueinfo() lets any process of the same user, or root, do that),
    # carrying values shaped like the tickets that arm a capture slot; plain kill() too.
    # Under valgrind, which runs one thread at a time, the garbage spinners would take most of
    # the victim's time; the threads that block or ignore signals are enough there.
    args = ["--sigblock"] if os.environ.get("GMR_VICTIM_WRAPPER") else ["--garbage", "--sigblock"]
    with Victim("victim-fault", *args) as v:
        v.wait_ready(timeout=30)
        tids = [int(t) for t in re.findall(rb"THREAD \S+ (\d+)\n", v.out)]
        v.send("report json")
        v.wait_stdout(r"DONE 0\n", timeout=180)
        doc = split_json_reports(v.out.decode("utf-8", "replace"))[-1]
        sig = capture_signal_of(doc)
        n = 2000 if TOOL else 20000
        sent = forge(v.pid, n, sig)
        for tid in tids[:3]:
            sent += forge(v.pid, n // 10, sig, tid)
        os.kill(v.pid, sig)
        check(sent > 0, "forged signals were accepted by the kernel")
        # Reports keep working while more forged signals arrive.
        forger = subprocess.Popen([os.path.join(VICTIM_DIR, "victim-storm-kill"),
                                   str(v.pid), str(n), "forge", str(sig)],
                                  stdout=subprocess.DEVNULL)
        for i in range(5):
            v.send("report json")
            wait_count(v, b"DONE 0\n", i + 2)
        forger.wait(timeout=120)
        docs = split_json_reports(v.out.decode("utf-8", "replace"))
        check(len(docs) == 6, "six reports: %d" % len(docs))
        for doc in docs:
            for t in section(doc, "Threads")["threads"]:
                if t.get("capture") == "signal":
                    check(t.get("frames"), "a captured thread has its own frames")
                check(t.get("capture") in ("quiet", "signal", "none"), "path %r" % t)
        v.send("release")
        v.wait_stdout(r"RELEASED\n", timeout=30)
        v.kill(signal.SIGUSR2)
        v.wait_stderr(lambda t: len(complete_text_reports(t)) >= 1, timeout=30)
        check(v.stop(timeout=30) == 0, "exit")
        print("forged capture signals accepted by the kernel: %d" % sent)


if __name__ == "__main__":
    run([
        test_secrets_appear_in_no_output,
        test_report_files_private_and_planted_symlinks_not_followed,
        test_forged_capture_signals_are_ignored,
    ])
