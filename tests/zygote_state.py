"""Does a role forked by the zygote start in the state a fresh interpreter
starts in? (tests/zygote.rs runs this with the oldest and newest CPython.)

    python -I zygote_state.py ZYGOTE_PY

Plays the harness: a child subreaper that runs PROBE (below) once as
`python -B -s probe.py raise x` and once forked by ZYGOTE_PY (a socket, four
fds, the go byte), then compares what each saw of itself, its stderr (the
traceback of an uncaught exception) and its exit status. Prints `same`, or
each difference, and exits 1 if there is one. Python 3.8 compatible.
"""

import ctypes
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile

PROBE = r'''
import hashlib
import json
import os
import sys
from multiprocessing import shared_memory


def fds():
    out = {}
    for fd in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        out[fd] = [target.split(":")[0], os.get_inheritable(int(fd))]
    return out


def stream(s):
    return [s.encoding, s.errors, s.line_buffering, getattr(s, "write_through", None),
            type(s.buffer).__name__, type(s.buffer.raw).__name__, s.seekable(), s.isatty(),
            s.fileno()]


def signals():
    import signal
    out = {}
    for name in sorted(dir(signal)):
        number = getattr(signal, name)
        if name.startswith("SIG") and not name.startswith("SIG_") and isinstance(number, int):
            try:
                handler = signal.getsignal(number)
            except (OSError, ValueError):
                continue
            out[name] = getattr(handler, "__name__", repr(handler))
    return out


def state():
    import atexit, gc, resource, signal, threading
    import multiprocessing
    from multiprocessing import process, resource_tracker, spawn
    main = sys.modules["__main__"]
    loader = main.__dict__.get("__loader__")
    prep = spawn.get_preparation_data("x")
    prep.pop("authkey", None)
    driver = int(os.environ["ZYGOTE_STATE_DRIVER"])
    return {
        "modules": sorted(sys.modules),
        "aliases of __main__": sorted(k for k, v in sys.modules.items() if v is main),
        "argv": sys.argv,
        "orig_argv": getattr(sys, "orig_argv", None),
        "path": sys.path,
        "__main__": [[k, repr(v)] for k, v in main.__dict__.items()
                     if k.startswith("__") and k not in ("__loader__", "__builtins__")],
        "__main__ loader": [type(loader).__name__, getattr(loader, "name", None),
                            getattr(loader, "path", None)],
        "__main__ builtins": type(main.__dict__.get("__builtins__")).__name__,
        "fds": fds(),
        "own process group": os.getpgrp() == os.getpid(),
        "parent is the harness": os.getppid() == driver,
        "session": os.getsid(0) == os.getsid(driver),
        "signals": signals(),
        "blocked signals": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
        "flags": repr(sys.flags),
        "warnoptions": sys.warnoptions,
        "threads": threading.active_count(),
        "atexit callbacks": atexit._ncallbacks(),
        "authkey bytes": len(process.current_process().authkey),
        "current process": [process.current_process().name,
                            list(process.current_process()._identity)],
        "children": len(process._children),
        "tracker": [resource_tracker._resource_tracker._fd,
                    getattr(resource_tracker._resource_tracker, "_pid", None)],
        "spawn preparation data": prep,
        "start method chosen": multiprocessing.context._default_context._actual_context is not None,
        "stdin": stream(sys.stdin), "stdout": stream(sys.stdout), "stderr": stream(sys.stderr),
        "environ": dict(os.environ),
        "cwd": os.getcwd(),
        "umask": os.umask(0o22),
        "rlimits": [resource.getrlimit(getattr(resource, r))
                    for r in sorted(dir(resource)) if r.startswith("RLIMIT_")],
        "gc": [gc.isenabled(), gc.get_threshold(), getattr(gc, "get_freeze_count", lambda: 0)()],
        "excepthook": repr(sys.excepthook),
        "recursion limit": sys.getrecursionlimit(),
        "executable": sys.executable,
    }


def main(argv):
    sys.stdout.write(json.dumps(state(), sort_keys=True) + "\n")
    sys.stdout.flush()
    if argv[:1] == ["raise"]:
        {}["missing"]


if __name__ == "__main__":
    main(sys.argv[1:])
'''

ARGS = ["raise", "x"]


def read_all(fd):
    out = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            os.close(fd)
            return out.decode("utf-8", "replace")
        out += chunk


def own_group():
    os.setpgid(0, 0)


def fresh(py, probe, env):
    p = subprocess.run([py, "-B", "-s", probe] + ARGS, env=env, stdin=subprocess.PIPE,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=own_group)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def forked(py, zygote, probe, env, where):
    path = os.path.join(where, "z.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    z = subprocess.Popen([py, "-B", "-s", zygote, path, probe], env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=own_group)
    ready = z.stdout.readline()
    if ready != b"ready\n":
        raise SystemExit("the zygote did not get ready: %r %s" % (ready, z.stderr.read()))
    conn, _ = listener.accept()
    i_r, i_w = os.pipe()
    o_r, o_w = os.pipe()
    e_r, e_w = os.pipe()
    g_r, g_w = os.pipe()
    fds = struct.pack("4i", i_r, o_w, e_w, g_r)
    conn.sendmsg([json.dumps(ARGS).encode() + b"\n"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
    for fd in (i_r, o_w, e_w, g_r):
        os.close(fd)
    reply = b""
    while not reply.endswith(b"\n"):
        reply += conn.recv(256)
    pid = int(reply.split()[1])
    os.write(g_w, b"g")
    os.close(g_w)
    os.close(i_w)
    out, err = read_all(o_r), read_all(e_r)
    _, status = os.waitpid(pid, 0)
    conn.close()
    z.wait()
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
    return code, out, err


def main(argv):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        raise SystemExit("cannot become a child subreaper")
    py = sys.executable
    where = tempfile.mkdtemp(prefix="shmh-zygote-state-")
    try:
        probe = os.path.join(where, "probe.py")
        with open(probe, "w") as f:
            f.write(PROBE)
        zygote = os.path.join(where, "zygote.py")
        with open(argv[1]) as src, open(zygote, "w") as f:
            f.write(src.read())
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith("PYTHON"))
        env["ZYGOTE_STATE_DRIVER"] = str(os.getpid())
        env["SHMHARNESS_TRACKER_EVENTS"] = "1"
        a, b = fresh(py, probe, env), forked(py, zygote, probe, env, where)
    finally:
        for name in os.listdir(where):
            os.unlink(os.path.join(where, name))
        os.rmdir(where)
    differ = []
    if a[0] != b[0]:
        differ.append("exit status: fresh %s, forked %s" % (a[0], b[0]))
    sa, sb = json.loads(a[1].splitlines()[0]), json.loads(b[1].splitlines()[0])
    for key in sorted(set(sa) | set(sb)):
        if sa.get(key) != sb.get(key):
            differ.append("%s:\n  fresh:  %s\n  forked: %s" % (key, sa.get(key), sb.get(key)))
    if a[2] != b[2]:
        differ.append("stderr:\n--- fresh\n%s--- forked\n%s" % (a[2], b[2]))
    if not a[2].rstrip().endswith("KeyError: 'missing'"):
        differ.append("the fresh probe did not raise as planned:\n" + a[2])
    print("\n".join(differ) if differ else "same")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
