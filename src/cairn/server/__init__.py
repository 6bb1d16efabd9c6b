"""Network servers of the FE: the MySQL protocol on query_port and HTTP on http_port."""
