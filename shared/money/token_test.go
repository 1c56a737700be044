package money

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

func TestParseTokenAccepts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       string
		decimals uint8
		want     uint64
	}{
		{"USDC one and a half", "1.5", 6, 1_500_000},
		{"USDC smallest unit", "0.000001", 6, 1},
		{"USDC as printed", "1.500000", 6, 1_500_000},
		{"nine decimals", "2.000000001", 9, 2_000_000_001},
		{"whole number with decimals", "3", 9, 3_000_000_000},
		{"no decimals", "42", 0, 42},
		{"eighteen decimals", "1.000000000000000001", 18, 1_000_000_000_000_000_001},
		{"largest with no decimals", "18446744073709551615", 0, math.MaxUint64},
		{"largest with eighteen decimals", "18.446744073709551615", 18, math.MaxUint64},
		{"zero", "0", 6, 0},
		{"surrounding spaces", " 1.5\t", 6, 1_500_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseToken(tc.in, tc.decimals)
			if err != nil {
				t.Fatalf("ParseToken(%q, %d) failed: %v", tc.in, tc.decimals, err)
			}
			if want := (Token{Base: tc.want, Decimals: tc.decimals}); got != want {
				t.Fatalf("ParseToken(%q, %d) = %+v, want %+v", tc.in, tc.decimals, got, want)
			}
		})
	}
}

func TestParseTokenRejects(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       string
		decimals uint8
		words    string
	}{
		{"empty", "", 6, "is empty"},
		{"negative", "-1", 6, "is negative"},
		{"negative zero", "-0", 6, "is negative"},
		{"plus sign", "+1", 6, "plus sign"},
		{"dollar sign", "$1", 6, `contains "$"`},
		{"too many decimals", "1.1234567", 6, `"1.1234567" has more than 6 decimal places; this token's smallest unit is 0.000001`},
		{"decimals on a whole token", "1.5", 0, "has decimal places, but this token has no decimals"},
		{"even a zero decimal on a whole token", "1.0", 0, "no decimals"},
		{"overflow", "18446744073709551616", 0, "out of range; a token amount holds at most 18446744073709551615"},
		{"overflow with decimals", "18.446744073709551616", 18, "at most 18.446744073709551615"},
		{"more decimals than supported", "1", 19, "at most 18"},
		{"nothing before the point", ".5", 6, `write "0.5"`},
		{"nothing after the point", "1.", 6, `write "1"`},
		{"exponent", "1e9", 9, "exponent notation"},
		{"separator", "1,000", 6, "comma"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseToken(tc.in, tc.decimals)
			if err == nil {
				t.Fatalf("ParseToken(%q, %d) = %+v, want an error", tc.in, tc.decimals, got)
			}
			if !errors.Is(err, ErrAmount) {
				t.Errorf("ParseToken(%q, %d) error %q does not wrap ErrAmount", tc.in, tc.decimals, err)
			}
			if !strings.Contains(err.Error(), tc.words) {
				t.Errorf("ParseToken(%q, %d) error %q does not say %q", tc.in, tc.decimals, err, tc.words)
			}
		})
	}
}

func TestTokenString(t *testing.T) {
	for _, tc := range []struct {
		name string
		tok  Token
		want string
	}{
		{"USDC", Token{1_500_000, 6}, "1.500000"},
		{"USDC smallest unit", Token{1, 6}, "0.000001"},
		{"zero with decimals", Token{0, 9}, "0.000000000"},
		{"no decimals", Token{7, 0}, "7"},
		{"zero without decimals", Token{0, 0}, "0"},
		{"largest, eighteen decimals", Token{math.MaxUint64, 18}, "18.446744073709551615"},
		{"more places than digits", Token{5, 20}, "0.00000000000000000005"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.tok.String(); got != tc.want {
				t.Fatalf("%+v.String() = %q, want %q", tc.tok, got, tc.want)
			}
		})
	}
}

func TestTokenRoundTrips(t *testing.T) {
	r := rng()
	bases := []uint64{0, 1, 9, 10, 999_999, 1_000_000, 1_000_001, math.MaxInt64, math.MaxUint64, math.MaxUint64 - 1}
	for range 5_000 {
		bases = append(bases, r.Uint64()>>r.UintN(64))
	}
	for _, decimals := range []uint8{0, 6, 9, 18} {
		for _, base := range bases {
			tok := Token{Base: base, Decimals: decimals}
			got, err := ParseToken(tok.String(), decimals)
			if err != nil {
				t.Fatalf("ParseToken(%q, %d), printed from %+v, failed: %v", tok.String(), decimals, tok, err)
			}
			if got != tok {
				t.Fatalf("ParseToken(%q, %d) = %+v, want %+v", tok.String(), decimals, got, tok)
			}
		}
	}
}

func TestToToken(t *testing.T) {
	for _, tc := range []struct {
		name      string
		m, rate   Micros
		decimals  uint8
		base      uint64
		remainder Micros
	}{
		{"USD stablecoin 1:1", 1_234_567, PerUSD, 6, 1_234_567, 0},
		{"USD stablecoin with nine decimals", 1_234_567, PerUSD, 9, 1_234_567_000, 0},
		{"nothing owed", 0, PerUSD, 6, 0, 0},
		{"two dollars per token", 3 * PerUSD, 2 * PerUSD, 6, 1_500_000, 0},
		// 10 micros at 3 micros per whole token: 3 whole tokens are worth 9
		// micros, leaving 1 micro as credit.
		{"whole tokens leave a remainder", 10, 3, 0, 3, 1},
		// With 6 decimals 3_333_333 base units are worth 9.999999 micros,
		// so no whole micro is left over and the 0.000001 is given up.
		{"fractional micro is given up", 10, 3, 6, 3_333_333, 0},
		// 1 micro at $150 per token buys 6 base units of a 9-decimal token
		// (0.9 micros worth); nothing whole remains.
		{"cheap amount of an expensive token", 1, 150 * PerUSD, 9, 6, 0},
		{"less than one base unit stays as credit", 100, 150 * PerUSD, 0, 0, 100},
		{"largest balance at a stablecoin", math.MaxInt64, PerUSD, 6, math.MaxInt64, 0},
		{"largest balance, odd price", math.MaxInt64, 7, 0, math.MaxInt64 / 7, math.MaxInt64 % 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, rem, err := ToToken(tc.m, tc.rate, tc.decimals)
			if err != nil {
				t.Fatalf("ToToken(%s, %s, %d) failed: %v", tc.m, tc.rate, tc.decimals, err)
			}
			if base != tc.base || rem != tc.remainder {
				t.Fatalf("ToToken(%s, %s, %d) = %d base units, %s left; want %d, %s", tc.m, tc.rate, tc.decimals, base, rem, tc.base, tc.remainder)
			}
			checkToToken(t, tc.m, tc.rate, tc.decimals, base, rem)
		})
	}
}

// checkToToken asserts the contract of ToToken against math/big: the tokens
// plus the remainder are worth no more than m (the treasury never overpays),
// less than one micro short of it (nothing real is lost), and one more base
// unit would have been worth more than m (the payout is as large as it can
// be).
func checkToToken(t testing.TB, m, rate Micros, decimals uint8, base uint64, rem Micros) {
	t.Helper()
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimals)), nil)
	owed := new(big.Int).Mul(big.NewInt(int64(m)), scale) // in micros·10^d
	paid := new(big.Int).Mul(new(big.Int).SetUint64(base), big.NewInt(int64(rate)))
	kept := new(big.Int).Mul(big.NewInt(int64(rem)), scale)
	total := new(big.Int).Add(paid, kept)
	if rem < 0 || total.Cmp(owed) > 0 {
		t.Fatalf("ToToken(%s, %s, %d) = %d, %s: worth more than owed", m, rate, decimals, base, rem)
	}
	if short := new(big.Int).Sub(owed, total); short.Cmp(scale) >= 0 {
		t.Fatalf("ToToken(%s, %s, %d) = %d, %s: a whole micro or more went missing", m, rate, decimals, base, rem)
	}
	if next := new(big.Int).Add(paid, big.NewInt(int64(rate))); next.Cmp(owed) <= 0 {
		t.Fatalf("ToToken(%s, %s, %d) = %d: one more base unit would still be owed", m, rate, decimals, base)
	}
	// The form in which the remainder is checked by hand: the value of the
	// tokens, rounded up to whole micros, plus the remainder is m.
	ceil := new(big.Int).Add(paid, new(big.Int).Sub(scale, big.NewInt(1)))
	ceil.Div(ceil, scale)
	if got := ceil.Int64() + int64(rem); got != int64(m) {
		t.Fatalf("ToToken(%s, %s, %d): ceil(%d·%d/10^%d) + %d = %d, want %d", m, rate, decimals, base, rate, decimals, rem, got, m)
	}
}

func TestToTokenProperty(t *testing.T) {
	r := rng()
	rates := []Micros{1, 3, 7, 999_999, PerUSD, PerUSD + 1, 123_457, 150 * PerUSD, 150*PerUSD + 1, math.MaxInt64}
	for i := range 20_000 {
		m := Micros(randInt64(r) & math.MaxInt64)
		rate := rates[i%len(rates)]
		if i%2 == 1 {
			rate = Micros(randInt64(r)&math.MaxInt64) | 1
		}
		decimals := []uint8{0, 6, 9, 18}[i%4]
		base, rem, err := ToToken(m, rate, decimals)
		if err != nil {
			// Only a payout too large for a uint64 may fail.
			limit := new(big.Int).Lsh(big.NewInt(int64(rate)), 64) // owed/rate must stay below 2^64
			owed := new(big.Int).Mul(big.NewInt(int64(m)), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimals)), nil))
			if owed.Cmp(limit) < 0 || !errors.Is(err, ErrAmount) {
				t.Fatalf("ToToken(%s, %s, %d) failed: %v", m, rate, decimals, err)
			}
			continue
		}
		checkToToken(t, m, rate, decimals, base, rem)
	}
}

func TestToTokenRejects(t *testing.T) {
	for _, tc := range []struct {
		name     string
		m, rate  Micros
		decimals uint8
		words    string
	}{
		{"negative balance", -1, PerUSD, 6, "negative amount"},
		{"zero price", PerUSD, 0, 6, "not positive"},
		{"negative price", PerUSD, -PerUSD, 6, "-$1.00 per token is not positive"},
		{"too many decimals", PerUSD, PerUSD, 19, "at most 18"},
		{"too many base units", math.MaxInt64, 1, 18, "more than 18.446744073709551615"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ToToken(tc.m, tc.rate, tc.decimals)
			if !errors.Is(err, ErrAmount) || !strings.Contains(err.Error(), tc.words) {
				t.Fatalf("ToToken(%s, %s, %d) error = %v, want ErrAmount saying %q", tc.m, tc.rate, tc.decimals, err, tc.words)
			}
		})
	}
}
