"""The Dask worker plugin of training (imports Dask; loaded only where a Dask cluster is used)."""

from __future__ import annotations

from distributed import Worker, WorkerPlugin


class TrainingProcess(WorkerPlugin):
    """Runs :func:`pola_nb.sampled.process.training_process` in every worker when it starts (and in
    the workers already running when the plugin is registered): one BLAS thread, freed memory kept."""

    name = "pola-training-process"

    def setup(self, worker: Worker) -> None:
        from pola_nb.sampled.process import training_process

        training_process()
