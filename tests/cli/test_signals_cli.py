"""Issue 15, item 10: an ordinary command stopped by SIGTERM exits 143, by SIGINT 130, after unwinding (the judge
kills its sandboxes; outputs are closed)."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.conftest import crl_exe, sigint_default


@pytest.mark.parametrize("sig, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
@pytest.mark.parametrize("cmd", [("judge", "--sandbox", "limits"), ("mix",)], ids=lambda c: c[0])
def test_signal_exit_codes(tmp_path, cmd, sig, code, word):
    # stdin stays open and empty: the command waits for records until the signal comes
    proc = subprocess.Popen(
        [crl_exe(), *cmd, "-o", str(tmp_path / "out.jsonl")],
        stdin=subprocess.PIPE,
        preexec_fn=sigint_default,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(4)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code and word in err.decode(), (proc.returncode, err.decode())
