package wallet

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	good := EncodeBase58(pub)
	// A PDA-like 32-byte value that is not a curve point: y = 2 has no x.
	offCurve := make([]byte, 32)
	offCurve[0] = 2
	cases := []struct {
		name, in, says string
	}{
		{"empty", "  ", "empty"},
		{"too short", "abc", "32 to 44 characters"},
		{"zero is not base58", "0" + good[1:], "not base58"},
		{"seed phrase", "abandon ability able about above absent absorb abstract absurd abuse access accident", "seed phrase"},
		{"keypair in base58", EncodeBase58(priv), "private key"},
		{"keypair as JSON", "[12,34,56]", "private key"},
		{"off the curve", EncodeBase58(offCurve), "not a wallet's public key"},
		{"31 bytes", EncodeBase58(pub[:31]), "decodes to 31 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Parse(%q) = %v, want an error saying %q", tc.in, err, tc.says)
			}
		})
	}
	for _, in := range []string{good, " " + good + "\n"} {
		if a, err := Parse(in); err != nil || string(a) != strings.TrimSpace(in) {
			t.Errorf("Parse(%q) = %q, %v; want it accepted", in, a, err)
		}
	}
}

func TestBase58RoundTrip(t *testing.T) {
	for _, b := range [][]byte{{0, 0, 1}, {255}, make([]byte, 32)} {
		got, err := decodeBase58(EncodeBase58(b))
		if err != nil || string(got) != string(b) {
			t.Errorf("round trip of %v gave %v, %v", b, got, err)
		}
	}
}
