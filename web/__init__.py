"""Segito's thin web layer: it authenticates, parses, calls the engine and renders."""
