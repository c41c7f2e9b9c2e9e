"""Pages that show one developer through every domain that knows them."""
