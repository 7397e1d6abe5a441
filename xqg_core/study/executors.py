"""Where the precompute's shard work runs: in this process, or as Ray tasks on a cluster.

Stages say *what* (a list of independent, resumable shard jobs, each a module-level function
and its picklable arguments); an executor says *where*. Every job is idempotent: it writes
its outputs through :class:`xqg_core.pipeline.runner.StageRunner` (or an atomic file) and returns
only small values, so a job that is retried, or rerun after a crash, redoes nothing that
finished. Ray is imported only when the ``ray`` executor is chosen: the local default
starts no Ray process.

On a cluster, every node must see the project and the work directory at the same paths (a
shared filesystem, as on a Slurm cluster): jobs read their inputs from, and write their
outputs to, the work directory, never through the driver.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from xqg_core.errors import MissingResourceError, XqgError
from xqg_core.paths import PROJECT_ROOT

log = logging.getLogger("xqg_core.study.executors")

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Job:
    """One shard of work: ``fn(*args)``; ``gpu``: the job can use one accelerator."""

    name: str
    fn: Callable[..., Any]
    args: tuple = ()
    gpu: bool = False


class LocalExecutor:
    """Runs jobs one after another in this process (the default)."""

    name = "local"

    def run(self, jobs: Sequence[Job]) -> list[Any]:
        return [job.fn(*job.args) for job in jobs]

    def shutdown(self) -> None:
        pass


class RayExecutor:
    """Runs jobs as Ray tasks: one task per job, ``num_gpus=1`` for GPU jobs when the cluster
    has GPUs (else CPU), results gathered in the jobs' order.

    ``address``: a running cluster (``ray start --head`` prints it; ``auto`` finds one on
    this node); None starts a local Ray with ``num_cpus`` CPUs (all by default)."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None, max_retries: int = 2,
                 fresh_workers: bool = False):
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - ray is pinned in requirements.txt
            raise MissingResourceError("--executor ray needs the ray package (pip install -r requirements.txt)") from exc
        self._ray = ray
        self.max_retries = max_retries
        self.fresh_workers = fresh_workers  # one worker process per task: its peak memory is the task's own
        # workers import xqg_core from the project's directory (shared with the driver)
        runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join(
            [str(PROJECT_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}}
        if not ray.is_initialized():
            try:
                ray.init(address=address, num_cpus=None if address else num_cpus, runtime_env=runtime_env,
                         include_dashboard=False, log_to_driver=True, logging_level=logging.WARNING)
            except ConnectionError as exc:
                raise XqgError(f"--ray-address {address}: no Ray cluster answers there ({exc})") from exc
        self.gpus = float(ray.cluster_resources().get("GPU", 0))
        log.info("ray: %s CPUs, %s GPUs", ray.cluster_resources().get("CPU", 0), self.gpus)

    def run(self, jobs: Sequence[Job]) -> list[Any]:
        ray = self._ray
        refs = []
        for job in jobs:
            gpus = 1 if job.gpu and self.gpus >= 1 else 0
            remote = ray.remote(max_calls=1 if self.fresh_workers else 0)(job.fn)
            task = remote.options(name=job.name, num_cpus=1, num_gpus=gpus, max_retries=self.max_retries)
            refs.append(task.remote(*job.args))
        try:
            return ray.get(refs)
        except ray.exceptions.RayTaskError as exc:
            # the job's own error (e.g. an XqgError naming a bad file) rather than Ray's wrapper
            cause = exc.as_instanceof_cause()
            raise (cause.cause if getattr(cause, "cause", None) is not None else cause) from None

    def shutdown(self) -> None:
        self._ray.shutdown()


def make_executor(name: str = "local", address: str | None = None, num_cpus: int | None = None):
    """``local`` (default) or ``ray`` (``address``: an existing cluster; None: a local one)."""
    if name == "local":
        if address:
            raise XqgError("--ray-address needs --executor ray")
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address, num_cpus)
    raise XqgError(f"--executor {name!r}: choose one of {', '.join(EXECUTORS)}")
