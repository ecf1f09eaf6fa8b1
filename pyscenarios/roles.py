"""Role scripts for shmharness scenarios (stdlib only, Python 3.8 compatible).

Each process of a scenario runs this file with a role name:

    python roles.py creator NAME SIZE [--shareable-list]
    python roles.py attacher NAME SIZE [--mode MODE] [--unlink] [--hold]
                                       [--shareable-list]
    python roles.py manager NAME SIZE [--mode MODE] [--start-method METHOD]
    python roles.py hanger NAME SIZE
    python roles.py apis

Roles report what they did as JSON lines on stdout ("events") and flush after
each one. They never catch the exceptions that the seed's code would raise:
a FileNotFoundError on attach ends the process with the usual traceback and
exit status 1, exactly as a user's program would see it. The harness reads
the exception type back from the traceback on stderr.

Ordering belongs to the harness, not to these scripts: a role that must wait
("hold") blocks on stdin and acts on the commands the harness writes there,
one per line, and answers each with a `done` event ({"command": WORD}).
Nothing here sleeps.

MODE says how an attacher attaches:
  default              SharedMemory(name, create=False)
  track-false          SharedMemory(name, create=False, track=False) (3.13+)
  unregister           attach, then resource_tracker.unregister(...) at once
Where a MODE cannot be applied (track=False has no way into a ShareableList,
an object received from a parent, or a SharedMemoryManager), the role says
so with a `mode-unsupported` event and goes on as `default`: that is what a
user of that API gets.

METHOD is a multiprocessing start method: fork, spawn or forkserver.

creator NAME SIZE
    Creates SharedMemory(NAME, create=True, size=SIZE), writes the pattern
    (see `pattern`), emits `created` {size} and `ready`, then obeys stdin:

    check                 read the pattern back: `read` {data_ok}
    close                 close(): `closed`
    unlink                close(); unlink(): `unlinked`
    spawn-child MODE [unlink] [--start-method METHOD]
                          a multiprocessing child (METHOD, default spawn)
                          attaches by NAME with MODE, reads (`attached`,
                          `read`), closes, unlinks if asked (`unlinked`);
                          then P1 emits `child-exited` {exitcode}
                          [scenarios family, family-attacher-unlinks]
    object-child MODE [unlink] [--start-method METHOD]
                          the child gets P1's SharedMemory *object* as an
                          argument: pickled under spawn and forkserver (the
                          child re-attaches by name on unpickling), inherited
                          under fork. Child events: `attached` {via:
                          "pickled"|"inherited"}, `read`, `unlinked` if
                          asked; then `child-exited` {exitcode}
                          [family-object, family-object-unlinks]
    raw-fork MODE [unlink]
                          os.fork(); the child attaches by NAME with MODE,
                          reads, closes, unlinks if asked, and os._exit()s
                          (status 1 after printing the traceback if anything
                          raised). P1 waits for the child *and for any
                          resource tracker the child started* (see
                          `raw_fork`), then emits `child-exited` {exitcode}
                          [raw-fork]
    grow                  os.ftruncate the segment to 2**60 bytes (sparse:
                          no memory is used); any later attach by name then
                          fails in mmap() with ENOMEM *after* shm_open
                          succeeded, which is gh-153279's path: `grown`
                          {size} [attach-fails]
    shrink                ftruncate back to SIZE (works through P1's fd even
                          if someone unlinked the name meanwhile); the first
                          SIZE bytes are unchanged: `shrunk` {size}

creator NAME SIZE --shareable-list
    The same, but P1 creates ShareableList(values(NAME), name=NAME) (SIZE is
    ignored; `created` reports the segment's size). check/close/unlink act
    on the list and its segment; `read` has {"what": "shareable-list"}.
    [shareable-list]

attacher NAME SIZE [--shareable-list]
    Attaches by name (with --shareable-list: ShareableList(name=NAME)),
    emits `attached`, `read` {data_ok}; with --hold emits `holding` and waits
    for stdin EOF; closes; with --unlink unlinks (`unlinked`).

manager NAME SIZE [--mode MODE] [--start-method METHOD]
    P1 starts a SharedMemoryManager whose server process uses METHOD
    (default spawn), emits `manager-started` {start_method}, makes
    smm.SharedMemory(SIZE) (pattern written) and smm.ShareableList(values
    (NAME)), emits `created` {names: [NAME_m1, NAME_m2], size} and `ready`.
    Both segments are created *in P1* (that is how SharedMemoryManager
    works); their names are NAME_m1 and NAME_m2, not random psm_ names, so
    the harness can check and clean them. Then stdin:

    child                 a multiprocessing child (METHOD) gets both objects
                          as arguments (pickled, or inherited under fork),
                          applies MODE, reads both (`read` {what,
                          data_ok} twice), closes; `child-exited` {exitcode}
    check                 P1 reads both: `read` twice
    shutdown              P1 closes both, then smm.shutdown() (the server
                          unlinks every segment it tracks): `shutdown`
    [manager]

hanger NAME SIZE
    Test-only, see `hanger`.

The run's ledger: with SHMHARNESS_LEDGER in the environment (the harness
sets it), every process running this file appends `seg NAME` to that file,
in one write, *before* any shm_open that may create NAME (see
`record_creations`). A harness killed with SIGKILL then still knows every
segment its roles may have made, and the next run removes them.

Resource-tracker pids (opt-in): with SHMHARNESS_TRACKER_EVENTS=1 in the
environment, a process emits `tracker` {pid, who} for each resource tracker
it started itself, once: after it created or attached, in a raw-fork child
before it exits, and at exit. A subreaper that reaps that pid can then say
whose tracker exited with which status (3.13+: 0 clean, 1 leak, 2 cleanup
failed, 3 exception; gh-104090). Without the variable nothing changes.
"""

import hashlib
import json
import os
import sys
from multiprocessing import shared_memory

START_METHODS = ("fork", "spawn", "forkserver")


def emit(event, **fields):
    fields["event"] = event
    sys.stdout.write(json.dumps(fields, sort_keys=True) + "\n")
    sys.stdout.flush()


class creation_seen(object):
    """While active, say `opened` (with the name) the moment this process's
    exclusive shm_open of NAME succeeds, before the rest of
    SharedMemory.__init__ runs: if the code under test raises after that (a
    candidate's NameError in __init__), the harness still saw this case
    create the segment, and removes it. Only observes: the call and its
    result are unchanged."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        import _posixshmem

        real = self.real = _posixshmem.shm_open
        name = self.name

        def shm_open(path, flags, *args, **kwargs):
            fd = real(path, flags, *args, **kwargs)
            if flags & os.O_EXCL and path.lstrip("/") == name:
                emit("opened", name=name)
            return fd

        _posixshmem.shm_open = shm_open

    def __exit__(self, *exc):
        import _posixshmem

        _posixshmem.shm_open = self.real
        return False


def record_segment(name):
    """Append `seg NAME` to the run's ledger (SHMHARNESS_LEDGER) with one
    O_APPEND write, so lines from many processes never mix. The ledger is
    the harness's own file: never created here, never followed through a
    symlink, never waited on. Best effort, like the harness's ledger."""
    ledger = os.environ.get("SHMHARNESS_LEDGER")
    if not ledger:
        return
    flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(ledger, flags)
    except OSError:
        return
    try:
        os.write(fd, ("seg %s\n" % name).encode("utf-8", "surrogateescape"))
    except OSError:
        pass
    finally:
        os.close(fd)


def record_creations():
    """Wrap _posixshmem.shm_open for this process: an O_CREAT call records
    its name in the ledger first (the creator's NAME, the manager's NAME_m1
    and NAME_m2). Only adds that write: the call and its result are
    unchanged. A multiprocessing child started by spawn or forkserver runs
    this module too, and one started by fork inherits the wrapper."""
    if not os.environ.get("SHMHARNESS_LEDGER"):
        return
    try:
        import _posixshmem
    except ImportError:
        return
    real = _posixshmem.shm_open

    def shm_open(path, flags, *args, **kwargs):
        if flags & os.O_CREAT:
            record_segment(path.lstrip("/"))
        return real(path, flags, *args, **kwargs)

    _posixshmem.shm_open = shm_open


record_creations()


def die_with_the_harness():
    """Linux: end this role in order when the harness dies. The harness
    starts each role with PR_SET_PDEATHSIG=SIGKILL, which covers the
    interpreter's start; from here on the signal is SIGTERM, and SIGTERM
    exits through SystemExit: multiprocessing's own exit handlers then stop
    what this role started (a manager's server, children, a forkserver, its
    temp dirs), which a SIGKILL would leave running for good. SIGALRM ends
    an exit that hangs. A segment created meanwhile is in the ledger
    already (see record_segment)."""
    import signal

    if not sys.platform.startswith("linux"):
        return

    harness = os.getppid()

    def harness_gone(signum, frame):
        if os.getppid() == harness:
            # Someone else's SIGTERM: die of it, as without this handler.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        signal.alarm(10)
        raise SystemExit("roles.py: the harness is gone")

    signal.signal(signal.SIGTERM, harness_gone)
    if hasattr(os, "register_at_fork"):
        # A forked child (fork start method, raw fork) keeps SIGTERM's usual
        # meaning: multiprocessing's terminate() sends it.
        os.register_at_fork(
            after_in_child=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL)
        )
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)
    except Exception:
        pass


_TRACKER_EVENTS = os.environ.get("SHMHARNESS_TRACKER_EVENTS") == "1"
_trackers_noted = set()


def note_tracker(who):
    """Emit the pid of the resource tracker this process started, if any
    (opt-in, see the module doc). A multiprocessing child that shares its
    parent's tracker has no pid of its own (spawn, forkserver) or the
    parent's, already noted (fork), so nothing is emitted twice."""
    if not _TRACKER_EVENTS:
        return
    from multiprocessing import resource_tracker

    pid = getattr(resource_tracker._resource_tracker, "_pid", None)
    if pid is not None and pid not in _trackers_noted:
        _trackers_noted.add(pid)
        emit("tracker", pid=pid, who=who)


def pattern(name, size):
    """The bytes a creator writes: derived from the name so every role agrees."""
    seed = hashlib.sha256(name.encode("utf-8")).digest()
    return (seed * (size // len(seed) + 1))[:size]


def values(name):
    """The items of a creator's ShareableList, derived from the name. One of
    each type ShareableList stores; no trailing NULs (it strips them)."""
    seed = hashlib.sha256(name.encode("utf-8")).digest()
    return [
        int.from_bytes(seed[:4], "big"),
        seed[4] / 8.0,
        seed[5:13].hex(),
        seed[13:21].hex().encode("ascii"),
        True,
        None,
    ]


def attach(name, mode):
    if mode == "track-false":
        shm = shared_memory.SharedMemory(name=name, create=False, track=False)
    else:
        shm = shared_memory.SharedMemory(name=name, create=False)
    if mode == "unregister":
        from multiprocessing import resource_tracker

        resource_tracker.unregister(shm._name, "shared_memory")
        emit("unregistered")
    emit("attached")
    return shm


def attach_list(name, mode):
    kwargs = {}
    if mode == "track-false":
        import inspect

        # A stdlib (a patch) whose ShareableList takes track= gets it.
        if "track" in inspect.signature(shared_memory.ShareableList).parameters:
            kwargs["track"] = False
        else:
            emit(
                "mode-unsupported",
                mode=mode,
                reason="ShareableList has no track parameter",
            )
    sl = shared_memory.ShareableList(name=name, **kwargs)
    if mode == "unregister":
        from multiprocessing import resource_tracker

        resource_tracker.unregister(sl.shm._name, "shared_memory")
        emit("unregistered")
    emit("attached")
    return sl


def adopt(shms, mode):
    """MODE for objects a child received rather than attached by name."""
    if mode == "track-false":
        emit(
            "mode-unsupported",
            mode=mode,
            reason="a received SharedMemory cannot be given track=False",
        )
    elif mode == "unregister":
        from multiprocessing import resource_tracker

        for shm in shms:
            resource_tracker.unregister(shm._name, "shared_memory")
        emit("unregistered")


def check(shm, name, size):
    ok = bytes(shm.buf[:size]) == pattern(name, size)
    emit("read", data_ok=ok)
    return ok


def check_list(sl, name, what="shareable-list"):
    ok = [sl[i] for i in range(len(sl))] == values(name)
    emit("read", data_ok=ok, what=what)
    return ok


def child_main(name, size, mode, unlink=False):
    """Body of the multiprocessing child in the `family` scenarios."""
    shm = attach(name, mode)
    check(shm, name, size)
    shm.close()
    if unlink:
        shm.unlink()
        emit("unlinked")


def object_child_main(shm, name, size, mode, unlink, method):
    """Body of the child in `family-object*`: `shm` is P1's object."""
    emit("attached", via="inherited" if method == "fork" else "pickled")
    adopt([shm], mode)
    check(shm, name, size)
    shm.close()
    if unlink:
        shm.unlink()
        emit("unlinked")


def manager_child_main(sm, sl, name, size, mode):
    """Body of the child in `manager`: both objects came from P1."""
    adopt([sm, sl.shm], mode)
    emit("read", data_ok=bytes(sm.buf[:size]) == pattern(name, size), what="shared-memory")
    check_list(sl, name)
    sm.close()
    sl.shm.close()


def split_command(words):
    """(positional words, start method or None) of one stdin command."""
    method = None
    rest = []
    i = 0
    while i < len(words):
        if words[i] == "--start-method" and i + 1 < len(words):
            method = words[i + 1]
            i += 2
            continue
        rest.append(words[i])
        i += 1
    return rest, method


def run_child(method, target, args):
    import multiprocessing

    child = multiprocessing.get_context(method).Process(target=target, args=args)
    child.start()
    child.join()
    emit("child-exited", exitcode=child.exitcode)


def exitcode_of(status):
    # os.waitstatus_to_exitcode is 3.9+.
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return status


def raw_fork(name, size, mode, unlink):
    """P1 forks with os.fork() (no multiprocessing); the child attaches by
    name and leaves with os._exit().

    Why the pipe on the child's stdin: since gh-146313 (3.13.x, 3.14.x and
    3.15 here) a raw-fork child closes the inherited tracker fd, so its
    attach starts a tracker of its own, which outlives the child and unlinks
    the name when it sees EOF. P1 must not go on (read, unlink) until that
    tracker has finished, or the outcome would be a race. A tracker keeps
    fds 0-2 of the process that started it (it closes sys.stdin at the Python
    level only), so the child puts the write end of a pipe on its fd 0 and P1
    reads the other end to EOF: that returns once the child and any tracker
    it started have exited. Before gh-146313 the child reuses P1's tracker
    and the EOF comes with the child's exit."""
    import traceback

    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            os.dup2(w, 0)
            os.close(w)
            shm = attach(name, mode)
            note_tracker("raw-fork child")
            check(shm, name, size)
            shm.close()
            if unlink:
                shm.unlink()
                emit("unlinked")
            note_tracker("raw-fork child")
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    while os.read(r, 4096):
        pass
    os.close(r)
    emit("child-exited", exitcode=exitcode_of(status))


def creator(name, size, shareable_list=False):
    if shareable_list:
        with creation_seen(name):
            sl = shared_memory.ShareableList(values(name), name=name)
        shm = sl.shm
        emit("created", size=shm.size, kind="shareable-list")
    else:
        with creation_seen(name):
            shm = shared_memory.SharedMemory(name=name, create=True, size=size)
        shm.buf[:size] = pattern(name, size)
        emit("created", size=size)
    note_tracker("creator")
    emit("ready")
    for line in sys.stdin:
        words, method = split_command(line.split())
        if not words:
            continue
        command = words[0]
        if command == "check":
            if shareable_list:
                check_list(sl, name)
            else:
                check(shm, name, size)
        elif command == "close":
            shm.close()
            emit("closed")
        elif command == "unlink":
            shm.close()
            shm.unlink()
            emit("unlinked")
        elif command == "spawn-child":
            mode = words[1] if len(words) > 1 else "default"
            unlink = "unlink" in words[2:]
            run_child(method or "spawn", child_main, (name, size, mode, unlink))
        elif command == "object-child":
            mode = words[1] if len(words) > 1 else "default"
            unlink = "unlink" in words[2:]
            method = method or "spawn"
            run_child(method, object_child_main, (shm, name, size, mode, unlink, method))
        elif command == "raw-fork":
            mode = words[1] if len(words) > 1 else "default"
            raw_fork(name, size, mode, "unlink" in words[2:])
        elif command == "grow":
            os.ftruncate(shm._fd, 1 << 60)
            emit("grown", size=os.fstat(shm._fd).st_size)
        elif command == "shrink":
            os.ftruncate(shm._fd, size)
            emit("shrunk", size=os.fstat(shm._fd).st_size)
        else:
            raise SystemExit("roles.py: unknown command %r" % command)
        emit("done", command=command)


def attacher(name, size, mode, unlink, hold, shareable_list=False):
    if shareable_list:
        sl = attach_list(name, mode)
        shm = sl.shm
        note_tracker("attacher")
        check_list(sl, name)
    else:
        shm = attach(name, mode)
        note_tracker("attacher")
        check(shm, name, size)
    if hold:
        emit("holding")
        sys.stdin.read()
    shm.close()
    if unlink:
        shm.unlink()
        emit("unlinked")


def manager(name, size, mode, method):
    import itertools
    import multiprocessing
    from multiprocessing.managers import SharedMemoryManager

    # SharedMemoryManager.SharedMemory/ShareableList create their segments
    # in this process with random names; give them names under the
    # harness's prefix instead (the stdlib calls _make_filename at each
    # creation, and again on a name clash).
    counter = itertools.count(1)
    shared_memory._make_filename = lambda: "/%s_m%d" % (name, next(counter))
    smm = SharedMemoryManager(ctx=multiprocessing.get_context(method))
    smm.start()
    emit("manager-started", start_method=method)
    sm = smm.SharedMemory(size)
    sm.buf[:size] = pattern(name, size)
    sl = smm.ShareableList(values(name))
    emit("created", names=[sm.name, sl.shm.name], size=size)
    note_tracker("manager")
    emit("ready")
    for line in sys.stdin:
        words, _ = split_command(line.split())
        if not words:
            continue
        command = words[0]
        if command == "child":
            run_child(method, manager_child_main, (sm, sl, name, size, mode))
        elif command == "check":
            emit("read", data_ok=bytes(sm.buf[:size]) == pattern(name, size), what="shared-memory")
            check_list(sl, name)
        elif command == "shutdown":
            sm.close()
            sl.shm.close()
            smm.shutdown()
            emit("shutdown")
        else:
            raise SystemExit("roles.py: unknown command %r" % command)
        emit("done", command=command)


def hanger(name, size):
    """Test-only (hidden scenario `hang`): attach, then block forever, so the
    harness's --timeout and signal handling have something to kill. If
    SHMHARNESS_TEST_NOTIFY names a FIFO, say so there, with the segment name:
    a test waits on that instead of sleeping."""
    import select

    shm = attach(name, "default")
    check(shm, name, size)
    emit("hanging")
    notify = os.environ.get("SHMHARNESS_TEST_NOTIFY")
    if notify:
        with open(notify, "w") as fifo:
            fifo.write("hanging %s\n" % name)
    while True:
        select.select([], [], [])


def apis():
    """Which usages the stdlib in effect (installed, or an overlay on
    PYTHONPATH) offers, read from the API itself, never from a version:
    `apis` {track, unregister}. Creates, attaches and registers nothing."""
    import inspect
    from multiprocessing import resource_tracker

    params = inspect.signature(shared_memory.SharedMemory.__init__).parameters
    emit(
        "apis",
        track="track" in params,
        unregister=callable(getattr(resource_tracker, "unregister", None)),
    )


def main(argv):
    import atexit
    import multiprocessing

    # Where multiprocessing came from: the harness checks that a patched
    # variant really runs its overlay and a stock one the installed stdlib.
    die_with_the_harness()
    emit("start", pid=os.getpid(), multiprocessing=multiprocessing.__file__)
    if argv[:1] == ["apis"]:
        return apis()
    role, name, size = argv[0], argv[1], int(argv[2])
    rest = argv[3:]
    mode = "default"
    if "--mode" in rest:
        mode = rest[rest.index("--mode") + 1]
    method = "spawn"
    if "--start-method" in rest:
        method = rest[rest.index("--start-method") + 1]
    shareable_list = "--shareable-list" in rest
    if _TRACKER_EVENTS:
        # A tracker may also start late: an attach that fails after
        # shm_open, or the unregister usage, sends its first message then.
        atexit.register(note_tracker, role)
    if role == "creator":
        creator(name, size, shareable_list)
    elif role == "hanger":
        hanger(name, size)
    elif role == "attacher":
        attacher(name, size, mode, "--unlink" in rest, "--hold" in rest, shareable_list)
    elif role == "manager":
        manager(name, size, mode, method)
    else:
        raise SystemExit("roles.py: unknown role %r" % role)


if __name__ == "__main__":
    main(sys.argv[1:])
