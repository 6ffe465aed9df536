"""SPARQL text built only from escaped terms, and a guard that checks every query before it is sent.

Question text never reaches a query as text: entities and relations are RDF terms chosen from the
graph, literals are escaped by `literal()`, IRIs are checked by `iri()`, and `check_read_only()`
parses the final text and refuses anything but a SELECT or ASK without SERVICE, with a LIMIT.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from rdflib import RDF, RDFS, BNode, Literal, URIRef
from rdflib.term import Node

from qa.core.errors import InputError


class UnsafeQueryError(InputError):
    """A query that is not a plain read (SELECT / ASK) or that would call out to another service."""


class QueryForm(StrEnum):
    """The two query forms that are ever sent."""

    SELECT = "select"
    ASK = "ask"


# RFC 3987 forbids these in an IRI; SPARQL's IRIREF production forbids them too.
_BAD_IRI = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_ECHARS = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def writable_iri(value: str | URIRef) -> bool:
    """Whether `iri` can write `value` into a query."""
    text = str(value)
    return bool(text) and ":" in text and not _BAD_IRI.search(text)


def iri(value: str | URIRef) -> str:
    """`<value>` after checking that it is a well-formed IRI with nothing that could close it."""
    if not writable_iri(value):
        raise UnsafeQueryError(f"not a safe IRI: {str(value)[:80]!r}")
    return f"<{value}>"


def literal(value: str | int | float | Literal) -> str:
    """A SPARQL literal: every character that could end the string is escaped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and not isinstance(value, Literal):
        return repr(value)
    text = str(value)
    body = "".join(f"\\U{ord(c):08X}" if c in "uU" and i and text[i - 1] == "\\" else _ECHARS.get(c, c)
                   for i, c in enumerate(text))
    # The text "\u0022" was written as an escaped backslash and "u0022": Oxigraph read it so, but
    # rdflib's store expands \uXXXX (and \uXXXXXXXX) before it parses, which made it '\"' there
    # and the value was never found. A "u" after a backslash is written as its eight-digit code
    # point, which every reader expands to the "u" alone; a NUL likewise (raw, it was dropped)
    body = body.replace("\x00", "\\U00000000")
    out = f'"{body}"'
    if isinstance(value, Literal):
        if value.language:
            if not re.fullmatch(r"[A-Za-z]+(-[A-Za-z0-9]+)*", value.language):
                raise UnsafeQueryError(f"not a language tag: {value.language!r}")
            out += "@" + value.language
        elif value.datatype:
            out += "^^" + iri(value.datatype)
    return out


class _TypePath:
    """The predicate of "what a thing is": rdf:type, then any number of rdfs:subClassOf (a capital
    typed Capital, a subclass of City, is a city)."""

    sparql = f"<{RDF.type}>/<{RDFS.subClassOf}>*"


TYPE_PATH = _TypePath()


def term(node: Node | Var | _TypePath | str) -> str:
    if isinstance(node, Var | _TypePath):
        return node.sparql
    if isinstance(node, URIRef):
        return iri(node)
    if isinstance(node, Literal):
        return literal(node)
    if isinstance(node, BNode):
        raise UnsafeQueryError("blank nodes cannot be named in a query")
    raise UnsafeQueryError(f"unsupported term {node!r}")


XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_DOUBLE = f"{XSD}double"
# the values an ORDER BY orders besides numbers: times
_ORDERED_TIMES = ", ".join(f"<{XSD}{t}>" for t in ("date", "dateTime", "gYear", "gYearMonth", "time"))


@dataclass(frozen=True)
class Var:
    name: str

    def __post_init__(self) -> None:
        if not _VAR.match(self.name):
            raise UnsafeQueryError(f"not a variable name: {self.name!r}")

    @property
    def sparql(self) -> str:
        return "?" + self.name


# a triple pattern: subject, predicate (or the path of "what a thing is"), object
Triple: TypeAlias = tuple[Node | Var, Node | Var | _TypePath, Node | Var]


def substituted(triples: list[Triple], old: Node | Var, new: Node | Var) -> list[Triple]:
    """The triple patterns with every term equal to `old` replaced by `new`."""
    return [(new if s == old else s, new if p == old else p, new if o == old else o) for s, p, o in triples]


TIES_LIMIT = 100  # answers sharing a superlative's best value, at most


@dataclass
class QueryGraph:
    """A conjunctive query: triple patterns over terms and variables, plus the answer shape.

    `form` is "select" or "ask"; `aggregate` "count" wraps the answer in COUNT(DISTINCT);
    `order_by` (variable, "ASC"|"DESC") with `limit` 1 expresses superlatives.
    """

    triples: list[Triple] = field(default_factory=list)
    answer: Var = field(default_factory=lambda: Var("answer"))
    form: QueryForm = QueryForm.SELECT
    aggregate: str | None = None
    order_by: tuple[Var, str] | None = None
    filters: list[tuple[Var, str, Node | Var]] = field(default_factory=list)  # (?v, op, literal or ?w)
    limit: int = 100
    not_exists: list[Node] = field(default_factory=list)  # classes nothing linked to ?answer may have
    group_count: tuple[Var, str] | None = None  # (?counted, "ASC"|"DESC"): answers ranked by a count
    show_count: bool = False
    values: list[tuple[Var, list[Node]]] = field(default_factory=list)  # VALUES ?v { a b }: "a or b"
    # BIND((?n1 * ?n2) / (?d1 * ?d2) AS ?target): derived quantities such as volume or density
    binds: list[tuple[Var, list[Var], list[Var]]] = field(default_factory=list)
    having: tuple[str, int | float] | None = None  # with group_count: HAVING (COUNT(...) op n)
    order_aggregate: str | None = None  # "AVG": answers ordered by the average of the order key
    offset: int = 0  # "the second cheapest": the answers ordered, one skipped
    # a superlative's one answer: every answer with the best value ("the cheapest" of two at 5.00)
    ties: bool = False
    # more columns beside the answer ("which hardware items - list id and name - ...")
    columns: list[Var] = field(default_factory=list)
    # (?v, relation, described): ?v has no such relation (to a thing with a label, when `described`)
    lacks: list[tuple[Var, URIRef, URIRef | None]] = field(default_factory=list)

    def to_sparql(self) -> str:
        lines = []
        for s, p, o in self.triples:
            lines.append(f"  {term(s)} {term(p)} {term(o)} .")
        for var, op, value in self.filters:
            if op not in {"=", "!=", "<", "<=", ">", ">="}:
                raise UnsafeQueryError(f"unsupported filter operator {op!r}")
            lines.append(f"  FILTER ({var.sparql} {op} {term(value)})")
        for i, cls in enumerate(self.not_exists):  # "departments with no manager"
            neg, negp = f"?neg{i}", f"?negp{i}"
            lines.append(f"  FILTER NOT EXISTS {{ {{ {neg} {negp} ?answer }} UNION {{ ?answer {negp} {neg} }} "
                         f"{neg} a {term(cls)} . }}")
        for i, (var, rel, label) in enumerate(self.lacks):  # "items with no active product manager"
            described = f" ?lack{i} {term(label)} ?lackl{i} ." if label is not None else ""
            lines.append(f"  FILTER NOT EXISTS {{ {var.sparql} {term(rel)} ?lack{i} .{described} }}")
        for var, options in self.values:
            lines.append(f"  VALUES {var.sparql} {{ {' '.join(term(x) for x in options)} }}")
        for target, num, den in self.binds:
            expr = "(" + " * ".join(v.sparql for v in num) + ")"
            if den:
                expr += " / (" + " * ".join(v.sparql for v in den) + ")"
            lines.append(f"  BIND({expr} AS {target.sparql})")
        body = "\n".join(lines)
        limit = max(1, min(int(self.limit), 10_000))
        if self.form == QueryForm.ASK:
            # ASK has no LIMIT clause in SPARQL 1.1; it stops at the first solution by definition.
            return f"ASK WHERE {{\n{body}\n}}"
        if self.group_count is not None:
            var, direction = self.group_count
            if direction not in {"ASC", "DESC"}:
                raise UnsafeQueryError(f"bad order {direction!r}")
            count = f"COUNT(DISTINCT {var.sparql})"
            head = f"SELECT {self.answer.sparql}" + (f" ({count} AS ?count)" if self.show_count else "")
            having = ""
            if self.having is not None:
                op, n = self.having
                if op not in {">", ">=", "<", "<=", "="}:
                    raise UnsafeQueryError(f"unsupported comparison {op!r}")
                if isinstance(n, bool) or not isinstance(n, int | float) or not math.isfinite(n):
                    raise UnsafeQueryError(f"not a number to compare a count with: {n!r}")
                having = f"\nHAVING ({count} {op} {literal(n)})"
            return (f"{head} WHERE {{\n{body}\n}}\nGROUP BY {self.answer.sparql}{having}\n"
                    f"ORDER BY {direction}({count})\nLIMIT {limit}")
        if self.aggregate == "count":
            head = f"SELECT (COUNT(DISTINCT {self.answer.sparql}) AS ?count)"
            return f"{head} WHERE {{\n{body}\n}} LIMIT 1"
        head = " ".join([self.answer.sparql, *(v.sparql for v in self.columns)])
        text = f"SELECT DISTINCT {head} WHERE {{\n{body}\n}}"
        if self.order_by is not None and self.order_aggregate is not None:
            var, direction = self.order_by
            if direction not in {"ASC", "DESC"} or self.order_aggregate not in {"AVG", "SUM", "MIN", "MAX"}:
                raise UnsafeQueryError(f"bad order {direction!r} {self.order_aggregate!r}")
            agg = f"?{self.order_aggregate.lower()}"
            return (f"SELECT {self.answer.sparql} ({self.order_aggregate}({var.sparql}) AS {agg}) WHERE {{\n{body}\n}}"
                    f"\nGROUP BY {self.answer.sparql}\nORDER BY {direction}({agg})\nLIMIT {limit}{self._offset()}")
        if self.order_by is not None:
            var, direction = self.order_by
            if direction not in {"ASC", "DESC"}:
                raise UnsafeQueryError(f"bad order {direction!r}")
            key = f"COALESCE(<{XSD_DOUBLE}>({var.sparql}), {var.sparql})"
            # only values that order: a number (or text that reads as one) or a time; "n/a" or
            # "TBD" among the prices sorted above every number ("the most expensive" was the "n/a" one)
            body += (f"\n  FILTER (isNumeric(<{XSD_DOUBLE}>({var.sparql})) || "
                     f"datatype({var.sparql}) IN ({_ORDERED_TIMES}))")
            if self.ties and limit == 1 and not self.offset:
                # the best value found first (the subquery's variables are its own), then every
                # answer that has it: ORDER BY ... LIMIT 1 kept one of them, whichever came first
                # (renamed too: a store that reads the subquery's variables as the outer ones, as
                # rdflib's does, would find each answer's own value the best)
                best = "MIN" if direction == "ASC" else "MAX"
                inner = "\n".join("  " + line for line in _renamed(body, "_all").split("\n"))
                own = _renamed(key, "_all")
                return (f"SELECT DISTINCT {head} WHERE {{\n{body}\n  {{ SELECT ({best}({own}) AS ?best) WHERE {{\n"
                        f"{inner}\n  }} }}\n  FILTER ({key} = ?best)\n}}\nLIMIT {TIES_LIMIT}")
            text = f"SELECT {head} WHERE {{\n{body}\n}}"
            # numbers stored as plain text ("9000000") sort as numbers, not as text; a value that
            # is no number (a date, a name) sorts as itself
            text += f"\nORDER BY {direction}({key})"
            return f"{text}\nLIMIT {limit}{self._offset()}"
        return f"{text}\nLIMIT {limit}"

    def _offset(self) -> str:
        offset = int(self.offset)
        if not 0 <= offset <= 10_000:
            raise UnsafeQueryError(f"bad offset {offset!r}")
        return f" OFFSET {offset}" if offset else ""


_LEX = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\''
    r'|"(?:[^"\\\n\r]|\\.)*"|\'(?:[^\'\\\n\r]|\\.)*\''
    r"|<[^<>\"{}|^`\\\x00-\x20]*>"
    r"|#[^\n\r]*",  # SPARQL ends a comment at a carriage return too: what follows one is query text
)
_VARIABLE = re.compile(r"[?$]\w+")


def _renamed(text: str, suffix: str) -> str:
    """Query text with every variable renamed (`?answer` -> `?answer_all`), strings, IRIs and
    comments untouched."""
    out, at = [], 0
    for m in _LEX.finditer(text):
        out += [_VARIABLE.sub(lambda v: v[0] + suffix, text[at:m.start()]), m[0]]
        at = m.end()
    return "".join([*out, _VARIABLE.sub(lambda v: v[0] + suffix, text[at:])])


# A keyword, not part of a prefixed name (`pv:Service`, `drop:`) or a variable (`?service`): those
# are names, and refusing them would refuse ordinary read queries over a vocabulary with a Service class.
_UPDATE_OR_SERVICE = re.compile(
    r"(?<![\w:?$-])(SERVICE|INSERT|DELETE|LOAD|CLEAR|DROP|CREATE|ADD|MOVE|COPY)(?![\w:-])", re.IGNORECASE
)
_PROLOGUE = re.compile(r"^\s*(?:(?:PREFIX\s+[\w.\-]*:\s*|BASE\s+)\x00\s*)*", re.IGNORECASE)


# how SPARQL 1.1 reads code point escapes, and how rdflib does (either case, eight digits if
# there are eight, else four): a query is checked as each store would read it
_CODEPOINT = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_CODEPOINT_RDFLIB = re.compile(r"\\[uU]([0-9A-Fa-f]{8}|[0-9A-Fa-f]{4})")
_CODEPOINT_JAVACC = re.compile(r"\\u+([0-9A-Fa-f]{4})")  # Java's "\uu0044" (a JavaCC parser's, Jena's)


def _expanded(query: str) -> list[str]:
    """The query as the stores read it after expanding its code point escapes; one that names no
    character (past the last) is refused here, as a store would refuse it."""
    try:
        return [pattern.sub(lambda m: chr(int(next(g for g in m.groups() if g), 16)), query)
                for pattern in (_CODEPOINT, _CODEPOINT_RDFLIB, _CODEPOINT_JAVACC)]
    except (ValueError, OverflowError):
        raise UnsafeQueryError("the query holds a \\u escape that is no character") from None


def check_read_only(query: str, *, require_limit: bool = False) -> QueryForm:
    """Accept only a single SELECT or ASK query without SERVICE; returns "select" or "ask".

    Strings, IRIs and comments are blanked out first, so a keyword inside a literal does not trip
    the check, while an update operation or a SERVICE clause anywhere in the query text does.
    Syntax errors are left to the store, which parses the query again before running it.
    """
    if not isinstance(query, str) or not query.strip():
        raise UnsafeQueryError("empty query")
    if len(query) > 200_000:
        raise UnsafeQueryError("query too long")
    if "\\u" in query or "\\U" in query:
        # SPARQL expands \u0044 and \U00000044 before it parses, so "\u0044ROP ALL" is DROP ALL to the
        # store: the query is checked as each store will read it, and as written (a store that does
        # not expand them would read "\u0022 ; DROP ALL ; \u0022" as no string at all)
        readings = _expanded(query)
        forms = {_check_as_read(r, require_limit) for r in [query, *readings]}
        if len(forms) > 1:
            raise UnsafeQueryError("the query's \\u escapes make it another kind of query to another store")
        return forms.pop()
    return _check_as_read(query, require_limit)


def _check_as_read(query: str, require_limit: bool) -> QueryForm:
    """`check_read_only` of one reading of the query: its escapes taken as written."""
    skeleton = _LEX.sub(lambda m: " " if m.group(0).startswith("#") else "\x00", query)
    bad = _UPDATE_OR_SERVICE.search(skeleton)
    if bad:
        word = bad.group(1).upper()
        if word == "SERVICE":
            raise UnsafeQueryError("SERVICE (federated) queries are never sent")
        raise UnsafeQueryError(f"update operations ({word}) are never sent")
    prologue = _PROLOGUE.match(skeleton)
    assert prologue is not None  # the pattern matches the empty prologue too
    head = skeleton[prologue.end():].lstrip()
    form = head.split(None, 1)[0].upper() if head else ""
    if form not in {"SELECT", "ASK"}:
        raise UnsafeQueryError(f"only SELECT and ASK queries are sent, not {form or 'an empty query'}")
    if require_limit and form == "SELECT" and not re.search(r"\bLIMIT\s+\d+\s*(OFFSET\s+\d+\s*)?$",
                                                             skeleton.strip(), re.I):
        raise UnsafeQueryError("SELECT queries must end with a LIMIT")
    return QueryForm(form.lower())
