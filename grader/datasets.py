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
