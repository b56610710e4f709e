"""Timer events: rows kept in step with each case, fired exactly once when due, the ticker that fires them."""
