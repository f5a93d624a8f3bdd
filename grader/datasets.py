"""Offline data for the course: two texts stored with it, a labelled set, a synthetic source
with a known entropy rate, and checked loaders for larger sets on disk.

Nothing here downloads. The texts are CPython 3.11.7's documentation and the docstrings of five
standard-library packages, stored once in ``grader/data/`` (gzip, with their SHA-256 and licence
beside them), so every supported Python reads the same bytes. The running interpreter's own texts,
which differ between Python versions, stay available from the ``*_from_interpreter`` functions.
"""
import gzip
import hashlib
import importlib
import inspect
import json
import pkgutil
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
MEASURED_ON = "3.11.7"  # the Python whose texts were stored, and on which the book's numbers were measured
STORED = {"python_docs": "python_docs.txt.gz", "docstrings": "docstrings.json.gz"}  # text -> file in DATA
STORED_LOADER = {"python_docs": "python_docs_text()", "docstrings": "docstring_corpus()"}
DOCSTRING_PACKAGES = ("asyncio", "email", "logging", "unittest", "xml")  # the classes of chapter 1
MIN_DOCSTRING = 80  # characters: shorter docstrings are one-liners with too little to classify


class DataError(RuntimeError):
    """The data is not the data the course was measured on, or is missing."""


def _sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def recorded_sha256():
    """{text name: SHA-256 of its uncompressed UTF-8 text}, as recorded in ``grader/data/SHA256SUMS``."""
    sums = {}
    for line in (DATA / "SHA256SUMS").read_text().splitlines():
        digest, _, filename = line.partition("  ")
        sums[next(k for k, v in STORED.items() if v == filename + ".gz")] = digest
    return sums


def _stored_text(name):
    path = DATA / STORED[name]
    try:
        text = gzip.decompress(path.read_bytes()).decode("utf-8")
    except FileNotFoundError:
        raise DataError(f"{path} is missing: it is part of the course repository (git checkout it again)") from None
    except (OSError, EOFError, UnicodeDecodeError) as err:  # not gzip, cut short, or not UTF-8 inside
        raise DataError(f"{path} is damaged: it is not a complete gzip file of UTF-8 text ({err})") from None
    if _sha256(text) != recorded_sha256()[name]:
        raise DataError(f"{path} is damaged: its text's SHA-256 is {_sha256(text)}, "
                        f"{DATA / 'SHA256SUMS'} records {recorded_sha256()[name]}")
    return text


def _check(name, text, strict):
    if strict and _sha256(text) != recorded_sha256()[name]:
        raise DataError(
            f"the '{name}' text of this Python ({sys.version.split()[0]}) differs from the one stored with the "
            f"course (Python {MEASURED_ON}), on which the book's numbers were measured: {STORED_LOADER[name]} reads "
            f"the stored one; pass strict=False to use this Python's anyway.")
    return text


def python_docs_text():
    """CPython 3.11.7's reference documentation as one English text (465,126 characters), as stored."""
    return _stored_text("python_docs")


def docstring_corpus():
    """The labelled docstrings of chapter 1, as stored: (package, qualified name, docstring) triples."""
    return [tuple(item) for item in json.loads(_stored_text("docstrings"))]


def python_docs_text_from_interpreter(strict=False):
    """The same documentation text built from the running Python's ``pydoc_data`` (it differs between
    versions); with ``strict``, refuse a text other than the stored one."""
    from pydoc_data.topics import topics

    return _check("python_docs", "\n\n".join(topics[key] for key in sorted(topics)), strict)


def _module_docstrings(package):
    root = importlib.import_module(package)
    names = [package] + sorted(
        m.name for m in pkgutil.walk_packages(root.__path__, package + ".")
        if not any(part.startswith(("_", "test")) for part in m.name.split(".")[1:]))
    docs = {}
    for name in names:
        try:
            module = importlib.import_module(name)
        except Exception:  # an optional submodule this Python cannot import (e.g. a missing C library)
            continue
        for qualname, obj in inspect.getmembers(module):
            if getattr(obj, "__module__", None) != name or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            members = [(qualname, obj)]
            if inspect.isclass(obj):
                members += [(f"{qualname}.{k}", v) for k, v in sorted(vars(obj).items()) if inspect.isfunction(v)]
            for qual, member in members:
                doc = inspect.getdoc(member)
                if doc and len(doc) >= MIN_DOCSTRING:
                    docs[f"{name}.{qual}"] = doc
    return docs


def deduplicated(corpus):
    """Each docstring once, under its first name: many are inherited (a subclass or alias repeats its
    parent's), and copies would sit on both sides of a split. A text found in two packages documents
    neither (it is inherited from a built-in, e.g. ``list.pop``), so it is dropped."""
    packages = {}
    for label, _, doc in corpus:
        packages.setdefault(doc, set()).add(label)
    seen, kept = set(), []
    for label, name, doc in corpus:
        if len(packages[doc]) == 1 and doc not in seen:
            seen.add(doc)
            kept.append((label, name, doc))
    return kept


def docstring_corpus_from_interpreter(strict=False):
    """The labelled docstrings built from the running Python's standard library (they differ between
    versions): the packages of DOCSTRING_PACKAGES, sorted by name, deduplicated; with ``strict``,
    refuse a corpus other than the stored one."""
    corpus = deduplicated([(package, name, doc) for package in DOCSTRING_PACKAGES
                           for name, doc in sorted(_module_docstrings(package).items())])
    _check("docstrings", json.dumps(corpus), strict)
    return corpus


def store_from_interpreter():
    """Write the stored texts and SHA256SUMS from the running Python: how ``grader/data`` was made (on 3.11.7)."""
    texts = {"python_docs": python_docs_text_from_interpreter(),
             "docstrings": json.dumps(docstring_corpus_from_interpreter())}
    for name, text in texts.items():  # mtime=0: the same text always gives the same bytes
        (DATA / STORED[name]).write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    (DATA / "SHA256SUMS").write_text("".join(f"{_sha256(texts[name])}  {STORED[name][:-3]}\n" for name in STORED))


def split(items, fractions=(0.8, 0.1, 0.1), seed=0):
    """Shuffle ``items`` with a fixed seed and cut them into consecutive parts of the given sizes."""
    order = np.random.default_rng(seed).permutation(len(items))
    cuts = np.cumsum([round(f * len(items)) for f in fractions[:-1]])
    return [[items[i] for i in part] for part in np.split(order, cuts)]


def load_text_file(path, sha256, cache_dir=None):
    """A larger public data set the user has on disk (tiny-shakespeare, IMDB, PTB...), verified by
    SHA-256. The verified hash is cached by (path, size, mtime), so a big file is hashed once."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise DataError(f"{path} not found: download the data set yourself and pass its path "
                        "(nothing is downloaded by the course)")
    stat = path.stat()
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    cache = Path(cache_dir or Path.home() / ".cache" / "rnn-course") / "verified.json"
    verified = json.loads(cache.read_text()) if cache.exists() else {}
    if verified.get(key) != sha256:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != sha256:
            raise DataError(f"{path} has SHA-256 {digest}, expected {sha256}: a different or damaged copy")
        cache.parent.mkdir(parents=True, exist_ok=True)
        verified[key] = sha256
        cache.write_text(json.dumps(verified, indent=1))
    return path.read_text(encoding="utf-8")


class Markov2Source:
    """A second-order Markov source over ``alphabet`` with random, seeded transition probabilities.

    Its entropy rate is known exactly, H = -sum_{a,b} pi(a,b) sum_c P(c|a,b) log2 P(c|a,b),
    with pi the stationary distribution of the pair chain: the floor that any model's
    cross-entropy on its output approaches, and no model can beat.
    """

    def __init__(self, alphabet="abcde", concentration=0.3, seed=0):
        self.alphabet = alphabet
        k = len(alphabet)
        rng = np.random.default_rng(seed)
        self.P = rng.dirichlet(np.full(k, concentration), size=(k, k))  # P[a, b, c] = P(c | a, b)

    def stationary_pairs(self):
        """pi(a, b): the stationary distribution of the chain on pairs, by its leading eigenvector."""
        k = len(self.alphabet)
        T = np.zeros((k * k, k * k))  # from pair (a, b) to pair (b, c)
        for a in range(k):
            for b in range(k):
                T[a * k + b, b * k: (b + 1) * k] = self.P[a, b]
        values, vectors = np.linalg.eig(T.T)
        pi = np.real(vectors[:, np.argmin(np.abs(values - 1))])
        return (pi / pi.sum()).reshape(k, k)

    def entropy_rate(self):
        """Bits per symbol."""
        with np.errstate(divide="ignore", invalid="ignore"):
            h_next = -np.nansum(np.where(self.P > 0, self.P * np.log2(self.P), 0.0), axis=2)
        return float((self.stationary_pairs() * h_next).sum())

    def sample(self, n, seed=0):
        """A string of ``n`` symbols, started from the stationary pair distribution."""
        k = len(self.alphabet)
        rng = np.random.default_rng(seed)
        a, b = divmod(int(rng.choice(k * k, p=self.stationary_pairs().ravel())), k)
        out = [a, b]
        u = rng.random(n)
        cdf = np.cumsum(self.P, axis=2)
        for i in range(n - 2):
            c = min(int(np.searchsorted(cdf[out[-2], out[-1]], u[i])), k - 1)
            out.append(c)
        return "".join(self.alphabet[s] for s in out[:n])


# --- The adding problem (chapters 7, 9, 10) and a real temperature record (chapters 7, 9) ---

ADDING_BASELINE_MSE = 1 / 6  # the variance of a sum of two U(0, 1): the MSE of always predicting 1


def adding_problem(n, T, rng):
    """``n`` sequences of the adding problem of length ``T`` (the version of Le et al. 2015).

    Returns ``X`` (n, T, 2) and ``y`` (n,). Channel 0 holds numbers drawn uniformly from
    [0, 1); channel 1 marks exactly two of them with a 1, one at a position drawn uniformly
    from the first half ``[0, T // 2)`` and one from the second half ``[T // 2, T)``. The
    target is the sum of the two marked numbers. ``rng`` is a seed or a numpy Generator.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"adding_problem: n must be a positive integer, got {n!r}")
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 2:
        raise ValueError(f"adding_problem: T must be an integer of at least 2, got {T!r}")
    rng = np.random.default_rng(rng)
    values = rng.random((n, T))
    first = rng.integers(0, T // 2, size=n)
    second = rng.integers(T // 2, T, size=n)
    rows = np.arange(n)
    markers = np.zeros((n, T))
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    return np.stack([values, markers], axis=2), values[rows, first] + values[rows, second]


SEATTLE_WEATHER = {
    "package": "vega_datasets",
    "version": "0.9.0",
    "file": "_data/seattle-weather.csv",
    "sha256": "62f0609f787158128aa2bd102967173a4953122dd4f872bf1d502cae1037df0b",
    # the package is MIT-licensed; its description of the data set:
    "licence": "public-domain NOAA data (https://www.weather.gov/disclaimer), shipped by vega_datasets (MIT)",
    "days": 1461,  # every day from 2012-01-01 to 2015-12-31, none missing
}
# (vega_datasets' hourly ``seattle-temps.csv`` is not used: its day-to-day changes are a hundredth of the
# weather's, a smoothed series rather than a record of observations.)
WEATHER_COLUMNS = ("precipitation", "temp_max", "temp_min", "wind")  # mm, degrees Celsius, degrees Celsius, m/s


def seattle_weather_path():
    """Where the installed vega_datasets keeps its copy of the Seattle record (nothing is downloaded)."""
    from importlib.util import find_spec

    spec = find_spec(SEATTLE_WEATHER["package"])
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the Seattle weather record ships with the package vega_datasets, which is not "
                        f"installed: pip install vega_datasets=={SEATTLE_WEATHER['version']}")
    return Path(list(spec.submodule_search_locations)[0]) / SEATTLE_WEATHER["file"]


def seattle_weather():
    """Daily weather observed in Seattle, 2012-2015: a dict of arrays, one entry per day.

    Keys: ``date`` (datetime64[D]), ``precipitation`` (mm), ``temp_max`` and ``temp_min`` (degrees
    Celsius), ``wind`` (m/s) and ``weather`` (a word such as "rain"). The record is NOAA's (public
    domain), as shipped inside the vega_datasets package; it is read from the installed package and
    checked by SHA-256, so a changed copy is refused.
    """
    path = seattle_weather_path()
    if not path.is_file():
        raise DataError(f"{path} not found: reinstall vega_datasets=={SEATTLE_WEATHER['version']}")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SEATTLE_WEATHER["sha256"]:
        raise DataError(f"{path} has SHA-256 {digest}, expected {SEATTLE_WEATHER['sha256']} "
                        f"(vega_datasets {SEATTLE_WEATHER['version']}): a different or damaged copy")
    lines = raw.decode("utf-8").splitlines()
    header = ("date", *WEATHER_COLUMNS, "weather")
    if tuple(lines[0].split(",")) != header:
        raise DataError(f"{path}: expected the header {','.join(header)!r}, got {lines[0]!r}")
    columns = list(zip(*(line.split(",") for line in lines[1:])))
    record = {"date": np.array([d.replace("/", "-") for d in columns[0]], dtype="datetime64[D]")}
    record.update({name: np.array(values, dtype=float) for name, values in zip(WEATHER_COLUMNS, columns[1:5])})
    record["weather"] = np.array(columns[5])
    return record
