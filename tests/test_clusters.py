"""The cluster configuration file (grader.clusters): what it accepts, how it says no, PBS's job script.

These need no batch system; tests/test_slurm.py runs real Slurm jobs.
"""
import shutil

import pytest

from grader import clusters
from grader.course import REPO, CourseError

EXAMPLE = REPO / "grader" / "cluster.example.toml"
MINIMAL = 'jobs = 2\ncores = 2\nmemory = "4GB"\n'


def config(tmp_path, text):
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    return path


def test_the_example_file_is_valid_and_documents_every_key(tmp_path):
    # its tls_directory is an instructor's home folder: point it at one that exists here
    text = EXAMPLE.read_text().replace('tls_directory = "/home/me/rnn-course/.grading"', f'tls_directory = "{tmp_path}"')
    settings = clusters.read_config(config(tmp_path, text))
    assert settings["jobs"] == 4 and settings["memory"] == "8GB"
    undocumented = [key for key in clusters.KEYS if f"{key} =" not in text]
    assert not undocumented, f"keys missing from {EXAMPLE.name}: {undocumented}"


def test_minimal_file_gets_defaults(tmp_path):
    options = clusters.job_options(clusters.read_config(config(tmp_path, MINIMAL)))
    assert options["processes"] == 2 and options["job_name"] == "rnn-grader"  # one single-threaded worker per core
    assert options["python"].endswith("python") and "queue" not in options and "walltime" not in options


@pytest.mark.parametrize("text, says", [
    ('jobs = 2\ncores = 2\n', "missing key 'memory'"),
    (MINIMAL + 'queu = "batch"\n', "unknown key(s) queu"),
    (MINIMAL.replace("jobs = 2", "jobs = 0"), "'jobs' (number of batch jobs to submit) must be a whole number"),
    (MINIMAL.replace("jobs = 2", "jobs = true"), "'jobs'"),
    (MINIMAL.replace("cores = 2", 'cores = "2"'), "'cores'"),
    (MINIMAL.replace('"4GB"', '"lots"'), "is not an amount of memory: 'lots'"),
    (MINIMAL + 'walltime = "1h"\n', 'must look like "HH:MM:SS"'),
    (MINIMAL + 'walltime = "01:75:00"\n', 'must look like "HH:MM:SS"'),
    (MINIMAL + 'queue = ""\n', "'queue'"),
    (MINIMAL + 'job_directives = "--exclusive"\n', "must be a list of non-empty strings"),
    (MINIMAL + "processes = 3\n", "processes = 3 is more than cores = 2"),
    (MINIMAL + 'tls_directory = "/no/such/folder"\n', "is not a folder here: '/no/such/folder'"),
    ("jobs = 2\ncores = [\n", "is not valid TOML"),
])
def test_bad_files_are_course_errors_naming_file_and_key(tmp_path, text, says):
    path = config(tmp_path, text)
    with pytest.raises(CourseError) as caught:
        clusters.read_config(path)
    assert says in str(caught.value) and str(path) in str(caught.value)


def test_missing_file_and_unknown_kind(tmp_path):
    with pytest.raises(CourseError, match="does not exist .*cluster.example.toml"):
        clusters.read_config(tmp_path / "nope.toml")
    with pytest.raises(CourseError, match="needs --cluster-config FILE"):
        clusters.make_cluster("slurm", None)
    with pytest.raises(CourseError, match="unknown cluster kind 'sge': choose one of slurm, pbs"):
        clusters.make_cluster("sge", EXAMPLE)


def test_pbs_job_script_carries_the_configuration(tmp_path):
    path = config(tmp_path, MINIMAL + 'queue = "workq"\nwalltime = "02:00:00"\nprocesses = 2\n'
                  'python = "/opt/course/bin/python"\njob_directives = ["-l place=scatter"]\n'
                  'prologue = ["module load python"]\naccount = "rnn"\n')
    cluster = clusters.cluster_class("pbs")(**clusters.job_options(clusters.read_config(path)))
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    # dask-jobqueue writes memory in MiB: 4GB = 3815MB
    for line in ("#PBS -N rnn-grader", "#PBS -q workq", "#PBS -A rnn", "#PBS -l select=1:ncpus=2:mem=3815MB",
                 "#PBS -l walltime=02:00:00", "#PBS -l place=scatter", "module load python"):
        assert line in script.splitlines(), (line, script)
    assert "/opt/course/bin/python -m distributed.cli.dask_worker" in script and "--nworkers 2" in script


def test_make_cluster_without_the_submit_command_says_where_to_run(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(CourseError, match="submits jobs with 'qsub', which is not on PATH here"):
        clusters.make_cluster("pbs", config(tmp_path, MINIMAL))
