"""A PCCS-compatible caching service: Intel's PCCS REST API over a verified store (SQLite or PostgreSQL)."""
