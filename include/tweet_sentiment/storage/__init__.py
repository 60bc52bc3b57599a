"""Where the data lives: the data root's file system (local or ``s3://``), atomic writes and object locks, CSV
reading, the stores of batches, labelled rows (a Delta table), file digests and the compressed archive, the
embedding vectors (Lance datasets; the migration of their old shards), the Delta tables read by DuckDB
(``tables``) and the state database of small transactional records (``database``, SQLAlchemy).
Imports only ``schema`` and ``text``."""
