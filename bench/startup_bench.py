"""Startup time of the `sgxra` command against the imports it cannot avoid, measured in one run.

The baseline is a fresh Python importing `cryptography.x509`, `httpx` and `click`; each variant is a fresh
`sgxra` process (the console script beside this interpreter). Rounds alternate the variants so that load
on the machine falls on all of them alike; figures are medians. Target: every command at most 1.5x the
baseline. Run: make bench-startup   (option: --rounds N)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET = 1.5
BASELINE = "import cryptography.x509, httpx, click"


def sgxra_command() -> list[str]:
    script = Path(sys.executable).with_name("sgxra")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sgxra"]


def variants() -> dict[str, list[str]]:
    sgxra = sgxra_command()
    found = {
        "baseline: python -c '" + BASELINE + "'": [sys.executable, "-c", BASELINE],
        "sgxra --version": [*sgxra, "--version"],
        "sgxra verify-quote --help": [*sgxra, "verify-quote", "--help"],
        "sgxra inspect --help": [*sgxra, "inspect", "--help"],
        "sgxra --help": [*sgxra, "--help"],
        "python -c 'import sgxra'": [sys.executable, "-c", "import sgxra"],
    }
    # `sgxra verify` is measured once the command exists.
    verify_help = [*sgxra, "verify", "--help"]
    if subprocess.run(verify_help, capture_output=True).returncode == 0:
        found["sgxra verify --help"] = verify_help
    return found


def key(name: str) -> str:
    """'sgxra verify-quote --help' -> 'verify_quote_help'."""
    return "_".join(name.removeprefix("sgxra ").replace("-", " ").split())


def run_once(argv: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=21)
    rounds = parser.parse_args().rounds
    found = variants()
    for argv in found.values():  # warm the page cache and the bytecode caches
        run_once(argv)
    times: dict[str, list[float]] = {name: [] for name in found}
    for _ in range(rounds):
        for name, argv in found.items():
            times[name].append(run_once(argv))
    medians = {name: statistics.median(values) for name, values in times.items()}
    base_name = next(iter(found))
    base = medians[base_name]
    width = max(len(name) for name in found)
    print(f"{rounds} rounds, median and fastest wall time per process, ratio of medians to the baseline")
    for name, values in times.items():
        print(f"{name.ljust(width)}  {medians[name] * 1000:7.1f} ms  (min {min(values) * 1000:6.1f})"
              f"  {medians[name] / base:5.2f}x")
    commands = [name for name in found if name.startswith("sgxra ") and name != "sgxra --help"]
    worst = max(commands, key=lambda name: medians[name])
    ratios = " ".join(f"{key(name)}_vs_base={medians[name] / base:.2f}" for name in commands)
    print(ratios)
    verdict = "met" if medians[worst] / base <= TARGET else "missed"
    print(f"target {TARGET}x {verdict} (slowest: {worst}, {medians[worst] / base:.2f}x)")


if __name__ == "__main__":
    main()
