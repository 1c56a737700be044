// Package account holds the control plane's account logic: passwords
// (argon2id), console sessions, API keys, and pairing devices to accounts by
// single-use codes or reusable farm enrollment tokens. Secrets are random,
// shown once, and stored only as SHA-256.
package account

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's 2023 minimum (19 MiB, 2 passes, 1 lane).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

// HashPassword returns a PHC-format argon2id hash.
func HashPassword(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("reading salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("unrecognised password hash")

// CheckPassword reports whether password matches a HashPassword hash, using
// the parameters recorded in the hash so they can be raised later.
func CheckPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	var mem, iters uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iters, &threads); err != nil {
		return false, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, iters, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// Hash is how every secret is stored: SHA-256 of its full text.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// randomToken returns prefix + 256 random bits in unpadded base64url.
func randomToken(prefix string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("reading random token: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// Token prefixes say what a secret is when one turns up in a log or a paste.
const (
	APIKeyPrefix     = "igk_"
	EnrollPrefix     = "ige_"
	SessionPrefix    = "igs_"
	displayPrefixLen = 12
)

// displayPrefix is the readable start of a secret, safe to show in lists.
func displayPrefix(token string) string { return token[:displayPrefixLen] }

// newID returns a short random id with a type prefix, e.g. "dev_3f9a…".
func newID(prefix string) string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("reading random id: %v", err)) // crypto/rand never fails on supported systems
	}
	return prefix + strings.ToLower(base32NoPad.EncodeToString(b))
}

// pairingAlphabet has no look-alikes (no 0/O, 1/I/L, U/V).
const pairingAlphabet = "ABCDEFGHJKMNPQRSTWXYZ23456789"

// PairingCodeLen is the number of symbols in a pairing code (~39 bits; a code
// lives 10 minutes, is single use, and the pairing endpoint is rate limited).
const PairingCodeLen = 8

// newPairingCode returns a code like "K7QM-3XRT".
func newPairingCode() (string, error) {
	var b [PairingCodeLen]byte
	out := make([]byte, 0, PairingCodeLen+1)
	for i := range b {
		// Rejection sampling keeps the symbols uniform.
		for {
			if _, err := rand.Read(b[i : i+1]); err != nil {
				return "", fmt.Errorf("reading random code: %w", err)
			}
			if int(b[i]) < 256-256%len(pairingAlphabet) {
				break
			}
		}
		if i == PairingCodeLen/2 {
			out = append(out, '-')
		}
		out = append(out, pairingAlphabet[int(b[i])%len(pairingAlphabet)])
	}
	return string(out), nil
}

// NormalizePairingCode accepts what a person types: any case, spaces or
// dashes anywhere. It returns the canonical "XXXX-XXXX" or ok=false.
func NormalizePairingCode(s string) (string, bool) {
	var sym []byte
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r < 128 && strings.IndexByte(pairingAlphabet, byte(r)) >= 0:
			sym = append(sym, byte(r))
		default:
			return "", false
		}
	}
	if len(sym) != PairingCodeLen {
		return "", false
	}
	return string(sym[:PairingCodeLen/2]) + "-" + string(sym[PairingCodeLen/2:]), true
}

var base32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)
