-- migrate:up transaction:false
-- CONCURRENTLY keeps document_chunks writable while the index is built,
-- which can take minutes on a large table. It cannot run inside a transaction.
--
-- A failed concurrent build leaves an INVALID index behind, so drop any
-- leftover first and a rerun starts clean.
DROP INDEX CONCURRENTLY IF EXISTS sop.document_chunks_embedding_hnsw_idx;
CREATE INDEX CONCURRENTLY document_chunks_embedding_hnsw_idx
    ON sop.document_chunks USING hnsw (embedding vector_cosine_ops)
    WITH (m = 16, ef_construction = 64);
COMMENT ON INDEX sop.document_chunks_embedding_hnsw_idx IS 'Approximate nearest-neighbour search by cosine distance (ORDER BY embedding <=> $1).';

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY sop.document_chunks_embedding_hnsw_idx;
