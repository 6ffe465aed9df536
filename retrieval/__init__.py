"""Passage retrieval for WebQA: MiniLM dense vectors in FAISS, BM25, fused into one ranking.

Public API (what the pipelines, the API and the UI call)::

    from retrieval.default import default_index
    from retrieval.hybrid import HybridRetriever

    folder: Path = default_index(settings)          # embedded default; built if missing
    retriever = HybridRetriever.from_index_dir(folder, settings)   # mmap, read-only
    hits: list[RetrievedPassage] = retriever.search(query, k=5)    # mode="hybrid"|"dense"|"bm25"
    batches = retriever.search_batch(queries, k=5)  # batched query encoding

    RetrievedPassage(id: str, title: str, text: str, source: str, score: float,
                     ranks: dict[str, int],     # 1-based rank per retriever that found it
                     scores: dict[str, float],  # raw score per retriever
                     metadata: dict)

Building and editing index folders::

    from retrieval.ingest import index_path, build_index, add_passages, delete_passages
    index_path(path, out_dir, settings) -> (Path, passage_count)   # what `qa index PATH` runs
    build_index(passages: Sequence[Passage], out_dir, settings, dense_kind="flat") -> Path
    add_passages(folder, passages, settings) -> count ; delete_passages(folder, ids) -> removed

Parts, one job per module: `encoder` (TextEncoder.encode(texts) -> float32 unit vectors),
`dense` (DenseIndex: FAISS id map, add/delete/search/save/load), `bm25` (BM25Index),
`fusion` (rrf, convex, fuse), `docstore` (DocStore protocol, SQLiteDocStore), `chunking`,
`documents` (file readers), `index_dir` (folder layout and manifest), `atomic` (crash-safe
writes), `default` (the embedded Wikipedia-summaries collection).
"""
