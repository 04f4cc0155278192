"""How many assert-tested records and cases convert to parent-compared call cases (crlcli.asserts.convert).

    python bench/assert_conversion.py [DATA_DIR] [--json]     # default: ../shared/data beside the checkout

HumanEval and the LeetCode sample are read through our sources (`crl filter --source humaneval|leetcode`; HumanEval
is converted there, LeetCode when its tests reach `crl mix` or the sandbox; counted from the original program either
way); no source ingests MBPP+ as assert tests (its EvalPlus scorer is
differential), so its original MBPP `assertion` field is converted directly. "asserts in-process" counts the assert
statements of the records that stay in-process; reasons count records (one record can have several).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from crlcli.asserts import ConvertStats, convert
from crlcli.sources import load


def _stats(tests_list) -> ConvertStats:
    total = ConvertStats()
    for tests in tests_list:
        if tests.get("converted_from") == "assert":  # converted at ingestion: count it from the kept original
            original = {k: v for k, v in tests.items() if k not in ("cases", "converted_from", "assert_program")}
            original.update(type="assert", cases=[], program=tests["assert_program"])
            tests = original
        total.add(convert(tests)[1])
    return total


def main(data: Path) -> dict:
    sets = {
        "humaneval": [r["tests"] for r in load("humaneval", str(data / "humaneval" / "HumanEval.jsonl.gz"))],
        "mbppplus (assertion)": [
            {"type": "assert", "fn_name": r["entry_point"], "class_name": None, "cases": [], "program": r["assertion"]}
            for r in (json.loads(x) for x in gzip.open(data / "mbppplus" / "MbppPlus.jsonl.gz"))
        ],
        "leetcode sample": [r["tests"] for r in load("leetcode", str(data / "cp_samples" / "leetcode.json"))],
    }
    out = {}
    print(
        f"{'set':22} {'records':>8} {'converted':>10} {'in-process':>11} {'cases':>7} {'asserts in-proc':>16}  reasons"
    )
    for name, tests_list in sets.items():
        st = _stats(tests_list)
        out[name] = st.to_dict()
        reasons = ", ".join(f"{k} {v}" for k, v in st.reasons.most_common()) or "-"
        print(
            f"{name:22} {st.records:>8} {st.records_converted:>10} {st.records_in_process:>11} "
            f"{st.cases_converted:>7} {st.asserts_in_process:>16}  {reasons}"
        )
    return out


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    args = [a for a in sys.argv[1:] if a != "--json"]
    result = main(Path(args[0]) if args else default)
    if "--json" in sys.argv:
        print(json.dumps(result, indent=2))
