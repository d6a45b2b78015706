"""Where the agents' update tasks run: the ``--cluster`` text of ``pola train`` and an executor for it.

``--cluster`` is one of

- ``local`` or ``local:N`` (default ``local:1``): ``N = 1`` runs every task in this process, one after
  the other, without Dask; ``N >= 2`` starts a Dask ``LocalCluster`` of ``N`` single-threaded worker
  processes on this machine;
- ``tcp://HOST:PORT``: the Dask scheduler listening there (``dask scheduler`` and ``dask worker``
  started by hand or by a batch system);
- a path to a scheduler file (JSON, as written by ``dask scheduler --scheduler-file``), the way HPC
  centres start Dask.

Every Dask worker runs :func:`pola_nb.sampled.process.training_process` when it starts (one BLAS
thread, freed memory kept), and every task sets one numba thread in the thread that runs it. The
workers only compute: the training loop, the evaluation and the run file stay in the client process.

An executor (:class:`InProcess` or :class:`DaskExecutor`) has ``submit(fn, *args) -> future``,
``wait_any(futures) -> finished futures`` and ``dashboard_link`` (``None`` without a dashboard); a
future has ``result()``.

Faults on a Dask cluster:

- a worker that dies (killed, out of memory, its node gone): the scheduler runs its tasks again on
  another worker (a task is a pure function of its arguments, so the run does not change), and a
  ``LocalCluster``'s nanny starts a new worker in its place;
- a scheduler that goes away: :meth:`DaskExecutor.wait_any` raises :class:`SchedulerLostError` (a
  :class:`~pola_nb.errors.PolaUsageError`: one line from the CLI). The run file keeps every finished
  update and ``--resume`` continues it, on any ``--cluster``;
- Ctrl-C: the executor is closed on the way out, and with it a ``local:N`` cluster's processes.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pola_nb.errors import PolaUsageError, is_integer, require

DEFAULT = "local:1"
#: Seconds to wait for a scheduler (``tcp://`` or a scheduler file) before refusing the address.
CONNECT_TIMEOUT_S = 10.0
#: Seconds to wait for a client or a local cluster to close.
CLOSE_TIMEOUT_S = 30.0
_USAGE = "--cluster must be local, local:N (N >= 1), tcp://HOST:PORT or a scheduler file"
_TCP = re.compile(r"tcp://(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(?P<port>\d{1,5})")


@dataclass(frozen=True)
class ClusterSpec:
    """A parsed ``--cluster``: ``kind`` is ``local`` (``workers`` processes), ``tcp`` (``address``) or
    ``file`` (``address`` = the scheduler file's path)."""

    kind: str
    workers: int = 1
    address: str = ""

    @property
    def in_process(self) -> bool:
        return self.kind == "local" and self.workers == 1


def parse_cluster(text: str) -> ClusterSpec:
    """The :class:`ClusterSpec` of a ``--cluster`` text; PolaUsageError if it is malformed or names a
    scheduler file that does not exist. Connects to nothing."""
    require(isinstance(text, str) and text.strip() != "", f"{_USAGE}, got {text!r}")
    text = text.strip()
    if text == "local" or text.startswith("local:"):
        n = "1" if text == "local" else text.partition(":")[2]
        require(n.isdigit() and int(n) >= 1, f"{_USAGE}, got {text!r}")
        return ClusterSpec("local", int(n))
    if "://" in text:
        m = _TCP.fullmatch(text)
        require(m is not None and 1 <= int(m["port"]) <= 65535, f"{_USAGE}, got {text!r}")
        return ClusterSpec("tcp", address=text)
    require(Path(text).is_file(), f"{_USAGE}; no such scheduler file: {text}")
    return ClusterSpec("file", address=text)


def cluster_option(cluster: str | None, workers: int | None) -> str:
    """The ``--cluster`` text of the CLI options ``--cluster`` and ``--workers N`` (an alias of
    ``--cluster local:N``); refuses both at once. Neither: :data:`DEFAULT`."""
    require(cluster is None or workers is None, "give --cluster or --workers, not both")
    if workers is not None:
        require(is_integer(workers) and workers >= 1, f"--workers must be an integer >= 1, got {workers!r}")
        return f"local:{workers}"
    return DEFAULT if cluster is None else cluster


class Executor(Protocol):
    """What the training loop needs from where tasks run."""

    dashboard_link: str | None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def wait_any(self, futures: list) -> list: ...


class InProcess:
    """Runs tasks in this process, in the order they were submitted, when they are waited for.

    ``submit`` returns at once; :meth:`wait_any` runs the oldest pending task among ``futures``.
    The order of the computations is therefore that of submission (as a serial loop would run them).
    """

    dashboard_link: str | None = None

    def __init__(self) -> None:
        self._queue: list[tuple[Future, Callable[..., Any], tuple]] = []

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        fut: Future = Future()
        self._queue.append((fut, fn, args))
        return fut

    def wait_any(self, futures: list) -> list:
        done = [f for f in futures if f.done()]
        if done:
            return done
        wanted = {id(f) for f in futures}
        i = next(i for i, (f, _, _) in enumerate(self._queue) if id(f) in wanted)
        fut, fn, args = self._queue.pop(i)
        try:
            fut.set_result(fn(*args))
        except Exception as e:  # handed on by result(), as a remote executor would
            fut.set_exception(e)
        return [fut]

    def close(self) -> None:
        self._queue.clear()


class SchedulerLostError(PolaUsageError):
    """The Dask scheduler went away while tasks were pending (the CLI prints one line, exit status 2)."""


class _DaskTask:
    """A Dask future as the training loop sees it: ``result()`` raises :class:`SchedulerLostError`
    instead of Dask's ``CancelledError`` when the scheduler went away."""

    __slots__ = ("future", "executor")

    def __init__(self, future, executor: DaskExecutor) -> None:
        self.future, self.executor = future, executor

    def done(self) -> bool:
        return self.future.done()

    def result(self) -> Any:
        try:
            return self.future.result()
        except CancelledError:
            raise self.executor.lost_error() from None


class DaskExecutor:
    """Tasks on a Dask cluster through ``client`` (and ``cluster``, closed with it when this process
    started it)."""

    #: Seconds between two looks at the connection while waiting for tasks.
    poll_s = 2.0

    def __init__(self, client, cluster=None) -> None:
        self.client, self.cluster = client, cluster
        self.dashboard_link = _dashboard_link(client)
        self.lost = False
        self.address = str(getattr(client.scheduler, "address", "") or "its address")

    def lost_error(self) -> SchedulerLostError:
        """The error that reports the lost scheduler (and marks this executor as having lost it)."""
        self.lost = True
        return SchedulerLostError(f"lost the Dask scheduler at {self.address}; the run file keeps every "
                                  "finished update: continue it with --resume")

    def _check_connected(self) -> None:
        if self.client.status not in ("running", "newly-created"):
            raise self.lost_error()

    def submit(self, fn: Callable[..., Any], *args: Any) -> _DaskTask:
        self._check_connected()
        try:
            return _DaskTask(self.client.submit(fn, *args, pure=False), self)
        except CancelledError:
            raise self.lost_error() from None

    def wait_any(self, futures: list) -> list:
        """The finished tasks among ``futures`` (at least one); :class:`SchedulerLostError` as soon as
        the connection to the scheduler is lost (Dask then cancels every pending future)."""
        from distributed import wait

        by_future = {t.future: t for t in futures}
        while True:
            self._check_connected()
            try:
                with self.client.as_current():
                    done = wait(list(by_future), timeout=self.poll_s, return_when="FIRST_COMPLETED").done
                break
            except CancelledError:
                raise self.lost_error() from None
            except TimeoutError:  # nothing finished yet: look at the connection again
                continue
        if any(f.status == "cancelled" for f in done):
            raise self.lost_error()
        return [by_future[f] for f in done]

    def close(self) -> None:
        """Close the client, then the cluster this process started (if any), whatever the first does.

        After a lost scheduler the client's own report of its failed reconnection is left out: the
        error raised by :meth:`wait_any` already says it."""
        client_log = logging.getLogger("distributed.client")
        level = client_log.level
        if self.lost:
            client_log.setLevel(logging.CRITICAL)
        try:
            self.client.close(timeout=CLOSE_TIMEOUT_S)
        except Exception:  # a client whose scheduler is gone may fail to close cleanly
            pass
        finally:
            client_log.setLevel(level)
            if self.cluster is not None:
                self.cluster.close(timeout=CLOSE_TIMEOUT_S)


def _dashboard_link(client) -> str | None:
    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return None
        return client.dashboard_link
    except Exception:  # no dashboard, or a scheduler too old to say
        return None


#: Dask settings of the worker processes of ``local:N``: no statistical profiler (it samples the
#: task thread's stack every 10 ms), no GIL monitor (where gilknocker is installed), and slow
#: event-loop ticks and system monitor (20 ms and 0.5 s by default). Each wake-up takes the GIL
#: from the task thread: with the defaults a worker made about 460 context switches per second and
#: a task took 3-6 % longer than in a plain process; with these, 20-30 per second and the plain
#: process's time. The dashboard's task stream still works.
QUIET_WORKERS = {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "1s",
                 "distributed.admin.system-monitor.interval": "5s",
                 "distributed.admin.system-monitor.gil.enabled": False}


def _local_cluster(n: int):
    import dask
    from distributed import LocalCluster

    # one thread per worker; the dashboard on a free port (its plots need bokeh); no memory limit:
    # a worker keeps freed memory on purpose (process.py). The nannies hand the configuration of
    # this moment to the worker processes they start (and restart).
    with dask.config.set(QUIET_WORKERS):
        return LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                            memory_limit=0, env={"NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})


def _connect(spec: ClusterSpec):
    from distributed import Client

    where = f"the scheduler file {spec.address}" if spec.kind == "file" else spec.address
    if spec.kind == "file":
        try:
            json.loads(Path(spec.address).read_text())["address"]
        except (OSError, ValueError, KeyError, TypeError):
            raise PolaUsageError(f"{spec.address} is not a Dask scheduler file") from None
    try:
        kw = {"scheduler_file": spec.address} if spec.kind == "file" else {"address": spec.address}
        return Client(timeout=CONNECT_TIMEOUT_S, set_as_default=False, **kw)
    except (OSError, TimeoutError, ValueError) as e:
        reason = " ".join(str(e).split())[:200] or type(e).__name__
        raise PolaUsageError(f"cannot reach the Dask scheduler of {where} ({reason})") from None


@contextmanager
def open_cluster(cluster: str | ClusterSpec = DEFAULT) -> Iterator[Executor]:
    """The executor of ``cluster`` (a ``--cluster`` text or a parsed one), closed on exit.

    Refuses (PolaUsageError) a malformed text, a missing or malformed scheduler file and a scheduler
    that does not answer within :data:`CONNECT_TIMEOUT_S`, before anything runs.
    """
    spec = cluster if isinstance(cluster, ClusterSpec) else parse_cluster(cluster)
    if spec.in_process:
        ex: InProcess | DaskExecutor = InProcess()
    elif spec.kind == "local":
        from distributed import Client

        local = _local_cluster(spec.workers)
        ex = DaskExecutor(Client(local, set_as_default=False), local)
    else:
        ex = DaskExecutor(_connect(spec))
    try:
        if isinstance(ex, DaskExecutor):
            from pola_nb.sampled.worker_plugin import TrainingProcess

            ex.client.register_plugin(TrainingProcess())
        yield ex
    finally:
        ex.close()
