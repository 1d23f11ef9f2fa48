"""The gmr command: usage and exit codes, report through the socket and by signal, ls with
stale sockets, render (text byte for byte, HTML), diff."""

import json
import os
import signal
import socket
import subprocess

from clitest import (CLI, Runtime, gmr_json, kill_quietly, normalize, report_files, wait_for)
from gmrtest import Victim, check, run, split_text_reports


def start(rt, **env):
    v = Victim("victim-plain", env=rt.env(**env))
    v.wait_ready()
    wait_for(lambda: os.path.exists(rt.socket_of(v.pid)), what="socket")
    return v


def test_usage_and_exit_codes():
    with Runtime() as rt:
        code, out, err = rt.gmr()
        check(code == 64 and "Usage: gmr COMMAND" in err, "no args: %d" % code)
        code, out, err = rt.gmr("--help")
        check(code == 0 and b"Exit status:" in out and b"  64  usage error" in out, "--help")
        for args in (("frobnicate",), ("report",), ("report", "abc"), ("report", "1", "2"),
                     ("report", "1", "--format", "xml"), ("render",), ("diff", "a"),
                     ("render", "x", "--format", "pdf"), ("ls", "extra"),
                     # getopt's own errors: found printed without the "gmr: " prefix.
                     ("report", "1", "--bogus"), ("report", "1", "--format"), ("render", "-5")):
            code, out, err = rt.gmr(*args)
            check(code == 64, "%r: exit %d" % (args, code))
            check(err.startswith("gmr: ") and err.count("\n") == 1, "%r: one line: %r"
                  % (args, err))
        code, out, err = rt.gmr("version")
        check(code == 0 and out.startswith(b"gmr 0.") and b"libgmr 0." in out, "version")
        check(rt.gmr("--version")[1] == out, "--version")
        code, out, err = rt.gmr("render", rt.path("missing.json"))
        check(code == 2 and "No such file or directory" in err, "missing file: %r" % err)
        bad = rt.path("bad.json")
        with open(bad, "w") as f:
            f.write('{"format_version": "1.0", "sections": [')
        code, out, err = rt.gmr("render", bad)
        check(code == 2 and "not valid JSON (line 1" in err and out == b"", "malformed: %r" % err)


def test_report_through_socket_and_render_equals_live_text():
    with Runtime() as rt, start(rt) as v:
        code, live, err = rt.gmr("report", str(v.pid))
        check(code == 0 and err == "", "text report: %d %r" % (code, err))
        code, js, err = rt.gmr("report", str(v.pid), "--format", "json")
        check(code == 0, "json report")
        saved = rt.path("r.json")
        with open(saved, "wb") as f:
            f.write(js)
        code, rendered, err = rt.gmr("render", saved)
        check(code == 0, "render: %r" % err)
        # Same layout line by line; only values that change between two reports differ.
        a, b = normalize(live.decode()), normalize(rendered.decode())
        check(a.splitlines()[:3] == b.splitlines()[:3], "banner")
        check(a == b, "render of the JSON report differs from the live text view:\n%s"
              % "\n".join(x + " | " + y for x, y in zip(a.splitlines(), b.splitlines())
                          if x != y)[:3000])
        # Byte for byte: the text view of a document does not depend on its JSON spelling.
        code, again, err = rt.gmr("render", saved, "--format", "json")
        check(code == 0 and json.loads(again) == json.loads(js), "json view")
        code, from_stdin, err = rt.gmr("render", "-", stdin=again)
        check(code == 0 and from_stdin == rendered, "render is exact and stable")
        check(v.stop() == 0, "exit")


def test_report_falls_back_to_signal_and_log_dir():
    with Runtime() as rt:
        logs = rt.path("logs")
        os.mkdir(logs)
        v = Victim("victim-plain", env=rt.env(GMR_CONTROL_SOCKET="0", GMR_LOG_DIR=logs,
                                              GMR_FORMAT="json"))
        with v:
            v.wait_ready()
            check(not os.path.exists(rt.socket_of(v.pid)), "no socket")
            code, out, err = rt.gmr("ls")
            row = [l for l in out.decode().splitlines() if l.startswith("%-8d " % v.pid)]
            check(code == 0 and len(row) == 1 and "no control socket, signal SIGUSR2 (unless "
                  "the program took it)" in row[0], "ls row: %r" % out)
            # Preloaded: the program might handle the signal itself; only --signal sends it.
            code, out, err = rt.gmr("report", str(v.pid))
            check(code == 2 and "--signal" in err and not report_files(logs),
                  "no signal without --signal: %d %r" % (code, err))
            code, out, err = rt.gmr("report", str(v.pid), "--signal")  # text wanted, JSON written
            check(code == 0, "exit %d: %s" % (code, err))
            check(len(report_files(logs)) == 1 and "saved as " + logs in err, err)
            reps = split_text_reports(out.decode())
            check(len(reps) == 1 and ("pid = %d\n" % v.pid) in reps[0], "rendered as text")
            code, out, err = rt.gmr("report", str(v.pid), "--format", "json", "--signal")
            check(code == 0 and json.loads(out)["header"]["pid"] == v.pid, "json as written")
            check(v.stop() == 0, "exit")


def test_ls_names_the_trigger_file_of_a_process_without_socket():
    # Found: a preloaded process without a socket whose only trigger is its file was listed
    # as "trigger signal unknown".
    with Runtime() as rt:
        trigger = rt.path("trigger")
        v = Victim("victim-plain", env=rt.env(GMR_CONTROL_SOCKET="0", GMR_FILE_TRIGGER=trigger))
        with v:
            v.wait_ready()
            code, out, err = rt.gmr("ls")
            row = [l for l in out.decode().splitlines() if l.startswith("%-8d " % v.pid)]
            check(code == 0 and len(row) == 1 and row[0].endswith(
                  "no control socket, file " + trigger), "ls row: %r" % out)
            check(v.stop() == 0, "exit")


def test_report_of_linked_program_without_socket():
    with Runtime() as rt, Victim("victim-basic") as v:
        v.wait_ready()
        code, out, err = rt.gmr("report", str(v.pid))
        check(code == 1 and "sent SIGUSR2" in err, "partial: %d %r" % (code, err))
        v.wait_stderr(lambda t: len(split_text_reports(t)) >= 1)
        check(v.stop() == 0, "exit")


def test_report_never_signals_a_program_without_gmr():
    with Runtime() as rt:
        p = subprocess.Popen(["sleep", "30"])
        try:
            code, out, err = rt.gmr("report", str(p.pid))
            check(code == 2 and "does not use libgmr" in err and "LD_PRELOAD" in err,
                  "message: %r" % err)
            check(p.poll() is None, "still alive")
        finally:
            p.kill()
            p.wait()
        code, out, err = rt.gmr("report", "4000000")
        check(code == 2 and "no process 4000000" in err, err)


def test_ls_lists_and_cleans_stale_sockets():
    with Runtime() as rt, start(rt, GMR_SERVICE_NAME="listed-svc") as v:
        dead = subprocess.Popen(["true"])
        dead.wait()
        stale = rt.socket_of(dead.pid)
        s = socket.socket(socket.AF_UNIX)
        s.bind(stale)
        s.close()
        code, out, err = rt.gmr("ls")
        check(code == 0, "ls")
        lines = out.decode().splitlines()
        check(lines[0].split() == ["PID", "SERVICE", "TRIGGERS"], "heading %r" % lines[0])
        mine = [ln for ln in lines if ln.split()[0] == str(v.pid)]
        check(len(mine) == 1 and "listed-svc" in mine[0] and
              mine[0].endswith("control socket, signal SIGUSR2"), "row %r" % mine)
        check(not os.path.exists(stale), "stale socket removed")
        check(not any(ln.split()[0] == str(dead.pid) for ln in lines[1:]), "not listed")
        check(v.stop() == 0, "exit")


def test_diff_lists_stuck_threads_first():
    with Runtime() as rt:
        def doc(threads):
            return json.dumps({"format_version": "1.0", "header": {"pid": 7, "time": "t"},
                               "sections": [{"title": "Threads", "type": "threads",
                                             "threads": threads}]})

        def t(tid, *fns):
            return {"tid": tid, "name": "n%d" % tid, "frames": [{"function": f} for f in fns]}
        a, b = rt.path("a.json"), rt.path("b.json")
        with open(a, "w") as f:
            f.write(doc([t(1, "wait", "loop"), t(2, "work"), t(3, "gone_fn"), t(5, "lock")]))
        with open(b, "w") as f:
            f.write(doc([t(5, "lock"), t(1, "wait", "loop"), t(2, "other"), t(4, "new_fn")]))
        code, out, err = rt.gmr("diff", a, b)
        check(code == 0, "diff: %r" % err)
        text = out.decode()
        order = [text.find(s) for s in ("Stuck threads", "Thread #1 (n1)", "Thread #5",
                                        "stack changed", "- work", "+ other", "Threads gone",
                                        "gone_fn", "New threads", "new_fn")]
        check(all(i >= 0 for i in order) and order == sorted(order), "layout:\n" + text)
        code, out, err = rt.gmr("diff", a, rt.path("nope.json"))
        check(code == 2, "missing B")

    # Two reports of a real process: its parked main thread is stuck.
    with Runtime() as rt, start(rt) as v:
        for name in ("a", "b"):
            with open(rt.path(name + ".json"), "w") as f:
                json.dump(gmr_json(rt, v.pid), f)
        code, out, err = rt.gmr("diff", rt.path("a.json"), rt.path("b.json"))
        text = out.decode()
        stuck = text[text.find("Stuck threads"):]
        check(code == 0 and ("Thread #%d (victim-plain)" % v.pid) in stuck.split("\n\n")[0],
              "main thread stuck:\n" + text)
        # The reporter has no stack in either report: it is neither stuck nor changed.
        check("(gmr-reporter)" not in text, "reporter listed:\n" + text)
        check(v.stop() == 0, "exit")


def test_html_page_escapes_hostile_service_name():
    hostile = "</script><img src=x onerror=alert(1)>'\""
    with Runtime() as rt, start(rt, GMR_SERVICE_NAME=hostile) as v:
        saved = rt.path("r.json")
        with open(saved, "w") as f:
            json.dump(gmr_json(rt, v.pid), f)
        code, page, err = rt.gmr("render", saved, "--format", "html")
        check(code == 0, "html: %r" % err)
        page = page.decode()
        check(page.startswith("<!DOCTYPE html>") and page.count("<script>") == 1, "one script")
        check("<img" not in page and "&lt;img src=x onerror=alert(1)&gt;&#39;&quot;" in page,
              "escaped")
        check('<details class="sec" open><summary>Threads</summary>' in page, "collapsible")
        check('id="q" type="search"' in page, "search box")
        check("plain_park_in_read" in page, "frames")
        check("http:" not in page and "https:" not in page, "no external resources")
        check(v.stop() == 0, "exit")


if __name__ == "__main__":
    run([
        test_usage_and_exit_codes,
        test_report_through_socket_and_render_equals_live_text,
        test_report_falls_back_to_signal_and_log_dir,
        test_ls_names_the_trigger_file_of_a_process_without_socket,
        test_report_of_linked_program_without_socket,
        test_report_never_signals_a_program_without_gmr,
        test_ls_lists_and_cleans_stale_sockets,
        test_diff_lists_stuck_threads_first,
        test_html_page_escapes_hostile_service_name,
    ])
