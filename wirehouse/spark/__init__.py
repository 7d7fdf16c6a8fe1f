"""wirehouse on Apache Spark: files into Spark tables by wirehouse's own readers (ingest.py)."""
