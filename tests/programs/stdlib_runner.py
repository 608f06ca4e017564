"""Runs modules of CPython's own test suite (package test, from Debian's
libpython3.X-testsuite) with unittest and prints one line per test case:
its id and its outcome (ok, skip, fail, error, xfail, xpass), sorted.
No timings, no addresses: the listing is comparable between runs.

    python3 stdlib_runner.py test_dict test_list ...

Resource-hungry tests (test.support.requires: cpu, network, largefile...)
are disabled, as regrtest does without -u.  The exit status is 0 when every
test passed or was skipped.  With KPROG_MAPS=path set, a copy of
/proc/self/maps is written there after the first module.
"""
import io
import os
import shutil
import sys
import unittest

import test.support

test.support.use_resources = []
test.support.verbose = 0


class Result(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.outcomes = []

    def _add(self, test, outcome):
        self.outcomes.append((test.id(), outcome))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._add(test, "ok")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._add(test, "skip")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._add(test, "fail")

    def addError(self, test, err):
        super().addError(test, err)
        self._add(test, "error")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._add(test, "xfail")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._add(test, "xpass")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._add(subtest, "fail" if issubclass(err[0], test.failureException) else "error")


def main(names):
    loader = unittest.TestLoader()
    ok = True
    for name in names:
        suite = loader.loadTestsFromName("test." + name)
        result = Result()
        # Some tests print; keep stdout for the listing only.
        saved = sys.stdout
        sys.stdout = io.StringIO()
        try:
            suite.run(result)
        finally:
            sys.stdout = saved
        for tid, outcome in sorted(result.outcomes):
            print(outcome, tid)
        counts = {}
        for _, outcome in result.outcomes:
            counts[outcome] = counts.get(outcome, 0) + 1
        print("#", name, " ".join("%s=%d" % kv for kv in sorted(counts.items())), flush=True)
        for test, tb in result.failures + result.errors:
            sys.stderr.write("=== %s\n%s\n" % (test.id(), tb))
        if not result.wasSuccessful():
            ok = False
        if name == names[0] and os.environ.get("KPROG_MAPS"):
            shutil.copy("/proc/self/maps", os.environ["KPROG_MAPS"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
