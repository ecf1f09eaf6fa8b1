#!/usr/bin/env python3
"""Standalone reproduction of CPython's shared_memory resource-tracker bug
(bpo-38119 / gh-82300, bpo-39959 / gh-84140). Stdlib only; no harness needed.

    python3.X repro.py            # stock stdlib, then the `if create:` fix
    python3.X repro.py --stock    # stock stdlib only
    python3.X repro.py --patched  # the fix only

Three independent interpreters (not one multiprocessing family):
  P1 creates the segment, writes data and waits;
  P2 attaches (create=False), reads, exits;
  P3 attaches.
On a stock stdlib, P2's resource tracker believes P2 owned the segment, warns
about a "leaked shared_memory object" at P2's exit and unlinks it, so P3 gets
FileNotFoundError and P1's own unlink() fails.

--patched copies this interpreter's `multiprocessing` package into a temp
dir, applies the fix to the copy, and puts the copy first on PYTHONPATH (the
installed stdlib is never touched). The fix is the report's candidate (the
diff below, for this Python version) when the bundle that holds this file
had one; otherwise the seed's: SharedMemory registers with the tracker only
`if create:`. Exit status: 0 when what happened is what the mode predicts
(stock: the bug reproduces; patched: it does not), 1 otherwise.
"""

import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile

SIZE = 4096
TIMEOUT = 60

# The report's candidate fix, one unified diff per minor version (filled in
# by `shmharness report`; empty: the seed's `if create:`).
CANDIDATE = None
PATCHES = {}


# ---- the three processes ----------------------------------------------------

def say(event, **fields):
    fields["event"] = event
    sys.stdout.write(json.dumps(fields, sort_keys=True) + "\n")
    sys.stdout.flush()


def payload(name):
    return (name.encode() * (SIZE // len(name) + 1))[:SIZE]


def role_creator(name):
    import multiprocessing
    from multiprocessing import shared_memory

    say("start", multiprocessing=multiprocessing.__file__)
    shm = shared_memory.SharedMemory(name=name, create=True, size=SIZE)
    shm.buf[:SIZE] = payload(name)
    say("created")
    sys.stdin.readline()  # wait until the others are done
    shm.close()
    shm.unlink()  # FileNotFoundError when the segment is already gone
    say("unlinked")


def role_attacher(name):
    import multiprocessing
    from multiprocessing import shared_memory

    say("start", multiprocessing=multiprocessing.__file__)
    shm = shared_memory.SharedMemory(name=name, create=False)
    say("attached", data_ok=bytes(shm.buf[:SIZE]) == payload(name))
    shm.close()


# ---- the overlay --------------------------------------------------------------

def patch_source(text):
    """Return `text` with the register call guarded by `create`."""
    lines = text.splitlines(True)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if "register(self._name" not in stripped or "unregister" in stripped:
            continue
        indent = line[: len(line) - len(line.lstrip())]
        prev = lines[i - 1].strip()
        if prev == "if self._track:":  # 3.13+: track=True keyword
            lines[i - 1] = lines[i - 1].replace("if self._track:", "if self._track and create:")
            return "".join(lines)
        start = i - 1 if prev == "from .resource_tracker import register" else i  # 3.8, 3.9
        block = ["    " + l if l.strip() else l for l in lines[start : i + 1]]
        return "".join(lines[:start] + [indent + "if create:\n"] + block + lines[i + 1 :])
    raise SystemExit("repro.py: cannot find the register call in shared_memory.py")


def apply_diff(package, diff):
    """Apply the Lib/multiprocessing/ files of a unified diff to `package`,
    strictly: every context and removed line must match (at the header's
    line, or the nearest place it does)."""
    lines = diff.splitlines()
    i = 0
    while i < len(lines):
        if not (lines[i].startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")):
            i += 1
            continue
        path = lines[i + 1][4:].split("\t")[0].strip()
        i += 2
        rel = None
        for prefix in ("b/Lib/multiprocessing/", "Lib/multiprocessing/", "multiprocessing/"):
            if path.startswith(prefix):
                rel = path[len(prefix):]
        target = os.path.join(package, rel) if rel else None
        text = open(target).read().splitlines() if target and os.path.exists(target) else []
        shift = 0
        while i < len(lines) and lines[i].startswith("@@"):
            start = int(lines[i].split()[1].lstrip("-").split(",")[0] or 1)
            old, new = [], []
            i += 1
            while i < len(lines) and not lines[i].startswith(("@@", "--- ", "diff ")):
                line = lines[i]
                kind, body = (line[:1], line[1:]) if line else (" ", "")
                if kind in " -":
                    old.append(body)
                if kind in " +":
                    new.append(body)
                i += 1
            if target is None:
                continue
            want = max(start - 1 + shift, 0)
            places = [at for at in range(len(text) - len(old) + 1) if text[at:at + len(old)] == old]
            if not places:
                raise SystemExit("repro.py: the candidate's patch does not apply to %s" % rel)
            at = min(places, key=lambda p: abs(p - want))
            text[at:at + len(old)] = new
            shift += len(new) - len(old) + at - want
        if target is not None:
            with open(target, "w") as f:
                f.write("\n".join(text) + "\n")


def build_overlay(root):
    import multiprocessing

    src = os.path.dirname(multiprocessing.__file__)
    dst = os.path.join(root, "multiprocessing")
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    minor = "%d.%d" % sys.version_info[:2]
    if minor in PATCHES:
        print("fix: %s, the diff the report applied on %s" % (CANDIDATE, minor))
        apply_diff(dst, PATCHES[minor])
        return PATCHES[minor]
    if CANDIDATE:
        print("fix: the report has no %s diff for %s; showing the seed's `if create:`" % (CANDIDATE, minor))
    path = os.path.join(dst, "shared_memory.py")
    with open(path) as f:
        old = f.read()
    new = patch_source(old)
    with open(path, "w") as f:
        f.write(new)
    diff = difflib.unified_diff(
        old.splitlines(True), new.splitlines(True),
        "a/Lib/multiprocessing/shared_memory.py", "b/Lib/multiprocessing/shared_memory.py",
    )
    return "".join(diff)


# ---- the driver ---------------------------------------------------------------

def spawn(role, name, env, stdin=None):
    return subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "_" + role, name],
        stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env, universal_newlines=True,
    )


def finish(label, proc, stdin_text=None, head=""):
    # Reading stderr to EOF also waits for the process's resource tracker,
    # which inherits stderr and prints its warnings after the process exits.
    out, err = proc.communicate(stdin_text, timeout=TIMEOUT)
    out = head + out
    print("%s exit %s" % (label, proc.returncode))
    for line in out.splitlines():
        print("  %s stdout | %s" % (label, line))
    for line in err.splitlines():
        print("  %s stderr | %s" % (label, line))
    return proc.returncode, out, err


def cleanup(name):
    try:
        import _posixshmem

        _posixshmem.shm_unlink("/" + name)
    except Exception:
        pass


def scenario(mode):
    env = dict(os.environ)
    tmp = None
    if mode == "patched":
        tmp = tempfile.mkdtemp(prefix="repro-overlay-")
        diff = build_overlay(tmp)
        print("overlay: %s/multiprocessing, patched:" % tmp)
        sys.stdout.write(diff)
        env["PYTHONPATH"] = os.pathsep.join([tmp] + [p for p in [env.get("PYTHONPATH")] if p])
    name = "repro%d_%s" % (os.getpid(), mode[0])
    print("\n== %s: Python %s, segment /%s" % (mode, sys.version.split()[0], name))
    try:
        p1 = spawn("creator", name, env, stdin=subprocess.PIPE)
        head = p1.stdout.readline()  # start
        head += p1.stdout.readline()  # created
        if '"created"' not in head:
            finish("P1", p1, head=head)
            raise SystemExit("repro.py: P1 could not create the segment")
        p2 = finish("P2", spawn("attacher", name, env))
        p3 = finish("P3", spawn("attacher", name, env))
        p1 = finish("P1", p1, "done\n", head=head)
    finally:
        cleanup(name)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    leak = "resource_tracker: There appear to be"
    # The harm is P3 finding the segment gone; P2's warning only explains it
    # (a change that silences the warning and keeps the destruction is no fix).
    bug = "FileNotFoundError" in p3[2]
    print("-- what happened (%s):" % mode)
    print("   P2 (attached only) leak warning at exit: %s" % ("YES" if leak in p2[2] else "no"))
    print("   P3 attach: %s" % ("FileNotFoundError" if "FileNotFoundError" in p3[2] else "ok, data %s" % ("intact" if '"data_ok": true' in p3[1] else "WRONG")))
    print("   P1 close()+unlink(): %s" % ("exit 0" if p1[0] == 0 else "exit %s (%s)" % (p1[0], "FileNotFoundError" if "FileNotFoundError" in p1[2] else "error")))
    if bug:
        print("   => BUG REPRODUCED: a process that only attached destroyed a segment it does not own")
    else:
        print("   => bug not reproduced: P3 read the segment, so it survived until its creator unlinked it")
    return bug


def main(argv):
    if len(argv) == 3 and argv[1] in ("_creator", "_attacher"):
        {"_creator": role_creator, "_attacher": role_attacher}[argv[1]](argv[2])
        return 0
    if sys.version_info < (3, 8):
        print("multiprocessing.shared_memory needs Python 3.8 or newer")
        return 2
    if os.name == "nt":
        print("Windows has no resource tracker for shared memory, so no bug to show")
        return 2
    modes = ["stock", "patched"]
    if "--stock" in argv[1:]:
        modes = ["stock"]
    elif "--patched" in argv[1:]:
        modes = ["patched"]
    elif len(argv) > 1:
        print(__doc__)
        return 2
    as_predicted = True
    for mode in modes:
        bug = scenario(mode)
        as_predicted = as_predicted and (bug == (mode == "stock"))
    return 0 if as_predicted else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
