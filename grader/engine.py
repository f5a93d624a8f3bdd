"""Where submissions are graded: a local pool of processes, or a Dask cluster.

``run`` takes the tasks (plain dicts, ``grader.grade_task``) and yields ``(index, outcome)`` as each
submission is done, in whatever order the workers finish. The engines:

- ``pool``: ``--jobs N`` processes on this machine (the default; nothing to start);
- ``dask``: a Dask cluster: a running one (``--scheduler tcp://HOST:PORT``, or
  ``tls://HOST:PORT`` with the client's certificate: ``scheduler_security``), a ``LocalCluster`` of
  ``--jobs`` workers (``--cluster local``), or batch-system workers (``--cluster slurm|pbs``, through
  ``grader.clusters``). Dask re-runs the task of a worker that dies on another worker; a task that
  takes down every worker it lands on ends with Dask's ``KilledWorker``, which comes back as an outcome.

An exception in a task comes back as an outcome with ``grader_error`` set: the rest of the class is graded.
"""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed

from grader import grade_task
from grader.course import CourseError

WORKER_WAIT = {"scheduler": 120, "local": 120, "batch": 3600}  # seconds to wait for a first worker (batch: queued)


def failed(err, **extra):
    return {"success": False, "log": "", "error": repr(err), "seconds": 0.0, "sandboxed": False,
            "autograded": None, **extra}


def local_pool(tasks, settings, jobs):
    """Grade on ``jobs`` spawned processes of this machine, each set up once."""
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=max(1, min(jobs, len(tasks))), mp_context=context,
                               initializer=grade_task.warm, initargs=(settings,))
    finished = False
    try:
        futures = {pool.submit(grade_task.grade, settings, task): i for i, task in enumerate(tasks)}
        for future in as_completed(futures):
            try:
                yield futures[future], future.result()
            except Exception as err:  # the grader itself broke on this one; keep going with the rest
                yield futures[future], failed(err, grader_error=True)
        finished = True
    finally:  # interrupted (Ctrl-C, or the driver stops reading): do not wait for the notebooks still running
        pool.shutdown(wait=finished, cancel_futures=True)


def cluster_client(scheduler=None, cluster=None, cluster_config=None, jobs=1):
    """(Dask client, cluster to close or None) for --scheduler, or --cluster local|slurm|pbs."""
    from distributed import Client, LocalCluster

    if scheduler:
        from distributed.comm.core import CommClosedError

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


# Security field -> (autograde option, Dask configuration key, what the file is)
TLS_FILES = {
    "tls_ca_file": ("--tls-ca-file", "distributed.comm.tls.ca-file", "CA certificate"),
    "tls_client_cert": ("--tls-cert", "distributed.comm.tls.client.cert", "client certificate"),
    "tls_client_key": ("--tls-key", "distributed.comm.tls.client.key", "client private key"),
}


def use_tls_files(ca_file=None, cert=None, key=None):
    """Make these files the Dask client's TLS settings in this process (what --tls-ca-file, --tls-cert, --tls-key do)."""
    import dask

    given = dict(zip(TLS_FILES, (ca_file, cert, key)))
    dask.config.set({TLS_FILES[field][1]: str(path) for field, path in given.items() if path is not None})


def _tls_source(field):
    """Where a TLS file's name comes from, for messages."""
    return f"{TLS_FILES[field][0]} or Dask's {TLS_FILES[field][1]}"


def scheduler_security(scheduler):
    """The client's ``Security`` for ``--scheduler``: Dask's configuration, checked when the address is tls://.

    Dask's ``Security()`` reads ``distributed.comm.tls.*`` (set by ``use_tls_files``, a Dask YAML file or
    ``DASK_DISTRIBUTED__COMM__TLS__...`` variables); without a CA file and a certificate Dask would fail
    later with a TypeError, so say here what is missing, which file does not exist, or which will not load.
    """
    import ssl
    from pathlib import Path

    from distributed.security import Security

    security = Security()
    if not scheduler.startswith("tls://"):
        return security
    missing = [field for field in ("tls_ca_file", "tls_client_cert") if not getattr(security, field)]
    if missing:
        lacking = " and no ".join(f"{TLS_FILES[field][2]} ({_tls_source(field)})" for field in missing)
        raise CourseError(f"--scheduler {scheduler} talks TLS, but this grader has no {lacking}: give "
                          "--tls-ca-file CA.pem --tls-cert CERT.pem [--tls-key KEY.pem], the files issued for "
                          "the cluster's clients")
    for field in TLS_FILES:
        value = getattr(security, field)
        if value and "\n" not in value and not Path(value).is_file():  # a value with a newline is PEM text itself
            raise CourseError(f"--scheduler {scheduler}: the {TLS_FILES[field][2]} {value} ({_tls_source(field)}) "
                              "is not a file here")
    try:
        security.get_connection_args("client")  # loads the CA, the certificate and its key
    except (ssl.SSLError, ValueError) as err:
        files = ", ".join(value if "\n" not in value else "(PEM text)"
                          for value in (getattr(security, field) for field in TLS_FILES) if value)
        hint = "" if security.tls_client_key else " (without --tls-key the key must follow the certificate in its file)"
        raise CourseError(f"--scheduler {scheduler}: the TLS files {files} do not load as a CA certificate, "
                          f"a certificate and its key{hint}: {err}") from None
    return security


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
