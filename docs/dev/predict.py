"""Expected symptom sets for the catalogue scenarios, derived from the stdlib
code *before* running anything (see docs/catalogue-observations.md,
"Derivation"). summarize.py compares every observed case with these.

expected(scenario, variant, version, method) -> sorted list of symptom keys.
`version` is "3.X.Y". Old scenarios are not here: the Rust expectation table
has them (plus no-tracking, below).
"""

STALE_FD = ("3.8", "3.9", "3.10", "3.11", "3.12")  # and 3.13.0, see below


def at_fork_closes_tracker_fd(version):
    """gh-146313 / PR #146316: a raw os.fork() child closes the inherited
    tracker fd. Present in 3.13.18, 3.14.10 and 3.15.2 here, not in 3.13.0
    or older (read from each interpreter's resource_tracker.py)."""
    major, minor, micro = (int(x) for x in version.split("."))
    return (minor, micro) >= (13, 18) if minor == 13 else minor >= 14


BUG = ["P1 FileNotFoundError", "P1 leak warning", "P1 tracker error",
       "P2 leak warning", "P3 FileNotFoundError"]
KEYERR = ["P1 tracker KeyError"]
P1_WARNS = ["P1 leak warning", "P1 tracker error"]
CLEAN = []


def expected(scenario, variant, version, method=None):
    v = variant
    if scenario == "family":
        return KEYERR if v in ("no-register", "userland-unregister") else CLEAN
    if scenario == "family-attacher-unlinks":
        if v in ("no-register", "userland-unregister"):
            return KEYERR
        if v in ("create-only+unlink-guard", "track-false"):
            return P1_WARNS
        return CLEAN
    if scenario == "family-object":
        return KEYERR if v in ("no-register", "userland-unregister") else CLEAN
    if scenario == "family-object-unlinks":
        if v in ("no-register", "userland-unregister"):
            return KEYERR
        if v == "create-only+unlink-guard" and method != "fork":
            return P1_WARNS  # the unpickled copy has _registered False
        return CLEAN
    if scenario == "shareable-list":
        if v in ("stock", "track-false"):  # track= cannot reach a ShareableList
            return BUG
        return KEYERR if v == "no-register" else CLEAN
    if scenario == "manager":
        if v == "no-register":
            return KEYERR
        if v == "create-only+unlink-guard":
            return P1_WARNS  # the server's attach-then-unlink never unregisters
        return CLEAN
    if scenario == "raw-fork":
        own = at_fork_closes_tracker_fd(version)
        if v == "no-register":
            return KEYERR
        if v == "stock":
            return ["P1 FileNotFoundError"] + P1_WARNS if own else CLEAN
        if v == "userland-unregister":
            return CLEAN if own else KEYERR
        return CLEAN
    if scenario == "attach-fails":
        tail = ["P2 OSError", "P3 FileNotFoundError"]
        if v in ("stock", "create-only", "userland-unregister"):
            return sorted(["P1 FileNotFoundError"] + P1_WARNS + tail + ["P2 tracker KeyError"])
        if v == "no-register":
            # Corrected after the first run (my derivation slip, not Python's):
            # P1 never registered, and its unlink() raises in shm_unlink
            # before the UNREGISTER, so P1 never starts a tracker at all.
            return sorted(["P1 FileNotFoundError"] + tail + ["P2 tracker KeyError"])
        if v == "no-tracking":
            return sorted(["P1 FileNotFoundError"] + tail)
        return sorted(["P1 FileNotFoundError"] + P1_WARNS + tail)
    # The 8 old scenarios under no-tracking (the Rust table has the others).
    if v == "no-tracking":
        if scenario in ("creator-crashes", "creator-exits-without-unlink"):
            return ["segment leaked"]
        if scenario == "creator-unlinks-first":
            return ["P2 FileNotFoundError"]
        return CLEAN
    return None
