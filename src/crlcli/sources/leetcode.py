"""`leetcode`: DeepCoder's LeetCode test file (rllm `leetcode.json`): a JSON array of
`{"problem": str, "solutions": str | [str], "tests": {"functional": str}}`.

`functional` is a `check(candidate)` test program that already ends with its own call
(`check(Solution().method)`), so it becomes an `assert` test's program unchanged. The statement keeps its text;
DeepCoder's instruction line and the trailing "complete the following code" block are split off, the block
becoming `starter_code`. Reference solutions become `reference` candidates. LeetCode's judge runs submissions
with names such as `List`, `Counter` or `inf` already imported and the references rely on that, so they are
stored with PRELUDE in front, and `tests.prelude` carries it for stages that run other candidates.
The check programs are converted into parent-compared call cases (`crlcli.asserts.convert`, keyword arguments
as `{"args", "kwargs"}` inputs; all 200 of the sample convert); one that does not convert stays an `assert`
test, which the sandbox runs in the candidate's process.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..asserts import convert as convert_asserts
from ..records import make_tests
from ._base import RowReporter, load_json_list, require_file

NAME = "leetcode"
SUMMARY = "DeepCoder LeetCode test file (check() asserts + reference solutions)"
EXAMPLE = "../shared/data/cp_samples/leetcode.json"

PRELUDE = (
    "from typing import *\n"
    "from collections import *\n"
    "from itertools import *\n"
    "from functools import *\n"
    "from heapq import *\n"
    "from bisect import *\n"
    "from string import ascii_lowercase, ascii_uppercase, ascii_letters, digits\n"
    "from math import inf, gcd, lcm, sqrt, isqrt, ceil, floor, log, log2, log10, comb, perm, factorial\n"
    "import collections, itertools, functools, heapq, bisect, math, string, re, operator, random\n"
    "try:\n    from sortedcontainers import SortedList, SortedDict, SortedSet\nexcept ImportError:\n    pass\n"
)
_WRAPPER = "Please solve the programming task below using a self-contained code snippet in a markdown code block."
_STARTER = re.compile(r"\n*Please complete the following python code precisely:\s*```python\n(.*?)```\s*$", re.S)
_CALL = re.compile(r"check\(\s*(?:(\w+)\(\)\.)?(\w+)\s*\)\s*$")


def split_problem(text: str) -> tuple[str, str]:
    """(question, starter_code) from DeepCoder's prompt text; the text unchanged when it has another shape."""
    body = text
    if body.startswith(_WRAPPER):
        body = body[len(_WRAPPER) :]
    m = _STARTER.search(body)
    starter = ""
    if m:
        starter = m.group(1)
        body = body[: m.start()]
    return body.strip(), starter


def convert(row, index: int) -> tuple[dict | None, str | None]:
    if not isinstance(row, dict) or not isinstance(row.get("problem"), str):
        return None, "not a LeetCode row: expected an object with a string 'problem'"
    tests = row.get("tests")
    program = tests.get("functional") if isinstance(tests, dict) else None
    if not isinstance(program, str) or "check(" not in program:
        return None, "tests.functional must be a string holding a check(candidate) program"
    sols = row.get("solutions")
    if sols is None:
        sols = []
    if isinstance(sols, str):
        sols = [sols]
    if not isinstance(sols, list) or not all(isinstance(s, str) for s in sols):
        return None, "solutions must be a string or a list of strings"
    call = _CALL.search(program.rstrip())
    class_name, fn_name = (call.group(1), call.group(2)) if call else (None, None)
    question, starter = split_problem(row["problem"])
    t = make_tests("assert", fn_name=fn_name, class_name=class_name, program=program)
    t["prelude"] = PRELUDE
    t = convert_asserts(t)[0]
    record: dict[str, Any] = {
        "id": f"{NAME}/{index}",
        "question": question,
        "starter_code": starter,
        "tests": t,
        "source": {"dataset": "agentica-project/rllm", "file": "leetcode.json", "index": index},
    }
    if sols:
        record["candidates"] = [
            {"id": f"ref{i}", "code": PRELUDE + s, "origin": {"backend": "reference"}} for i, s in enumerate(sols)
        ]
    return record, None


def load(path: str | None, reporter: RowReporter) -> Iterator[dict]:
    p = require_file(path, NAME, EXAMPLE)
    for index, row in enumerate(load_json_list(p, "LeetCode")):
        record, why = convert(row, index)
        if record is None:
            assert why is not None  # convert gives a reason with every refusal
            reporter.bad(str(p), f"row {index}", why, row)
            continue
        yield record
