#!/usr/bin/env python3
"""Summarize drive.py's JSON lines: per (scenario, start method, variant),
the symptom set per interpreter, how often each set was seen (flips), the
trackers' exit statuses, and every disagreement with predict.py.

    summarize.py a.jsonl b.jsonl > summary.md
"""

import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from predict import expected  # noqa: E402

ORDER = ["3.8.18", "3.9.18", "3.10.13", "3.11.2", "3.11.7", "3.12.1", "3.13.0",
         "3.13.18", "3.14.10", "3.15.2"]
VARIANTS = ["stock", "create-only", "no-register", "no-tracking", "create-only+unlink-guard",
            "create-only+lenient-tracker", "track-false", "userland-unregister"]


def vkey(v):
    return ORDER.index(v) if v in ORDER else 99


def fmt(symptoms):
    return "clean" if not symptoms else ", ".join(symptoms)


def ranges(versions):
    """Contiguous runs of ORDER among `versions`, as 'a-b' strings."""
    idx = sorted(vkey(v) for v in versions)
    out, start, prev = [], None, None
    for i in idx:
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            out.append((start, prev))
            start = prev = i
    if start is not None:
        out.append((start, prev))
    return ", ".join(ORDER[a] if a == b else "%s-%s" % (ORDER[a], ORDER[b]) for a, b in out)


def main(paths):
    seen = collections.defaultdict(collections.Counter)  # (sc, m, var, ver) -> Counter(sets)
    trackers = collections.defaultdict(collections.Counter)
    problems = []
    for p in paths:
        for line in open(p):
            r = json.loads(line)
            k = (r["scenario"], r["start_method"], r["variant"], r["version"])
            seen[k][tuple(r["symptoms"])] += 1
            for g, codes in sorted(r["tracker_exit"].items()):
                for c in codes:
                    trackers[k][f"{g} {c}"] += 1
            if r["error"] or not r["mp_ok"]:
                problems.append((k, r["error"], r["mp_ok"]))
    flips, mismatches = [], []
    cells = collections.defaultdict(lambda: collections.defaultdict(list))
    for k, counter in sorted(seen.items(), key=lambda kv: (kv[0][0], str(kv[0][1]), kv[0][2], vkey(kv[0][3]))):
        sc, m, var, ver = k
        if len(counter) > 1:
            flips.append((k, dict(counter)))
        main_set = counter.most_common(1)[0][0]
        cells[(sc, m)][var].append((ver, main_set))
        exp = expected(sc, var, ver, m)
        if exp is not None:
            for s in counter:
                if list(s) != sorted(exp):
                    mismatches.append((k, list(s), sorted(exp), counter[s]))
    total = sum(sum(c.values()) for c in seen.values())
    print(f"# drive.py summary: {total} cases, {len(seen)} distinct cells\n")
    print(f"Flips (a cell whose symptom set varied between repeats): {len(flips)}")
    for k, c in flips:
        print(f"- {k}: {c}")
    print(f"\nMismatches with predict.py: {len(mismatches)}")
    for k, got, exp, n in mismatches:
        print(f"- {k}: observed {got} x{n}, predicted {exp}")
    print(f"\nRunner problems (timeouts, wrong multiprocessing): {len(problems)}")
    for p in problems[:20]:
        print(f"- {p}")
    for (sc, m), per_var in sorted(cells.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        print(f"\n## {sc}" + (f" [{m}]" if m else ""))
        print("\n| variant | symptom set (versions) |\n|---|---|")
        for var in VARIANTS:
            if var not in per_var:
                continue
            by_set = collections.defaultdict(list)
            for ver, s in per_var[var]:
                by_set[s].append(ver)
            if len(by_set) == 1:
                cell = fmt(next(iter(by_set)))
            else:
                cell = "; ".join(f"{ranges(vs)}: {fmt(s)}" for s, vs in
                                 sorted(by_set.items(), key=lambda kv: min(vkey(v) for v in kv[1])))
            print(f"| {var} | {cell} |")
    print("\n## Tracker exit statuses (3.13+ only; 3.8-3.12 trackers always exit 0)\n")
    agg = collections.defaultdict(set)
    for (sc, m, var, ver), c in trackers.items():
        if vkey(ver) >= ORDER.index("3.13.0"):
            agg[(sc, m, var)].add((ver, tuple(sorted(c))))
    for (sc, m, var), s in sorted(agg.items(), key=lambda kv: (kv[0][0], str(kv[0][1]), kv[0][2])):
        codes = sorted({cs for _, cs in s})
        print(f"- {sc}" + (f" [{m}]" if m else "") + f" {var}: " + " | ".join(
            ", ".join(x.split(" ", 1)[0] + " " + x.split(" ", 1)[1] for x in cs) for cs in codes))


if __name__ == "__main__":
    main(sys.argv[1:])
