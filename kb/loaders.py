"""Load Turtle, N-Triples, RDF/XML, JSON-LD and TSV triples (`subject \\t relation \\t object`, as in PathQuestion).

TSV triples become RDF in a Freebase-style namespace: an entity `frederica_of_mecklenburg-strelitz`
becomes `ns:m.frederica_of_mecklenburg-strelitz` (percent-encoded) with its id as `rdfs:label` and a
readable alias (`skos:altLabel`, underscores as spaces); a relation `__film__cinematographer__film`
becomes `ns:film.cinematographer.film`, an `rdf:Property` with the label "film cinematographer film".
Compressed files (`.gz`, `.xz`, `.bz2`) open transparently.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import re
import xml.parsers.expat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import quote, unquote

from rdflib import RDF, RDFS, SKOS, Literal, Namespace, URIRef
from rdflib.term import Node

from qa.core.errors import ConfigError, DataFormatError
from qa.core.text import json_of

if TYPE_CHECKING:
    from kb.store import EmbeddedGraph

NS = Namespace("http://kb.offline-qa.local/ns/")
ENTITY_PREFIX = str(NS) + "m."


# an XML declaration's encoding ("ISO-8859-1"): an RDF/XML file is in it, not in UTF-8
_XML_ENCODING = re.compile(rb"""^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")


def open_text(path: str | Path, *, xml: bool = False) -> str:
    """A graph file's text: UTF-8 (a byte-order mark skipped), or for RDF/XML (`xml`) the encoding
    its XML declaration names, the declaration then saying UTF-8 (what the parsers are given); a
    Latin-1 RDF/XML file that rdflib itself reads was refused as not UTF-8."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"graph file not found: {p}")
    if p.is_dir():
        raise ConfigError(f"{p} is a folder; give a Turtle, N-Triples, RDF/XML, JSON-LD or TSV file")
    openers: dict[str, Callable[..., IO]] = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}
    opener = openers.get(p.suffix, open)
    try:
        if not xml:  # read as text: no copy of the whole file as bytes beside it
            with opener(p, "rt", encoding="utf-8-sig") as text_file:  # a byte-order mark (Windows editors) is not data
                return text_file.read()
        with opener(p, "rb") as fh:
            raw = fh.read()
        declared = _XML_ENCODING.match(raw[:500])
        encoding = declared[1].decode("ascii").lower() if declared else "utf-8"
        try:
            text_codec = codecs.lookup(encoding)._is_text_encoding  # not "hex", "base64", "zlib"
        except LookupError:
            text_codec = False
        if not text_codec:
            raise DataFormatError(f"{p}: its XML declaration names an unknown encoding {encoding!r}")
        if encoding.replace("_", "-") in {"utf-8", "utf8"}:
            return raw.decode("utf-8-sig")
        text = raw.decode(encoding)
        return re.sub(r"""(<\?xml[^>]*?\bencoding\s*=\s*)["'][^"']*["']""", r'\1"UTF-8"', text, count=1)
    except (OSError, lzma.LZMAError, EOFError, UnicodeDecodeError, LookupError) as exc:
        raise DataFormatError(f"cannot read {p}: {exc}") from exc


def graph_format(path: Path) -> str:
    """The format a graph file's name says it is in; one no loader reads is refused by name."""
    name = path.name
    for ext in (".gz", ".xz", ".bz2"):
        name = name.removesuffix(ext)
    suffix = Path(name).suffix.lower()
    formats = {".ttl": "turtle", ".turtle": "turtle", ".nt": "nt", ".ntriples": "nt",
               ".rdf": "xml", ".owl": "xml", ".xml": "xml", ".jsonld": "json-ld",
               ".tsv": "tsv", ".txt": "tsv"}
    if suffix not in formats:
        raise ConfigError(f"unknown graph format for {path.name}: use .ttl, .nt, .rdf / .owl (RDF/XML), "
                         ".jsonld, .tsv or .txt")
    return formats[suffix]


def entity_iri(name: str) -> URIRef:
    return URIRef(ENTITY_PREFIX + quote(name, safe=""))


def relation_iri(name: str) -> URIRef:
    local = name.strip("_").replace("__", ".")
    return URIRef(str(NS) + quote(local, safe="._-"))


def readable(name: str) -> str:
    """A readable label from an id or IRI local name: underscores, dots, camelCase become spaces."""
    text = unquote(name)
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    text = re.sub(r"[_.\-/#]+", " ", text)
    return " ".join(text.split())


def local_name(iri: str) -> str:
    text = str(iri)
    if text.startswith(ENTITY_PREFIX):
        return unquote(text[len(ENTITY_PREFIX):])
    cut = max(text.rfind("#"), text.rfind("/"))
    return unquote(text[cut + 1 :]) if cut >= 0 else text


def tsv_triples(text: str, source: str = "<tsv>") -> Iterator[tuple[Node, Node, Node]]:
    entities: set[str] = set()
    relations: set[str] = set()
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = [x.strip() for x in line.rstrip("\n").split("\t")]
        if len(parts) != 3 or not all(parts):
            raise DataFormatError(f"{source}:{lineno}: expected 'subject<TAB>relation<TAB>object'")
        s, r, o = parts
        if not r.strip("_").replace("__", ""):
            raise DataFormatError(f"{source}:{lineno}: the relation {r!r} has no name, only underscores")
        yield entity_iri(s), relation_iri(r), entity_iri(o)
        entities.update((s, o))
        relations.add(r)
    for e in sorted(entities):
        node = entity_iri(e)
        yield node, RDFS.label, Literal(e)
        alias = readable(e)
        if alias and alias != e:
            yield node, SKOS.altLabel, Literal(alias)
    for r in sorted(relations):
        node = relation_iri(r)
        yield node, RDF.type, RDF.Property
        yield node, RDFS.label, Literal(readable(r.strip("_").replace("__", " ")))


RELATIVE_BASE = "http://kb.offline-qa.local/base/"


def load_file(graph: EmbeddedGraph, path: str | Path, fmt: str | None = None) -> int:
    """Load one file into an `EmbeddedGraph`; returns the number of triples added."""
    p = Path(path)
    fmt = fmt or graph_format(p)
    text = open_text(p, xml=fmt == "xml")
    before = len(graph.graph)
    if fmt == "tsv":
        graph.add_triples(tsv_triples(text, str(p)))
    else:
        if fmt == "json-ld":
            _local_contexts(text, p)
        if fmt == "xml":
            _bounded_entities(text, p)
            _well_formed(text, p)
        ox = graph.store == "OxigraphStore"
        name = {"turtle": "ox-turtle" if ox else "turtle", "nt": "ox-ntriples" if ox else "nt",
                "xml": "ox-xml" if ox else "xml", "json-ld": "ox-json-ld" if ox else "json-ld"}[fmt]
        try:
            # relative IRIs (<France>) resolve against a fixed base, not the working folder: the same
            # file must give the same graph (and match its cached label index) wherever it is loaded from
            graph.graph.parse(data=text, format=name, publicID=RELATIVE_BASE)
        except Exception as exc:  # noqa: BLE001 - parsers raise many types
            shown = {"turtle": "Turtle", "nt": "N-Triples", "xml": "RDF/XML", "json-ld": "JSON-LD"}[fmt]
            raise DataFormatError(f"{p}: not valid {shown}: {exc}") from exc
    return len(graph.graph) - before


def _well_formed(text: str, path: Path) -> None:
    """Refuse an RDF/XML file that is not well-formed XML. Oxigraph's parser stops at the end of
    the input without checking that the root element was closed, so a file cut short (a copy or a
    download that stopped) loaded its first part without a word, and questions about the rest were
    answered "no answer". Expat reads without building anything; the entities were bounded first."""
    parser = xml.parsers.expat.ParserCreate()
    try:
        parser.Parse(text, True)
    except xml.parsers.expat.ExpatError as exc:
        reason = xml.parsers.expat.errors.messages[exc.code] if exc.code else str(exc)
        raise DataFormatError(f"{path}:{exc.lineno}: not valid RDF/XML: {reason} (column {exc.offset + 1})"
                              + ("; the file looks cut short" if exc.code == _NO_ELEMENTS_LEFT else "")) from exc


_NO_ELEMENTS_LEFT = xml.parsers.expat.errors.codes[xml.parsers.expat.errors.XML_ERROR_NO_ELEMENTS]

# an RDF/XML file's DOCTYPE may name IRIs it repeats (`<!ENTITY owl "http://...#">`, as ontology
# editors write them); what its entities expand to is bounded by the file's own size, so that a
# kilobyte of nested entities ("billion laughs") cannot take gigabytes of memory
_ENTITY_REF = re.compile(r"&(?P<name>[^\s&;#<>\"']+);")  # any name a parser might take, digits first too
_CHAR_REF = re.compile(r"&#(?:(?P<dec>[0-9]{1,7})|x(?P<hex>[0-9A-Fa-f]{1,6}));")
_ENTITY_ROOM = 1_000_000  # characters entities may add to a file beyond eight times its size
_ENTITY_DEPTH = 32


def _bounded_entities(text: str, path: Path) -> None:
    """Refuse an RDF/XML file whose entities expand past `8 x its size + 1 M` characters (counted
    without expanding them), or that declares parameter or external entities: the XML parsers
    expand whatever the DOCTYPE says, with no limit of their own. The declarations are read as
    each parser reads them, and all of them count: in order, comments and other declarations
    skipped whole, as an XML parser (rdflib's) does; and every `<!ENTITY` up to the next `<`, as
    Oxigraph's does (it reads one inside a comment too). An entity declared twice counts as its
    larger value (parsers differ on which one holds); references are counted by any name."""
    if "<!ENTITY" not in text:
        return
    values = _declared_entities(text, path)
    for name, value in _entities_piecewise(text, path):
        values.setdefault(name, []).append(value)
    sizes: dict[str, int] = {}
    limit = 8 * len(text) + _ENTITY_ROOM

    def size(name: str, depth: int = 0) -> int:
        if name not in sizes:
            if depth > _ENTITY_DEPTH:
                raise DataFormatError(f"{path}: its entities refer to each other more than {_ENTITY_DEPTH} "
                                      "deep (or in a circle): not loaded")
            most = 0
            for value in values[name]:
                total = len(value)
                for ref in _ENTITY_REF.finditer(value):
                    if ref["name"] in values and total <= limit:
                        total += size(ref["name"], depth + 1) - len(ref[0])
                most = max(most, total)
            sizes[name] = most
        return sizes[name]

    total = len(text)
    for ref in _ENTITY_REF.finditer(text):
        if ref["name"] in values:
            total += size(ref["name"]) - len(ref[0])
            if total > limit:
                raise DataFormatError(f"{path}: its DOCTYPE's entities expand the file past {limit:,} "
                                      "characters (eight times its size and a million more): not loaded")


def _declared_entities(text: str, path: Path) -> dict[str, list[str]]:
    """The general entities the DOCTYPE's internal subset declares, name -> values (character
    references in them decoded, as a parser does before it reads the value's own references)."""
    i, n = 0, len(text)
    while True:  # the prolog, as a parser reads it: a DOCTYPE written inside a comment is none
        while i < n and (text[i].isspace() or text[i] == "\ufeff"):
            i += 1
        if text.startswith("<?", i) or text.startswith("<!--", i):
            close = "?>" if text[i + 1] == "?" else "-->"
            end = text.find(close, i + 2)
            if end < 0:
                return {}  # the parser says what is wrong
            i = end + len(close)
        elif text.startswith("<!DOCTYPE", i):
            break
        else:
            return {}  # the root element: no DOCTYPE, so no entities
    i += len("<!DOCTYPE")

    def quoted(at: int) -> int:
        """The position after the quoted literal starting at `at`."""
        end = text.find(text[at], at + 1)
        if end < 0:
            raise DataFormatError(f"{path}: its DOCTYPE has a quoted value that never closes")
        return end + 1

    while i < n and text[i] not in "[>":  # the name, an external identifier
        i = quoted(i) if text[i] in "\"'" else i + 1
    if i >= n or text[i] == ">":
        return {}
    i += 1
    values: dict[str, list[str]] = {}
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise DataFormatError(f"{path}: its DOCTYPE never closes")
        if text[i] == "]":
            return values
        if text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            if end < 0:
                raise DataFormatError(f"{path}: a comment in its DOCTYPE never closes")
            i = end + 3
        elif text.startswith("<?", i):
            end = text.find("?>", i + 2)
            if end < 0:
                raise DataFormatError(f"{path}: a processing instruction in its DOCTYPE never closes")
            i = end + 2
        elif text.startswith("<!ENTITY", i):
            i += len("<!ENTITY")
            while i < n and text[i].isspace():
                i += 1
            if text.startswith("%", i):
                raise _not_read(path, "declares a parameter entity")
            start = i
            while i < n and not text[i].isspace() and text[i] not in "\"'>":
                i += 1
            name = text[start:i]
            while i < n and text[i].isspace():
                i += 1
            if i >= n or text[i] not in "\"'":
                raise _not_read(path, f"declares an external entity ({name})")
            end = quoted(i)
            value = _CHAR_REF.sub(_char, text[i + 1 : end - 1])
            values.setdefault(name, []).append(value)
            i = end
            while i < n and text[i] != ">":
                i = quoted(i) if text[i] in "\"'" else i + 1
            i += 1
        elif text.startswith("<!", i):  # ELEMENT, ATTLIST, NOTATION: skipped whole, quotes and all
            while i < n and text[i] != ">":
                i = quoted(i) if text[i] in "\"'" else i + 1
            i += 1
        elif text[i] == "%":
            raise _not_read(path, "refers to a parameter entity")
        else:
            raise DataFormatError(f"{path}: its DOCTYPE holds {text[i:i + 20]!r}, which no declaration starts with")


def _entities_piecewise(text: str, path: Path) -> Iterator[tuple[str, str]]:
    """Every `<!ENTITY name "value"` anywhere, each read up to the next `<` (Oxigraph's reading)."""
    for m in re.finditer(r"<!ENTITY", text):
        end = text.find("<", m.end())
        piece = text[m.end(): end if end >= 0 else len(text)].lstrip()
        if piece.startswith("%"):
            raise _not_read(path, "declares a parameter entity")
        parts = piece.split(None, 1)
        if len(parts) < 2:
            continue
        name, rest = parts
        if rest[:1] not in ("'", '"'):
            if rest.startswith(("SYSTEM", "PUBLIC")):
                raise _not_read(path, f"declares an external entity ({name})")
            continue
        close = rest.find(rest[0], 1)
        if close > 0:
            yield name, _CHAR_REF.sub(_char, rest[1:close])


def _not_read(path: Path, what: str) -> DataFormatError:
    return DataFormatError(f"{path}: its DOCTYPE {what}, which is not read: declare entities as quoted text")


def _char(m: re.Match[str]) -> str:
    code = int(m["dec"]) if m["dec"] else int(m["hex"], 16)
    return chr(code) if 0 < code < 0x110000 else ""


def _local_contexts(text: str, path: Path) -> None:
    """A JSON-LD file whose @context names a document elsewhere ("https://schema.org/") is refused
    before it is parsed: one parser would download it, the other cannot, and nothing is
    downloaded at run time."""

    try:
        doc = json_of(text)
    except ValueError as exc:
        raise DataFormatError(f"{path}: not valid JSON-LD: {exc}") from exc
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ctx = node.get("@context")
            for c in [*(ctx if isinstance(ctx, list) else [ctx]), node.get("@import")]:
                if isinstance(c, str):
                    raise DataFormatError(f"{path}: its @context is the document {c!r}, which is never "
                                          "fetched (nothing is downloaded): put the context itself in the file")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def to_ntriples(triples: Iterable[tuple[URIRef, URIRef, URIRef | Literal]]) -> str:
    from kb.sparql import iri, literal

    def n3(node: URIRef | Literal) -> str:
        return iri(node) if isinstance(node, URIRef) else literal(node)

    return "".join(f"{n3(s)} {n3(p)} {n3(o)} .\n" for s, p, o in triples)
