"""Programs nobody here wrote, from Debian, under libgmr-preload.so: redis-server and nginx
reported through `gmr report` and a file trigger, nginx's own SIGUSR2 handling winning, and the
HTML view opened in headless Chromium.  The programs are installed by scripts/install-deps.sh;
a missing one fails the test."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

from clitest import (Runtime, functions, gmr_json, kill_quietly, report_files, threads_of,
                     wait_for)
from gmrtest import check, run

OUT_DIR = os.environ.get("GMR_BUILD_DIR", ".")


def program(name, *alternatives):
    for n in (name, *alternatives):
        path = shutil.which(n) or (os.path.exists("/usr/sbin/" + n) and "/usr/sbin/" + n)
        if path:
            return path
    raise AssertionError("%s is not installed (scripts/install-deps.sh installs it)" % name)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def redis_ping(path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    s.sendall(b"PING\r\n")
    reply = s.recv(100)
    s.close()
    return reply


def start_redis(rt, **env):
    exe = program("redis-server")
    sock = rt.path("redis.sock")
    full = dict(os.environ, **rt.env(**env))
    p = subprocess.Popen([exe, "--port", "0", "--unixsocket", sock, "--save", "",
                          "--appendonly", "no", "--dir", rt.path()],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=full)
    wait_for(lambda: os.path.exists(sock) and os.path.exists(rt.socket_of(p.pid)) or
             p.poll() is not None, what="redis to start")
    if p.poll() is not None:
        check(False, "redis exited: %r" % p.stderr.read())
    return p, sock


def check_redis_threads(doc, pid):
    threads = threads_of(doc)
    main = [t for t in threads if t["tid"] == pid]
    check(len(main) == 1, "main thread present")
    fns = functions(main[0])
    check(any(f in ("aeMain", "aeProcessEvents") for f in fns) or
          any("epoll_wait" in f for f in fns), "event loop in %r" % fns)
    check("main" in fns, "main() symbolized: %r" % fns)
    names = {t.get("name") for t in threads}
    check({"bio_close_file", "bio_aof_fsync", "bio_lazy_free"} <= names, "bio threads %r" % names)
    bio = [t for t in threads if t.get("name") == "bio_lazy_free"][0]
    check("bioProcessBackgroundJobs" in functions(bio), "bio frames %r" % functions(bio))
    check("gmr-reporter" in names, "our thread named")


def test_redis_through_gmr_report_and_file_trigger():
    with Runtime() as rt:
        logs = rt.path("logs")
        os.mkdir(logs)
        trig = rt.path("redis.trigger")
        p, sock = start_redis(rt, GMR_LOG_DIR=logs, GMR_FILE_TRIGGER=trig, GMR_FORMAT="json")
        try:
            check(redis_ping(sock) == b"+PONG\r\n", "redis answers")
            doc = gmr_json(rt, p.pid)
            check(doc["header"]["service_name"] == "redis-server", "service %r" % doc["header"])
            check_redis_threads(doc, p.pid)
            code, text, err = rt.gmr("report", str(p.pid))
            check(code == 0 and b"------" in text and b" in aeMain " in text, "text report")
            with open(trig, "w") as f:
                f.write("now")
            files = wait_for(lambda: report_files(logs), what="file-triggered report")
            with open(os.path.join(logs, files[0])) as f:
                doc = json.load(f)
            check(doc["header"]["trigger"] == "file " + trig, "trigger")
            check_redis_threads(doc, p.pid)
            check(redis_ping(sock) == b"+PONG\r\n", "redis still answers")
            with open(rt.path("redis.json"), "w") as f:
                json.dump(doc, f)
            shutil.copy(rt.path("redis.json"), os.path.join(OUT_DIR, "redis-report.json"))
        finally:
            stop(p)


# Workers run as the test's user, so they can read the trigger file and write to the logs.
NGINX_CONF = """daemon off;
{user}
master_process on;
worker_processes 2;
pid {d}/nginx.pid;
error_log {d}/error.log notice;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "hello from nginx\\n"; }} }}
}}
"""


def children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(x) for x in f.read().split()]


def test_nginx_forks_workers_and_keeps_its_sigusr2():
    exe = program("nginx")
    with Runtime() as rt:
        logs = rt.path("logs")
        os.mkdir(logs)
        trig = rt.path("nginx.trigger")
        port = free_port()
        conf = rt.path("nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(d=rt.path(), port=port,
                                      user="user root;" if os.geteuid() == 0 else ""))
        full = dict(os.environ, **rt.env(GMR_LOG_DIR=logs, GMR_FILE_TRIGGER=trig,
                                         GMR_FORMAT="json", GMR_SIGNAL="SIGUSR2"))
        p = subprocess.Popen([exe, "-p", rt.path(), "-c", conf], env=full,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            workers = wait_for(lambda: len(children(p.pid)) == 2 and children(p.pid),
                               what="nginx workers")
            for pid in [p.pid] + workers:
                wait_for(lambda: os.path.exists(rt.socket_of(pid)), what="socket of %d" % pid)
            body = urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5).read()
            check(body == b"hello from nginx\n", "nginx serves")

            # Each process reports itself: the preload survived the workers' fork.
            for pid in [p.pid] + workers:
                doc = gmr_json(rt, pid)
                check(doc["header"]["pid"] == pid, "report of %d" % pid)
                main = [t for t in threads_of(doc) if t["tid"] == pid][0]
                fns = functions(main)
                want = "sigsuspend" if pid == p.pid else "epoll_wait"
                check(any(want in f for f in fns), "%d blocked in %s: %r" % (pid, want, fns))
                info = json.loads(rt.gmr("info", str(pid))[1])
                check(info["signal"] is None and info["triggers"][0] == "control socket",
                      "nginx took SIGUSR2 over in %d: %r" % (pid, info))

            # nginx's own SIGUSR2 handling wins: it logs the signal, no report is written.
            os.kill(p.pid, signal.SIGUSR2)
            wait_for(lambda: re.search(r"signal 12 \(SIGUSR2\) received",
                                       open(rt.path("error.log")).read()),
                     what="nginx's own SIGUSR2 handler")
            time.sleep(0.5)
            check(report_files(logs) == [], "no report for SIGUSR2: %r" % report_files(logs))
            check(p.poll() is None, "master alive")

            # The file trigger still works, in every process.
            with open(trig, "w") as f:
                f.write("x")
            wait_for(lambda: len(report_files(logs)) >= 3, what="three file-triggered reports")
            pids = set()
            for name in report_files(logs):
                with open(os.path.join(logs, name)) as f:
                    pids.add(json.load(f)["header"]["pid"])
            check(pids == {p.pid, *workers}, "reports of %r" % pids)
            body = urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5).read()
            check(body == b"hello from nginx\n", "nginx still serves")
        finally:
            kill_quietly(p.pid, signal.SIGQUIT)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                stop(p)


def test_html_report_in_headless_chromium():
    exe = program("chromium", "chromium-browser")
    with Runtime() as rt:
        p, sock = start_redis(rt)
        try:
            doc = gmr_json(rt, p.pid)
        finally:
            stop(p)
        saved = rt.path("redis.json")
        with open(saved, "w") as f:
            json.dump(doc, f)
        code, page, err = rt.gmr("render", saved, "--format", "html")
        check(code == 0, "render html: %r" % err)
        html = rt.path("report.html")
        with open(html, "wb") as f:
            f.write(page)
        shot = os.path.join(OUT_DIR, "html-report.png")
        if os.path.exists(shot):
            os.unlink(shot)
        base = [exe, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0",
                "--user-data-dir=" + rt.path("chromium-profile")]

        def chromium(*args):
            r = subprocess.run(base + list(args), capture_output=True, timeout=90,
                               env=dict(os.environ, HOME=rt.path()))
            log = r.stderr.decode("utf-8", "replace")
            for bad in ("Uncaught", "Refused to", ":CONSOLE(", "SyntaxError"):
                check(bad not in log, "browser log has %r:\n%s" % (bad, log[-3000:]))
            return r

        r = chromium("--window-size=1280,1600", "--screenshot=" + shot, "file://" + html)
        check(os.path.exists(shot) and os.path.getsize(shot) > 10000,
              "screenshot: %r" % r.stderr[-2000:])
        with open(shot, "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n", "a PNG")
        # The filter, preset through the address: only matching lines stay visible.
        r = chromium("--dump-dom", "file://" + html + "#q=bioProcessBackgroundJobs")
        dom = r.stdout.decode("utf-8", "replace")
        check('<input id="q"' in dom and "Guru Meditation" in dom, "page rendered")
        shown = re.findall(r'<span class="ln">([^<]*)</span>', dom)
        hidden = re.findall(r'<span class="ln hide">([^<]*)</span>', dom)
        check(hidden and any("bioProcessBackgroundJobs" in s for s in shown),
              "filter applied: %d shown, %d hidden" % (len(shown), len(hidden)))
        check(not any("bioProcessBackgroundJobs" in s for s in hidden), "matches stay visible")


if __name__ == "__main__":
    run([
        test_redis_through_gmr_report_and_file_trigger,
        test_nginx_forks_workers_and_keeps_its_sigusr2,
        test_html_report_in_headless_chromium,
    ])
