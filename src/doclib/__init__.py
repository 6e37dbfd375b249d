"""doclib: a self-hosted bilingual (Arabic/English) document library with semantic search."""

__version__ = "0.1.0"
