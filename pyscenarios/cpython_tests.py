# shmharness: CPython's own shared-memory tests against an overlay.
import json
import os
import sys

MARK = "@@SHMHARNESS-CPYTHON-TESTS@@"
FILTERS = ["*SharedMemory*", "*shared_memory*"]


def emit(obj):
    sys.stdout.write(MARK + json.dumps(obj) + "@@END@@\n")
    sys.stdout.flush()


def info():
    import importlib.util

    def has(name):
        try:
            return importlib.util.find_spec(name) is not None
        except Exception:
            return False

    emit({
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "base_exec_prefix": getattr(sys, "base_exec_prefix", sys.exec_prefix),
        "test_multiprocessing": has("test._test_multiprocessing"),
        "forkserver_module": has("test.test_multiprocessing_forkserver"),
    })


def where():
    # Where this process and a script_helper subprocess (the tests' way of
    # starting one) import multiprocessing from.
    import multiprocessing
    from test.support import script_helper

    rc, out, err = script_helper.assert_python_ok(
        "-c", "import multiprocessing; print(multiprocessing.__file__)")
    import test
    emit({
        "main": os.path.realpath(multiprocessing.__file__),
        "script_helper": os.path.realpath(out.decode().strip()),
        # Not realpath: a patched test package is links to the installed one.
        "test": os.path.dirname(os.path.abspath(test.__file__)),
    })


def run():
    import unittest
    from test import _test_multiprocessing

    namespace = {"__name__": "__main__"}
    _test_multiprocessing.install_tests_in_module_dict(namespace, "forkserver")
    module = type(sys)("shmharness_cpython_tests")
    module.__dict__.update(namespace)
    argv = ["shmharness-cpython-tests", "-v"]
    for f in FILTERS:
        argv += ["-k", f]
    unittest.main(module=module, argv=argv)


{"info": info, "where": where, "run": run}[sys.argv[1]]()
