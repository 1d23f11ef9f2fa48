"""The Green Threads section against a real process (tests/integration/helpers/victim-coro.c,
-O2 without frame pointers): suspended coroutines of both kinds (swapcontext and a
hand-written context switch) with their frames in order and file:line; a running coroutine
shown on its thread, its frames in that thread's stack; 200 reports while another thread
creates, switches and destroys coroutines without pause: every report complete, no stale or
foreign frames."""

import os
import re
import signal
import time

from gmrtest import (SOURCE_DIR, Victim, check, run, section, split_json_reports,
                     split_text_reports, text_section)

VICTIM_SRC = os.path.join(SOURCE_DIR, "tests/integration/helpers/victim-coro.c")

# name -> (context, the functions below co_yield, innermost first, and the outermost frame)
PARKED = {
    "uc-alpha": ("ucontext", ["alpha_3", "alpha_2", "alpha_1", "alpha_entry"], "__start_context"),
    "uc-beta": ("ucontext", ["beta_2", "beta_1", "beta_entry"], "__start_context"),
    "asm-gamma": ("registers", ["gamma_3", "gamma_2", "gamma_1", "gamma_entry"],
                  "victim_coro_start"),
    "asm-delta": ("registers", ["delta_2", "delta_1", "delta_entry"], "victim_coro_start"),
}
# Every function a churned coroutine may be suspended in.
CHURN_FUNCTIONS = {"co_yield", "churn_1", "churn_2", "churn_3", "churn_entry",
                   "__start_context", "victim_coro_start"}


def marker_lines(path):
    """AT:<name> markers -> line numbers."""
    lines = {}
    with open(path) as f:
        for n, text in enumerate(f, 1):
            for m in re.finditer(r"AT:(\w+)", text):
                lines[m.group(1)] = n
    return lines


MARKS = marker_lines(VICTIM_SRC)


def coroutines(doc):
    return section(doc, "Green Threads")["coroutines"]


def by_name(cos, name):
    found = [c for c in cos if c.get("name") == name]
    check(len(found) == 1, "one coroutine named %r: %r" % (name, [c.get("name") for c in cos]))
    return found[0]


def stdout_json(v, command, count=1):
    """Sends @command; returns the JSON reports it wrote on stdout."""
    n = len(split_json_reports(v.out.decode("utf-8", "replace")))
    done = v.out.count(b"DONE ")
    v.send(command)
    deadline = time.monotonic() + 60
    while v.out.count(b"DONE ") == done:
        check(time.monotonic() < deadline and v.proc.poll() is None,
              "%s: no DONE; stderr=%r" % (command, v.err[-2000:]))
        v._pump(0.2)
    docs = split_json_reports(v.out.decode("utf-8", "replace"))[n:]
    check(len(docs) == count, "%s: %d reports, want %d" % (command, len(docs), count))
    return docs


def check_parked(co, name):
    context, chain, outermost = PARKED[name]
    check(co["state"] == "suspended", "%s state %r" % (name, co["state"]))
    check(co["context"] == context, "%s context %r" % (name, co.get("context")))
    check("unavailable" not in co and "unwind_error" not in co,
          "%s: %r" % (name, co.get("unavailable") or co.get("unwind_error")))
    names = [f.get("function") for f in co["frames"]]
    want = ["co_yield"] + chain + [outermost]
    check(names == want, "%s frames %r, want %r" % (name, names, want))
    frames = co["frames"]
    yield_mark = "co_yield_uc" if context == "ucontext" else "co_yield_asm"
    check(frames[0]["line"] == MARKS[yield_mark], "%s co_yield line %r" % (name, frames[0]["line"]))
    for f, fn in zip(frames[1:], chain):
        check(f["file"].endswith("victim-coro.c"), "%s file %r" % (fn, f.get("file")))
        check(f["module"].endswith("/victim-coro"), "%s module %r" % (fn, f.get("module")))
        check(f["inlined"] is False, "%s inlined" % fn)
        if fn in MARKS:
            check(f["line"] == MARKS[fn], "%s line %r, want %d" % (fn, f.get("line"), MARKS[fn]))
            check("AT:%s" % fn in f.get("source", ""), "%s source %r" % (fn, f.get("source")))
        check(re.fullmatch(r"0x[0-9a-f]+", f["pc"]), "%s pc %r" % (fn, f["pc"]))
    check(0 < co["stack_used"] < 4096, "%s stack_used %r" % (name, co.get("stack_used")))
    check(co["stack_size"] == 65536, "%s stack_size" % name)


def test_suspended_coroutines_of_both_kinds():
    with Victim("victim-coro") as v:
        v.wait_ready()
        doc = stdout_json(v, "report json")[0]
        names = [s["title"] for s in doc["sections"]]
        check(names.index("Green Threads") == names.index("Threads") + 1, "order %r" % names)
        sec = section(doc, "Green Threads")
        check(sec["type"] == "green_threads", "type %r" % sec["type"])
        cos = sec["coroutines"]
        check([c["name"] for c in cos] ==
              ["uc-alpha", "uc-beta", "asm-gamma", "asm-delta", "fresh", "uc-runner"],
              "order %r" % [c.get("name") for c in cos])
        check([c["id"] for c in cos] == [1, 2, 3, 4, 5, 6], "ids %r" % [c["id"] for c in cos])
        for name in PARKED:
            check_parked(by_name(cos, name), name)
        check(by_name(cos, "uc-alpha")["switches"] == 2, "alpha switches")
        check(by_name(cos, "asm-delta")["switches"] == 1, "delta switches")
        for name in ("fresh", "uc-runner"):
            co = by_name(cos, name)
            check(co["state"] == "new" and "frames" not in co, "%s: %r" % (name, co))
        check(sec["stats"] == dict(sec["stats"], registered=6, new=2, running=0, suspended=4),
              "stats %r" % sec["stats"])
        check(v.stop() == 0, "exit status")


def test_text_view_by_signal():
    with Victim("victim-coro") as v:
        v.wait_ready()
        v.kill(signal.SIGUSR2)
        text = v.wait_stderr(lambda t: "Green Thread #6" in t and t.endswith("\n\n"), timeout=20)
        report = split_text_reports(text)[0]
        body = text_section(report, "Green Threads")
        check(body.startswith("coroutines = 6 (0 running, 4 suspended, 2 new)\n"), body[:200])
        for i, name in enumerate(["uc-alpha", "uc-beta", "asm-gamma", "asm-delta"], 1):
            banner = "------" + ("Green Thread #%d (%s)" % (i, name)).center(60) + "------\n"
            check(banner in body, "banner of %s" % name)
            block = body[body.index(banner):].split("\n\n")[0]
            kind = PARKED[name][0]
            check("\nstate = suspended (%s), switches = " % kind in block, block[:300])
            chain = PARKED[name][1]
            for depth, fn in enumerate(chain, 1):
                want = re.compile(r"\n  #%d +0x[0-9a-f]+ in %s \(\S*victim-coro\.c:%d\) "
                                  r"\[victim-coro\+0x[0-9a-f]+\]\n" % (depth, fn, MARKS[fn])
                                  if fn in MARKS else
                                  r"\n  #%d +0x[0-9a-f]+ in %s \(" % (depth, fn))
                check(want.search(block), "%s frame line of %s in %r" % (name, fn, block))
        check("state = new, switches = 0\n" in body, "new coroutines")
        check(v.stop() == 0, "exit status")


def test_running_coroutine_is_on_its_thread():
    with Victim("victim-coro") as v:
        v.wait_ready()
        doc = stdout_json(v, "inside")[0]
        check("DONE 0\n" in v.out.decode(), "report from inside the coroutine failed")
        co = by_name(coroutines(doc), "uc-runner")
        check(co["state"] == "running" and co["tid"] == v.pid, "runner %r" % co)
        check("frames" not in co, "running coroutine has no frames of its own")
        main = [t for t in section(doc, "Threads")["threads"] if t["tid"] == v.pid][0]
        names = [f.get("function") for f in main.get("frames", [])]
        check(["runner_2", "runner_1", "runner_entry"] ==
              [n for n in names if n and n.startswith("runner_")], "main thread %r" % names)
        # The thread's walk ends, complete, at the trampoline makecontext() set up.
        check(names[-1] == "__start_context" and "unwind_error" not in main,
              "main thread ends %r, %r" % (names[-3:], main.get("unwind_error")))
        # The parked ones are untouched.
        for name in PARKED:
            check_parked(by_name(coroutines(doc), name), name)
        # Back in the scheduler: suspended again, after the report call.
        doc = stdout_json(v, "report json")[0]
        co = by_name(coroutines(doc), "uc-runner")
        check(co["state"] == "suspended", "runner after %r" % co["state"])
        names = [f.get("function") for f in co["frames"]]
        check(names == ["co_yield", "runner_entry", "__start_context"], "runner frames %r" % names)
        check(v.stop() == 0, "exit status")


def test_reports_while_coroutines_churn():
    with Victim("victim-coro") as v:
        v.wait_ready()
        v.send("churn on")
        v.wait_stdout(r"CHURNING\n")
        docs = stdout_json(v, "reports 200", count=200)
        check("DONE 200 0\n" in v.out.decode(), "a report failed: %r" % v.out[-200:])
        with_frames = changed = 0
        churn_seen = set()
        for doc in docs:
            for s in doc["sections"]:
                check("error" not in s, "section %s: %s" % (s["title"], s.get("error")))
            sec = section(doc, "Green Threads")
            cos = sec["coroutines"]
            for name in PARKED:
                check_parked(by_name(cos, name), name)
            for co in cos:
                if not co.get("name", "").startswith("churn-"):
                    continue
                churn_seen.add(co["name"])
                check(co["state"] in ("new", "running", "suspended"), "state %r" % co["state"])
                if "unavailable" in co:
                    check("changed state" in co["unavailable"], "unavailable %r" % co)
                    check("frames" not in co, "frames with unavailable")
                    changed += 1
                    continue
                if co["state"] != "suspended":
                    check("frames" not in co, "frames of a %s coroutine" % co["state"])
                    continue
                names = [f.get("function") for f in co["frames"]]
                check(set(names) <= CHURN_FUNCTIONS, "%s: foreign frames %r" % (co["name"], names))
                check(names[0] == "co_yield" and names[-2] == "churn_entry"
                      and names[-1] in ("__start_context", "victim_coro_start"),
                      "%s frames %r" % (co["name"], names))
                outer = "__start_context" if co["context"] == "ucontext" else "victim_coro_start"
                check(names[-1] == outer, "%s outermost %r for %s" % (co["name"], names, co["context"]))
                check("unwind_error" not in co, "%s: %r" % (co["name"], co.get("unwind_error")))
                with_frames += 1
        check(with_frames > 100, "only %d churned coroutines had their stack read" % with_frames)
        check(len(churn_seen) > 16, "the churn thread replaced coroutines: %d" % len(churn_seen))
        v.send("churn off")
        m = v.wait_stdout(r"CHURNED (\d+)\n")
        check(int(m.group(1)) > 100, "coroutines destroyed: %s" % m.group(1))
        print("  %d churned stacks read, %d changed while read, %d names" %
              (with_frames, changed, len(churn_seen)))
        check(v.stop() == 0, "exit status")


if __name__ == "__main__":
    run([
        test_suspended_coroutines_of_both_kinds,
        test_text_view_by_signal,
        test_running_coroutine_is_on_its_thread,
        test_reports_while_coroutines_churn,
    ])
