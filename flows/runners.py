"""Where a flow's tasks run, as the settings say: threads in this process, or a Dask cluster.

`REELMIND_TASK_RUNNER` is "threads" (the default) or "dask": the scheduler at `REELMIND_DASK_ADDRESS`, or a local
cluster of `workers` processes when no address is set. `SettingsTaskRunner` reads the settings when a flow run
starts, not when a flow module is imported, so whoever sets them (the CLI, a worker's environment) may do so after
the import; `flow.with_options(task_runner=...)` still picks another runner for one call.
"""

from __future__ import annotations

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from reelmind.config import Settings, load_settings

# Threads of the default runner. Ingest's tasks waiting on upstream futures each hold one, so it bounds the files
# in flight (flows.ingest).
RUNNER_THREADS = 32


def task_runner_for(settings: Settings) -> TaskRunner:
    """The task runner the settings ask for (`REELMIND_TASK_RUNNER`, `REELMIND_DASK_ADDRESS`)."""
    if settings.task_runner == "threads":
        return ThreadPoolTaskRunner(max_workers=RUNNER_THREADS)
    if settings.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": settings.workers, "processes": True,
                                              "threads_per_worker": 1})
    raise ValueError(f"unknown task_runner {settings.task_runner!r}: use threads or dask")


def runs_in_parallel(runner: TaskRunner) -> bool:
    """Whether the runner's tasks run in processes of their own (a Dask cluster), where CPU-bound tasks gain from
    running at once; threads of one process share its cores and Python's lock."""
    from prefect_dask import DaskTaskRunner

    if isinstance(runner, SettingsTaskRunner):
        runner = runner.chosen
    return isinstance(runner, DaskTaskRunner)


class SettingsTaskRunner(TaskRunner):
    """Runs tasks on the runner the settings ask for, chosen when a flow run starts."""

    def __init__(self) -> None:
        super().__init__()
        self._runner: TaskRunner | None = None

    def duplicate(self) -> SettingsTaskRunner:
        return type(self)()

    @property
    def chosen(self) -> TaskRunner | None:
        """The runner the settings chose (None outside a flow run)."""
        return self._runner

    def __enter__(self) -> SettingsTaskRunner:
        runner = task_runner_for(load_settings()).__enter__()
        super().__enter__()
        self._runner = runner
        return self

    def __exit__(self, *exc_info) -> None:
        self._runner.__exit__(*exc_info)
        self._runner = None
        super().__exit__(*exc_info)

    def submit(self, task, parameters, wait_for=None, dependencies=None):
        return self._runner.submit(task, parameters, wait_for, dependencies)
