// Package wallet validates the Solana wallet address a supplier is paid to.
// Only public addresses are ever handled: never a private key or seed
// phrase.
package wallet

import (
	"errors"
	"fmt"
	"math/big"
	"strings"

	"filippo.io/edwards25519"
)

// Address is a validated Solana wallet address (base58 of a 32-byte ed25519
// public key).
type Address string

const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("not a Solana wallet address")

// Parse checks s and returns it as an Address. The error says what is wrong
// in words a supplier can act on.
func Parse(s string) (Address, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", fmt.Errorf("%w: it is empty", ErrInvalid)
	case looksLikeSecret(s):
		return "", fmt.Errorf("%w: this looks like a private key or seed phrase. Never share those: paste your wallet's public address instead", ErrInvalid)
	case len(s) < 32 || len(s) > 44:
		return "", fmt.Errorf("%w: a Solana address is 32 to 44 characters long, this one has %d", ErrInvalid, len(s))
	}
	b, err := decodeBase58(s)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(b) != 32 {
		return "", fmt.Errorf("%w: it decodes to %d bytes, a wallet address is 32", ErrInvalid, len(b))
	}
	// A wallet's address is an ed25519 public key, a point on the curve.
	// Program-derived addresses are deliberately off the curve: no one holds
	// their key, so tokens sent there could not be spent by the supplier.
	if _, err := new(edwards25519.Point).SetBytes(b); err != nil {
		return "", fmt.Errorf("%w: it is not a wallet's public key (it may be a program or token account address): copy the address from your wallet app", ErrInvalid)
	}
	return Address(s), nil
}

// looksLikeSecret spots the shapes of secrets people paste by mistake: a
// 12/24-word seed phrase, or a 64-byte keypair in base58 or as a JSON array.
func looksLikeSecret(s string) bool {
	if n := len(strings.Fields(s)); n >= 12 {
		return true
	}
	if strings.HasPrefix(s, "[") {
		return true
	}
	return len(s) >= 80 && len(s) <= 90
}

func decodeBase58(s string) ([]byte, error) {
	n := new(big.Int)
	radix := big.NewInt(58)
	for i, r := range s {
		idx := strings.IndexRune(alphabet, r)
		if idx < 0 {
			return nil, fmt.Errorf("character %q at position %d is not base58 (0, O, I and l are never used)", r, i+1)
		}
		n.Mul(n, radix)
		n.Add(n, big.NewInt(int64(idx)))
	}
	b := n.Bytes()
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	return append(make([]byte, zeros), b...), nil
}

// EncodeBase58 encodes b in Solana's base58 alphabet (tests and display).
func EncodeBase58(b []byte) string {
	n := new(big.Int).SetBytes(b)
	radix := big.NewInt(58)
	mod := new(big.Int)
	var out []byte
	for n.Sign() > 0 {
		n.DivMod(n, radix, mod)
		out = append(out, alphabet[mod.Int64()])
	}
	for _, c := range b {
		if c != 0 {
			break
		}
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}
