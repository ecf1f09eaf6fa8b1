"""The zygote: role processes forked from an interpreter that has already
imported what every role imports (stdlib only, Python 3.8 compatible).

    python -B -s zygote.py SOCKET SCRIPT

The harness starts one zygote per (interpreter, overlay), with exactly the
executable, flags, environment (the overlay on PYTHONPATH) and working
directory a role gets, and from the same directory as the role script
SCRIPT (so sys.path[0] is the same). The zygote imports what SCRIPT imports
before its first action (the imports below, in SCRIPT's order), compiles
SCRIPT, connects to the unix socket SOCKET, writes `ready` on its fd 1 and
serves requests, one at a time, until the harness closes the socket:

    request  one JSON line, the role's arguments: ["creator", "shmh_1", "4096"]
             with four fds (SCM_RIGHTS): the role's stdin, stdout, stderr,
             and a "go" pipe
    answer   "pid N" (the role's pid) or "error WHY"

For each request the zygote forks twice: the intermediate child forks the
role and exits, so the role is reparented to the harness (a child
subreaper) and is the harness's own child, as an exec'd role is: the
harness reaps it, gets its exit status and CPU time, and reaps its orphaned
resource tracker by process group, unchanged. The role leads its own
process group (setpgid by the intermediate and by the role itself, so the
group exists before the harness hears the pid). It waits on the go pipe
until the harness has taken it in (registered its group for Ctrl-C), then
puts the three pipes on fds 0-2, sets sys.argv (and sys.orig_argv) as
`python -B -s SCRIPT ARGS...` would, makes a fresh `__main__` module as the
interpreter makes it for a script (`__file__` SCRIPT, `__spec__` None:
what spawn's preparation data reads, so spawn and forkserver children
re-import the same main module), and runs SCRIPT's code in it. An
exception the script does not catch is printed as the interpreter prints
it (the traceback starts at SCRIPT's `<module>` frame) and the exit status
is 1; SystemExit and a normal end finish the interpreter as usual (atexit,
flush, finalization).

What the zygote must never do, so that every role starts from the state a
fresh interpreter is in: create, attach or register anything, or start a
resource tracker (checked before every fork: a tracker fd or pid in the
zygote is refused with an error, and the harness falls back to exec); start
a thread; write through sys.stdout or sys.stderr (it writes `ready` with
os.write, so the buffers a role inherits are empty); set a signal handler.
Where it cannot serve (not CPython, no os.fork, no unix sockets), it says
why on stderr and exits 3: the harness then execs every role.
"""

# What the interpreter put in this script's __main__ before running it: a
# role's fresh __main__ gets the same keys (they differ between versions:
# 3.15 sets no __cached__).
FRESH_MAIN = dict((k, v) for k, v in globals().items() if k.startswith("__"))

import hashlib  # noqa: F401,E402  SCRIPT's module-level imports, in its order
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from multiprocessing import shared_memory  # noqa: F401

import atexit  # noqa: F401  what SCRIPT's main() imports
import multiprocessing

# Already imported by multiprocessing (reduction, shared_memory,
# resource_tracker): naming them here loads nothing a role would not have.
import socket
import struct

FDS = 4


def refusal():
    """Why this interpreter cannot serve roles, or None."""
    if sys.implementation.name != "cpython":
        return "not CPython (%s)" % sys.implementation.name
    if not hasattr(os, "fork"):
        return "no os.fork on this platform"
    if not hasattr(socket, "AF_UNIX") or not hasattr(socket.socket, "recvmsg"):
        return "no unix sockets with SCM_RIGHTS"
    return None


def tracker_started():
    """The zygote started a resource tracker (or has children): a role
    forked now would inherit it, which a fresh interpreter never does."""
    from multiprocessing import process, resource_tracker

    tracker = resource_tracker._resource_tracker
    return (
        getattr(tracker, "_fd", None) is not None
        or getattr(tracker, "_pid", None) is not None
        or bool(process._children)
    )


def receive(conn):
    """One request: (arguments, fds), or (None, []) when the harness closed
    the socket."""
    space = socket.CMSG_SPACE(FDS * struct.calcsize("i"))
    data, ancillary, flags, _ = conn.recvmsg(1 << 16, space)
    fds = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            n = len(payload) // struct.calcsize("i")
            fds.extend(struct.unpack("%di" % n, payload[: n * struct.calcsize("i")]))
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    while not data.endswith(b"\n"):
        more = conn.recv(1 << 16)
        if not more:
            break
        data += more
    if flags & socket.MSG_CTRUNC or len(fds) != FDS:
        for fd in fds:
            os.close(fd)
        raise ValueError("expected %d fds with the request, got %d" % (FDS, len(fds)))
    return json.loads(data.decode("utf-8")), fds


def fork_role(fds):
    """Fork twice. In the zygote: the role's pid (its intermediate parent
    has exited, so the harness is its parent now). In the role: None."""
    r, w = os.pipe()
    middle = os.fork()
    if middle == 0:
        pid = -1
        try:
            os.close(r)
            pid = os.fork()
            if pid:
                os.setpgid(pid, pid)
                os.write(w, b"%d\n" % pid)
        except BaseException as e:
            try:
                os.write(w, ("error %s\n" % e).encode("utf-8", "replace"))
            finally:
                os._exit(1)
        if pid:
            os._exit(0)
        os.close(w)
        return None
    os.close(w)
    for fd in fds:
        os.close(fd)
    said = b""
    while not said.endswith(b"\n"):
        chunk = os.read(r, 256)
        if not chunk:
            break
        said += chunk
    os.close(r)
    os.waitpid(middle, 0)
    text = said.decode("utf-8", "replace").strip()
    if not text.isdigit():
        raise OSError(text or "the intermediate child died without a word")
    return int(text)


def serve(conn):
    """Answer requests until the harness closes the socket (then return
    None), or, in a forked role, return (arguments, fds)."""
    while True:
        args, fds = receive(conn)
        if args is None:
            return None
        try:
            if tracker_started():
                raise RuntimeError("the zygote has a resource tracker or a child")
            pid = fork_role(fds)
        except Exception as e:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
            conn.sendall(("error %s: %s\n" % (type(e).__name__, e)).encode("utf-8", "replace"))
            continue
        if pid is None:
            return args, fds
        conn.sendall(b"pid %d\n" % pid)


def become(conn, fds, script, args, argv_prefix):
    """In the forked role: the process state `python -B -s SCRIPT ARGS`
    starts with. Returns the fresh __main__ module."""
    stdin, stdout, stderr, go = fds
    try:
        os.setpgid(0, 0)
    except OSError:
        pass  # the intermediate did it first
    if not os.read(go, 1):
        # The harness gave up on this role before taking it in: run nothing.
        os._exit(0)
    os.close(go)
    conn.close()
    os.dup2(stdin, 0)
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    for fd in (stdin, stdout, stderr):
        os.close(fd)
    sys.argv = [script] + list(args)
    if hasattr(sys, "orig_argv"):
        sys.orig_argv = argv_prefix + [script] + list(args)
    # Each fresh interpreter draws its own; forked roles would share ours.
    multiprocessing.current_process().authkey = os.urandom(32)
    main = type(sys)("__main__")
    for key in list(vars(main)):
        if key not in FRESH_MAIN:
            delattr(main, key)
    for key, value in FRESH_MAIN.items():
        if key == "__file__":
            value = script
        elif key == "__doc__":
            value = None
        elif key == "__loader__" and value is not None:
            value = type(value)("__main__", script)
        setattr(main, key, value)
    # multiprocessing aliased __mp_main__ to the __main__ it saw at import
    # (ours): every alias of the old __main__ names the role's now.
    old = sys.modules["__main__"]
    for name, module in list(sys.modules.items()):
        if module is old:
            sys.modules[name] = main
    return main


def run(code, main):
    """Run the role script as __main__; an uncaught exception is printed as
    the interpreter prints it, from the script's own frame, and exits 1."""
    try:
        exec(code, main.__dict__)
        return
    except SystemExit:
        raise
    except BaseException as e:
        error = e
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code is not code:
        tb = tb.tb_next
    error = error.with_traceback(tb)
    sys.last_type, sys.last_value, sys.last_traceback = type(error), error, tb
    if sys.version_info >= (3, 12):
        sys.last_exc = error
    sys.excepthook(type(error), error, tb)
    del error, tb
    raise SystemExit(1)


def main(argv):
    why = refusal()
    if why:
        os.write(2, ("zygote: %s\n" % why).encode("utf-8", "replace"))
        return 3
    path, script = argv[1], argv[2]
    with open(script, "rb") as f:
        code = compile(f.read(), script, "exec", dont_inherit=True)
    orig = getattr(sys, "orig_argv", [])
    prefix = orig[: orig.index(argv[0])] if argv[0] in orig else orig[:1]
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    os.write(1, b"ready\n")
    job = serve(conn)
    if job is None:
        # Nothing of the zygote's own is observed: skip its finalization.
        os._exit(0)
    args, fds = job
    run(code, become(conn, fds, script, args, prefix))
    return None


if __name__ == "__main__":
    status = main(sys.argv)
    if status is not None:
        sys.exit(status)
