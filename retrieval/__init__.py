"""Retrieval engines: embedders, rerankers, vector store, keyword index. Knows no HTTP server or queue."""
