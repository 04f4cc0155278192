"""The reward's output comparator (issue 18): tokens by default; LiveCodeBench's rule when a label's
`tests.compare` says "lcb", or as the default of a service (RewardService(compare=...); the reward file takes
it from CRL_REWARD_COMPARE)."""

from __future__ import annotations

import json

import pytest

from crlcli.errors import CrlError
from crlcli.reward import score
from crlcli.reward.service import RewardService

PROMPT = "<|im_start|>user\nSolve it.<|im_end|>\n<|im_start|>assistant\n"
# Expected "1\n2\n" for every case; the program prints both numbers on one line.
STDIO = {
    "type": "stdio",
    "fn_name": None,
    "class_name": None,
    "program": None,
    "cases": [{"input": f"{i}\n", "output": f"{i}\n{i + 1}\n"} for i in range(3)],
}
ONE_LINE = "n = int(input())\nprint(n, n + 1)"
DECIMAL = "n = int(input())\nprint(f'{n}.0')\nprint(f'{n + 1}e0')"


def rl(tests) -> str:
    return json.dumps({"kind": "rl", "tests": tests})


def answer(code: str) -> str:
    return PROMPT + f"<think>\nok\n</think>\n\n```python\n{code}\n```<|im_end|>"


def test_default_is_tokens_and_label_field_selects_lcb():
    assert score(answer(ONE_LINE), PROMPT, rl(STDIO)).reward == 1.0  # tokens: lines do not matter
    assert score(answer(DECIMAL), PROMPT, rl(STDIO)).reward == 0.0  # tokens: `3.0` is not the integer 3
    lcb = {**STDIO, "compare": "lcb"}
    assert score(answer(ONE_LINE), PROMPT, rl(lcb)).reward == 0.0  # LiveCodeBench: two lines expected
    assert score(answer(DECIMAL), PROMPT, rl(lcb)).reward == 1.0  # LiveCodeBench: equal as Decimals


def test_service_default_and_label_override(monkeypatch):
    monkeypatch.delenv("CRL_REWARD_COMPARE", raising=False)
    with pytest.raises(CrlError, match="unknown reward comparator"):
        RewardService(compare="lbc", workers=1)
    svc = RewardService(compare="lcb", workers=1)
    try:
        r = svc.score_batch(
            [answer(ONE_LINE), answer(ONE_LINE)], [PROMPT, PROMPT], [rl(STDIO), rl({**STDIO, "compare": "tokens"})]
        )
        assert [x.reward for x in r] == [0.0, 1.0]  # the service's lcb default; the label's own rule wins
    finally:
        svc.close()
    from crlcli.reward.filemode import service_from_env

    assert RewardService(workers=1).compare is None  # the library reads no environment
    monkeypatch.setenv("CRL_REWARD_COMPARE", "lcb")
    monkeypatch.setenv("CRL_REWARD_WORKERS", "1")
    env_svc = service_from_env()
    try:
        assert env_svc.compare == "lcb"
        assert env_svc.score_batch([answer(DECIMAL)], [PROMPT], [rl(STDIO)])[0].reward == 1.0
    finally:
        env_svc.close()


def test_unknown_rule_in_a_label_is_reward_zero_with_reason():
    r = score(answer(ONE_LINE), PROMPT, rl({**STDIO, "compare": "exact"}))
    assert r.reward == 0.0 and "unknown tests.compare" in r.logs["error"]


def test_reward_file_refuses_a_misspelt_comparator(monkeypatch):
    from crlcli.reward import filemode

    monkeypatch.setenv("CRL_REWARD_COMPARE", "LCB")
    with pytest.raises(ValueError, match="CRL_REWARD_COMPARE"):
        filemode.check_env()
    monkeypatch.setenv("CRL_REWARD_COMPARE", "lcb")
    filemode.check_env()
