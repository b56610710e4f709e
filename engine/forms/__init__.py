"""Form data: validation with field-level errors, computed fields, append-only blocks, input parsing."""
