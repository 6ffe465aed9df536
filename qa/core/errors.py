"""User-facing errors: anything raised as `QAError` is shown as a message (CLI exit 2, HTTP 4xx, or
503 for a source or model that is not there), never as a traceback, because it describes bad input
or configuration, not a bug."""

from collections.abc import Iterator
from contextlib import contextmanager


class QAError(Exception):
    """Bad input or configuration that the user can fix."""

    exit_code = 2
    http_status = 400
    public: str | None = None  # what a server's client is told, where it differs (the server's paths and URLs left out)
    error_type: str | None = None  # the API's error "type" where the class alone does not say it
    retry_after_s: int | None = None  # a passing condition: how soon asking again may work (HTTP Retry-After)


class InputError(QAError):
    """The question, file or option given is not acceptable."""


class ConflictError(InputError):
    """What was sent clashes with what is stored (a document id taken): HTTP 409."""

    http_status = 409


class ConfigError(QAError):
    """A setting (environment variable, TOML file or override) has a wrong value or type."""


class ModelNotFoundError(QAError):
    """A model folder is missing or is not in the Hugging Face layout."""

    http_status = 503


class DataFormatError(QAError):
    """A data file (SQuAD, RACE, passages, triples, Q&A dumps) is malformed."""

    http_status = 422


class DamagedCollection(DataFormatError):
    """One passage collection's files no longer read (a store or index damaged after it was
    built): named, so a server's client hears which collection, and its log says why."""

    def __init__(self, collection: str, why: str) -> None:
        super().__init__(f"the collection {collection!r} does not read: {why}")
        self.collection, self.why = collection, why

    def __reduce__(self) -> tuple:  # a process pool carries it back to the caller (its args are the message)
        return type(self), (self.collection, self.why)


class NotFoundError(QAError):
    """A named thing (collection, document, job, thread) does not exist."""

    http_status = 404


class BusyError(QAError):
    """A store is being written by another process (an import): try again shortly."""

    http_status = 503
    retry_after_s = 5


class SourceUnavailable(QAError):
    """An answer source cannot answer on this machine: its graph, collection, store or model did
    not load. That is the operator's to fix, not the question: 503, and a server's clients are told
    that much only (`public`), as its files and paths are its own; the command line says it whole."""

    http_status = 503
    error_type = "source_unavailable"

    def __init__(self, route: str, cause: QAError) -> None:
        super().__init__(str(cause))
        self.route = route
        self.cause = cause
        # one collection that does not read is not the source not loading: the log and the client say which
        if isinstance(cause, DamagedCollection):
            self.log_line, what = str(cause), f"the collection {cause.collection!r} does not read"
        elif cause.public:  # the cause says itself what a client may hear (a store that only reads)
            self.log_line, what = f"the {route} source: {cause}", ""
        else:
            self.log_line, what = f"the {route} source did not load: {cause}", f"the {route} source did not load"
        self.public = f"{what} on this server; the server's log says why" if what else cause.public

    def __reduce__(self) -> tuple:  # a process pool carries it back to the caller (its args are the message)
        return type(self), (self.route, self.cause)


@contextmanager
def unavailable_as(route: str) -> Iterator[None]:
    """Inside, a source's files, model or settings that do not load (a damaged index or store, a
    missing model) are `SourceUnavailable` of `route`: the operator's to fix, told to a client
    without the server's paths, whichever way in (a question, a search, the thread endpoints)."""
    try:
        yield
    except (DataFormatError, ModelNotFoundError, ConfigError) as exc:
        raise SourceUnavailable(route, exc) from exc


@contextmanager
def unreadable_as(what: str) -> Iterator[None]:
    """Inside, SQLite's own words for a file damaged after it was opened ("database disk image is
    malformed") are a `DataFormatError` naming `what` (a store): the operator's to fix, not a bug.
    A file locked or busy is another writer, not damage, and passes through."""
    import sqlite3

    try:
        yield
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
            raise
        raise DataFormatError(f"{what} no longer reads: {exc}") from exc


LOGGED = "_qa_logged"  # set on an exception once its traceback is in the log: it is logged once


def logged(exc: BaseException) -> bool:
    return bool(getattr(exc, LOGGED, False))


def error_type_of(exc: QAError) -> str:
    """The snake_case type an error is reported under, the same in the API's bodies and in
    `qa ask --file`'s error lines: its own where it names one, else its class's."""
    if exc.error_type:
        return exc.error_type
    for cls, name in ((NotFoundError, "not_found"), (DataFormatError, "data_format_error"),
                      (ModelNotFoundError, "model_not_found"), (ConfigError, "config_error"),
                      (ConflictError, "conflict"), (InputError, "input_error"), (BusyError, "busy")):
        if isinstance(exc, cls):
            return name
    return "input_error"
