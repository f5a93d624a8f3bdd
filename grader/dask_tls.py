"""The grader's TLS files for a Dask scheduler that talks TLS (``autograde --scheduler tls://HOST:PORT``).

``--tls-ca-file``, ``--tls-cert`` and ``--tls-key`` become Dask's own configuration
(``distributed.comm.tls.*``), which Dask's ``Security()`` reads; ``scheduler_security`` checks it
before anything is graded, so a missing or broken file is a clear error, not Dask's TypeError later.
"""
import ssl
from pathlib import Path

from grader.course import CourseError

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
