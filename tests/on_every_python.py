"""Run the data loaders and the release-consistency checks on every supported Python found here.

Supported means listed in pyproject.toml's classifiers. Each interpreter found (this one, those under
pyenv's ``versions/`` and ``python3.X`` on PATH) gets a light venv in ``.venv-pythons/<version>`` with only
numpy and pytest, at the versions pinned in requirements.txt (no torch), runs
tests/test_datasets.py and tests/test_course_data.py, and prints the SHA-256 of what the loaders
return. Exits 1 if a test fails or the digests differ between Pythons. ``make pythons`` runs it.
"""
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENVS = REPO / ".venv-pythons"
TESTS = ["tests/test_datasets.py", "tests/test_course_data.py"]
LIGHT = ("numpy", "pytest")  # what the loaders and their tests need
DIGESTS = """
import hashlib, json
from grader import datasets
corpus = datasets.docstring_corpus()
for name, value in (("python_docs", datasets.python_docs_text()), ("docstrings", json.dumps(corpus)),
                    ("split", json.dumps(datasets.split(corpus)))):
    print(name, hashlib.sha256(value.encode("utf-8")).hexdigest())
"""


def supported():
    """['3.11', ...] from pyproject.toml's 'Programming Language :: Python :: 3.X' classifiers."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [c.rsplit(" :: ", 1)[1] for c in project["classifiers"] if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]


def pins():
    """The requirements.txt lines of the LIGHT packages, e.g. 'numpy==2.4.6'."""
    lines = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    found = [line for line in lines if line.split("==")[0] in LIGHT]
    missing = set(LIGHT) - {line.split("==")[0] for line in found}
    if missing:
        raise SystemExit(f"requirements.txt pins no version of {sorted(missing)}")
    return found


def interpreters(minors):
    """{version: path} of the interpreters found whose major.minor is in ``minors``."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [Path(sys.executable)] + sorted(pyenv.glob("*/bin/python3")) + \
        [Path(p) for m in minors if (p := shutil.which(f"python{m}"))]
    found = {}
    for path in candidates:
        done = subprocess.run([path, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True)
        version = done.stdout.strip()
        if done.returncode == 0 and ".".join(version.split(".")[:2]) in minors:
            found.setdefault(version, path)
    return found


def light_venv(version, python, requirements):
    """A venv with only ``requirements``, made once per version and pin set."""
    venv = VENVS / version
    marker = venv / "installed.txt"
    if not (marker.exists() and marker.read_text() == "\n".join(requirements)):
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([python, "-m", "venv", venv], check=True)
        subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", *requirements], check=True)
        marker.write_text("\n".join(requirements))
    return venv / "bin" / "python"


def main():
    minors = supported()
    found = interpreters(minors)
    print(f"supported: Python {', '.join(minors)}; found here: {', '.join(found) or 'none'}")
    if not found:
        return 1
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    results, failed = {}, []
    for version, python in found.items():
        start = time.perf_counter()
        venv_python = light_venv(version, python, pins())
        tests = subprocess.run([venv_python, "-m", "pytest", "-q", "--noconftest", "-p", "no:cacheprovider", *TESTS],
                               cwd=REPO, env=env, capture_output=True, text=True)
        digests = subprocess.run([venv_python, "-c", DIGESTS], cwd=REPO, env=env, capture_output=True, text=True)
        summary = (tests.stdout.strip().splitlines() or ["no output"])[-1]
        print(f"Python {version} ({python}): {summary} [{time.perf_counter() - start:.1f} s]")
        if tests.returncode or digests.returncode:
            failed.append(version)
            print(tests.stdout[-3000:] + tests.stderr[-2000:] + digests.stderr[-2000:])
            continue
        results[version] = digests.stdout
        print("    " + digests.stdout.strip().replace("\n", "\n    "))
    differing = sorted(v for v in results if results[v] != next(iter(results.values())))
    if differing:
        print(f"the loaders' texts differ on Python {', '.join(differing)} from Python {next(iter(results))}")
    if failed:
        print(f"tests failed on Python {', '.join(failed)}")
    if not (failed or differing):
        print(f"byte-identical loader output, and every test passing, on Python {', '.join(results)}")
    return 1 if failed or differing else 0


if __name__ == "__main__":
    sys.exit(main())
