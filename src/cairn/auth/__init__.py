"""Users, passwords and privileges, stored in the catalog so that every snapshot carries them."""
