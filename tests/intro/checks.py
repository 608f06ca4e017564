"""The checks the intro drivers share: check(cond, what) prints a failure
and counts it; done() prints the count and exits with 1 if any failed."""
import sys

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)


def done():
    print(f"{failures} failure(s)")
    sys.exit(1 if failures else 0)
