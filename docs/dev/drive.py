#!/usr/bin/env python3
"""Throwaway driver for the catalogue scenarios (issue 12), kept as a dev tool.

It does, in Python, what the Rust engine will do for the new scenarios, so
their expected symptom sets can be observed before the engine knows them:
build one overlay per (interpreter, variant) (a copy of the interpreter's
`multiprocessing` with `patches/<variant>/<family>.diff` applied by
`patch -p2 -F0`, byte-compiled once), run `pyscenarios/roles.py` processes
in the scenario's order, read every process's stdout and stderr to EOF (so
the resource trackers' last words are in), and turn what they said into the
harness's symptom keys (`P1 leak warning`, `P2 tracker KeyError`,
`P3 FileNotFoundError`, `P1 child FileNotFoundError`, `segment leaked`, ...;
see src/judge/symptoms.rs and src/scenario/observe.rs, reimplemented here).

Tracker exit status (3.13+, gh-104090): the driver makes itself a child
subreaper (prctl PR_SET_CHILD_SUBREAPER), runs the roles with
SHMHARNESS_TRACKER_EVENTS=1 so each process names the tracker it started
(`tracker` {pid}), and after a case waitpid()s each named pid. Every tracker
here is orphaned when its process exits and so is reaped by the driver (see
docs/catalogue-observations.md for why, even on versions with gh-88887's
ResourceTracker.__del__).

One case at a time per driver process (a blocking waitpid must not steal
another case's orphan); run two shards for two cores:

    drive.py --shard 0/2 --json a.jsonl &  drive.py --shard 1/2 --json b.jsonl

No sleeps: every wait is on a pipe, a queue fed by a pipe reader, or
waitpid. Segment names are `shmh<6 hex>_<n>` (manager: plus `_m1`, `_m2`);
the driver unlinks only those, and only if they outlived the case.
"""

import argparse
import ctypes
import itertools
import json
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = os.path.join(REPO, "pyscenarios", "roles.py")
PATCHES = os.path.join(REPO, "patches")

PYTHONS = [
    os.path.expanduser("~/.pyenv/versions/%s/bin/python3" % v)
    for v in ("3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0")
] + [
    "/usr/bin/python3.11",
    "/opt/shmharness-pythons/3.13/bin/python3.13",
    "/opt/shmharness-pythons/3.14/bin/python3.14",
    "/opt/shmharness-pythons/3.15/bin/python3.15",
]

VARIANTS = [
    "stock",
    "create-only",
    "no-register",
    "no-tracking",
    "create-only+unlink-guard",
    "create-only+lenient-tracker",
    "track-false",
    "userland-unregister",
]
METHODS = ["fork", "spawn", "forkserver"]
SIZE = 4096
TIMEOUT = 60.0

LEAK_PREFIX = "resource_tracker: There appear to be"
TRACKER_WARNING = "UserWarning: resource_tracker: "
TRACEBACK = "Traceback (most recent call last):"


# ---------------------------------------------------------------- scenarios
# A step is ("start", [proc]), ("run", [proc]), ("tell", label, line) or
# ("finish", [labels], line-or-None). A proc is (label, group, role argv
# after NAME SIZE). MODE is the variant's attach mode.


def creator(label="P1", extra=()):
    return (label, label, ["creator"], list(extra))


def attacher(label, extra=()):
    return (label, label, ["attacher"], ["--mode", "MODE"] + list(extra))


def scenario_steps(name, method):
    m = ["--start-method", method] if method else []
    ms = " --start-method %s" % method if method else ""
    if name == "family":
        return [("start", [creator()]), ("tell", "P1", "spawn-child MODE" + ms),
                ("tell", "P1", "check"), ("finish", ["P1"], "unlink")]
    if name == "family-attacher-unlinks":
        return [("start", [creator()]), ("tell", "P1", "spawn-child MODE unlink" + ms),
                ("finish", ["P1"], "close")]
    if name == "family-object":
        return [("start", [creator()]), ("tell", "P1", "object-child MODE" + ms),
                ("tell", "P1", "check"), ("finish", ["P1"], "unlink")]
    if name == "family-object-unlinks":
        return [("start", [creator()]), ("tell", "P1", "object-child MODE unlink" + ms),
                ("finish", ["P1"], "close")]
    if name == "shareable-list":
        sl = ["--shareable-list"]
        return [("start", [creator(extra=sl)]), ("run", [attacher("P2", sl)]),
                ("run", [attacher("P3", sl)]), ("finish", ["P1"], "unlink")]
    if name == "manager":
        p1 = ("P1", "P1", ["manager"], ["--mode", "MODE"] + m)
        return [("start", [p1]), ("tell", "P1", "child"), ("tell", "P1", "check"),
                ("finish", ["P1"], "shutdown")]
    if name == "raw-fork":
        return [("start", [creator()]), ("tell", "P1", "raw-fork MODE"),
                ("tell", "P1", "check"), ("finish", ["P1"], "unlink")]
    if name == "attach-fails":
        return [("start", [creator()]), ("tell", "P1", "grow"), ("run", [attacher("P2")]),
                ("tell", "P1", "shrink"), ("run", [attacher("P3")]),
                ("finish", ["P1"], "unlink")]
    # The 8 scenarios the Rust engine already has (src/scenario/catalogue.rs),
    # to cross-check this driver and roles.py against its expectation table.
    if name == "three-process":
        return [("start", [creator()]), ("run", [attacher("P2")]), ("run", [attacher("P3")]),
                ("finish", ["P1"], "unlink")]
    if name == "attacher-unlinks":
        return [("start", [creator()]), ("run", [attacher("P2", ["--unlink"])]),
                ("finish", ["P1"], "close")]
    if name == "creator-crashes":
        return [("start", [creator()]), ("crash", "P1")]
    if name == "creator-exits-without-unlink":
        return [("start", [creator()]), ("finish", ["P1"], "close")]
    if name == "many-attachers":
        hold = [("A%d" % i, "A*", ["attacher"], ["--mode", "MODE", "--hold"]) for i in (1, 2)]
        return [("start", [creator()]), ("start", hold), ("finish", ["A1", "A2"], None),
                ("run", [("B1", "B*", ["attacher"], ["--mode", "MODE"])]),
                ("run", [("B2", "B*", ["attacher"], ["--mode", "MODE"])]),
                ("run", [attacher("R")]), ("finish", ["P1"], "unlink")]
    if name == "creator-unlinks-first":
        return [("start", [creator()]), ("tell", "P1", "unlink"), ("run", [attacher("P2")]),
                ("finish", ["P1"], None)]
    raise SystemExit("unknown scenario %s" % name)


WITH_METHOD = ["family", "family-attacher-unlinks", "family-object",
               "family-object-unlinks", "manager"]
NEW = WITH_METHOD + ["shareable-list", "raw-fork", "attach-fails"]
OLD = ["three-process", "attacher-unlinks", "creator-crashes", "creator-exits-without-unlink",
       "many-attachers", "creator-unlinks-first"]  # + family, family-attacher-unlinks [spawn]


# ---------------------------------------------------------------- overlays


def probe(py):
    out = subprocess.run(
        [py, "-I", "-c", "import sys,os,multiprocessing as m;"
         "print('%d.%d.%d' % sys.version_info[:3]);print(os.path.dirname(m.__file__))"],
        capture_output=True, text=True, check=True).stdout.split("\n")
    return out[0], out[1]


def family(version):
    minor = int(version.split(".")[1])
    return "3.8-3.9" if minor <= 9 else "3.10-3.12" if minor <= 12 else "3.13"


def build_overlay(py, version, mpdir, variant, root):
    diff = os.path.join(PATCHES, variant, family(version) + ".diff")
    if not os.path.exists(diff):
        return None
    dest = os.path.join(root, "%s-%s" % (version, variant.replace("+", "_")))
    shutil.copytree(mpdir, os.path.join(dest, "multiprocessing"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(diff) as f:
        r = subprocess.run(["patch", "-p2", "-F0", "--no-backup-if-mismatch", "-d", dest],
                           stdin=f, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("patch %s does not apply to %s: %s" % (diff, version, r.stdout))
    subprocess.run([py, "-I", "-B", "-m", "compileall", "-q", dest], check=True)
    return dest


def attach_mode(variant):
    return {"track-false": "track-false",
            "userland-unregister": "userland-unregister"}.get(variant, "default")


# ---------------------------------------------------------------- processes


class Proc:
    def __init__(self, label, group, argv, env):
        self.label, self.group = label, group
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env, start_new_session=True)
        self.lines = queue.Queue()
        self.stdout, self.stderr = [], []
        self.t_out = threading.Thread(target=self._pump, args=(self.p.stdout, self.stdout, True))
        self.t_err = threading.Thread(target=self._pump, args=(self.p.stderr, self.stderr, False))
        self.t_out.start()
        self.t_err.start()
        self.timed_out = False
        self.killed_by_harness = False

    def _pump(self, stream, sink, feed):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            sink.append(line)
            if feed:
                self.lines.put(line)
        if feed:
            self.lines.put(None)

    def wait_event(self, pred, deadline):
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise TimeoutError(self.label)
            if line is None:
                return False
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if pred(ev):
                return True

    def tell(self, line):
        try:
            self.p.stdin.write((line + "\n").encode())
            self.p.stdin.flush()
        except BrokenPipeError:
            pass

    def kill(self):
        self.timed_out = True
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def finish(self, deadline):
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        for t in (self.t_out, self.t_err):
            t.join(max(0.01, deadline - time.monotonic()))
            if t.is_alive():
                self.kill()
                t.join()
        self.code = self.p.wait()


def run_case(py, overlay, mode, scenario, method, name):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["SHMHARNESS_TRACKER_EVENTS"] = "1"
    if overlay:
        env["PYTHONPATH"] = overlay
    live, done = {}, []
    deadline = time.monotonic() + TIMEOUT
    error = None

    def spawn(proc):
        label, group, role, extra = proc
        extra = [mode if a == "MODE" else a for a in extra]
        argv = [py, "-B", "-s", ROLES, role[0], name, str(SIZE)] + extra
        return Proc(label, group, argv, env)

    try:
        for step in scenario_steps(scenario, method):
            kind = step[0]
            if kind == "start":
                for proc in step[1]:
                    pr = spawn(proc)
                    live[pr.label] = pr
                    if not pr.wait_event(lambda e: e.get("event") in ("ready", "holding"), deadline):
                        raise RuntimeError("%s ended before ready" % pr.label)
            elif kind == "run":
                prs = [spawn(proc) for proc in step[1]]
                for pr in prs:
                    pr.finish(deadline)
                    done.append(pr)
            elif kind == "tell":
                pr = live[step[1]]
                line = step[2].replace("MODE", mode)
                word = line.split()[0]
                pr.tell(line)
                if not pr.wait_event(lambda e: e.get("event") == "done" and e.get("command") == word,
                                     deadline):
                    pass  # it died; its stderr says why
            elif kind == "crash":
                # SIGKILL the leader only: its tracker lives on (own group).
                pr = live.pop(step[1])
                pr.p.kill()
                pr.killed_by_harness = True
                pr.finish(deadline)
                done.append(pr)
            elif kind == "finish":
                for label in step[1]:
                    pr = live.pop(label)
                    if step[2]:
                        word = step[2].split()[0]
                        pr.tell(step[2])
                        pr.wait_event(lambda e: e.get("event") == "done" and e.get("command") == word,
                                      deadline)
                    pr.finish(deadline)
                    done.append(pr)
    except (TimeoutError, RuntimeError) as e:
        error = "%s: %s" % (type(e).__name__, e)
    for pr in list(live.values()):
        pr.finish(deadline)
        done.append(pr)
    return done, error


# ---------------------------------------------------------------- observing


def parse_stderr(text):
    lines = text.splitlines()
    leaks, errors, tbs = 0, [], []
    i = 0
    while i < len(lines):
        line = lines[i]
        at = line.find(TRACKER_WARNING)
        if at >= 0:
            msg = line[at + len("UserWarning: "):]
            if msg.startswith(LEAK_PREFIX):
                leaks += 1
            else:
                errors.append(msg)
            i += 1
            continue
        if line.startswith(TRACEBACK):
            frames = []
            i += 1
            while i < len(lines):
                l = lines[i]
                if l.startswith("  File "):
                    frames.append(l)
                elif not l.startswith(" ") and l:
                    at_ = lambda k: lines[i + k] if i + k < len(lines) else "\0"
                    if (at_(1) == "" and (at_(2).startswith("During handling")
                                          or at_(2).startswith("The above exception"))
                            and at_(3) == "" and at_(4).startswith(TRACEBACK)):
                        frames = []
                        i += 5
                        continue
                    exc = l.split(":")[0].strip()
                    first = frames[0] if frames else ""
                    if 'roles.py", line ' in first and first.endswith("in <module>"):
                        origin = "process"
                    elif any("resource_tracker.py" in f for f in frames):
                        origin = "tracker"
                    else:
                        origin = "other"
                    tbs.append((exc, origin, l))
                    i += 1
                    break
                i += 1
            continue
        i += 1
    return leaks, errors, tbs


def segment_exists(name):
    return os.path.exists("/dev/shm/" + name)


def observe(procs, names, overlay, stock_mp):
    symptoms = set()
    trackers = []
    mp_ok = True
    for pr in procs:
        g = pr.group
        events = []
        for l in pr.stdout:
            try:
                events.append(json.loads(l))
            except ValueError:
                pass
        for e in events:
            if e.get("event") == "start":
                f = e.get("multiprocessing", "")
                want = overlay if overlay else stock_mp
                if not f.startswith(want):
                    mp_ok = False
            if e.get("event") == "tracker":
                trackers.append((g, e["pid"], e.get("who")))
            if e.get("event") == "read" and e.get("data_ok") is False:
                symptoms.add("%s data lost" % g)
            if e.get("event") == "child-exited" and e.get("exitcode") != 0:
                symptoms.add("%s child exit %s" % (g, e.get("exitcode")))
        leaks, errors, tbs = parse_stderr("".join(pr.stderr))
        if leaks:
            symptoms.add("%s leak warning" % g)
        if errors:
            symptoms.add("%s tracker error" % g)
        own = None
        for exc, origin, _ in tbs:
            if origin == "process":
                symptoms.add("%s %s" % (g, exc))
                own = exc
            elif origin == "tracker":
                symptoms.add("%s tracker %s" % (g, exc))
            else:
                symptoms.add("%s child %s" % (g, exc))
        if pr.timed_out:
            symptoms.add("%s timeout" % g)
        elif pr.code < 0 and not pr.killed_by_harness:
            symptoms.add("%s killed by signal %d" % (g, -pr.code))
        elif pr.code > 0 and own is None:
            symptoms.add("%s exit %d" % (g, pr.code))
    leaked = []
    for n in names:
        if segment_exists(n):
            leaked.append(n)
            os.unlink("/dev/shm/" + n)
    if leaked:
        symptoms.add("segment leaked")
    # Reap the trackers the processes named (all orphaned to us by now).
    tracker_codes = {}
    for g, pid, who in trackers:
        try:
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            code = "not ours"
        tracker_codes.setdefault(g, []).append("%s=%s" % (who, code))
    return sorted(symptoms), tracker_codes, mp_ok


def reap_strays():
    n = 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return n
        if pid == 0:
            return n
        n += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", action="append")
    ap.add_argument("--variant", action="append")
    ap.add_argument("--scenario", action="append")
    ap.add_argument("--start-method", action="append")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--shard", default="0/1")
    ap.add_argument("--json", required=True)
    ap.add_argument("--transcript", action="store_true", help="keep every transcript")
    a = ap.parse_args()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        raise SystemExit("cannot become a subreaper")
    k, n = map(int, a.shard.split("/"))
    pythons = a.python or PYTHONS
    variants = a.variant or VARIANTS
    scenarios = a.scenario or NEW
    if scenarios == ["old"]:
        scenarios = OLD + ["family", "family-attacher-unlinks"]
    methods = a.start_method or METHODS
    prefix = "shmh%s" % secrets.token_hex(3)
    counter = itertools.count()
    root = tempfile.mkdtemp(prefix="shmh-drive-")
    cases = []
    for py in pythons:
        for variant in variants:
            for sc in scenarios:
                for m in (methods if sc in WITH_METHOD else [None]):
                    for rep in range(a.repeat):
                        cases.append((py, variant, sc, m, rep))
    cases = [c for i, c in enumerate(cases) if i % n == k]
    overlays, probes = {}, {}
    try:
        with open(a.json, "a") as out:
            for py, variant, sc, m, rep in cases:
                if py not in probes:
                    probes[py] = probe(py)
                version, mpdir = probes[py]
                if variant == "track-false" and int(version.split(".")[1]) < 13:
                    continue
                if (py, variant) not in overlays:
                    overlays[(py, variant)] = build_overlay(py, version, mpdir, variant, root)
                overlay = overlays[(py, variant)]
                name = "%s_%d" % (prefix, next(counter))
                names = [name] + (["%s_m1" % name, "%s_m2" % name] if sc == "manager" else [])
                t0 = time.monotonic()
                procs, error = run_case(py, overlay, attach_mode(variant), sc, m, name)
                symptoms, trackers, mp_ok = observe(procs, names, overlay, mpdir)
                strays = reap_strays()
                rec = {
                    "python": py, "version": version, "variant": variant, "scenario": sc,
                    "start_method": m, "rep": rep, "symptoms": symptoms,
                    "tracker_exit": trackers, "mp_ok": mp_ok, "error": error,
                    "strays": strays, "secs": round(time.monotonic() - t0, 2),
                }
                if error or not mp_ok or a.transcript:
                    rec["transcript"] = {pr.label: {"stdout": "".join(pr.stdout),
                                                    "stderr": "".join(pr.stderr)} for pr in procs}
                out.write(json.dumps(rec, sort_keys=True) + "\n")
                out.flush()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
