"""Reading recordings for search: decode what a search needs, nothing more."""
