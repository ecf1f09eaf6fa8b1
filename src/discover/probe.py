# shmharness interpreter probe: stdlib only, runs on Python 2.7 and 3.x so
# that every candidate gets an answer (a 2.7 is rejected with its version,
# not with a syntax error). Run with -I -B so no environment variable or
# user site changes what it reports.
#
# Cheap on purpose (it runs once per interpreter, and start-up is most of
# the cost): only `sys` and `os`, which site has already imported. No json
# (pulls in re), no sysconfig (loads _sysconfigdata), no importlib.util and
# no import of multiprocessing: the package is found as a directory next to
# `os` and `shared_memory.py` is checked as a file.
#
# The JSON is framed by markers: a sitecustomize.py or a .pth file that
# prints to stdout cannot corrupt it.
import os
import sys


def enc(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join([enc(x) for x in v]) + "]"
    if not isinstance(v, type(u"")):
        v = v.decode(sys.getfilesystemencoding() or "utf-8", "replace")
    out = []
    for ch in v:
        o = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif 0x20 <= o < 0x7F:
            out.append(ch)
        elif o > 0xFFFF:
            o -= 0x10000
            out.append("\\u%04x\\u%04x" % (0xD800 + (o >> 10), 0xDC00 + (o & 0x3FF)))
        else:
            out.append("\\u%04x" % o)
    return '"' + "".join(out) + '"'


impl = getattr(sys, "implementation", None)
name = getattr(impl, "name", None) or (
    "pypy" if "__pypy__" in sys.builtin_module_names else "cpython"
)
# POSIX builds spell their ABI in sys.abiflags: "t" free-threaded (3.13+),
# "d" debug. Windows has no abiflags; fall back to sysconfig there.
abiflags = getattr(sys, "abiflags", None)
if abiflags is None:
    try:
        import sysconfig

        free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    except Exception:
        free_threaded = False
else:
    free_threaded = "t" in abiflags

stdlib = getattr(sys, "_stdlib_dir", None) or os.path.dirname(
    getattr(os, "__file__", None) or ""
)
mp = os.path.join(stdlib, "multiprocessing") if stdlib else ""
if not (mp and os.path.isfile(os.path.join(mp, "__init__.py"))):
    mp = None

info = [
    ("implementation", name),
    ("version", list(sys.version_info[:3])),
    ("releaselevel", sys.version_info[3]),
    ("realpath", os.path.realpath(sys.executable) if sys.executable else None),
    ("prefix", sys.prefix),
    ("base_prefix", getattr(sys, "base_prefix", sys.prefix)),
    ("debug", hasattr(sys, "gettotalrefcount")),
    ("free_threaded", free_threaded),
    ("multiprocessing", os.path.realpath(mp) if mp else None),
    ("shared_memory", bool(mp) and os.path.isfile(os.path.join(mp, "shared_memory.py"))),
]
body = "{" + ",".join([enc(k) + ":" + enc(v) for k, v in info]) + "}"
sys.stdout.write("@@SHMHARNESS-PROBE@@" + body + "@@END@@\n")
sys.stdout.flush()
