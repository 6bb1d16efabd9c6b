"""StarRocks' hash functions that DuckDB does not have, written as sqlglot expressions over a
value's UTF-8 bytes: `murmur_hash3_32(v, ...)` (MurmurHash3 x86 32-bit, seed 104729, each further
argument hashed with the previous hash as its seed; an INT) and `crc32(v)` (a BIGINT).

Both read the bytes of the value's text (`hex(encode(...))`, two hex digits a byte, cut into runs
by one `regexp_extract_all`) and fold them with `list_reduce`; a value used several times is bound once, as the one element of a list that
`list_transform` maps (a `let`), so the expression does not grow with each use.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from cairn.query.calls import Rewrite, rewrite_calls

_MASK = 0xFFFFFFFF
_SEED = 104729  # StarRocks' HashUtil::MURMUR3_32_SEED
_C1, _C2 = 0xCC9E2D51, 0x1B873593


def _n(value: int) -> exp.Expr:
    return exp.Literal.number(value)


def _let(value: exp.Expr, name: str, body: Callable[[exp.Identifier], exp.Expr]) -> exp.Expr:
    """`body` over `value` bound to the name `name` (evaluated once)."""
    bound = exp.to_identifier(name)
    mapped = exp.func("list_transform", exp.Array(expressions=[value]),
                      exp.Lambda(this=body(bound), expressions=[bound.copy()]))
    return exp.func("list_extract", mapped, _n(1))


def _and(value: exp.Expr, mask: int = _MASK) -> exp.Expr:
    return exp.Paren(this=exp.BitwiseAnd(this=exp.Paren(this=value), expression=_n(mask)))


def _xor(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    """Bitwise exclusive or (DuckDB's xor function; sqlglot's `xor` is the logical one)."""
    return exp.Anonymous(this="xor", expressions=[a, b])


def _mul32(value: exp.Expr, factor: int) -> exp.Expr:
    """(value * factor) mod 2^32, computed wide so the product does not overflow."""
    product = exp.Mul(this=exp.cast(value, exp.DataType.Type.INT128), expression=_n(factor))
    return exp.cast(_and(product), exp.DataType.Type.BIGINT)


def _shift(value: exp.Expr, bits: int, left: bool) -> exp.Expr:
    """`value` (as a BIGINT) shifted by `bits`, in parentheses: DuckDB gives | and << one precedence."""
    node = exp.BitwiseLeftShift if left else exp.BitwiseRightShift
    return exp.Paren(this=node(this=exp.cast(value, exp.DataType.Type.BIGINT), expression=_n(bits)))


def _rotl32(value: exp.Expr, bits: int) -> exp.Expr:
    left, right = _shift(value.copy(), bits, True), _shift(value.copy(), 32 - bits, False)
    return _and(exp.BitwiseOr(this=left, expression=right))


def _byte(hexed: exp.Expr, index: exp.Expr) -> exp.Expr:
    """The byte at 0-based `index` of the bytes spelled by `hexed` (0 past the end)."""
    start = exp.Paren(this=exp.Add(this=exp.Mul(this=_n(2), expression=exp.Paren(this=index)), expression=_n(1)))
    digits = exp.Substring(this=hexed.copy(), start=start, length=_n(2))
    value = exp.cast(exp.func("concat", exp.Literal.string("0x"), digits), exp.DataType.Type.BIGINT)
    present = exp.LT(this=start.copy(), expression=exp.func("length", hexed.copy()))
    return exp.Case(ifs=[exp.If(this=present, true=value)], default=_n(0))


def _word(hexed: exp.Expr, first: exp.Expr, count: int) -> exp.Expr:
    """The little-endian number of `count` bytes from 0-based byte `first`."""
    word: exp.Expr = _byte(hexed, first.copy())
    for j in range(1, count):
        byte = _byte(hexed, exp.Add(this=first.copy(), expression=_n(j)))
        word = exp.Paren(this=exp.BitwiseOr(this=word, expression=_shift(byte, 8 * j, True)))
    return word


def _block(digits: exp.Expr) -> exp.Expr:
    """The little-endian number of the 4 bytes the 8 hex digits `digits` spell: read as one
    big-endian number, then its bytes swapped."""
    big = exp.cast(exp.func("concat", exp.Literal.string("0x"), digits), exp.DataType.Type.BIGINT)

    def swapped(v: exp.Identifier) -> exp.Expr:
        parts = [_shift(_and(_shift(v.copy(), 8 * j, False), 0xFF), 8 * (3 - j), True) for j in range(4)]
        word = parts[0]
        for part in parts[1:]:
            word = exp.Paren(this=exp.BitwiseOr(this=word, expression=part))
        return word

    return _let(big, "__cairn_w", swapped)


def _runs(hexed: exp.Expr, digits: int) -> exp.Expr:
    """`hexed` cut into runs of `digits` hex digits (a shorter rest left out), in one pass: reading
    each run by its offset would scan the text from its start every time."""
    return exp.RegexpExtractAll(this=hexed.copy(), expression=exp.Literal.string(f"[0-9A-F]{{{digits}}}"))


def _scrambled(k: exp.Expr) -> exp.Expr:
    return _let(_mul32(k, _C1), "__cairn_k", lambda a: _mul32(_rotl32(a, 15), _C2))


def _murmur(hexed: exp.Identifier, seed: exp.Expr) -> exp.Expr:
    """MurmurHash3_x86_32 of the bytes `hexed` spells, from `seed`: unsigned, a BIGINT."""
    length = exp.Paren(this=exp.IntDiv(this=exp.func("length", hexed.copy()), expression=_n(2)))
    blocks = exp.Paren(this=exp.IntDiv(this=length.copy(), expression=_n(4)))
    h, run = exp.to_identifier("__cairn_h"), exp.to_identifier("__cairn_r")
    mixed = _let(_xor(h.copy(), _scrambled(_block(run.copy()))), "__cairn_x",
                 lambda x: _and(exp.Add(this=exp.Mul(this=_rotl32(x, 13), expression=_n(5)), expression=_n(0xE6546B64))))
    folded = exp.func("list_reduce", _runs(hexed, 8), exp.Lambda(this=mixed, expressions=[h.copy(), run.copy()]),
                      exp.cast(seed, exp.DataType.Type.BIGINT))
    rest = exp.Substring(this=hexed.copy(), start=exp.Paren(this=exp.Add(
        this=exp.Mul(this=_n(8), expression=blocks.copy()), expression=_n(1))))
    tail = _word(rest, _n(0), 3)
    # Past the end the tail's bytes read as 0, and a zero tail leaves the hash as it is.
    kept = exp.Case(ifs=[exp.If(this=exp.EQ(this=exp.Mod(this=length.copy(), expression=_n(4)), expression=_n(0)),
                                true=_n(0))], default=_scrambled(tail))
    with_tail = _xor(_xor(folded, kept), length.copy())

    def shift_xor(v: exp.Identifier, bits: int) -> exp.Expr:
        return _xor(v.copy(), _shift(v.copy(), bits, False))

    step1 = _let(with_tail, "__cairn_f1", lambda v: _mul32(shift_xor(v, 16), 0x85EBCA6B))
    step2 = _let(step1, "__cairn_f2", lambda v: _mul32(shift_xor(v, 13), 0xC2B2AE35))
    return _let(step2, "__cairn_f3", lambda v: shift_xor(v, 16))


def _hex_of_text(value: exp.Expr) -> exp.Expr:
    return exp.func("hex", exp.Encode(this=exp.cast(value, exp.DataType.Type.VARCHAR), charset=exp.Literal.string("utf-8")))


def _hashed_from(seed: exp.Expr) -> Callable[[exp.Identifier], exp.Expr]:
    return lambda hexed: _murmur(hexed, seed)


def _murmur_hash3_32(args: list[exp.Expr]) -> exp.Expr | None:
    """murmur_hash3_32(v, ...): an INT; NULL when an argument is NULL."""
    if not args:
        return None
    unsigned: exp.Expr = _n(_SEED)
    for number, value in enumerate(args):
        unsigned = _let(_hex_of_text(value), f"__cairn_b{number}", _hashed_from(unsigned))
    signed = _let(unsigned, "__cairn_u", lambda u: exp.Case(
        ifs=[exp.If(this=exp.GTE(this=u.copy(), expression=_n(2**31)), true=exp.Sub(this=u.copy(), expression=_n(2**32)))],
        default=u.copy()))
    return exp.cast(signed, exp.DataType.Type.INT)


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (0xEDB88320 ^ (c >> 1)) if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def _crc32(args: list[exp.Expr]) -> exp.Expr | None:
    """crc32(v): the CRC-32 (IEEE) of v's text, a BIGINT."""
    if len(args) != 1:
        return None
    table = exp.Array(expressions=[_n(v) for v in _CRC_TABLE])

    def over(hexed: exp.Identifier) -> exp.Expr:
        crc, pair = exp.to_identifier("__cairn_c"), exp.to_identifier("__cairn_p")
        byte = exp.cast(exp.func("concat", exp.Literal.string("0x"), pair.copy()), exp.DataType.Type.BIGINT)
        index = exp.Paren(this=exp.Add(this=_and(_xor(crc.copy(), byte), 0xFF), expression=_n(1)))
        step = _xor(_shift(crc.copy(), 8, False), exp.func("list_extract", table, index))
        folded = exp.func("list_reduce", _runs(hexed, 2), exp.Lambda(this=step, expressions=[crc.copy(), pair.copy()]),
                          exp.cast(_n(_MASK), exp.DataType.Type.BIGINT))
        return _xor(folded, _n(_MASK))

    return _let(_hex_of_text(args[0]), "__cairn_b", over)


_REWRITES: dict[str, Rewrite] = {"murmur_hash3_32": _murmur_hash3_32, "crc32": _crc32}


def apply(tree: exp.Expr) -> None:
    """Rewrite StarRocks' hash function calls in `tree`, in place."""
    rewrite_calls(tree, _REWRITES)
