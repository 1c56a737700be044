package account

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/proto"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newService(t *testing.T) (*Service, *clock) {
	t.Helper()
	st, err := store.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	return &Service{Store: st, Now: c.now}, c
}

func TestPasswordHashRoundTripAndFormat(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not PHC argon2id with the expected parameters", h)
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		ok, err := CheckPassword(h, pw)
		if err != nil || ok != want {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
	if _, err := CheckPassword("$2y$10$bcrypt", "x"); err == nil {
		t.Fatal("a non-argon2id hash was accepted")
	}
}

func TestSignUpAndSignIn(t *testing.T) {
	s, _ := newService(t)
	ctx := t.Context()
	if _, err := s.SignUp(ctx, "Gamer@Example.com", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, email, pw string
		kind            error
	}{
		{"duplicate email in another case", "gamer@example.COM", "another long password", problem.ErrConflict},
		{"not an email", "gamer", "correct horse battery", problem.ErrInvalid},
		{"short password", "new@example.com", "short", problem.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.SignUp(ctx, tc.email, tc.pw)
			var pe *problem.Error
			if !errors.Is(err, tc.kind) || !errors.As(err, &pe) || pe.Message == "" {
				t.Fatalf("SignUp = %v, want a worded %v", err, tc.kind)
			}
		})
	}
	tok, u, err := s.SignIn(ctx, "gamer@example.com", "correct horse battery")
	if err != nil || u.Email != "gamer@example.com" || !strings.HasPrefix(tok, SessionPrefix) {
		t.Fatalf("SignIn = %q, %+v, %v", tok, u, err)
	}
	if got, err := s.Authenticate(ctx, tok); err != nil || got.ID != u.ID {
		t.Fatalf("Authenticate(session) = %+v, %v", got, err)
	}
	if _, _, err := s.SignIn(ctx, "gamer@example.com", "wrong password!"); !errors.Is(err, problem.ErrUnauthorized) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, _, err := s.SignIn(ctx, "nobody@example.com", "wrong password!"); !errors.Is(err, problem.ErrUnauthorized) {
		t.Fatalf("unknown email: %v", err)
	}
	if err := s.SignOut(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, tok); !errors.Is(err, problem.ErrUnauthorized) {
		t.Fatalf("session after sign-out: %v", err)
	}
}

func TestAPIKeysAreHashedShownOnceAndRevocable(t *testing.T) {
	s, _ := newService(t)
	ctx := t.Context()
	u, _ := s.SignUp(ctx, "dev@example.com", "correct horse battery")
	key, k, err := s.CreateAPIKey(ctx, u.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, APIKeyPrefix) || len(key) != len(APIKeyPrefix)+43 || !strings.HasPrefix(key, k.Prefix) {
		t.Fatalf("key %q (prefix %q): want igk_ + 256 bits base64url and a readable prefix", key, k.Prefix)
	}
	var stored []byte
	if err := s.Store.Reader().QueryRowContext(ctx, `SELECT key_hash FROM api_keys WHERE id = ?`, k.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if string(stored) != string(Hash(key)) || strings.Contains(string(stored), key) {
		t.Fatal("the key is not stored as its SHA-256")
	}
	if got, err := s.Authenticate(ctx, key); err != nil || got.ID != u.ID {
		t.Fatalf("Authenticate(key) = %v", err)
	}
	other, _ := s.SignUp(ctx, "other@example.com", "correct horse battery")
	if err := s.RevokeAPIKey(ctx, other.ID, k.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another account revoking the key: %v, want not found", err)
	}
	if err := s.RevokeAPIKey(ctx, u.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, key); !errors.Is(err, problem.ErrUnauthorized) {
		t.Fatalf("revoked key: %v", err)
	}
}

func newKey(t *testing.T) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pairWithCode(s *Service, key ed25519.PrivateKey, code string) (store.Device, error) {
	canon, _ := NormalizePairingCode(code)
	return s.Pair(context.Background(), PairRequest{Code: code, PublicKey: key.Public().(ed25519.PublicKey), Signature: proto.SignPairing(key, canon), Name: "rig"})
}

func TestPairingCodeIsSingleUseAndExpires(t *testing.T) {
	s, clk := newService(t)
	ctx := t.Context()
	u, _ := s.SignUp(ctx, "gamer@example.com", "correct horse battery")

	code, exp, err := s.CreatePairingCode(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if exp.Sub(clk.t) != 10*time.Minute {
		t.Fatalf("code expires after %v, want 10m", exp.Sub(clk.t))
	}
	d, err := pairWithCode(s, newKey(t), strings.ToLower(strings.ReplaceAll(code, "-", " ")))
	if err != nil || d.UserID != u.ID {
		t.Fatalf("pairing with a typed-in code: %+v, %v", d, err)
	}
	if _, err := pairWithCode(s, newKey(t), code); !errors.Is(err, problem.ErrGone) || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("reusing a code: %v, want gone/already used", err)
	}

	late, _, _ := s.CreatePairingCode(ctx, u.ID)
	clk.t = clk.t.Add(10*time.Minute + time.Second)
	if _, err := pairWithCode(s, newKey(t), late); !errors.Is(err, problem.ErrGone) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired code: %v, want gone/expired", err)
	}
	if _, err := pairWithCode(s, newKey(t), "ABCD-EFGH"); !errors.Is(err, problem.ErrNotFound) {
		t.Fatalf("unknown code: %v", err)
	}
	if _, err := pairWithCode(s, newKey(t), "nope"); !errors.Is(err, problem.ErrInvalid) {
		t.Fatalf("malformed code: %v", err)
	}
}

func TestPairingRequiresProofOfKeyAndOneKeyPerDevice(t *testing.T) {
	s, _ := newService(t)
	ctx := t.Context()
	u, _ := s.SignUp(ctx, "gamer@example.com", "correct horse battery")
	code, _, _ := s.CreatePairingCode(ctx, u.ID)
	key, thief := newKey(t), newKey(t)
	_, err := s.Pair(ctx, PairRequest{Code: code, PublicKey: key.Public().(ed25519.PublicKey), Signature: proto.SignPairing(thief, code)})
	if !errors.Is(err, problem.ErrUnauthorized) {
		t.Fatalf("signature by another key: %v", err)
	}
	// The failed try did not burn the code.
	if _, err := pairWithCode(s, key, code); err != nil {
		t.Fatalf("pairing after a refused try: %v", err)
	}
	code2, _, _ := s.CreatePairingCode(ctx, u.ID)
	if _, err := pairWithCode(s, key, code2); !errors.Is(err, problem.ErrConflict) {
		t.Fatalf("pairing the same key twice: %v", err)
	}
	// The conflict rolled back: code2 is still unused.
	if _, err := pairWithCode(s, newKey(t), code2); err != nil {
		t.Fatalf("code2 after the rolled-back conflict: %v", err)
	}
}

func TestEnrollmentTokenEnrollsManyRigsUntilExpiredOrRevoked(t *testing.T) {
	s, clk := newService(t)
	ctx := t.Context()
	u, _ := s.SignUp(ctx, "farm@example.com", "correct horse battery")
	tok, et, err := s.CreateEnrollmentToken(ctx, u.ID, "rack 1", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	enroll := func(tok string) error {
		k := newKey(t)
		_, err := s.Pair(ctx, PairRequest{EnrollToken: tok, PublicKey: k.Public().(ed25519.PublicKey), Signature: proto.SignPairing(k, tok)})
		return err
	}
	for i := range 5 {
		if err := enroll(tok); err != nil {
			t.Fatalf("rig %d: %v", i, err)
		}
	}
	toks, _ := store.ListEnrollmentTokens(ctx, s.Store.Reader(), u.ID)
	if len(toks) != 1 || toks[0].Uses != 5 {
		t.Fatalf("tokens = %+v, want one used 5 times", toks)
	}
	clk.t = clk.t.Add(2*time.Hour + time.Second)
	if err := enroll(tok); !errors.Is(err, problem.ErrGone) {
		t.Fatalf("expired token: %v", err)
	}
	tok2, et2, _ := s.CreateEnrollmentToken(ctx, u.ID, "rack 2", 0)
	if et2.ExpiresAt.Sub(clk.t) != DefaultEnrollTTL || et.ID == et2.ID {
		t.Fatalf("default lifetime %v, want %v", et2.ExpiresAt.Sub(clk.t), DefaultEnrollTTL)
	}
	if err := s.RevokeEnrollmentToken(ctx, u.ID, et2.ID); err != nil {
		t.Fatal(err)
	}
	if err := enroll(tok2); !errors.Is(err, problem.ErrGone) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked token: %v", err)
	}
	if _, _, err := s.CreateEnrollmentToken(ctx, u.ID, "x", 400*24*time.Hour); !errors.Is(err, problem.ErrInvalid) {
		t.Fatalf("token valid 400 days: %v, want invalid", err)
	}
}

func TestPairingCodesAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c, err := newPairingCode()
		if err != nil {
			t.Fatal(err)
		}
		canon, ok := NormalizePairingCode(c)
		if !ok || canon != c || len(c) != 9 || c[4] != '-' {
			t.Fatalf("code %q is not canonical XXXX-XXXX", c)
		}
		seen[c] = true
	}
	if len(seen) < 199 {
		t.Fatalf("only %d distinct codes in 200", len(seen))
	}
	for _, bad := range []string{"", "ABCD-EFG", "ABCD-EFGHJ", "ABCD-EFG0", "ÄBCD-EFGH"} {
		if _, ok := NormalizePairingCode(bad); ok {
			t.Errorf("NormalizePairingCode(%q) accepted it", bad)
		}
	}
}
