"""Storage layer: engine, schema and migrations, metadata, blobs and dialect bulk paths."""
