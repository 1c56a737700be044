package money

import (
	"errors"
	"math/big"
	"strings"
	"testing"
)

// The seed corpus lives in testdata/fuzz; these targets run on it as plain
// tests, and with -fuzz they search for inputs that break the properties.

func FuzzParseUSD(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseUSD(s)
		if err != nil {
			if !errors.Is(err, ErrAmount) {
				t.Fatalf("ParseUSD(%q) error %q does not wrap ErrAmount", s, err)
			}
			return
		}
		for _, text := range []string{m.String(), m.USD()} {
			back, err := ParseUSD(text)
			if err != nil || back != m {
				t.Fatalf("ParseUSD(%q) = %d, but its printed form %q parses to %d, %v", s, int64(m), text, int64(back), err)
			}
		}
		// Whatever was accepted must mean what it says in decimal: compare
		// with an exact rational reading of the same digits.
		plain := strings.Replace(strings.TrimSpace(s), "$", "", 1)
		want, ok := new(big.Rat).SetString(plain)
		if !ok {
			t.Fatalf("ParseUSD accepted %q, which is not a decimal number", s)
		}
		want.Mul(want, big.NewRat(int64(PerUSD), 1))
		if !want.IsInt() || want.Num().Cmp(big.NewInt(int64(m))) != 0 {
			t.Fatalf("ParseUSD(%q) = %d micros, but the text is worth %s micros", s, int64(m), want.RatString())
		}
	})
}

func FuzzParseToken(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string, decimals uint8) {
		tok, err := ParseToken(s, decimals)
		if err != nil {
			if !errors.Is(err, ErrAmount) {
				t.Fatalf("ParseToken(%q, %d) error %q does not wrap ErrAmount", s, decimals, err)
			}
			return
		}
		if tok.Decimals != decimals {
			t.Fatalf("ParseToken(%q, %d) has %d decimals", s, decimals, tok.Decimals)
		}
		text := tok.String()
		back, err := ParseToken(text, decimals)
		if err != nil || back != tok {
			t.Fatalf("ParseToken(%q, %d) = %+v, but its printed form %q parses to %+v, %v", s, decimals, tok, text, back, err)
		}
		if want, _ := new(big.Rat).SetString(strings.TrimSpace(s)); want == nil ||
			new(big.Rat).SetFrac(new(big.Int).SetUint64(tok.Base), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimals)), nil)).Cmp(want) != 0 {
			t.Fatalf("ParseToken(%q, %d) = %s, which is not the value written", s, decimals, text)
		}
	})
}
