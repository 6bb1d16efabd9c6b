"""StarRocks' own SQL test cases replayed against Cairn: `python -m bench.sqltest --dirs ... --out results.json`.

The cases are read from a copy of StarRocks' `test/sql/` (never vendored here); each case runs in a fresh
database of one local Cairn, and each statement's result is compared with the case's R/ file by the rules of
StarRocks' own tester (compare.py).
"""
