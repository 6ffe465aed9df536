"""SPARQL for a known relation path (gold PathQuestion paths), used by the benchmarks."""

from __future__ import annotations

from rdflib.term import Node

from kb.paths import path_query
from kb.pipeline import gold_path


def gold_sparql(anchor: Node, relations: list[str]) -> str:
    return path_query(anchor, gold_path(relations)).to_sparql()
