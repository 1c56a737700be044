package pricing

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// ErrOverflow means an amount left the range of int64 micro-USD (about
// $9.2 trillion). No real price gets there; a misconfigured rate might.
var ErrOverflow = errors.New("amount overflows int64 micro-USD")

// mulDiv returns ⌊a·b/c⌋ for a, b ≥ 0 and c > 0, exactly: the product is
// held in 128 bits, so a·b may exceed int64 as long as the quotient doesn't.
// shared/money will own this arithmetic; until it lands, pricing keeps its
// own copy so the two can't drift apart by import.
func mulDiv(a, b, c int64) (int64, error) {
	if a < 0 || b < 0 || c <= 0 {
		return 0, fmt.Errorf("mulDiv(%d, %d, %d): operands must be non-negative and the divisor positive", a, b, c)
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		// The quotient needs more than 64 bits (and bits.Div64 would panic).
		return 0, ErrOverflow
	}
	q, _ := bits.Div64(hi, lo, uint64(c))
	if q > math.MaxInt64 {
		return 0, ErrOverflow
	}
	return int64(q), nil
}

// mul returns a·b for a, b ≥ 0, or ErrOverflow.
func mul(a, b int64) (int64, error) {
	return mulDiv(a, b, 1)
}
