"""Declared reports: facts from form fields into rows, and the figures reports/*.yaml declare over them."""
