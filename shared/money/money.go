// Package money holds Idlegrid's two kinds of amount as integers: credits,
// counted in micro-USD (Micros), which requesters pay with, and SPL token
// amounts, counted in base units (Token), which suppliers are paid in. No
// float ever touches a balance: a float cannot hold 0.1 exactly, and its
// rounding errors would let balances drift a millionth at a time. The API
// does not accept floats at all, so there is no tempting shortcut.
//
// Every conversion that cannot be exact says which way it rounds: fees round
// down in the supplier's favour (Split) and payouts round down so the
// treasury never pays more than is owed (ToToken).
//
// On the wire an amount is a JSON number holding the integer count of micros
// (or of token base units), never a decimal string or a float. That is why
// Micros has no MarshalJSON/UnmarshalJSON: encoding/json already writes an
// int64 as an integer, and a custom encoding would make the wire ambiguous.
// Clients that read JSON numbers as float64 (JavaScript) are exact only up to
// 2^53 micros, about nine billion dollars.
package money

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Micros is an amount of credits in micro-USD (a USD-pegged credit, like
// io.net's IOSD): 1 USD = 1_000_000. It may be negative, for refunds and
// corrections; balances that must not go below zero are checked by callers.
type Micros int64

// PerUSD is the number of Micros in one US dollar.
const PerUSD Micros = 1_000_000

// usdPlaces is the number of decimal places a Micros amount has in dollars.
const usdPlaces = 6

// usdRange tells a user who typed too large an amount what the bounds are.
var usdRange = fmt.Sprintf("credits must lie between %s and %s", Micros(math.MinInt64), Micros(math.MaxInt64))

// ErrAmount is wrapped by every error from this package, so callers can map
// a bad amount to one response (a 400, a form error) whatever went wrong.
var ErrAmount = errors.New("invalid amount")

// ParseUSD reads a dollar amount typed by a person or written in a config
// file and returns it in micros. The accepted form is
//
//	[-][$]digits[.digits]
//
// with at most 6 decimal places and surrounding white space ignored: "12",
// "12.5", "12.345678", "$12.34", "-3.5", "-$3.50", " 7 ". Everything String
// and USD print is accepted.
//
// Deliberately rejected, each with an error saying what is wrong and, where
// there is an obvious fix, what to write instead:
//   - ".5" and "1.": a digit must stand on both sides of the point. "1." is
//     as likely a truncated "1.5" as it is "1", and money input should not
//     guess; the fix ("0.5", "1") costs the user one key.
//   - more than 6 decimal places, even trailing zeros: credits are counted
//     in millionths, and a seventh digit means the writer had another unit
//     in mind.
//   - a leading "+", "$-3.50", exponents ("1e3"), separators ("1,000"),
//     "NaN", "Inf", and digits other than ASCII 0-9: each has a reading that
//     is not the one the writer meant, or none at all.
//   - amounts outside int64 micros (about ±9.2 trillion dollars).
func ParseUSD(s string) (Micros, error) {
	body := strings.TrimSpace(s)
	if body == "" {
		return 0, fmt.Errorf("%w: the amount is empty; write a dollar amount such as 12.50", ErrAmount)
	}
	neg := false
	switch body[0] {
	case '-':
		neg = true
		body = body[1:]
	case '+':
		return 0, fmt.Errorf("%w: %q starts with a plus sign; write positive amounts without a sign", ErrAmount, s)
	}
	body = strings.TrimPrefix(body, "$")
	if body != "" && (body[0] == '-' || body[0] == '+') {
		return 0, fmt.Errorf("%w: %q has a sign in the wrong place or more than one sign; write a negative amount as -3.50 or -$3.50", ErrAmount, s)
	}
	// int64 holds one more negative value than positive, so the magnitude
	// limit depends on the sign; math.MinInt64 micros must parse because
	// String can print it.
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	mag, err := parseScaled(s, body, usdPlaces, limit,
		"credits are counted in millionths of a dollar",
		usdRange)
	if err != nil {
		return 0, err
	}
	if neg {
		// Unsigned negation wraps, which turns a magnitude of 1<<63 into
		// math.MinInt64 instead of overflowing.
		return Micros(int64(-mag)), nil
	}
	return Micros(mag), nil
}

// String returns the amount in dollars as a plain decimal with as few
// decimal places as keep it exact, but at least two, the way people write
// money: "12.00", "0.000001", "-3.50". It never rounds, so ParseUSD reads
// back exactly the same amount for every value, math.MinInt64 included.
func (m Micros) String() string {
	neg, mag := m.split()
	out := formatScaled(mag, usdPlaces, 2)
	if neg {
		return "-" + out
	}
	return out
}

// USD returns the amount for display with a dollar sign: "$12.34",
// "-$3.50", "$0.000001". Like String it never rounds, because a displayed
// "$0.00" for a nonzero balance reads as a bug, and it adds no thousands
// separators so that what a user copies from the screen parses back.
func (m Micros) USD() string {
	neg, mag := m.split()
	out := "$" + formatScaled(mag, usdPlaces, 2)
	if neg {
		return "-" + out
	}
	return out
}

// split returns the sign and magnitude of m; the magnitude is unsigned so
// that math.MinInt64 has one.
func (m Micros) split() (neg bool, mag uint64) {
	mag = uint64(m)
	if m < 0 {
		return true, -mag
	}
	return false, mag
}

// Add returns a+b, or an error instead of silently wrapping around when the
// sum does not fit: a wrapped balance would turn a rich account into a debt.
func Add(a, b Micros) (Micros, error) {
	sum := a + b
	// Overflow happened exactly when both operands share a sign the sum
	// does not have.
	if (a >= 0) == (b >= 0) && (sum >= 0) != (a >= 0) {
		return 0, fmt.Errorf("%w: %s + %s is out of the range credits can hold", ErrAmount, a, b)
	}
	return sum, nil
}

// Sub returns a-b, or an error when the difference does not fit.
func Sub(a, b Micros) (Micros, error) {
	diff := a - b
	if (a >= 0) != (b >= 0) && (diff >= 0) != (a >= 0) {
		return 0, fmt.Errorf("%w: %s - %s is out of the range credits can hold", ErrAmount, a, b)
	}
	return diff, nil
}

// MulDiv returns floor(a*b/c) exactly, for applying rates and fees: a*b is
// kept in 128 bits, so no intermediate overflow and no float rounding.
// Floor rounds toward minus infinity, also for negative results
// (MulDiv(-7, 1, 2) is -4, not -3), so that rounding always goes the same
// way whatever the sign. c must be positive; an error is returned if it is
// not or if the result does not fit in an int64.
func MulDiv(a, b, c int64) (int64, error) {
	if c <= 0 {
		return 0, fmt.Errorf("%w: cannot divide by %d; the divisor of a rate must be positive", ErrAmount, c)
	}
	neg := (a < 0) != (b < 0)
	ua, ub := uint64(a), uint64(b)
	if a < 0 {
		ua = -ua
	}
	if b < 0 {
		ub = -ub
	}
	q, r, ok := mulDivU(ua, ub, uint64(c))
	if neg && ok && r != 0 {
		// The exact quotient is -(q + r/c); flooring it takes one more
		// step toward minus infinity whenever there is a remainder.
		q, ok = q+1, q != math.MaxUint64
	}
	// int64 reaches one further below zero than above it.
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	if !ok || q > limit {
		return 0, fmt.Errorf("%w: %d × %d ÷ %d does not fit in 64 bits", ErrAmount, a, b, c)
	}
	if neg {
		return int64(-q), nil
	}
	return int64(q), nil
}

// mulDivU returns the quotient and remainder of a*b/c with a 128-bit
// product; ok is false when the quotient needs more than 64 bits. c must
// not be zero.
func mulDivU(a, b, c uint64) (q, r uint64, ok bool) {
	hi, lo := bits.Mul64(a, b)
	// bits.Div64 panics unless hi < c, which is exactly the condition for
	// the quotient to fit in 64 bits.
	if hi >= c {
		return 0, 0, false
	}
	q, r = bits.Div64(hi, lo, c)
	return q, r, true
}

// Split divides a payment between the supplier and the platform fee, given
// in basis points (1/100 of a percent; 0..10000). The fee is
// floor(total*bp/10000): the fraction of a micro that cannot be split goes
// to the supplier, whose hardware did the work. supplier is total-fee, so
// supplier+fee == total exactly and no micro appears or vanishes.
// A negative total is an error: refunds are not split.
func Split(total Micros, feeBasisPoints int64) (supplier, fee Micros, err error) {
	if feeBasisPoints < 0 || feeBasisPoints > 10_000 {
		return 0, 0, fmt.Errorf("%w: fee of %d basis points is outside 0 to 10000 (0%% to 100%%)", ErrAmount, feeBasisPoints)
	}
	if total < 0 {
		return 0, 0, fmt.Errorf("%w: cannot split the negative amount %s; only payments are split, not refunds", ErrAmount, total)
	}
	// With 0 <= bp <= 10000 the fee is at most total, so MulDiv cannot
	// overflow and the error is unreachable; it is still checked so that a
	// future change to the bounds cannot turn into a silent wrong fee.
	f, err := MulDiv(int64(total), feeBasisPoints, 10_000)
	if err != nil {
		return 0, 0, fmt.Errorf("splitting %s: %w", total, err)
	}
	fee = Micros(f)
	return total - fee, fee, nil
}

// parseScaled reads body, which must be digits[.digits] with at most places
// decimal places, and returns its value times 10^places, which must not
// exceed limit. orig is the text as the user wrote it, quoted in errors;
// tooPrecise and tooLarge explain, in the caller's unit, why more decimal
// places or a larger value are refused.
func parseScaled(orig, body string, places int, limit uint64, tooPrecise, tooLarge string) (uint64, error) {
	dot := -1
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case '0' <= c && c <= '9':
			i++
			continue
		case c == '.' && dot < 0:
			dot = i
			i++
			continue
		case c == '.':
			return 0, fmt.Errorf("%w: %q has more than one decimal point", ErrAmount, orig)
		}
		return 0, badChar(orig, body[i:])
	}
	intPart, frac := body, ""
	if dot >= 0 {
		intPart, frac = body[:dot], body[dot+1:]
	}
	switch {
	case intPart == "" && frac == "":
		return 0, fmt.Errorf("%w: %q has no digits", ErrAmount, orig)
	case intPart == "":
		return 0, fmt.Errorf("%w: %q has no digits before the decimal point; write %q", ErrAmount, orig, "0."+frac)
	case dot >= 0 && frac == "":
		return 0, fmt.Errorf("%w: %q has no digits after the decimal point; write %q or add the missing digits", ErrAmount, orig, intPart)
	case len(frac) > places && places == 0:
		return 0, fmt.Errorf("%w: %q has decimal places, but %s", ErrAmount, orig, tooPrecise)
	case len(frac) > places:
		return 0, fmt.Errorf("%w: %q has more than %d decimal places; %s", ErrAmount, orig, places, tooPrecise)
	}
	var v uint64
	digits := intPart + frac + strings.Repeat("0", places-len(frac))
	for i := 0; i < len(digits); i++ {
		hi, lo := bits.Mul64(v, 10)
		sum, carry := bits.Add64(lo, uint64(digits[i]-'0'), 0)
		if hi != 0 || carry != 0 || sum > limit {
			return 0, fmt.Errorf("%w: %q is out of range; %s", ErrAmount, orig, tooLarge)
		}
		v = sum
	}
	return v, nil
}

// badChar explains why the first character of rest cannot be part of an
// amount, naming the likely intent where there is one.
func badChar(orig, rest string) error {
	r, size := utf8.DecodeRuneInString(rest)
	ch := rest[:size]
	switch {
	case r == ',':
		return fmt.Errorf("%w: %q contains a comma; use \".\" as the decimal point and no thousands separators, like 1000.50", ErrAmount, orig)
	case r == 'e' || r == 'E':
		return fmt.Errorf("%w: %q looks like exponent notation; write the amount out in plain digits", ErrAmount, orig)
	case r == '-' || r == '+':
		return fmt.Errorf("%w: %q has a sign in the middle", ErrAmount, orig)
	case unicode.IsSpace(r):
		return fmt.Errorf("%w: %q has a space inside the amount", ErrAmount, orig)
	case r != utf8.RuneError && unicode.IsDigit(r):
		return fmt.Errorf("%w: %q contains the digit %q, which is not one of the ASCII digits 0-9", ErrAmount, orig, ch)
	}
	return fmt.Errorf("%w: %q contains %q, which is not a digit 0-9", ErrAmount, orig, ch)
}

// formatScaled prints v/10^places as a decimal, keeping at least minPlaces
// decimal places and dropping trailing zeros beyond them; minPlaces ==
// places gives a fixed number of places.
func formatScaled(v uint64, places, minPlaces int) string {
	digits := strconv.FormatUint(v, 10)
	if len(digits) <= places {
		digits = strings.Repeat("0", places-len(digits)+1) + digits
	}
	intPart, frac := digits[:len(digits)-places], digits[len(digits)-places:]
	keep := len(strings.TrimRight(frac, "0"))
	frac = frac[:max(keep, minPlaces)]
	if frac == "" {
		return intPart
	}
	return intPart + "." + frac
}
