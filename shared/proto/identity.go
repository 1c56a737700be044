package proto

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
)

// Sizes of the identity's parts on the wire.
const (
	NonceSize     = 32
	SignatureSize = ed25519.SignatureSize
	PublicKeySize = ed25519.PublicKeySize
)

// Domain-separation prefixes: a signature made for one purpose can never be
// replayed for another.
const (
	authContext = "idlegrid/auth/v1\n"
	pairContext = "idlegrid/pair/v1\n"
)

// NewNonce returns a fresh random challenge.
func NewNonce() ([]byte, error) {
	n := make([]byte, NonceSize)
	if _, err := rand.Read(n); err != nil {
		return nil, fmt.Errorf("reading random nonce: %w", err)
	}
	return n, nil
}

func authMessage(nonce []byte, deviceID string) []byte {
	m := make([]byte, 0, len(authContext)+len(nonce)+1+len(deviceID))
	m = append(m, authContext...)
	m = append(m, nonce...)
	m = append(m, '\n')
	return append(m, deviceID...)
}

// SignAuth signs the server's nonce for deviceID.
func SignAuth(key ed25519.PrivateKey, nonce []byte, deviceID string) []byte {
	return ed25519.Sign(key, authMessage(nonce, deviceID))
}

// VerifyAuth checks a SignAuth signature.
func VerifyAuth(pub ed25519.PublicKey, nonce []byte, deviceID string, sig []byte) bool {
	return len(pub) == PublicKeySize && ed25519.Verify(pub, authMessage(nonce, deviceID), sig)
}

// SignPairing proves, when pairing, that the agent holds the key it presents:
// it signs the pairing secret (a code or an enrollment token).
func SignPairing(key ed25519.PrivateKey, secret string) []byte {
	return ed25519.Sign(key, append([]byte(pairContext), secret...))
}

// VerifyPairing checks a SignPairing signature.
func VerifyPairing(pub ed25519.PublicKey, secret string, sig []byte) bool {
	return len(pub) == PublicKeySize && ed25519.Verify(pub, append([]byte(pairContext), secret...), sig)
}

// VersionError is a protocol mismatch between agent and server, in words.
type VersionError struct {
	Agent                int
	ServerMin, ServerMax int
}

func (e *VersionError) Error() string {
	if e.Agent < e.ServerMin {
		return fmt.Sprintf("this agent speaks protocol %d but the server needs %d or newer: update Idlegrid", e.Agent, e.ServerMin)
	}
	return fmt.Sprintf("this agent speaks protocol %d but the server only knows up to %d: the server must be updated (or use an older agent)", e.Agent, e.ServerMax)
}

// CheckVersion returns a *VersionError when agent is outside min..max.
func CheckVersion(agent, min, max int) error {
	if agent < min || agent > max {
		return &VersionError{Agent: agent, ServerMin: min, ServerMax: max}
	}
	return nil
}

// ErrPublicKey is returned for a key that is not an ed25519 public key.
var ErrPublicKey = errors.New("public key must be 32 bytes of ed25519")
