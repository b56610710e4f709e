"""Segito's engine, in packages by capability (docs/architecture.md, "Packages"); knows nothing of Flask."""
