"""SQL: parsing StarRocks statements and running each kind of statement against the catalog."""
