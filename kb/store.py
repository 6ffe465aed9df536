"""Graph access behind one interface: an embedded rdflib graph or a remote SPARQL 1.1 endpoint.

Both return rdflib terms, so the pipeline, the tests and the benchmarks compare answers from the
two paths directly. Every query passes `check_read_only` before it is run or sent.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import functools
import http.client
import logging
import re
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from kb.sparql import QueryForm, check_read_only, writable_iri
from qa.core.errors import InputError, QAError
from qa.core.settings import Settings, check_endpoint, unsecret

if TYPE_CHECKING:
    from rdflib.query import Result, ResultRow

log = logging.getLogger(__name__)

Row = tuple[Node | None, ...]


class QueryError(QAError):
    """A query failed: timeout, unreachable endpoint, or an error reported by the store. Not the
    client's input: over HTTP a 502 (the graph behind the API failed), 504 for a timeout, 503 for an
    endpoint that cannot be asked at all."""

    http_status = 502
    error_type = "graph_error"


class QueryTimeout(QueryError):
    """One query did not finish within its time: the graph may hold what it asked."""

    http_status = 504
    error_type = "timeout"


_timeouts: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("kb_timeouts", default=None)
# (when the question's time is up, its length): every query of one question shares it
_deadline: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar("kb_deadline", default=None)


@contextlib.contextmanager
def recording_timeouts(budget_s: float | None = None) -> Iterator[list[str]]:
    """The timeouts of every query made inside, wherever it is caught: a probing query that times
    out only loses its options, but an answer built without them cannot be "no answer".

    `budget_s`: the time all those queries have together at an endpoint (`RemoteGraph`). A question
    sends a dozen queries or more; each with the whole per-query timeout, an endpoint answering none
    of them in time held one question for 14 timeouts (141 s at 10 s), past the API's request
    timeout and the engine's falling back to the other sources."""
    seen: list[str] = []
    token = _timeouts.set(seen)
    end = _deadline.set((time.monotonic() + budget_s, budget_s) if budget_s is not None else None)
    try:
        yield seen
    finally:
        _deadline.reset(end)
        _timeouts.reset(token)


def _time_left(timeout: float, where: str) -> float:
    """`timeout`, or less when the question's time (`recording_timeouts`) runs out first; a
    `QueryTimeout` at once when it has."""
    limit = _deadline.get()
    if limit is None:
        return timeout
    left = limit[0] - time.monotonic()
    if left < 0.1:
        raise _timed_out(f"the question's {limit[1]:g}s for all its queries on {where} are spent")
    return min(timeout, left)


@functools.cache  # one class, whatever the number of endpoints
def _credentials_not_redirected(wrapper: type) -> type:
    """SPARQLWrapper's class, sending the endpoint's credentials to the endpoint only: urllib copies
    a request's headers onto the request a redirect makes, so a server answering 302 to another
    host (or to http from https) was sent the password too. A redirect is followed without them."""
    class Wrapper(wrapper):
        def _createRequest(self) -> Any:  # noqa: N802 - SPARQLWrapper's name
            request = super()._createRequest()
            authorization = request.headers.pop("Authorization", None)
            if authorization is not None:
                request.add_unredirected_header("Authorization", authorization)
            return request

    return Wrapper


def _timed_out(message: str) -> QueryTimeout:
    seen = _timeouts.get()
    if seen is not None:
        seen.append(message)
    return QueryTimeout(message)


class EndpointUnavailable(QueryError):
    """No query can succeed: the endpoint is unreachable, refuses us, or is no SPARQL endpoint.
    Probing queries may fail one by one and only lose their options; this fails the question (a
    graph that cannot be asked has not said "no answer")."""

    http_status = 503
    retry_after_s = 10  # its runaway queries end, an endpoint comes back
    error_type = "graph_unavailable"


class KnowledgeGraph(Protocol):
    name: str

    def select(self, query: str, timeout_s: float | None = None) -> list[Row]: ...

    def ask(self, query: str, timeout_s: float | None = None) -> bool: ...


class _Runaway:
    """Queries that timed out and still run. A running query cannot be stopped, only left to
    finish on its daemon thread (a pool's worker held by one would queue every later query behind
    it, and keep the process from exiting); while `limit` of them run, no new one starts."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.lock = threading.Lock()


# the embedded graph's: its queries compete for the same cores
EMBEDDED_RUNAWAY = _Runaway(4)


def oxigraph_available() -> bool:
    try:
        import oxrdflib  # noqa: F401
    except ImportError:
        return False
    return True


class EmbeddedGraph:
    """An in-process rdflib graph, on the Oxigraph store when oxrdflib is installed."""

    def __init__(self, graph: Graph | None = None, *, store: str = "auto", timeout_s: float = 10.0) -> None:
        if graph is None:
            if store == "auto":
                store = "Oxigraph" if oxigraph_available() else "default"
            graph = Graph(store="Oxigraph") if store == "Oxigraph" else Graph()
        self.graph = graph
        self.store = type(graph.store).__name__
        self.name = f"embedded:{self.store}"
        self.timeout_s = timeout_s

    def __len__(self) -> int:
        return len(self.graph)

    def add_triples(self, triples: Iterable[tuple[Node, Node, Node]]) -> None:
        self.graph.addN((s, p, o, self.graph) for s, p, o in triples)

    def _run(self, query: str, timeout_s: float | None) -> list[Row] | bool:
        # no share of the question's time (`recording_timeouts`): a query cut short here runs on in
        # the background (`EMBEDDED_RUNAWAY`), so each keeps its whole timeout
        timeout = self.timeout_s if timeout_s is None else timeout_s
        runaway = EMBEDDED_RUNAWAY
        if runaway.count >= runaway.limit:
            raise EndpointUnavailable(f"the embedded graph is still running {runaway.count} queries that timed "
                                      "out; no new query is started until they end")
        try:
            return _within(lambda: _materialise(self.graph.query(query)), timeout, runaway)
        except TimeoutError as exc:
            raise _timed_out(f"query timed out after {timeout:g}s on the embedded graph") from exc
        except QAError:
            raise
        except Exception as exc:  # noqa: BLE001 - rdflib / pyoxigraph raise many types
            raise QueryError(f"the embedded graph rejected the query: {exc}") from exc

    def select(self, query: str, timeout_s: float | None = None) -> list[Row]:
        if check_read_only(query) != QueryForm.SELECT:
            raise QueryError("select() needs a SELECT query")
        return cast(list[Row], self._run(query, timeout_s))  # a SELECT's result is its rows

    def ask(self, query: str, timeout_s: float | None = None) -> bool:
        if check_read_only(query) != QueryForm.ASK:
            raise QueryError("ask() needs an ASK query")
        return bool(self._run(query, timeout_s))


def _materialise(result: Result) -> list[Row] | bool:
    if result.type == "ASK":
        return bool(result.askAnswer)
    return queryable([tuple(canonical(t) for t in cast("ResultRow", row)) for row in result])  # a SELECT's rows


_said_unwritable: set[str] = set()


def queryable(rows: list[Row]) -> list[Row]:
    """The rows whose IRIs a query can name again. A lenient store may hold an IRI with a space
    in it; no SPARQL can write it, so a predicate or an entity like that would otherwise fail
    every question that meets it (said once per IRI, in the log)."""
    kept = [row for row in rows if all(not isinstance(t, URIRef) or writable_iri(t) for t in row)]
    if len(kept) < len(rows):
        for row in rows:
            for t in row:
                if isinstance(t, URIRef) and not writable_iri(t) and str(t) not in _said_unwritable:
                    _said_unwritable.add(str(t))
                    log.warning("left out an IRI no SPARQL query can name: %r", str(t)[:120])
    return kept


_XSD_STRING = URIRef("http://www.w3.org/2001/XMLSchema#string")


def canonical(node: Node | None) -> Node | None:
    """One form per term across stores: `"x"^^xsd:string` and `"x"` are the same literal."""
    if isinstance(node, Literal) and node.datatype == _XSD_STRING:
        return Literal(str(node))
    return node


LONG_QUERY_CHARS = 2_000  # sent by GET up to this length (the protocol's usual form), by POST beyond


class RemoteGraph:
    """Any SPARQL 1.1 endpoint through SPARQLWrapper, with a timeout and retries on transient errors."""

    TRANSIENT_HTTP = {429, 502, 503, 504}

    def __init__(self, endpoint: str, *, timeout_s: float = 10.0, retries: int = 2, backoff_s: float = 0.5):
        from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

        from SPARQLWrapper import JSON, POST, SPARQLWrapper

        shown = unsecret("kb_endpoint", endpoint)  # what errors, evidence and `qa kb info` say
        try:
            check_endpoint(endpoint)
        except ValueError as exc:
            raise InputError(f"{shown!r}: {exc}") from None
        parts = urlsplit(endpoint)
        # `http://user:password@host/sparql`: sent as HTTP Basic credentials (urllib took the user part
        # for the host name and never sent them; SPARQLWrapper's own sends nothing without a password,
        # a token), and never shown
        self._authorization = None if parts.username is None else "Basic " + base64.b64encode(
            f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()).decode("ascii")
        # `/sparql?default-graph-uri=...` (Virtuoso's and Fuseki's usual form): parameters sent beside
        # the query, where SPARQLWrapper added its own "?query=" after them
        self._params = parse_qsl(parts.query, keep_blank_values=True)
        if any(name in ("query", "update") for name, _ in self._params):
            raise InputError(f"the SPARQL endpoint URL {shown} gives a query of its own: leave '?query=...' out")
        self._url = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1], query="", fragment=""))
        self.endpoint = shown
        self.name = f"remote:{shown}"
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self._json, self._post, self._wrapper_class = JSON, POST, _credentials_not_redirected(SPARQLWrapper)

    def _new_wrapper(self) -> Any:
        """A SPARQLWrapper for one query: it holds the query, so one shared by the API's threads
        could send one thread's query and hand its results to another."""
        wrapper = self._wrapper_class(_as_uri(self._url))
        for name, value in self._params:
            wrapper.addParameter(name, value)
        if self._authorization is not None:
            wrapper.addCustomHttpHeader("Authorization", self._authorization)
        wrapper.setReturnFormat(self._json)
        # some servers (Oxigraph) pick XML from SPARQLWrapper's default Accept list; ask for JSON only
        wrapper.addCustomHttpHeader("Accept", "application/sparql-results+json")
        return wrapper

    def _send(self, query: str, timeout_s: float | None, form: QueryForm) -> dict:
        try:
            return self._send_tried(query, timeout_s, form)
        except QAError as exc:  # a server's client is told what failed, not where the graph lives
            exc.public = re.sub(r"\s+", " ", str(exc).replace(self.endpoint, "(the server's endpoint)"))
            raise

    def _send_tried(self, query: str, timeout_s: float | None, form: QueryForm) -> dict:
        import urllib.error

        from SPARQLWrapper.SPARQLExceptions import (
            EndPointInternalError,
            EndPointNotFound,
            QueryBadFormed,
            SPARQLWrapperException,
            Unauthorized,
        )

        given = self.timeout_s if timeout_s is None else timeout_s
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            timeout = _time_left(given, self.endpoint)  # each try within what the question has left
            wrapper = self._new_wrapper()
            wrapper.setQuery(query)
            # sent as the read check_read_only found it to be: SPARQLWrapper's own guess from the text
            # (the first keyword-like word, comments not always skipped) would post some as updates
            wrapper.queryType = form.value.upper()
            if len(query) > LONG_QUERY_CHARS:  # beyond what every server takes in a URL; still a read
                wrapper.setMethod(self._post)
            # urllib takes a fraction of a second; SPARQLWrapper's setter would round 0.3 s up to 1 s
            wrapper.timeout = timeout

            def ask_once(wrapper: Any = wrapper) -> Any:
                response = wrapper.query()
                try:
                    return response.convert()
                # JSON that does not parse, is not UTF-8, is no object, or nests deeper than Python's stack
                except (ValueError, TypeError, RecursionError) as exc:
                    raise EndpointUnavailable(self._not_results()) from exc

            try:
                # the socket's timeout holds for each read, so a server sending a byte now and then
                # could hold a query for ever: the whole reply must arrive within the timeout too
                return _within(ask_once, timeout + 1.0)
            except QueryBadFormed as exc:
                raise QueryError(f"the endpoint {self.endpoint} rejected the query as malformed: {_said(exc)}") from exc
            except (EndPointNotFound, Unauthorized) as exc:
                hint = ""
                if isinstance(exc, Unauthorized) and self._authorization:
                    hint = (" (the URL's credentials go to that address only, not where it redirects: if it "
                            "redirects, give the address it redirects to)")
                said = f"the endpoint {self.endpoint} refused the query: {_said(exc)}{hint}"
                raise EndpointUnavailable(said) from exc
            except EndPointInternalError as exc:
                last = exc  # often a server-side timeout or overload: worth one more try
            except urllib.error.HTTPError as exc:
                if exc.code not in self.TRANSIENT_HTTP:
                    raise EndpointUnavailable(f"the endpoint {self.endpoint} answered HTTP {exc.code}: "
                                              f"{exc.reason}") from exc
                last = exc
            except TimeoutError as exc:  # the reply is slow (connected, so the server answers others):
                # this query's failure, not tried again
                raise _timed_out(f"query timed out after {timeout:g}s on {self.endpoint}") from exc
            except urllib.error.URLError as exc:  # not even connected (refused, no route, a connect timeout)
                last = exc
            except (ConnectionError, http.client.HTTPException) as exc:  # refused, reset, a garbled reply
                last = exc
            except SPARQLWrapperException as exc:
                raise QueryError(f"the SPARQL endpoint {self.endpoint} failed: {_said(exc)}") from exc
            if attempt < self.retries:
                time.sleep(self.backoff_s * (2**attempt))
        # a 500, or a gateway timing out (504), is often this query's doing: the endpoint may answer others
        slow = isinstance(last, EndPointInternalError) or (isinstance(last, urllib.error.HTTPError)
                                                          and last.code == 504)
        cls = QueryError if slow else EndpointUnavailable
        raise cls(f"the SPARQL endpoint {self.endpoint} failed after {self.retries + 1} tries: {_said(last)}") from last

    def select(self, query: str, timeout_s: float | None = None) -> list[Row]:
        if check_read_only(query) != QueryForm.SELECT:
            raise QueryError("select() needs a SELECT query")
        data = self._results(self._send(query, timeout_s, QueryForm.SELECT), QueryForm.SELECT)
        names = data["head"]["vars"]
        try:
            return queryable([tuple(_from_json(b.get(v)) for v in names) for b in data["results"]["bindings"]])
        except ValueError as exc:  # a term rdflib refuses (a language tag "en US")
            raise QueryError(f"the endpoint {self.endpoint} sent a term that is not RDF: {exc}") from None

    def ask(self, query: str, timeout_s: float | None = None) -> bool:
        if check_read_only(query) != QueryForm.ASK:
            raise QueryError("ask() needs an ASK query")
        return self._results(self._send(query, timeout_s, QueryForm.ASK), QueryForm.ASK)["boolean"]

    def _results(self, data: Any, form: QueryForm) -> dict[str, Any]:
        """SPARQL JSON results of the query's form, or a clear error for whatever else a URL
        answered: an HTML page, or JSON of another kind (a data file, an API's reply), which read
        as results without rows was once taken for an empty graph and answered "No answer"."""
        head = data.get("head") if isinstance(data, dict) else None
        if not isinstance(head, dict):
            raise EndpointUnavailable(self._not_results())
        if form == QueryForm.ASK:
            if not isinstance(data.get("boolean"), bool):
                raise EndpointUnavailable(self._not_results())
            return data
        results, names = data.get("results"), head.get("vars")
        rows = results.get("bindings") if isinstance(results, dict) else None
        if not (isinstance(names, list) and all(isinstance(v, str) for v in names) and isinstance(rows, list)
                and all(isinstance(b, dict) and all(_is_term(t) for t in b.values()) for b in rows)):
            raise EndpointUnavailable(self._not_results())
        return data

    def _not_results(self) -> str:
        return (f"{self.endpoint} did not answer with SPARQL results (JSON); is it a SPARQL endpoint's "
                "query URL?")


def _within(work: Any, seconds: float, runaway: _Runaway | None = None) -> Any:
    """`work()` on a daemon thread, or a `TimeoutError` after `seconds`: the thread is left to end
    on its own (a socket's timeout, the query finishing), counted meanwhile in `runaway`."""
    done = threading.Event()
    box: dict[str, Any] = {}
    lock = runaway.lock if runaway is not None else threading.Lock()

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc
        finally:
            with lock:
                done.set()
                if box.get("late") and runaway is not None:
                    runaway.count -= 1

    threading.Thread(target=run, name="kb-query", daemon=True).start()

    def left_running() -> bool:
        """Count the query as running on with no one waiting for it, if it has not ended."""
        with lock:
            if done.is_set():
                return False
            box["late"] = True
            if runaway is not None:
                runaway.count += 1
            return True

    try:
        finished = done.wait(seconds)
    except BaseException:  # a Ctrl-C while waiting (qa chat goes on): the query runs on all the same
        left_running()
        raise
    if not finished and left_running():
        raise TimeoutError(f"no whole reply within {seconds:g}s")
    if "error" in box:
        raise box["error"]
    return box["value"]


# SPARQLWrapper warns of a reply's unexpected content type; `_results` says it better, as an error.
# A filter set once (warnings.catch_warnings around each query is not safe across the API's threads).
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"SPARQLWrapper\.Wrapper")


def _is_term(value: Any) -> bool:
    """Whether `_from_json` can read `value`: checked with the rest of the reply, so a malformed row
    is the same error as a malformed reply, not a KeyError from deep in a query."""
    return (isinstance(value, dict) and isinstance(value.get("type"), str) and isinstance(value.get("value"), str)
            and all(isinstance(value.get(k, ""), str) for k in ("xml:lang", "datatype")))


def _as_uri(iri: str) -> str:
    """The URL sent for an endpoint written as an IRI ("/café"): its non-ASCII characters as UTF-8
    percent escapes, as a browser sends them; http.client writes only ASCII and raised instead. The
    host is left alone: urllib encodes a non-ASCII one itself (IDNA)."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(iri)
    ascii_only = {name: re.sub(r"[^\x00-\x7f]+", lambda m: quote(m.group(0), safe=""), getattr(parts, name))
                  for name in ("path", "query", "fragment")}
    return urlunsplit(parts._replace(**ascii_only))


def _from_json(value: dict | None) -> Node | None:
    if value is None:
        return None
    kind = value.get("type")
    if kind == "uri":
        return URIRef(value["value"])
    if kind == "bnode":
        return BNode(value["value"])
    lang = value.get("xml:lang")
    dtype = value.get("datatype")
    return canonical(Literal(value["value"], lang=lang, datatype=URIRef(dtype) if dtype else None))


def _said(exc: BaseException | None) -> str:
    """An endpoint error in one line: SPARQLWrapper appends the whole response body (a web page's
    HTML, as bytes) after its message."""
    text = str(exc).split("\n\nResponse:", 1)[0].strip()
    return " ".join(text.split())[:300]


def open_graph(settings: Settings | None = None, *, store: str = "auto") -> KnowledgeGraph:
    """The graph the settings name: the endpoint if set, else `kb_graph`, else the embedded default."""
    from kb import loaders

    settings = settings or Settings.load()
    if settings.kb_endpoint:
        return RemoteGraph(settings.kb_endpoint, timeout_s=settings.kb_timeout_s)
    path = Path(settings.kb_graph) if settings.kb_graph else None
    if path is None:
        from kb.default_graph import default_graph_path

        path = default_graph_path()
    graph = EmbeddedGraph(store=store, timeout_s=settings.kb_timeout_s)
    graph.name = f"file:{path.name}"  # what evidence names: the graph, not the store it is held in
    if not loaders.load_file(graph, path):
        log.warning("the graph %s holds no triples: every question about it gets no answer", path)
    return graph
