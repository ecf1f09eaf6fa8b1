# shmharness interpreter probe: stdlib only, runs on Python 2.7 and 3.x so
# that every candidate gets an answer (a 2.7 is rejected with its version,
# not with a syntax error). Run with -I (or -E -s on 2.7 via fallback) so no
# environment variable or user site changes what it reports.
#
# The JSON is framed by markers: a sitecustomize.py or a .pth file that
# prints to stdout cannot corrupt it.
import json
import os
import sys

info = {
    "implementation": getattr(getattr(sys, "implementation", None), "name", None)
    or ("pypy" if "__pypy__" in sys.builtin_module_names else "cpython"),
    "version": list(sys.version_info[:3]),
    "releaselevel": sys.version_info[3],
    "executable": sys.executable,
    "realpath": os.path.realpath(sys.executable) if sys.executable else None,
    "prefix": sys.prefix,
    "debug": hasattr(sys, "gettotalrefcount"),
    "free_threaded": False,
    "multiprocessing": None,
    "shared_memory": False,
}
try:
    import sysconfig

    info["free_threaded"] = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
except Exception:
    pass
try:
    import importlib.util

    spec = importlib.util.find_spec("multiprocessing")
    if spec is not None and spec.submodule_search_locations:
        info["multiprocessing"] = os.path.realpath(list(spec.submodule_search_locations)[0])
        info["shared_memory"] = importlib.util.find_spec("multiprocessing.shared_memory") is not None
except Exception:
    pass
sys.stdout.write("@@SHMHARNESS-PROBE@@" + json.dumps(info) + "@@END@@\n")
