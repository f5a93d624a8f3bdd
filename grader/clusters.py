"""Dask workers as batch jobs (Slurm, PBS) through dask-jobqueue, configured in a file.

Placeholder until the batch-system engine lands: ``make_cluster`` is the interface the grader's
``--cluster slurm|pbs --cluster-config FILE`` calls; it returns a started dask-jobqueue cluster
whose workers have been requested.
"""
from grader.course import CourseError


def make_cluster(kind, config_path):
    """A dask-jobqueue cluster of ``kind`` ("slurm" or "pbs") configured by ``config_path``."""
    raise CourseError(f"--cluster {kind}: batch-system workers are not configured in this version of the grader "
                      f"(grader/clusters.py); start the workers yourself and use --scheduler tcp://HOST:PORT")
