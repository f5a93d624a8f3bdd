"""Generate the student notebooks in ``exercises/`` from the source notebooks in ``solutions/``."""
from pathlib import Path

from grader.course import (DEFAULT_WORKDIR, EXERCISES, CourseError, assignments, nbgrader_config,
                           prepare_environment)


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
