"""Where the data lives: the data root's file system (local or ``s3://``), atomic writes and object locks, CSV
reading, and the stores of batches, labelled rows, file digests and embedding vectors. Imports only ``schema``
and ``text``."""
