"""libgmr-preload.so: reports from a program that knows nothing of libgmr, configured by
GMR_* variables; the program's own signal handling wins; fork and exec children."""

import json
import os
import re
import signal
import time

from clitest import Runtime, caught_signals, gmr_json, kill_quietly, report_files, wait_for
from gmrtest import Victim, check, run, split_json_reports, split_text_reports


def start(rt, **env):
    v = Victim("victim-plain", env=rt.env(**env))
    v.wait_ready()
    return v


def info(rt, pid):
    code, out, err = rt.gmr("info", str(pid))
    check(code == 0, "gmr info: %d %s" % (code, err))
    return json.loads(out)


def test_reports_through_socket_and_default_signal():
    with Runtime() as rt, start(rt) as v:
        wait_for(lambda: os.path.exists(rt.socket_of(v.pid)), what="control socket")
        st = os.stat(rt.sockdir)
        check(st.st_mode & 0o777 == 0o700, "runtime dir mode %o" % st.st_mode)
        i = info(rt, v.pid)
        check(i["pid"] == v.pid and i["service_name"] == "victim-plain", "info %r" % i)
        check(i["signal"] == "SIGUSR2", "default signal")
        check(i["triggers"] == ["control socket", "signal SIGUSR2"], "triggers %r" % i)
        doc = gmr_json(rt, v.pid)
        check(doc["header"]["trigger"] == "control socket", "trigger")
        main = [t for t in doc["sections"][1]["threads"] if t["tid"] == v.pid][0]
        check(any("plain_park_in_read" in (f.get("function") or "") for f in main["frames"]),
              "the program's own frame, symbolized: %r" % main["frames"])
        pkg = doc["sections"][0]
        check(pkg["data"]["product"] == "victim-plain", "product %r" % pkg)
        v.kill(signal.SIGUSR2)
        rep = v.wait_stderr(lambda t: len(split_text_reports(t)) >= 1)
        check("trigger = signal SIGUSR2\n" in rep, "signal report on stderr")
        v.send("ping")
        v.wait_stdout("PONG")
        check(v.stop() == 0, "exit status")


def test_environment_configures_everything():
    with Runtime() as rt:
        logs = rt.path("logs")
        os.mkdir(logs)
        trig = rt.path("trigger-file")
        with start(rt, GMR_SIGNAL="SIGUSR1", GMR_SERVICE_NAME="my-svc", GMR_LOG_DIR=logs,
                   GMR_FORMAT="json", GMR_FILE_TRIGGER=trig,
                   GMR_FILE_TRIGGER_INTERVAL="2") as v:
            i = info(rt, v.pid)
            check(i["signal"] == "SIGUSR1" and i["service_name"] == "my-svc", "info %r" % i)
            check(i["log_dir"] == logs and i["file_trigger"] == trig and i["format"] == "json",
                  "info %r" % i)
            check(signal.SIGUSR1 in caught_signals(v.pid), "SIGUSR1 caught")
            check(signal.SIGUSR2 not in caught_signals(v.pid), "SIGUSR2 untouched")
            v.kill(signal.SIGUSR1)
            first = wait_for(lambda: report_files(logs), what="report file")
            check(re.fullmatch(r"my-svc_gurumeditation_\d{14}\.json", first[0]), first[0])
            with open(os.path.join(logs, first[0])) as f:
                doc = json.load(f)
            check(doc["header"]["trigger"] == "signal SIGUSR1", "trigger %r" % doc["header"])
            with open(trig, "w") as f:
                f.write("x")
            files = wait_for(lambda: len(report_files(logs)) >= 2 and report_files(logs),
                             what="file-triggered report")
            with open(os.path.join(logs, files[-1])) as f:
                doc = json.load(f)
            check(doc["header"]["trigger"] == "file " + trig, "trigger %r" % doc["header"])
            check(v.err == b"", "nothing on stderr: %r" % v.err)
            check(v.stop() == 0, "exit")


def test_bad_values_give_one_line_each_and_the_program_runs():
    with Runtime() as rt:
        with start(rt, GMR_SIGNAL="foo", GMR_FORMAT="xml", GMR_FILE_TRIGGER="relative/file",
                   GMR_FILE_TRIGGER_INTERVAL="0", GMR_CONTROL_SOCKET="maybe") as v:
            v.send("ping")
            v.wait_stdout("PONG")
            check(v.stop() == 0, "exit")
            err = v.err.decode()
            want = ("libgmr: GMR_SIGNAL=foo: not a signal name or number\n"
                    "libgmr: GMR_FORMAT=xml: not text or json\n"
                    "libgmr: GMR_FILE_TRIGGER_INTERVAL=0: not a number of seconds from 1 to "
                    "86400\n"
                    "libgmr: GMR_FILE_TRIGGER=relative/file: not an absolute path\n"
                    "libgmr: GMR_CONTROL_SOCKET=maybe: not a boolean (1/0, yes/no, true/false, "
                    "on/off)\n")
            check(err == want, "messages: %r" % err)
        for bad in ("SIGKILL", "SIGSEGV", "99999"):
            with start(rt, GMR_SIGNAL=bad) as v:
                v.send("ping")
                v.wait_stdout("PONG")
                check(v.stop() == 0, "exit")
                check(v.err.decode().startswith("libgmr: GMR_SIGNAL=%s: " % bad), repr(v.err))


def test_signal_names_and_none():
    with Runtime() as rt:
        for value, want in (("usr1", signal.SIGUSR1), ("10", signal.SIGUSR1),
                            ("SIGRTMIN+3", signal.SIGRTMIN + 3), ("HUP", signal.SIGHUP)):
            with start(rt, GMR_SIGNAL=value) as v:
                check(want in caught_signals(v.pid), "%s caught" % value)
                check(v.stop() == 0 and v.err == b"", "quiet: %r" % v.err)
        with start(rt, GMR_SIGNAL="none") as v:
            check(signal.SIGUSR2 not in caught_signals(v.pid), "no signal")
            check(info(rt, v.pid)["signal"] is None, "info says none")
            check(gmr_json(rt, v.pid)["header"]["pid"] == v.pid, "socket still works")
            check(v.stop() == 0, "exit")


def check_program_handler_wins(how):
    with Runtime() as rt, start(rt) as v:
        check(signal.SIGUSR2 in caught_signals(v.pid), "libgmr's handler installed")
        v.send("query")
        v.wait_stdout(r"DISP default\n")  # what the program would see without libgmr
        v.send(how)
        v.wait_stdout(r"OLD default\n")
        for n in (1, 2):
            v.kill(signal.SIGUSR2)
            v.send("count")
            wait_for(lambda: ("COUNT %d\n" % n).encode() in v.out or v._pump(0.05) and False,
                     what="the program's handler")
        v.send("query")
        v.wait_stdout(r"DISP own\n")
        i = info(rt, v.pid)
        check(i["signal"] is None and i["triggers"] == ["control socket"], "info %r" % i)
        # The socket still reports; the signal wrote no report.
        doc = gmr_json(rt, v.pid)
        check(doc["header"]["pid"] == v.pid, "socket report")
        check(v.stop() == 0, "exit")
        check(v.err == b"", "no report on stderr: %r" % v.err[:300])


def test_program_handler_wins_sigaction():
    check_program_handler_wins("sigaction")


def test_program_handler_wins_signal():
    check_program_handler_wins("signal")


def test_setting_default_keeps_reports():
    with Runtime() as rt, start(rt) as v:
        v.send("default")
        v.wait_stdout(r"OLD default\n")
        v.send("query")
        v.wait_stdout(r"DISP default\n")
        v.kill(signal.SIGUSR2)
        rep = v.wait_stderr(lambda t: len(split_text_reports(t)) >= 1)
        check("trigger = signal SIGUSR2\n" in rep, "still a report")
        v.send("ping")
        v.wait_stdout("PONG")
        check(v.stop() == 0, "exit")


def test_fork_child_gets_its_own_socket():
    with Runtime() as rt, start(rt, GMR_FORMAT="json") as v:
        wait_for(lambda: os.path.exists(rt.socket_of(v.pid)), what="socket")
        v.send("fork")
        child = int(v.wait_stdout(r"CHILD (\d+)\n").group(1))
        try:
            wait_for(lambda: os.path.exists(rt.socket_of(child)), what="child's socket")
            doc = gmr_json(rt, child)
            check(doc["header"]["pid"] == child, "child's report")
            check(os.path.exists(rt.socket_of(v.pid)), "parent's socket kept")
            check(gmr_json(rt, v.pid)["header"]["pid"] == v.pid, "parent still answers")
            os.kill(child, signal.SIGUSR2)
            docs = v.wait_stderr(lambda t: len(split_json_reports(t)) >= 1)
            check(split_json_reports(docs)[0]["header"]["pid"] == child, "child's signal")
        finally:
            kill_quietly(child)
        # After the program took SIGUSR2 over, its fork children keep its handler too.
        v.send("sigaction")
        v.wait_stdout(r"OLD default\n")
        v.send("fork")
        v.out = v.out[v.out.rfind(b"OLD"):]
        child = int(v.wait_stdout(r"CHILD (\d+)\n").group(1))
        try:
            wait_for(lambda: os.path.exists(rt.socket_of(child)), what="child's socket")
            check(info(rt, child)["signal"] is None, "no signal in the child")
            check(signal.SIGUSR2 in caught_signals(child), "the program's handler in the child")
        finally:
            kill_quietly(child)
        check(v.stop() == 0, "exit")


def test_exec_child_is_preloaded_again():
    with Runtime() as rt, start(rt) as v:
        v.send("exec")
        child = int(v.wait_stdout(r"CHILD (\d+)\n").group(1))
        try:
            # Between fork and exec the child briefly has a socket of its own (the forked copy
            # of the program); the exec'd image then replaces it.
            def exec_info():
                code, out, err = rt.gmr("info", str(child))
                return code == 0 and json.loads(out)["service_name"] == "sleep" and json.loads(out)
            i = wait_for(exec_info, what="the exec'd program's socket")
            check(i["pid"] == child, "info %r" % i)
        finally:
            kill_quietly(child)
        check(v.stop() == 0, "exit")


def test_socket_removed_at_exit_of_parent_only_by_cleanup():
    with Runtime() as rt:
        v = start(rt)
        wait_for(lambda: os.path.exists(rt.socket_of(v.pid)), what="socket")
        v.proc.kill()
        v.proc.wait()
        check(os.path.exists(rt.socket_of(v.pid)), "a killed process leaves its socket")
        # The next process in the directory removes it.
        with start(rt) as w:
            wait_for(lambda: os.path.exists(rt.socket_of(w.pid)), what="socket")
            check(not os.path.exists(rt.socket_of(v.pid)), "stale socket cleaned")
            check(w.stop() == 0, "exit")
        v.__exit__()


def test_unsafe_runtime_dir_is_refused():
    with Runtime() as rt:
        os.symlink(rt.path(), rt.sockdir)
        with start(rt) as v:
            v.send("ping")
            v.wait_stdout("PONG")
            check(v.stop() == 0, "exit")
            check(v.err.decode() == "libgmr: no control socket: Too many levels of symbolic "
                                    "links\n", "message: %r" % v.err)
        os.unlink(rt.sockdir)
        os.mkdir(rt.sockdir, 0o755)
        with start(rt) as v:
            check(v.stop() == 0, "exit")
            check(v.err.decode() == "libgmr: no control socket: Operation not permitted\n",
                  "message: %r" % v.err)
            check(os.listdir(rt.sockdir) == [], "nothing created")


if __name__ == "__main__":
    run([
        test_reports_through_socket_and_default_signal,
        test_environment_configures_everything,
        test_bad_values_give_one_line_each_and_the_program_runs,
        test_signal_names_and_none,
        test_program_handler_wins_sigaction,
        test_program_handler_wins_signal,
        test_setting_default_keeps_reports,
        test_fork_child_gets_its_own_socket,
        test_exec_child_is_preloaded_again,
        test_socket_removed_at_exit_of_parent_only_by_cleanup,
        test_unsafe_runtime_dir_is_refused,
    ])
