"""Codecs: wire content <-> numpy arrays. Symmetric, stateless, table-tested."""
