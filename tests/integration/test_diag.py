"""The diagnostics sections (Environment, Resources, Limits, Open Files, Shared Objects,
System) in real reports of a process whose environment, descriptors and limits are known."""

import os
import re
import shutil
import signal
import subprocess
import tempfile

from gmrtest import (Victim, check, run, section, split_json_reports, split_text_reports,
                     text_section)

DIAG_TITLES = ["Environment", "Resources", "Limits", "Open Files", "Shared Objects", "System"]

# Planted in the victim's environment; none of these values may appear in any report.
SECRETS = {
    "OS_PASSWORD": "planted-os-password-1",
    "AWS_SECRET_ACCESS_KEY": "planted-aws-secret-2",
    "api_key": "planted-api-key-3",
    "SERVICE_TOKEN": "planted-service-token-4",
}
DB_URL_PASSWORD = "planted-url-password-5"
RUNTIME_TOKEN = "runtime-token-value-77"  # set by the victim with setenv()
ENV = dict(SECRETS, DATABASE_URL="postgres://nova:%s@db/nova" % DB_URL_PASSWORD,
           DIAG_PLAIN_VALUE="visible value")


def start(tmp, *args):
    v = Victim("victim-diag", tmp, *args, env=ENV)
    v.wait_ready()
    info = {}
    for line in v.out.decode().splitlines():
        parts = line.split(" ")
        if parts[0] in ("FILE", "PIPE", "LISTEN", "CLIENT", "SERVER", "UNIX", "EVENT", "NOFILE"):
            info[parts[0]] = parts[1:]
    check(len(info) == 8, "victim setup lines: %r" % v.out)
    return v, info


def check_no_secret(text, where):
    for value in list(SECRETS.values()) + [DB_URL_PASSWORD, RUNTIME_TOKEN]:
        check(value not in text, "%s: secret %r leaked" % (where, value))


def text_report_done(text):
    """True once @text holds a whole text report (the victim's own section comes last)."""
    reps = split_text_reports(text)
    return len(reps) >= 1 and "end = yes\n" in reps[0]


def json_report(v):
    v.out = b""
    v.send("report json")
    v.wait_stdout(r"DONE (-?\d+)\n")
    docs = split_json_reports(v.out.decode())
    check(len(docs) == 1 and "DONE 0\n" in v.out.decode(), "one JSON report: %r" % v.out[-300:])
    return docs[0]


def build_id_of(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return m.group(1) if m else None


def test_sections_present_in_order_text_and_json():
    tmp = tempfile.mkdtemp(prefix="gmr-diag-")
    try:
        v, _ = start(tmp)
        with v:
            v.kill(signal.SIGUSR2)
            text = v.wait_stderr(text_report_done)
            rep = split_text_reports(text)[0]
            titles = re.findall(r"^====\s+(.*?)\s+====$", rep, re.M)
            check(all(t in titles for t in DIAG_TITLES), "titles: %r" % titles)
            pos = [titles.index(t) for t in DIAG_TITLES]
            check(pos == sorted(pos), "diagnostics order: %r" % titles)
            check(titles.index("Threads") < pos[0], "after Threads: %r" % titles)
            for t in ("Processes", "Configuration"):
                if t in titles:
                    check(titles.index(t) < pos[0], "%s before Environment: %r" % (t, titles))

            doc = json_report(v)
            jt = [s["title"] for s in doc["sections"]]
            check([t for t in jt if t in DIAG_TITLES] == DIAG_TITLES, "JSON order: %r" % jt)
            types = {s["title"]: s["type"] for s in doc["sections"]}
            check(types["Environment"] == "environment" and types["Resources"] == "kv" and
                  types["Limits"] == "limits" and types["Open Files"] == "open_files" and
                  types["Shared Objects"] == "shared_objects" and types["System"] == "kv",
                  "types: %r" % types)
            for t in DIAG_TITLES:
                check("error" not in section(doc, t), "%s failed: %r" % (t, section(doc, t)))
            check(v.stop() == 0, "exit")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_environment_secrets_never_leave_the_process():
    tmp = tempfile.mkdtemp(prefix="gmr-diag-")
    try:
        v, _ = start(tmp)
        with v:
            v.kill(signal.SIGUSR2)
            v.wait_stderr(text_report_done)
            doc = json_report(v)
            v.send("report text")
            v.wait_stdout(r"DONE 0\n")
            check(v.stop() == 0, "exit")
            err, out = v.err.decode(), v.out.decode()
            check_no_secret(err, "text report on stderr")
            check_no_secret(out, "reports on stdout")

            env = section(doc, "Environment")["data"]
            for name in SECRETS:
                check(env.get(name) == "***", "%s shown as %r" % (name, env.get(name)))
            check(env.get("VICTIM_RUNTIME_TOKEN") == "***", "variable set at run time")
            check(env.get("DATABASE_URL") == "postgres://nova:***@db/nova",
                  "URL credentials: %r" % env.get("DATABASE_URL"))
            check(env.get("DIAG_PLAIN_VALUE") == "visible value", "plain variable")

            body = text_section(split_text_reports(err)[0], "Environment")
            check("OS_PASSWORD = ***\n" in body, "text masks names: %r" % body[:400])
            check("DATABASE_URL = postgres://nova:***@db/nova\n" in body, "text masks URLs")
            check("DIAG_PLAIN_VALUE = visible value\n" in body, "text shows plain values")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_open_files_show_known_descriptors():
    tmp = tempfile.mkdtemp(prefix="gmr-diag-")
    try:
        v, info = start(tmp)
        with v:
            doc = json_report(v)
            v.send("report text")
            v.wait_stdout(r"DONE 0\n")
            check(v.stop() == 0, "exit")
            sec = section(doc, "Open Files")
            by_fd = {e["fd"]: e for e in sec["data"]}
            check(sec["count"] >= len(by_fd), "count")

            fd, path = int(info["FILE"][0]), info["FILE"][1]
            e = by_fd[fd]
            check(e["type"] == "file" and e["target"] == path and e["pos"] == 5, "file: %r" % e)
            check(re.fullmatch(r"O_WRONLY\|O_APPEND(\|O_LARGEFILE)?\|O_CLOEXEC", e["flags"]),
                  "file flags: %r" % e["flags"])
            r, w = (int(x) for x in info["PIPE"])
            check(by_fd[r]["type"] == "pipe" and by_fd[r]["flags"] == "O_RDONLY|O_CLOEXEC",
                  "pipe read end: %r" % by_fd[r])
            check(by_fd[w]["flags"] == "O_WRONLY|O_CLOEXEC", "pipe write end: %r" % by_fd[w])
            check(by_fd[r]["target"] == by_fd[w]["target"], "same pipe")

            lfd, port = (int(x) for x in info["LISTEN"])
            cfd, cport = (int(x) for x in info["CLIENT"])
            sfd = int(info["SERVER"][0])
            check(by_fd[lfd]["target"] == "TCP 127.0.0.1:%d LISTEN" % port,
                  "listener: %r" % by_fd[lfd])
            check(by_fd[cfd]["target"] ==
                  "TCP 127.0.0.1:%d -> 127.0.0.1:%d ESTABLISHED" % (cport, port),
                  "client: %r" % by_fd[cfd])
            check(by_fd[sfd]["socket"]["remote"] == "127.0.0.1:%d" % cport,
                  "server: %r" % by_fd[sfd])
            check(by_fd[sfd]["socket"]["state"] == "ESTABLISHED", "server state")
            ufd, upath = int(info["UNIX"][0]), info["UNIX"][1]
            check(by_fd[ufd]["target"] == "UNIX STREAM %s LISTEN" % upath,
                  "unix: %r" % by_fd[ufd])
            efd = int(info["EVENT"][0])
            check(by_fd[efd]["type"] == "anon_inode" and
                  by_fd[efd]["target"] == "anon_inode:[eventfd]", "eventfd: %r" % by_fd[efd])

            body = text_section(split_text_reports(v.out.decode())[0], "Open Files")
            check("TCP 127.0.0.1:%d LISTEN\n" % port in body, "text listener: %r" % body)
            check("%s (position 5)\n" % path in body, "text file position")
            check(re.search(r"^ *%d  anon_inode +O_RDWR\|O_CLOEXEC +anon_inode:\[eventfd\]$"
                            % efd, body, re.M), "text eventfd row: %r" % body)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_limits_resources_objects_system_describe_this_process():
    tmp = tempfile.mkdtemp(prefix="gmr-diag-")
    try:
        v, info = start(tmp)
        with v:
            doc = json_report(v)
            check(v.stop() == 0, "exit")
            limits = {l["resource"]: l for l in section(doc, "Limits")["data"]}
            check(len(limits) == 16, "16 limits: %r" % list(limits))
            check(limits["RLIMIT_NOFILE"]["soft"] == int(info["NOFILE"][0]),
                  "soft NOFILE: %r" % limits["RLIMIT_NOFILE"])
            check(limits["RLIMIT_NOFILE"]["unit"] == "files", "unit")

            res = section(doc, "Resources")["data"]
            check(re.fullmatch(r"\d+ kB", res["memory"]["VmRSS"]), "VmRSS: %r" % res["memory"])
            check(int(res["memory"]["Threads"]) >= 2, "threads (reporter included)")
            check(re.fullmatch(r"\d+\.\d{6} s", res["process"]["user_cpu_time"]), "cpu time")

            objs = section(doc, "Shared Objects")["data"]
            exe = os.path.realpath(os.path.join(os.environ.get("GMR_VICTIM_DIR", "."),
                                                "victim-diag"))
            check(objs[0]["path"] == exe, "main program first: %r" % objs[0])
            paths = {o["path"]: o for o in objs}
            gmr = [p for p in paths if os.path.basename(p).startswith("libgmr.so")]
            libc = [p for p in paths if os.path.basename(p) == "libc.so.6"]
            check(gmr and libc, "libgmr and libc loaded: %r" % list(paths))
            for p in gmr + libc:
                want = build_id_of(p)
                check(want and paths[p].get("build_id") == want,
                      "%s build-id %r, readelf says %r" % (p, paths[p].get("build_id"), want))

            system = section(doc, "System")["data"]
            u = os.uname()
            check(system["kernel"] == "%s %s %s %s" % (u.sysname, u.release, u.version,
                                                        u.machine), "kernel: %r" % system)
            check(system["hostname"] == u.nodename, "hostname")
            check(system["cpus_online"] == str(os.sysconf("SC_NPROCESSORS_ONLN")), "cpus")
            check(system["cpus_usable"] == "%d (affinity mask)" % len(os.sched_getaffinity(0)),
                  "affinity: %r" % system["cpus_usable"])
            check(re.fullmatch(r"\d+ kB", system["memory_total"]), "memory total")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([
        test_sections_present_in_order_text_and_json,
        test_environment_secrets_never_leave_the_process,
        test_open_files_show_known_descriptors,
        test_limits_resources_objects_system_describe_this_process,
    ])
