"""The run's summary (per directory, causes of failure, skips) and README's "StarRocks SQL tests" section."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from bench import readme_table
from bench.sqltest.runner import cause_of, tidy

START = "<!-- sqltest-table:start (python -m bench.sqltest --readme writes this section) -->"
END = "<!-- sqltest-table:end -->"


def _cause(case: dict[str, Any]) -> str:
    """A failed case's cause, derived again from its error when it has one (so regrouping needs no new run)."""
    actual = case.get("actual", "")
    if actual.startswith("E: ") and case.get("sql") and "timed out" not in case["cause"] \
            and "connection lost" not in case["cause"]:
        return cause_of(case["sql"], case.get("expected", ""), actual, "")
    return tidy(case["cause"])


def summarize(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts per directory and overall, failure causes and skip reasons with their counts."""
    directories: dict[str, dict[str, int]] = {}
    for case in cases:
        counts = directories.setdefault(case["directory"], {"cases": 0, "pass": 0, "fail": 0, "skip": 0})
        counts["cases"] += 1
        counts[case["status"]] += 1
    total = {k: sum(d[k] for d in directories.values()) for k in ("cases", "pass", "fail", "skip")}
    causes = Counter(_cause(case) for case in cases if case["status"] == "fail")
    skips = Counter(case["reason"] for case in cases if case["status"] == "skip")
    return {"directories": directories, "total": total, "causes": rollup(causes),
            "skips": skips.most_common()}


# Causes that differ only in a name fold into one line, the names listed after it.
ROLLUPS = [
    (re.compile(r"Scalar Function with name (\S+) does not exist!?"), "Scalar Function with name … does not exist"),
    (re.compile(r"Expression partitioning \((.*)\) is not supported yet\.?"),
     "Expression partitioning (…) is not supported yet"),
    (re.compile(r"Partitioning by the expression (.*) is not supported yet\.?"),
     "Partitioning by the expression … is not supported yet"),
    (re.compile(r"Unsupported type '([^']*)'"), "Unsupported type …"),
    (re.compile(r"AGGREGATE KEY table \((.*)\) is not supported yet\.?"), "AGGREGATE KEY table is not supported yet"),
    (re.compile(r"analyzing error: (\S+) is not supported yet\.?$"), "analyzing error: … is not supported yet"),
]


def rollup(causes: Counter[str]) -> list[tuple[str, int, list[str]]]:
    """(cause, cases, the names it stands for) from most to fewest cases."""
    folded: dict[str, tuple[int, list[str]]] = {}
    for cause, count in causes.items():
        key, name = cause, ""
        for pattern, replacement in ROLLUPS:
            found = pattern.search(cause)
            if found:
                key, name = cause[:found.start()] + replacement + cause[found.end():], found.group(1)
                break
        total, names = folded.get(key, (0, []))
        folded[key] = (total + count, names + ([name] if name and name not in names else []))
    return sorted(((k, n, names) for k, (n, names) in folded.items()), key=lambda item: (-item[1], item[0]))


def _rate(counts: dict[str, int]) -> str:
    run = counts["pass"] + counts["fail"]
    return f"{100 * counts['pass'] / run:.0f} %" if run else "—"


def section(results: dict[str, Any], top: int = 40) -> str:
    """The markdown of the section: the table per directory, then the causes of failure and the skips."""
    summary = results["summary"]
    total = summary["total"]
    lines = [f"Measured {results['measured_at'][:10]} on {results['cases_source']} ({total['cases']} cases, "
             f"{len(summary['directories'])} directories; pass rate = passed / (passed + failed)).\n\n",
             "| directory | cases | pass | fail | skip | pass rate |\n|---|---|---|---|---|---|\n"]
    for name, counts in sorted(summary["directories"].items()):
        lines.append(f"| {name} | {counts['cases']} | {counts['pass']} | {counts['fail']} | {counts['skip']} | "
                     f"{_rate(counts)} |\n")
    all_rate = f"{100 * total['pass'] / total['cases']:.0f} %" if total["cases"] else "—"
    lines.append(f"| **all** | **{total['cases']}** | **{total['pass']}** | **{total['fail']}** | "
                 f"**{total['skip']}** | **{_rate(total)}** ({all_rate} of all cases) |\n")
    causes = summary["causes"]
    lines.append(f"\nFailures by cause (the first statement that differs; {len(causes)} distinct causes, "
                 f"the {min(top, len(causes))} commonest):\n\n")
    for cause, count, names in causes[:top]:
        listed = f" ({', '.join(f'`{n}`' for n in names[:12])}{', …' if len(names) > 12 else ''})" if names else ""
        lines.append(f"- {cause.replace('|', '/')}: {count} case{'s' if count != 1 else ''}{listed}\n")
    rest = sum(count for _, count, _ in causes[top:])
    if rest:
        lines.append(f"- other causes: {rest} cases\n")
    lines.append("\nSkipped (the tester's own helpers, other engines, external systems):\n\n")
    lines.extend(f"- {reason}: {count} case{'s' if count != 1 else ''}\n" for reason, count in summary["skips"])
    return "".join(lines)


def write_readme(results: dict[str, Any], readme: Path = readme_table.README) -> None:
    """Write the section between its markers in README."""
    readme_table.write_block(START, END, section(results), readme)
