"""Where submissions are graded: a local pool of processes, or a Dask cluster.

``run`` takes the tasks (plain dicts, ``grader.grade_task``) and yields ``(index, outcome)`` as each
submission is done, in whatever order the workers finish. The engines:

- ``pool``: ``--jobs N`` processes on this machine (the default; nothing to start);
- ``dask``: a Dask cluster: a running one (``--scheduler tcp://HOST:PORT``, or
  ``tls://HOST:PORT`` with the client's certificate: ``grader.dask_tls``), a ``LocalCluster`` of
  ``--jobs`` workers (``--cluster local``), or batch-system workers (``--cluster slurm|pbs``, through
  ``grader.clusters``). Dask re-runs the task of a worker that dies on another worker; a task that
  takes down every worker it lands on ends with Dask's ``KilledWorker``, which comes back as an outcome.

An exception in a task comes back as an outcome with ``grader_error`` set: the rest of the class is graded.
"""
import multiprocessing
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from grader import grade_task
from grader.course import CourseError

ALLOWED_FAILURES = 3  # a task in more broken local pools than this fails as killed (Dask's allowed-failures default)
WORKER_WAIT = {"scheduler": 120, "local": 120, "batch": 3600}  # seconds to wait for a first worker (batch: queued)


def failed(err, **extra):
    return {"success": False, "log": "", "error": repr(err), "seconds": 0.0, "sandboxed": False,
            "autograded": None, **extra}


def local_pool(tasks, settings, jobs, work=grade_task.grade, warm=grade_task.warm, allowed_failures=ALLOWED_FAILURES):
    """Grade on ``jobs`` spawned processes of this machine, each set up once; survive a worker that dies.

    A worker that dies (killed, out of memory, a crash) breaks Python's whole pool: a new pool is started and
    every task not yet done is run again, none lost, none yielded twice. The tasks that were running on the broken
    pool are suspects: they run next one at a time, alone on a pool of one, so a pool that breaks then was broken
    by that task. A task running in more than ``allowed_failures`` broken pools (Dask's rule) comes back as
    ``failed(..., killed=True)``. ``work(settings, task)`` grades one task and ``warm(settings)`` sets a worker up
    (module-level functions: they are pickled).
    """
    waiting = deque(range(len(tasks)))  # indices not yet graded, in order
    suspects, deaths = deque(), Counter()  # tasks running when a pool broke; how many broken pools each ran in
    while waiting or suspects:
        queue, width = (suspects, 1) if suspects else (waiting, max(1, min(jobs, len(waiting))))
        lost = yield from _pool_round(tasks, settings, work, warm, queue, width)
        for i in lost:
            deaths[i] += 1
            if deaths[i] > allowed_failures:
                yield i, failed(BrokenProcessPool(f"its worker process died each of the {deaths[i]} times it graded "
                                                  "it"), killed=True, deaths=deaths[i])
            else:
                suspects.append(i)


def _pool_round(tasks, settings, work, warm, queue, width):
    """Grade the indices taken from ``queue`` on a new pool of ``width`` processes; yield (index, outcome) as done.

    At most ``width`` tasks are out at a time, so each one out is on a worker (none merely queued behind one
    that dies). Returns the indices that were out when a worker died (the pool is then broken), else [].
    """
    pool = ProcessPoolExecutor(max_workers=width, mp_context=multiprocessing.get_context("spawn"),
                               initializer=warm, initargs=(settings,))
    running, outcomes, finished = {}, [], False
    try:
        while True:
            while queue and len(running) < width:  # hand out more before yielding: the driver's records take long
                try:
                    running[pool.submit(work, settings, tasks[queue[0]])] = queue[0]
                except BrokenProcessPool:  # broke since the last wait (with nothing out: a new round)
                    break
                queue.popleft()
            yield from outcomes
            if not running:
                finished = True
                return []
            done = wait(running, return_when=FIRST_COMPLETED).done
            if any(isinstance(future.exception(), BrokenProcessPool) for future in done):
                for future in wait(running).done:  # a broken pool ends every future it holds
                    if not isinstance(future.exception(), BrokenProcessPool):  # finished before the worker died
                        yield running.pop(future), outcome_of(future)
                finished = True
                return sorted(running.values())
            outcomes = [(running.pop(future), outcome_of(future)) for future in done]  # their workers are free
    finally:  # interrupted (Ctrl-C, or the driver stops reading): do not wait for the notebooks still running
        pool.shutdown(wait=finished, cancel_futures=True)


def outcome_of(future):
    """A finished task's outcome; an exception in it (the grader itself broke) is an outcome too."""
    try:
        return future.result()
    except Exception as err:  # keep going with the rest of the class
        return failed(err, grader_error=True)


def cluster_client(scheduler=None, cluster=None, cluster_config=None, jobs=1):
    """(Dask client, cluster to close or None) for --scheduler, or --cluster local|slurm|pbs."""
    from distributed import Client, LocalCluster

    if scheduler:
        from distributed.comm.core import CommClosedError

        from grader.dask_tls import scheduler_security

        security = scheduler_security(scheduler)
        try:
            client = Client(scheduler, security=security, timeout=30)
        except (OSError, TimeoutError) as err:
            if isinstance(err, CommClosedError) and scheduler.startswith("tls://"):
                raise CourseError(f"--scheduler {scheduler}: the TLS handshake failed, so the scheduler or this "
                                  "grader refused the other's certificate (is --tls-ca-file the CA that signed the "
                                  f"scheduler's certificate, and --tls-cert one it accepts?): {err}") from None
            raise CourseError(f"--scheduler {scheduler}: no Dask scheduler answers there ({err})") from None
        return client, None
    if cluster == "local":
        made = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True, dashboard_address=None)
    else:
        from grader.clusters import make_cluster

        made = make_cluster(cluster, cluster_config)
    return Client(made), made


def sandbox_workers(client, sandbox_mode, wait=WORKER_WAIT["scheduler"]):
    """The workers that may grade: all, or with --sandbox on those where bubblewrap runs (else a CourseError)."""
    try:
        client.wait_for_workers(1, timeout=wait)
    except TimeoutError:
        raise CourseError(f"no Dask worker joined the scheduler {client.scheduler.address} within "
                          f"{wait} s: start some (dask worker ADDRESS --nthreads 1)") from None
    probes = client.run(grade_task.probe, sandbox_mode)
    if sandbox_mode != "on":
        return None
    able = [address for address, found in probes.items() if not found["reason"]]
    if not able:
        why = "; ".join(f"{found['host']} ({address}): {found['reason']}" for address, found in sorted(probes.items()))
        raise CourseError(f"--sandbox on, but no Dask worker can run bubblewrap: {why}")
    return able


def dask_run(tasks, settings, client, workers=None):
    """Grade on a Dask cluster: one task per submission (restricted to ``workers`` if given)."""
    from distributed import as_completed as completed
    from distributed.scheduler import KilledWorker

    futures = {}
    for i, task in enumerate(tasks):
        key = f"grade-{task['student']}-{task['assignment']}-{i}"
        futures[client.submit(grade_task.grade, settings, task, key=key, pure=False, workers=workers,
                              allow_other_workers=False)] = i
    try:
        for future in completed(futures):
            index = futures.pop(future)
            try:
                outcome = future.result()
            except KilledWorker as err:
                outcome = failed(err, killed=True)
            except Exception as err:  # the grader itself broke on this one; keep going with the rest
                outcome = failed(err, grader_error=True)
            future.release()  # done with: a worker lost later must not make the scheduler grade it again
            yield index, outcome
    finally:
        client.cancel(list(futures))


def run(tasks, settings, jobs=1, scheduler=None, cluster=None, cluster_config=None):
    """Yield (index, outcome) for every task, graded by the engine chosen (see the module's docstring)."""
    if not tasks:
        return
    if not scheduler and not cluster:
        yield from local_pool(tasks, settings, jobs)
        return
    client, made = cluster_client(scheduler, cluster, cluster_config, jobs)
    try:
        wait = WORKER_WAIT["scheduler" if scheduler else "local" if cluster == "local" else "batch"]
        workers = sandbox_workers(client, settings["sandbox_mode"], wait)
        yield from dask_run(tasks, settings, client, workers)
    finally:
        client.close()
        if made is not None:
            made.close()
