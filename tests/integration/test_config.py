"""The seeds' Nova example in C: the demo service with options (one secret, one URL with a
password), a config file whose [oslo_reports] group sets log_dir and the file trigger, and
gmr_setup_autorun().  Signal and file triggers behave as oslo.reports documents; the secrets
appear in no report."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from gmrtest import BUILD_DIR, Victim, check, run, section, split_json_reports

DEMO = os.path.join(BUILD_DIR, "examples", "demo-service")
SECRETS = ["s3cr3t-db-pw", "s3cr3t-keystone-pw", "s3cr3t-env-token"]


def write_conf(d, oslo_reports):
    path = os.path.join(d, "demo.conf")
    with open(path, "w") as f:
        f.write("[DEFAULT]\nworkers = 2\n\n"
                "[database]\nconnection = mysql://demo:s3cr3t-db-pw@db.example/demo\n\n"
                "[keystone_authtoken]\nusername = demo\npassword = s3cr3t-keystone-pw\n\n"
                "[oslo_reports]\n" + oslo_reports)
    return path


def sig_caught(pid, signo):
    with open("/proc/%d/status" % pid) as f:
        mask = int(re.search(r"^SigCgt:\s*([0-9a-f]+)$", f.read(), re.M).group(1), 16)
    return bool(mask & (1 << (signo - 1)))


def wait_files(d, n, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        # Hidden names are reports still being written (temporary files).
        files = sorted(f for f in os.listdir(d) if "_gurumeditation_" in f and f[0] != ".")
        if len(files) >= n:
            return files
        check(time.monotonic() < deadline, "expected %d reports in %s" % (n, d))
        time.sleep(0.02)


def test_nova_style_config_log_dir_and_file_trigger():
    d = tempfile.mkdtemp(prefix="gmr-nova-")
    logs = os.path.join(d, "logs")
    os.mkdir(logs)
    trigger = os.path.join(d, "gmr_trigger")
    try:
        conf = write_conf(d, "log_dir = %s\nfile_event_handler = %s\nformat = json\n"
                          % (logs, trigger))
        with Victim(DEMO, "--config-file", conf,
                    env={"DEMO_API_TOKEN": "s3cr3t-env-token"}) as v:
            v.wait_stdout("kill -USR2")
            # The file trigger replaces the signal, as the seeds say.
            if not os.environ.get("GMR_VICTIM_WRAPPER"):
                check(not sig_caught(v.pid, signal.SIGUSR2), "SIGUSR2 not taken")
            with open(trigger, "w"):
                pass
            files = wait_files(logs, 1)
            check(re.fullmatch(r"demo-service_gurumeditation_\d{14}\.json", files[0]),
                  "file name %s" % files[0])
            time.sleep(1.1)
            os.utime(trigger)
            files = wait_files(logs, 2)
            for f in files:
                with open(os.path.join(logs, f)) as fh:
                    text = fh.read()
                for s in SECRETS:
                    check(s not in text, "secret %s in %s" % (s, f))
                doc = split_json_reports(text)[0]
                check(doc["header"]["service_name"] == "demo-service", "service name")
                check(doc["header"]["trigger"] == "file " + trigger, "trigger")
                cfg = section(doc, "Configuration")
                check(cfg["files"] == [conf], "files loaded: %r" % cfg.get("files"))
                flat = repr(cfg)
                check("mysql://demo:***@db.example/demo" in flat, "URL password masked")
            v.kill(signal.SIGTERM)
            check(v.stop() == 0, "exit")
            check(b"s3cr3t" not in v.err and b"s3cr3t" not in v.out, "secrets on stdio")
    finally:
        shutil.rmtree(d)


def test_explicit_signal_keeps_signal_trigger_beside_file_trigger():
    d = tempfile.mkdtemp(prefix="gmr-nova-")
    trigger = os.path.join(d, "gmr_trigger")
    try:
        conf = write_conf(d, "file_event_handler = %s\nsignal = SIGUSR1\n" % trigger)
        with Victim(DEMO, "--config-file", conf) as v:
            v.wait_stdout("kill -USR2")
            v.kill(signal.SIGUSR1)
            text = v.wait_stderr(lambda t: "trigger = signal SIGUSR1\n" in t and
                                 t.rstrip().endswith("handled"))
            for s in SECRETS:
                check(s not in text, "secret %s in the text report" % s)
            check("  password = ***\n" in text, "secret option shown as ***")
            with open(trigger, "w"):
                pass
            v.wait_stderr(lambda t: ("trigger = file %s\n" % trigger) in t)
            v.kill(signal.SIGTERM)
            check(v.stop() == 0, "exit")
    finally:
        shutil.rmtree(d)


def test_disabled_sections_are_left_out():
    d = tempfile.mkdtemp(prefix="gmr-nova-")
    try:
        conf = write_conf(d, "format = json\ndisabled_sections = environment,\n    open_files\n")
        with Victim(DEMO, "--config-file", conf) as v:
            v.wait_stdout("kill -USR2")
            v.kill(signal.SIGUSR2)
            v.wait_stderr(lambda t: len(split_json_reports(t)) >= 1)
            titles = [s["title"] for s in v.json_reports()[0]["sections"]]
            check("Environment" not in titles and "Open Files" not in titles, "left out")
            check("Limits" in titles and "Threads" in titles, "others kept: %r" % titles)
            v.kill(signal.SIGTERM)
            check(v.stop() == 0, "exit")
        bad = write_conf(d, "disabled_sections = threads, everything\n")
        p = subprocess.run([DEMO, "--config-file", bad], capture_output=True, text=True,
                           timeout=10)
        check(p.returncode == 64 and ("%s:12: option 'oslo_reports.disabled_sections'" % bad)
              in p.stderr and "everything" in p.stderr, "message %r" % p.stderr)
    finally:
        shutil.rmtree(d)


def test_control_socket_from_config_serves_gmr_report():
    d = tempfile.mkdtemp(prefix="gmr-nova-")
    run_dir = os.path.join(d, "run")
    os.mkdir(run_dir, 0o700)
    try:
        conf = write_conf(d, "control_socket = true\n")
        env = {"XDG_RUNTIME_DIR": run_dir}
        with Victim(DEMO, "--config-file", conf, env=env) as v:
            v.wait_stdout("kill -USR2")
            sock = os.path.join(run_dir, "gmr", "%d.sock" % v.pid)
            check(os.path.exists(sock), "socket %s" % sock)
            gmr = os.path.join(BUILD_DIR, "tools", "gmr", "gmr")
            p = subprocess.run([gmr, "report", str(v.pid), "--format", "json"],
                               capture_output=True, text=True, timeout=30,
                               env=dict(os.environ, **env))
            check(p.returncode == 0, "gmr report: %d %r" % (p.returncode, p.stderr))
            doc = split_json_reports(p.stdout)[0]
            check(doc["header"]["pid"] == v.pid, "the demo's report")
            for s in SECRETS:
                check(s not in p.stdout, "secret %s in gmr report output" % s)
            v.kill(signal.SIGTERM)
            check(v.stop() == 0, "exit")
            check(not os.path.exists(sock), "socket removed at shutdown")
    finally:
        shutil.rmtree(d)


def test_malformed_config_names_file_and_line():
    d = tempfile.mkdtemp(prefix="gmr-nova-")
    try:
        path = os.path.join(d, "bad.conf")
        with open(path, "w") as f:
            f.write("[DEFAULT]\nworkers = 2\n\n[oslo_reports]\nfile_event_handler_interval = 0\n")
        p = subprocess.run([DEMO, "--config-file", path], capture_output=True, text=True,
                           timeout=10)
        check(p.returncode == 64, "exit status %d" % p.returncode)
        check(p.stderr.startswith("demo-service: %s:5: option 'oslo_reports.file_event_handler_interval': value 0 out of range"
                                  % path), "message %r" % p.stderr)
        with open(path, "w") as f:
            f.write("[DEFAULT]\nworkers = many\n")
        p = subprocess.run([DEMO, "--config-file", path], capture_output=True, text=True,
                           timeout=10)
        check(p.returncode == 64 and ("%s:2: option 'workers'" % path) in p.stderr,
              "message %r" % p.stderr)
    finally:
        shutil.rmtree(d)


if __name__ == "__main__":
    run([
        test_nova_style_config_log_dir_and_file_trigger,
        test_explicit_signal_keeps_signal_trigger_beside_file_trigger,
        test_disabled_sections_are_left_out,
        test_control_socket_from_config_serves_gmr_report,
        test_malformed_config_names_file_and_line,
    ])
