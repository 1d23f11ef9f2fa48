"""Locks and deadlocks against real processes: deadlocked threads inside a pool of busy ones
are found and shown before the first section, in text and in JSON; threads blocked behind a
deadlock are named; a normal mutex locked twice is a deadlock of one thread; a mutex whose
owner exited says so; read-write lock and condition variable waits are identified; threads
hammering a few mutexes produce no deadlock, report after report."""

import html
import json
import os
import re
import signal
import subprocess
import tempfile
import time

from gmrtest import (BANNER, SOURCE_DIR, Victim, check, run, section, split_json_reports,
                     split_text_reports, text_section)

VICTIM = "victim-locks"
VICTIM_SRC = os.path.join(SOURCE_DIR, "tests/integration/helpers/victim-locks.c")


def marker_lines(path):
    """AT:<function> markers -> line numbers."""
    lines = {}
    with open(path) as f:
        for n, text in enumerate(f, 1):
            for m in re.finditer(r"AT:(\w+)", text):
                lines[m.group(1)] = n
    return lines


MARKS = marker_lines(VICTIM_SRC)


def json_report(v):
    n = len(v.json_reports())
    v.kill(signal.SIGUSR2)
    v.wait_stderr(lambda t: len(split_json_reports(t)) > n, timeout=20)
    return v.json_reports()[n]


def text_report(v):
    """A text report written on demand to stdout (gmr_write_report from the main thread)."""
    start = len(v.out)
    v.send("report text")
    deadline = time.monotonic() + 20
    while not re.search(rb"DONE -?\d+\n", v.out[start:]):
        check(time.monotonic() < deadline and v.proc.poll() is None,
              "no report on stdout: %r" % v.out[-500:])
        v._pump(0.2)
    text = v.out[start:].decode("utf-8", "replace")
    check(text.endswith("DONE 0\n"), "report written: %r" % text[-200:])
    reports = split_text_reports(text)
    check(len(reports) == 1, "one text report")
    return reports[0]


def threads_by_name(doc):
    return {t.get("name"): t for t in section(doc, "Threads")["threads"]}


def names_of(deadlock):
    return [step.get("name") for step in deadlock["cycle"]]


def check_cycle(d, names, symbols, function, by_name):
    check(sorted(names_of(d)) == sorted(names), "deadlock threads %r, want %r"
          % (names_of(d), names))
    tids = [by_name[n]["tid"] for n in names]
    check(sorted(d["threads"]) == sorted(tids) and d["threads"][0] == min(tids),
          "cycle %r starts at the smallest tid" % d["threads"])
    check(sorted(lock.get("symbol") for lock in d["locks"]) == sorted(symbols),
          "locks %r" % d["locks"])
    for lock in d["locks"]:
        check(lock["kind"] == "mutex" and re.fullmatch(r"0x[0-9a-f]+", lock["address"]),
              "lock %r" % lock)
    n = len(d["cycle"])
    for i, step in enumerate(d["cycle"]):
        nxt = d["cycle"][(i + 1) % n]
        check(step["held_by"] == nxt["tid"], "step %d held by the next thread: %r" % (i, step))
        w = step["waiting_for"]
        check(w["owner_tid"] == nxt["tid"] and w["symbol"] == d["locks"][i]["symbol"],
              "step %d waits for %r" % (i, w))
        top = step["frames"][0]
        check(top.get("function") == function, "top user frame %r" % top)
        check(top.get("line") == MARKS[function], "%s line %r, want %d"
              % (function, top.get("line"), MARKS[function]))
        check(1 <= len(step["frames"]) <= 4, "frames shown: %d" % len(step["frames"]))


def test_pair_and_ring_in_a_pool():
    with Victim(VICTIM, "--json", "--pool", "20", "--pair", "--ring", "--chain") as v:
        v.wait_ready()
        doc = json_report(v)
        by_name = threads_by_name(doc)
        check(sum(1 for n in by_name if n and n.startswith("worker-")) == 20, "20 workers")
        deadlocks = doc.get("deadlocks")
        check(isinstance(deadlocks, list) and len(deadlocks) == 2, "two deadlocks: %r" % deadlocks)
        pair = [d for d in deadlocks if len(d["cycle"]) == 2]
        ring = [d for d in deadlocks if len(d["cycle"]) == 3]
        check(len(pair) == 1 and len(ring) == 1, "a pair and a ring: %r" % deadlocks)
        check_cycle(pair[0], ["pair-1", "pair-2"], ["pair_lock_a", "pair_lock_b"],
                    "pair_take_second", by_name)
        check_cycle(ring[0], ["ring-1", "ring-2", "ring-3"],
                    ["ring_lock_1", "ring_lock_2", "ring_lock_3"], "ring_take_next", by_name)
        behind = pair[0].get("blocked_behind", [])
        check([b.get("name") for b in behind] == ["chain-wait"], "blocked behind %r" % behind)
        check("blocked_behind" not in ring[0], "nobody behind the ring")
        # The Threads model carries each wait too.
        w = by_name["pair-1"]["waiting_for"]
        check(w["kind"] == "mutex" and w["symbol"] == "pair_lock_b" and w["type"] == "normal"
              and w["owner_tid"] == by_name["pair-2"]["tid"] and w["owner_name"] == "pair-2",
              "pair-1 waits for %r" % w)
        w = by_name["chain-wait"]["waiting_for"]
        check(w["symbol"] == "pair_lock_a" and w["owner_name"] == "pair-1", "chain %r" % w)
        args = by_name["pair-1"]["syscall_args"]
        check(len(args) == 6 and args[0] == by_name["pair-1"]["waiting_for"]["address"],
              "the futex word is the mutex: %r" % args)
        # Workers and the reporter are in no deadlock.
        in_cycles = {s["tid"] for d in deadlocks for s in d["cycle"]}
        for name, t in by_name.items():
            if name and (name.startswith("worker-") or name == "gmr-reporter"):
                check(t["tid"] not in in_cycles, "%s in a deadlock" % name)
            if name == "gmr-reporter":
                check("waiting_for" not in t, "the reporter waits for nothing")
        check(v.stop() == 0, "victim exit status")


def test_text_banner_comes_first():
    with Victim(VICTIM, "--pool", "20", "--pair", "--ring", "--chain") as v:
        v.wait_ready()
        text = text_report(v)
        banner = BANNER + "\n====" + "DEADLOCK DETECTED".center(64) + "====\n" + BANNER + "\n"
        first_section = BANNER + "\n====" + "Package".center(64) + "====\n"
        i, j = text.find(banner), text.find(first_section)
        check(0 <= i < j, "deadlock banner (%d) before the first section (%d)" % (i, j))
        head = text[i + len(banner):j]
        check(head.count("Deadlock ") == 2 and "Deadlock 1 of 2: " in head, head)
        check("2 threads, each waiting for a lock the next one holds" in head, head)
        check("3 threads, each waiting for a lock the next one holds" in head, head)
        check(re.search(r"- Thread #\d+ \(pair-1\)\n  waits for mutex pair_lock_b \(0x[0-9a-f]+\),"
                        r"\n  held by Thread #\d+ \(pair-2\)\n    at pair_take_second \(\S+"
                        r"victim-locks\.c:%d\) \[victim-locks\+0x[0-9a-f]+\]\n"
                        % MARKS["pair_take_second"], head), head)
        check(re.search(r"Blocked behind it: Thread #\d+ \(chain-wait\)\n", head), head)
        threads = text_section(text, "Threads")
        check(re.search(r"waiting for = mutex ring_lock_2 \(0x[0-9a-f]+\), held by Thread #\d+ "
                        r"\(ring-2\)\n", threads), "ring-1's waiting-for line")
        check(v.stop() == 0, "victim exit status")


def test_html_page_shows_deadlocks_first():
    # `gmr render --format html` of a saved JSON report: the deadlock block comes before the
    # first section and says what the text view says; each thread carries its waiting-for line.
    with Victim(VICTIM, "--json", "--pool", "4", "--pair", "--chain") as v:
        v.wait_ready()
        doc = json_report(v)
        check(v.stop() == 0, "victim exit status")
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(doc, f)
        f.flush()
        r = subprocess.run([os.environ.get("GMR_CLI", "gmr"), "render", f.name, "--format",
                            "html"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    check(r.returncode == 0, "render: %r" % r.stderr)
    page = r.stdout.decode()

    def text_of(fragment):
        return html.unescape(re.sub(r"</span>", "\n", re.sub(r"<(?!/span>)[^>]+>", "", fragment)))

    i, j = page.find('<section class="dl"'), page.find('<details class="sec"')
    check(0 <= i < j, "deadlock block (%d) before the first section (%d)" % (i, j))
    block = text_of(page[i:page.index("</section>", i)])
    check("Found one deadlock: 2 threads, each waiting for a lock the next one holds" in block,
          block)
    check(re.search(r"- Thread #\d+ \(pair-1\)\n  waits for mutex pair_lock_b \(0x[0-9a-f]+\),"
                    r"\n  held by Thread #\d+ \(pair-2\)\n    at pair_take_second ", block), block)
    check(re.search(r"Blocked behind it: Thread #\d+ \(chain-wait\)\n", block), block)
    threads = text_of(page[page.find("<summary>Threads</summary>"):])
    check(re.search(r"waiting for = mutex pair_lock_a \(0x[0-9a-f]+\), held by Thread #\d+ "
                    r"\(pair-1\)\n", threads), "chain-wait's waiting-for line")


def test_self_deadlock():
    with Victim(VICTIM, "--json", "--self") as v:
        v.wait_ready()
        doc = json_report(v)
        deadlocks = doc.get("deadlocks", [])
        check(len(deadlocks) == 1 and names_of(deadlocks[0]) == ["self-lock"], "%r" % deadlocks)
        step = deadlocks[0]["cycle"][0]
        check(step["held_by"] == step["tid"] and step["waiting_for"]["symbol"] == "self_lock",
              "%r" % step)
        check(step["frames"][0].get("function") == "self_relock", "%r" % step["frames"])
    with Victim(VICTIM, "--self") as v:
        v.wait_ready()
        text = text_report(v)
        check(re.search(r"Found one deadlock: a thread waits for a lock it holds itself\n"
                        r"- Thread #\d+ \(self-lock\)\n  waits for mutex self_lock \(0x[0-9a-f]+\), "
                        r"which it holds itself\n", text), text[:3000])


def test_owner_exited():
    with Victim(VICTIM, "--json", "--orphan") as v:
        v.wait_ready()
        doc = json_report(v)
        check("deadlocks" not in doc, "no deadlock: %r" % doc.get("deadlocks"))
        w = threads_by_name(doc)["orphan-wait"]["waiting_for"]
        check(w["symbol"] == "orphan_lock" and w["owner_state"] == "exited"
              and isinstance(w["owner_tid"], int), "%r" % w)
        check(not os.path.exists("/proc/%d/task/%d" % (v.pid, w["owner_tid"])), "owner gone")
    with Victim(VICTIM, "--orphan") as v:
        v.wait_ready()
        threads = text_section(text_report(v), "Threads")
        check(re.search(r"waiting for = mutex orphan_lock \(0x[0-9a-f]+\): owner TID \d+ no longer "
                        r"exists\n", threads), threads)


def test_rwlock_and_condvar():
    with Victim(VICTIM, "--json", "--rwlock", "--cond") as v:
        v.wait_ready()
        doc = json_report(v)
        check("deadlocks" not in doc, "no deadlock")
        by_name = threads_by_name(doc)
        holder = by_name["rw-holder"]["tid"]
        r = by_name["rw-reader"]["waiting_for"]
        check(r["kind"] == "rwlock" and r["mode"] == "read" and r["symbol"] == "table_rwlock"
              and r["owner_tid"] == holder and r["owner_name"] == "rw-holder", "reader %r" % r)
        w = by_name["rw-writer"]["waiting_for"]
        check(w["kind"] == "rwlock" and w["mode"] == "write" and w["address"] == r["address"]
              and w["owner_tid"] == holder, "writer %r" % w)
        c = by_name["cond-wait"]["waiting_for"]
        check(c["kind"] == "condvar" and c["symbol"] == "ready_cond" and "owner_tid" not in c,
              "cond %r" % c)
        check("waiting_for" not in by_name["rw-holder"], "the holder waits in read()")
    with Victim(VICTIM, "--rwlock", "--cond") as v:
        v.wait_ready()
        threads = text_section(text_report(v), "Threads")
        check(re.search(r"waiting for = rwlock table_rwlock \(0x[0-9a-f]+\) to read, held for "
                        r"writing by Thread #\d+ \(rw-holder\)\n", threads), threads)
        check(re.search(r"waiting for = condition variable ready_cond \(0x[0-9a-f]+\)\n", threads),
              threads)


def test_contention_is_not_a_deadlock():
    with Victim(VICTIM, "--json", "--contend", "8", "--pool", "6") as v:
        v.wait_ready()
        seen_waits = 0
        for _ in range(12):
            doc = json_report(v)
            check("deadlocks" not in doc, "false deadlock: %r" % doc.get("deadlocks"))
            for t in section(doc, "Threads")["threads"]:
                w = t.get("waiting_for")
                if w and w.get("symbol", "").startswith("hot_lock"):
                    seen_waits += 1
        # Waits are caught only when a thread happens to sleep in the futex: not required.
        print("hammer threads seen waiting for a hot_lock: %d" % seen_waits)
        v.send("stop")
        v.wait_stdout(r"STOPPED\n")
        check(v.stop() == 0, "victim exit status")


if __name__ == "__main__":
    run([test_pair_and_ring_in_a_pool, test_text_banner_comes_first,
         test_html_page_shows_deadlocks_first, test_self_deadlock,
         test_owner_exited, test_rwlock_and_condvar, test_contention_is_not_a_deadlock])
