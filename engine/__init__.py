"""Segito's engine: definitions, cases, tasks, forms, audit. Knows nothing of Flask."""
