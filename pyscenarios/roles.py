"""Role scripts for shmharness scenarios (stdlib only, Python 3.8 compatible).

Each process of a scenario runs this file with a role name:

    python roles.py creator NAME SIZE
    python roles.py attacher NAME SIZE [--mode MODE] [--unlink] [--hold]

Roles report what they did as JSON lines on stdout ("events") and flush after
each one. They never catch the exceptions that the seed's code would raise:
a FileNotFoundError on attach ends the process with the usual traceback and
exit status 1, exactly as a user's program would see it. The harness reads
the exception type back from the traceback on stderr.

Ordering belongs to the harness, not to these scripts: a role that must wait
("hold") blocks on stdin and acts on the commands the harness writes there.
Nothing here sleeps.

MODE says how an attacher attaches:
  default              SharedMemory(name, create=False)
  track-false          SharedMemory(name, create=False, track=False) (3.13+)
  userland-unregister  attach, then resource_tracker.unregister(...) at once
"""

import hashlib
import json
import sys
from multiprocessing import shared_memory


def emit(event, **fields):
    fields["event"] = event
    sys.stdout.write(json.dumps(fields, sort_keys=True) + "\n")
    sys.stdout.flush()


def pattern(name, size):
    """The bytes a creator writes: derived from the name so every role agrees."""
    seed = hashlib.sha256(name.encode("utf-8")).digest()
    return (seed * (size // len(seed) + 1))[:size]


def attach(name, mode):
    if mode == "track-false":
        shm = shared_memory.SharedMemory(name=name, create=False, track=False)
    else:
        shm = shared_memory.SharedMemory(name=name, create=False)
    if mode == "userland-unregister":
        from multiprocessing import resource_tracker

        resource_tracker.unregister(shm._name, "shared_memory")
        emit("unregistered")
    emit("attached")
    return shm


def check(shm, name, size):
    ok = bytes(shm.buf[:size]) == pattern(name, size)
    emit("read", data_ok=ok)
    return ok


def child_main(name, size, mode, unlink=False):
    """Body of the multiprocessing child in the `family` scenarios."""
    shm = attach(name, mode)
    check(shm, name, size)
    shm.close()
    if unlink:
        shm.unlink()
        emit("unlinked")


def creator(name, size):
    shm = shared_memory.SharedMemory(name=name, create=True, size=size)
    shm.buf[:size] = pattern(name, size)
    emit("created", size=size)
    emit("ready")
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        command = words[0]
        if command == "check":
            check(shm, name, size)
        elif command == "close":
            shm.close()
            emit("closed")
        elif command == "unlink":
            shm.close()
            shm.unlink()
            emit("unlinked")
        elif command == "spawn-child":
            import multiprocessing

            mode = words[1] if len(words) > 1 else "default"
            unlink = "unlink" in words[2:]
            ctx = multiprocessing.get_context("spawn")
            child = ctx.Process(target=child_main, args=(name, size, mode, unlink))
            child.start()
            child.join()
            emit("child-exited", exitcode=child.exitcode)
        else:
            raise SystemExit("roles.py: unknown command %r" % command)
        emit("done", command=command)


def attacher(name, size, mode, unlink, hold):
    shm = attach(name, mode)
    check(shm, name, size)
    if hold:
        emit("holding")
        sys.stdin.read()
    shm.close()
    if unlink:
        shm.unlink()
        emit("unlinked")


def hanger(name, size):
    """Test-only (hidden scenario `hang`): attach, then block forever, so the
    harness's --timeout and signal handling have something to kill. If
    SHMHARNESS_TEST_NOTIFY names a FIFO, say so there, with the segment name:
    a test waits on that instead of sleeping."""
    import os
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


def main(argv):
    import multiprocessing
    import os

    # Where multiprocessing came from: the harness checks that a patched
    # variant really runs its overlay and a stock one the installed stdlib.
    emit("start", pid=os.getpid(), multiprocessing=multiprocessing.__file__)
    role, name, size = argv[0], argv[1], int(argv[2])
    rest = argv[3:]
    mode = "default"
    if "--mode" in rest:
        mode = rest[rest.index("--mode") + 1]
    if role == "creator":
        creator(name, size)
    elif role == "hanger":
        hanger(name, size)
    elif role == "attacher":
        attacher(name, size, mode, "--unlink" in rest, "--hold" in rest)
    else:
        raise SystemExit("roles.py: unknown role %r" % role)


if __name__ == "__main__":
    main(sys.argv[1:])
