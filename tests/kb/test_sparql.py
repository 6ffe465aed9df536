import math

import pytest
from rdflib import Literal, URIRef
from rdflib.plugins.sparql.parser import parseQuery

from kb.sparql import QueryGraph, UnsafeQueryError, Var, check_read_only, iri, literal

HOSTILE = [
    'x"', "x'", '"}', '"} ; DROP ALL ; {"', "}; DROP GRAPH <http://a/> ;", "DELETE WHERE { ?s ?p ?o }",
    "INSERT DATA { <http://a/> <http://a/> <http://a/> }", "SERVICE <http://evil.example/sparql> { ?s ?p ?o }",
    "http://a/> } ; DROP ALL ; SELECT * { <http://b/", "\\u0022} DROP ALL", "\\\" } DROP ALL #", "a\nb\r\tc\\",
    "\u202e\u0000nul", "😀 \U0010ffff", "x" * 5000, "'''\"\"\"", "# comment\nDROP ALL",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_literal_escaping_keeps_query_structure(text):
    benign = QueryGraph(triples=[(Var("answer"), URIRef("http://ex.org/p"), Literal("benign"))]).to_sparql()
    hostile = QueryGraph(triples=[(Var("answer"), URIRef("http://ex.org/p"), Literal(text))]).to_sparql()
    assert check_read_only(hostile, require_limit=True) == "select"
    p1, p2 = parseQuery(benign), parseQuery(hostile)
    assert p1[1].name == p2[1].name == "SelectQuery"
    obj = p2[1]["where"]["part"][0]["triples"][0][2]
    if "\\u" not in text:  # rdflib decodes an escaped backslash-u sequence; Oxigraph keeps it verbatim
        assert str(obj["string"]) == text  # a NUL too, written as its code point
    assert len(p2[1]["where"]["part"]) == len(p1[1]["where"]["part"])


@pytest.mark.parametrize("bad", ["http://a/>", "http://a/ b", 'http://a/"', "http://a/{x}", "no-scheme", "",
                                 "http://a/\\u003e", "http://a/\n"])
def test_iri_rejects_characters_that_could_close_it(bad):
    with pytest.raises(UnsafeQueryError):
        iri(bad)


def test_literal_language_and_datatype():
    assert literal(Literal("chat", lang="fr")) == '"chat"@fr'
    assert literal(Literal("5", datatype=URIRef("http://www.w3.org/2001/XMLSchema#integer"))).endswith(
        "^^<http://www.w3.org/2001/XMLSchema#integer>")
    for bad in ("a b", "x\n"):  # `$` matched before a final newline
        with pytest.raises(UnsafeQueryError):
            Var(bad)


@pytest.mark.parametrize("query", [
    "DELETE WHERE { ?s ?p ?o }", "INSERT DATA { <http://a/> <http://a/> <http://a/> }", "DROP ALL",
    "SELECT * WHERE { SERVICE <http://evil/> { ?s ?p ?o } } LIMIT 1", "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "SELECT * WHERE { ?s ?p ?o } LIMIT 1 ; DROP ALL", "LOAD <http://evil/data.ttl>", "CLEAR DEFAULT",
    "PREFIX x: <http://a/> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }", "DESCRIBE <http://a/>", "",
    "select * where { service silent <http://evil/> { ?s ?p ?o } } limit 1",
])
def test_guard_refuses_updates_service_and_other_forms(query):
    with pytest.raises(UnsafeQueryError):
        check_read_only(query)


def test_guard_ignores_keywords_inside_strings_and_iris():
    q = 'PREFIX ex: <http://ex.org/DROP/> SELECT ?s WHERE { ?s ex:p "DELETE WHERE SERVICE" } LIMIT 5'
    assert check_read_only(q, require_limit=True) == "select"
    assert check_read_only("ASK { <http://a/INSERT> ?p ?o }") == "ask"
    with pytest.raises(UnsafeQueryError):
        check_read_only("SELECT * WHERE { ?s ?p ?o }", require_limit=True)


def test_guard_reads_codepoint_escapes_as_the_store_does():
    """SPARQL expands \\u and \\U escapes before it parses: "\\u0044ROP ALL" is DROP ALL to a store,
    and the guard passed it as a SELECT."""
    for hostile in ("SELECT * WHERE { ?s ?p ?o } LIMIT 1 ; \\u0044ROP ALL",
                    "SELECT * WHERE { ?s ?p ?o } LIMIT 1 ; INS\\u0045RT DATA { <a:b> <a:c> <a:d> }",
                    "SELECT * WHERE { \\U00000053ERVICE <http://evil/> { ?s ?p ?o } } LIMIT 1",
                    'SELECT * WHERE { ?s ?p "\\u0022 } ; DROP ALL #" } LIMIT 1',  # the escape closes the string
                    "SELECT * WHERE { ?s ?p ?o } LIMIT 1 ; \\U0011FFFF",  # past the last character
                    # read as written, by a store that does not expand escapes: no string at all
                    "SELECT * WHERE { ?s ?p ?o } LIMIT 1 \\u0022 ; DROP ALL ; \\u0022",
                    "SELECT * WHERE { ?s ?p ?o } LIMIT 1 ; \\uu0044ROP ALL"):  # Java's form (Jena)
        with pytest.raises(UnsafeQueryError):
            check_read_only(hostile)
    # a literal we escape keeps the text "\\u0044ROP" as text: a string to the guard, as to the store
    text = literal("x \\u0044ROP \\u0022 } DROP ALL #")
    q = f"SELECT ?s WHERE {{ ?s ?p {text} }} LIMIT 1"
    assert check_read_only(q, require_limit=True) == "select"
    parseQuery(q)


@pytest.mark.parametrize("store", ["auto", "default"])
def test_a_value_holding_backslash_u_is_found_by_every_store(store):
    """rdflib's store expands \\uXXXX before it parses, so a value holding the text "\\u0022" was
    never found there (Oxigraph found it)."""
    from kb.store import EmbeddedGraph

    texts = ["x \\u0044ROP \\u0022 } DROP ALL # \\", "a\\\\u0041b", "nul\\\x001234", "\\U0001F600 \\U",
             "x\\uy", 'plain "quote"\n', "end\\"]
    g = EmbeddedGraph(store=store)
    g.add_triples([(URIRef(f"http://a/s{i}"), URIRef("http://a/p"), Literal(t)) for i, t in enumerate(texts)])
    for i, t in enumerate(texts):
        q = f"SELECT ?s WHERE {{ ?s <http://a/p> {literal(t)} }} LIMIT 2"
        assert g.select(q) == [(URIRef(f"http://a/s{i}"),)], t


def test_guard_allows_names_that_spell_keywords():
    # CK25's vocabulary has a class pv:Service; variables and prefixes may spell keywords too.
    q = ("PREFIX pv: <http://ex.org/> PREFIX drop: <http://ex.org/d/> "
         "SELECT ?service WHERE { ?service a pv:Service ; drop:x ?add } LIMIT 5")
    assert check_read_only(q, require_limit=True) == "select"
    for hostile in ("SELECT * WHERE { ?s ?p ?o .SERVICE <http://evil/> { ?s ?p ?o } }",
                    "SELECT * WHERE { ?s ?p ?o }\nINSERT DATA { <http://a/> <http://a/> <http://a/> }",
                    "SELECT * WHERE { pv:x pv:y ?o } ; DROP ALL",
                    # a comment ends at a carriage return as well as a newline: the lexer read the
                    # update after "#\r" as comment, and SPARQLWrapper then posted it as an update
                    'PREFIX p: <a:b> #\rINSERT DATA { <a:b> <a:c> """\nSELECT * WHERE { ?s ?p ?o } LIMIT 1 #"""}',
                    "SELECT * WHERE { #\r SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o }\n } LIMIT 1"):
        with pytest.raises(UnsafeQueryError):
            check_read_only(hostile)


def test_a_count_is_compared_with_the_number_as_every_store_reads_it():
    def having(n):
        return QueryGraph(triples=[(Var("answer"), URIRef("http://ex.org/p"), Var("counted"))],
                          group_count=(Var("counted"), "DESC"), having=(">", n)).to_sparql()

    assert "HAVING (COUNT(DISTINCT ?counted) > 2)\n" in having(2)
    assert "HAVING (COUNT(DISTINCT ?counted) > 2.5)\n" in having(2.5)
    assert "HAVING (COUNT(DISTINCT ?counted) > 1e+20)\n" in having(1e20)  # a double: no integer past 64 bits
    for query in (having(2), having(2.5), having(1e20)):
        parseQuery(query)
    for bad in (math.inf, math.nan, "2) || (1", True):
        with pytest.raises(UnsafeQueryError):
            having(bad)


@pytest.mark.parametrize("store", ["Oxigraph", "default"])
@pytest.mark.parametrize("text", ["C:\\users\\temp", "nul\x00byte", 'a "quoted"\nline'])
def test_a_literal_matches_itself(store: str, text: str) -> None:
    """A NUL was dropped from the literal, so the value holding it was never found."""
    from rdflib import Literal, URIRef

    from kb.store import EmbeddedGraph

    g = EmbeddedGraph(store=store)
    thing, said = URIRef("http://example.org/x"), URIRef("http://example.org/said")
    g.add_triples([(thing, said, Literal(text))])
    rows = g.select(f"SELECT ?s WHERE {{ ?s {iri(said)} {literal(text)} }}")
    assert rows == [(thing,)]
