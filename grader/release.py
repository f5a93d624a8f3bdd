"""Generate the student notebooks in ``exercises/`` from the source notebooks in ``solutions/``."""
from pathlib import Path

from grader.course import (DEFAULT_WORKDIR, EXERCISES, SOLUTIONS, CourseError, assignments, nbgrader_config,
                           notebook_name, prepare_environment)
from grader.selfcheck import install


class ReleaseError(CourseError):
    """nbgrader could not generate an assignment."""


def release(names=None, out=EXERCISES, workdir=DEFAULT_WORKDIR):
    """Release ``names`` (default: all) into ``out``; also records the source cells in the gradebook."""
    from nbgrader.apps import NbGraderAPI

    prepare_environment()
    known = assignments()
    names = list(names or known)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ReleaseError(f"unknown assignment(s) {unknown}; known: {known}")
    Path(workdir).mkdir(parents=True, exist_ok=True)
    api = NbGraderAPI(config=nbgrader_config(workdir, release=out))
    written = []
    for name in names:
        result = api.generate_assignment(name, force=True)
        if not result["success"]:
            raise ReleaseError(f"releasing {name} failed:\n{result.get('log', '')}\n{result.get('error', '')}")
        written += sorted((Path(out) / name).glob("*.ipynb"))
    return written


def install_self_checks(names=None):
    """Make the last cell of each source notebook the current self-check; return the notebooks changed."""
    import nbformat

    changed = []
    for name in names or assignments():
        path = SOLUTIONS / name / notebook_name(name)
        nb = nbformat.read(path, as_version=4)
        if install(nb, notebook_name(name)):
            nbformat.write(nb, path)
            changed.append(path)
    return changed
