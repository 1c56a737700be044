package wallet

import "testing"

// Parse takes anything typed into a wallet field: it never panics, and an
// accepted address is canonical (the same text parses to itself).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"11111111111111111111111111111111", "  4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T ", "0OIl", "", "abc", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			return
		}
		b, err := Parse(string(a))
		if err != nil || b != a {
			t.Fatalf("accepted %q as %q, which does not parse to itself: %q %v", s, a, b, err)
		}
	})
}
