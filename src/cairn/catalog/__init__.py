"""The catalog: databases, tables, partitions, storage volumes and users, changed only by journal ops."""
