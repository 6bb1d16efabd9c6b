"""Run StarRocks' SQL test cases against a local Cairn: `python -m bench.sqltest [--dirs D ...] [--case NAME]
[--out results.json] [--engine]`; `--readme` writes README's "StarRocks SQL tests" section from a results
file. With `--engine` every SELECT the distributed engine answers is also run on the existing path, and
a different answer fails the case."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.sqltest import report
from bench.sqltest.cases import DEFAULT_DIRS, case_root, load_cases
from bench.sqltest.runner import ENGINE_DIFFERS, run_case
from bench.sqltest.server import LocalCairn

REPO = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).with_name("results.json")


def _default_source() -> Path:
    """`../shared/starrocks-sql-tests` beside the repository (or beside its main checkout, from a worktree)."""
    candidates = [REPO.parent / "shared" / "starrocks-sql-tests"]
    git = REPO / ".git"
    if git.is_file():  # a worktree: .git names the main checkout's git directory
        gitdir = Path(git.read_text().split(":", 1)[1].strip())
        candidates.append(gitdir.parents[2].parent / "shared" / "starrocks-sql-tests")
    return next((c for c in candidates if c.exists()), candidates[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=Path, default=None,
                        help="the copy of StarRocks' test/sql (a directory, or one holding test-sql.tgz); "
                             "default ../shared/starrocks-sql-tests")
    parser.add_argument("--dirs", nargs="+", default=list(DEFAULT_DIRS), help="directories of cases to run")
    parser.add_argument("--case", action="append", default=[],
                        help="run only this case (its name, or directory/file:name); may repeat")
    parser.add_argument("--out", type=Path, default=None, help="write the per-case results and summary here")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a statement may take")
    parser.add_argument("--case-timeout", type=float, default=600.0, help="seconds a case may take")
    parser.add_argument("--readme", action="store_true",
                        help="write README's section from --out (default bench/sqltest/results.json); run nothing")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    parser.add_argument("--engine", action="store_true",
                        help="run on an FE with the distributed engine and one CN hosting its worker; compare "
                             "each SELECT the engine answers with the existing path's answer")
    args = parser.parse_args(argv)
    if args.readme:
        results = json.loads((args.out or RESULTS).read_text())
        results["summary"] = report.summarize(results["cases"])
        report.write_readme(results)
        return 0
    source = args.cases or _default_source()
    cases = load_cases(case_root(source), args.dirs)
    if args.case:
        cases = [c for c in cases if c.name in args.case or c.key in args.case]
        if not cases:
            parser.error(f"no case named {', '.join(args.case)} in {', '.join(args.dirs)}")
    server = LocalCairn(engine=args.engine)
    outcomes: list[dict[str, Any]] = []
    try:
        server.start()
        for number, case in enumerate(cases, 1):
            if not server.alive():
                server.start()
            outcome = run_case(server, case, args.timeout, args.case_timeout)
            outcomes.append(outcome.to_json())
            if not args.quiet:
                tail = outcome.reason or outcome.cause
                print(f"[{number}/{len(cases)}] {outcome.status:4} {case.key} ({outcome.seconds:g} s)"
                      f"{' — ' + tail if tail else ''}", flush=True)
    finally:
        server.close()
    results = {"measured_at": time.strftime("%Y-%m-%d %H:%M:%S"), "cases_source": "StarRocks test/sql at "
               + _source_commit(source), "directories": args.dirs, "summary": report.summarize(outcomes),
               "cases": outcomes}
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    total = results["summary"]["total"]
    for name, counts in results["summary"]["directories"].items():
        print(f"{name:28} {counts['pass']:3} pass {counts['fail']:3} fail {counts['skip']:3} skip")
    print(f"all: {total['cases']} cases, {total['pass']} pass, {total['fail']} fail, {total['skip']} skip")
    if args.engine:
        selects = sum(o.get("selects", 0) for o in outcomes)
        on_engine = sum(o.get("on_engine", 0) for o in outcomes)
        differing = [o["case"] for o in outcomes if o.get("cause") == ENGINE_DIFFERS]
        print(f"SELECTs run: {selects}, answered by the distributed engine: {on_engine}, "
              f"differing from the existing path: {len(differing)} ({', '.join(differing)})")
    return 0 if total["fail"] == 0 else 1


def _source_commit(source: Path) -> str:
    readme = source / "README.md"
    if readme.is_file():
        for word in readme.read_text().split():
            word = word.strip("`(),.")
            if len(word) == 40 and all(ch in "0123456789abcdef" for ch in word):
                return f"commit {word[:12]}"
    return str(source)


if __name__ == "__main__":
    sys.exit(main())
