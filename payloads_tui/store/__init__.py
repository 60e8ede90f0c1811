"""Persistence on TinyDB: atomic storage, configuration, records, vault, history, bundles, jobs."""
