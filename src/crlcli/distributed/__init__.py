"""Cluster mode on Ray: judging, generation and evaluation beyond one machine (docs/cluster.md).

Ray is an optional dependency (the `train` extra has it): nothing here imports it at module level, and every
entry point goes through `connect()`, which imports it and says what to install when it is missing.

    from crlcli.distributed import connect
    ray = connect("auto")            # a running cluster (`ray start --head` on one node, `--address` on others)
    ray = connect(None, num_cpus=2)  # no address: a local Ray instance in this process's lifetime

What runs on the cluster are Ray actors with resources (one sandbox pool per node, one vLLM engine per GPU set),
driven with ray.get / ray.wait, restarted by Ray (max_restarts / max_task_retries); there is no crl scheduler.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Self

from ..errors import CrlError, require_module
from ..io import stdout_to_stderr

RAY_HINT = "pip install 'ray[default]==2.55.0' (or 'crlcli[train]'), the same version on every node"


def ray_module():
    """`import ray`, or a CrlError naming what to install."""
    try:
        return require_module("ray", "train", "cluster mode (--ray-address, --engines)")
    except CrlError as exc:
        raise CrlError(exc.message, hint=RAY_HINT) from None


def quiet_stdout() -> None:
    """In an actor process: stdout goes to stderr for good (Ray forwards a worker's stdout to the driver's
    stdout, where records go)."""
    sys.stdout.flush()
    os.dup2(2, 1)
    sys.stdout = sys.stderr


def connect(
    address: str | None = None, num_cpus: int | None = None, resources: dict[str, float] | None = None, **init_args: Any
):
    """Connect to the Ray cluster at `address` ("auto", "HOST:PORT", "ray://HOST:PORT"), or start a local Ray
    instance when it is None. Already connected: the existing connection is used. Returns the ray module."""
    ray = ray_module()
    if ray.is_initialized():
        return ray
    args: dict[str, Any] = dict(include_dashboard=False, log_to_driver=True, configure_logging=False)
    if address:
        args["address"] = address
    else:
        args.update(num_cpus=num_cpus, resources=resources)
    args.update(init_args)
    args = {k: v for k, v in args.items() if v is not None}
    if address and "include_dashboard" in args:
        args.pop("include_dashboard")  # only for a new local instance
    try:
        with stdout_to_stderr():
            ray.init(**args)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
        raise CrlError(
            f"cannot connect to {where}: {exc}",
            hint="start one with `ray start --head` (docs/cluster.md), or pass its address",
        ) from exc
    return ray


class ActorGroup:
    """Ray actors this process started (`self.actors`), killed on close; the Ray connection is shut down too when
    this group started a local instance for itself."""

    actors: list[Any]

    def _connect(self, address: str | None, **init_args: Any):
        owned = not _initialized()
        self._ray = connect(address, **init_args)
        self._owns_ray = owned and not address
        self.actors = []
        return self._ray

    def close(self) -> None:
        ray = self._ray
        for actor in self.actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.actors = []
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def alive_nodes(ray) -> list[dict[str, Any]]:
    """The cluster's live nodes, as ray.nodes() describes them, in a stable order."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return sorted(nodes, key=lambda n: (n.get("NodeManagerAddress", ""), n["NodeID"]))


def _initialized() -> bool:
    """Is this process connected to Ray already (without importing ray when it is not installed)?"""
    if "ray" not in sys.modules:
        return False
    return bool(sys.modules["ray"].is_initialized())
