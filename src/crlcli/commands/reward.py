"""`crl reward`: serve rewards to OpenRLHF, as a reward-function file (`path`) or an HTTP server (`serve`)."""

from __future__ import annotations

from typing import Annotated

import typer

HELP = """Serve CRL/RL rewards to OpenRLHF: a reward-function file, or an HTTP server.

  crl judge -i cands.jsonl | crl mix -o train.jsonl

  python -m openrlhf.cli.train_ppo_ray ... \\
    --reward.remote_url "$(crl reward path)"

  crl reward serve --port 5000 --workers 8 --crl-scale 0.5 &

  python -m openrlhf.cli.train_ppo_ray ... \\
    --reward.remote_url http://127.0.0.1:5000/get_reward
"""

PATH_HELP = """Print the absolute path of the reward-function file for --reward.remote_url.

  crl mix -i judged.jsonl -o train.jsonl

  python -m openrlhf.cli.train_ppo_ray ... \\
    --reward.remote_url "$(crl reward path)"

Settings come from environment variables (docs/reward.md): CRL_REWARD_CRL_SCALE,
CRL_REWARD_WORKERS, CRL_REWARD_TIMEOUT, CRL_REWARD_TEST_TIMEOUT,
CRL_REWARD_MEMORY_MB, CRL_REWARD_ISOLATION, CRL_REWARD_REQUIRE_ISOLATION.
"""

SERVE_HELP = """Serve POST /get_reward (OpenRLHF's remote protocol) and GET /health.

Runs until SIGTERM/SIGINT. Several servers can share the load:

  crl mix -i judged.jsonl -o train.jsonl

  crl reward serve --host 0.0.0.0 --port 5000 --workers 8 --crl-scale 0.5

  python -m openrlhf.cli.train_ppo_ray ... --reward.remote_url \\
    http://h1:5000/get_reward,http://h2:5000/get_reward
"""


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help=HELP, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})

    @sub.command("path", help=PATH_HELP)
    def path_cmd() -> None:
        from ..reward import reward_file

        typer.echo(str(reward_file()))

    @sub.command("serve", help=SERVE_HELP)
    def serve_cmd(
        host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="TCP port (0: pick a free one and log it).")] = 5000,
        workers: Annotated[
            int | None, typer.Option("--workers", help="Sandbox processes (default: number of CPUs).")
        ] = None,
        crl_scale: Annotated[
            float, typer.Option("--crl-scale", help="Multiplier of the CRL reward (paper phase 1: 0.5).")
        ] = 1.0,
        deadline: Annotated[
            float,
            typer.Option("--deadline", help="Seconds per request; unfinished samples get 0 (OpenRLHF waits 180 s)."),
        ] = 120.0,
        test_timeout: Annotated[
            float | None, typer.Option("--test-timeout", help="Seconds per test case (sandbox default 6).")
        ] = None,
        memory_mb: Annotated[
            int | None, typer.Option("--memory-mb", help="Memory limit per test run (sandbox default 1024).")
        ] = None,
        max_inflight: Annotated[
            int, typer.Option("--max-inflight", help="Requests handled at once; more wait in the listen backlog.")
        ] = 2048,
        sandbox: Annotated[
            str | None,
            typer.Option("--sandbox", help="Sandbox mode: auto | bwrap | limits. [default: auto]", show_default=False),
        ] = None,
        old_isolation: Annotated[str | None, typer.Option("--isolation", hidden=True)] = None,
        require_isolation: Annotated[
            bool, typer.Option("--require-isolation", help="Refuse to run candidates without namespaces.")
        ] = False,
        client_timeout: Annotated[
            float | None,
            typer.Option(
                "--client-timeout",
                help="Seconds a client may stay silent while sending a request "
                "(default 30; CRL_REWARD_CLIENT_TIMEOUT).",
            ),
        ] = None,
        compare: Annotated[
            str | None,
            typer.Option(
                "--compare",
                help="Output comparator for RL labels that name none: tokens | lcb "
                "(LiveCodeBench's grader). A label's own tests.compare wins.",
            ),
        ] = None,
        record: Annotated[
            str | None,
            typer.Option(
                "--record",
                help="Append one JSON line per scored sample to this file, tagged with the "
                "training step (read by `crl train report`).",
            ),
        ] = None,
    ) -> None:
        from ..errors import UsageError
        from ..reward.server import serve
        from ..reward.service import RewardService
        from ..sandbox.compare import COMPARATORS
        from ..sandbox.limits import SANDBOX_MODES
        from ._common import check_choice, renamed

        mode = renamed("--sandbox", sandbox, "--isolation", old_isolation) or "auto"
        check_choice("--sandbox", mode, SANDBOX_MODES)  # a typo would start a server that zeroes RL rewards
        if compare is not None:
            check_choice("--compare", compare, tuple(COMPARATORS))
        if not 0 <= port <= 65535:
            raise UsageError(f"--port must be between 0 and 65535, got {port}")
        if deadline <= 0 or deadline >= 180:
            raise UsageError(f"--deadline must be between 0 and 180 s, got {deadline}", hint="OpenRLHF waits 180 s")
        if workers is not None and workers < 1:
            raise UsageError("--workers must be at least 1")
        if max_inflight < 1:
            raise UsageError("--max-inflight must be at least 1")
        if client_timeout is not None and client_timeout <= 0:
            raise UsageError("--client-timeout must be positive")
        from ._env import reward_client_timeout

        client_timeout = reward_client_timeout(client_timeout)
        service = RewardService(
            crl_scale=crl_scale,
            workers=workers,
            deadline=deadline,
            test_timeout=test_timeout,
            memory_mb=memory_mb,
            mode=mode,
            require_isolation=require_isolation,
            compare=compare,
        )
        serve(host, port, service, max_inflight=max_inflight, client_timeout=client_timeout, record=record)

    app.add_typer(sub, name="reward", help=HELP)
