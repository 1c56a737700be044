package account

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// Lifetimes.
const (
	SessionTTL        = 14 * 24 * time.Hour
	PairingCodeTTL    = 10 * time.Minute
	MaxEnrollTokenTTL = 365 * 24 * time.Hour
	DefaultEnrollTTL  = 30 * 24 * time.Hour
)

// Service implements account operations over the store.
type Service struct {
	Store *store.Store
	Now   func() time.Time
}

// New returns a Service on the wall clock.
func New(s *store.Store) *Service { return &Service{Store: s, Now: time.Now} }

// NormalizeEmail validates an address and returns it lower-cased.
func NormalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 254 || !strings.Contains(email, "@") {
		return "", problem.Invalid("bad_email", "%q is not an email address like name@example.com", truncate(email, 80))
	}
	return strings.ToLower(email), nil
}

// Password rules: long enough to resist guessing, short enough to bound the
// hashing cost.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 256
)

func checkPassword(p string) error {
	n := utf8.RuneCountInString(p)
	if n < MinPasswordLen || len(p) > MaxPasswordLen {
		return problem.Invalid("bad_password", "the password must be %d to %d characters long", MinPasswordLen, MaxPasswordLen)
	}
	return nil
}

// SignUp creates an account.
func (s *Service) SignUp(ctx context.Context, email, password string) (store.User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return store.User{}, err
	}
	if err := checkPassword(password); err != nil {
		return store.User{}, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return store.User{}, err
	}
	u := store.User{ID: newID("usr_"), Email: email, PasswordHash: hash, CreatedAt: s.Now()}
	err = s.Store.Write(ctx, func(tx *sql.Tx) error { return store.InsertUser(ctx, tx, u) })
	if errors.Is(err, store.ErrConflict) {
		return store.User{}, problem.New(problem.ErrConflict, "email_taken", "an account with %s already exists: sign in instead", email)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("signing up: %w", err)
	}
	return u, nil
}

// SetPassword replaces the password of the account with this email,
// creating the account if needed (used by demo mode to print a fresh login).
func (s *Service) SetPassword(ctx context.Context, email, password string) (store.User, error) {
	if err := checkPassword(password); err != nil {
		return store.User{}, err
	}
	u, err := store.UserByEmail(ctx, s.Store.Reader(), strings.ToLower(email))
	if errors.Is(err, store.ErrNotFound) {
		return s.SignUp(ctx, email, password)
	}
	if err != nil {
		return store.User{}, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return store.User{}, err
	}
	return u, s.Store.Write(ctx, func(tx *sql.Tx) error { return store.SetPassword(ctx, tx, u.ID, hash) })
}

// SetPasswordIfMissing returns the account with this email, creating it with
// a random password nobody knows when it does not exist yet.
func (s *Service) SetPasswordIfMissing(ctx context.Context, email string) (store.User, error) {
	u, err := store.UserByEmail(ctx, s.Store.Reader(), strings.ToLower(email))
	if !errors.Is(err, store.ErrNotFound) {
		return u, err
	}
	pw, err := randomToken("")
	if err != nil {
		return store.User{}, err
	}
	return s.SignUp(ctx, email, pw)
}

var errBadLogin = problem.New(problem.ErrUnauthorized, "bad_login", "wrong email or password")

// dummyHash is checked against when the email is unknown, so a sign-in takes
// as long whether or not the account exists.
var dummyHash, _ = HashPassword("idlegrid-timing-equaliser")

// SignIn checks a password and starts a console session.
func (s *Service) SignIn(ctx context.Context, email, password string) (token string, u store.User, err error) {
	email = strings.ToLower(strings.TrimSpace(email))
	u, err = store.UserByEmail(ctx, s.Store.Reader(), email)
	if errors.Is(err, store.ErrNotFound) {
		_, _ = CheckPassword(dummyHash, password)
		return "", store.User{}, errBadLogin
	}
	if err != nil {
		return "", store.User{}, fmt.Errorf("signing in: %w", err)
	}
	ok, err := CheckPassword(u.PasswordHash, password)
	if err != nil {
		return "", store.User{}, fmt.Errorf("signing in: %w", err)
	}
	if !ok {
		return "", store.User{}, errBadLogin
	}
	token, err = randomToken(SessionPrefix)
	if err != nil {
		return "", store.User{}, err
	}
	now := s.Now()
	err = s.Store.Write(ctx, func(tx *sql.Tx) error {
		return store.InsertSession(ctx, tx, Hash(token), u.ID, now, now.Add(SessionTTL))
	})
	if err != nil {
		return "", store.User{}, fmt.Errorf("starting session: %w", err)
	}
	return token, u, nil
}

// SignOut ends a session; an unknown token is not an error.
func (s *Service) SignOut(ctx context.Context, token string) error {
	return s.Store.Write(ctx, func(tx *sql.Tx) error { return store.DeleteSession(ctx, tx, Hash(token)) })
}

// Authenticate resolves a bearer secret: a session token or an API key.
func (s *Service) Authenticate(ctx context.Context, secret string) (store.User, error) {
	switch {
	case strings.HasPrefix(secret, SessionPrefix):
		u, err := store.SessionUser(ctx, s.Store.Reader(), Hash(secret), s.Now())
		if errors.Is(err, store.ErrNotFound) {
			return store.User{}, problem.New(problem.ErrUnauthorized, "session_expired", "your session has ended: sign in again")
		}
		return u, err
	case strings.HasPrefix(secret, APIKeyPrefix):
		u, _, err := store.APIKeyUser(ctx, s.Store.Reader(), Hash(secret))
		if errors.Is(err, store.ErrNotFound) {
			return store.User{}, problem.New(problem.ErrUnauthorized, "bad_api_key", "this API key is unknown or revoked: create a new one in the console")
		}
		return u, err
	}
	return store.User{}, problem.New(problem.ErrUnauthorized, "bad_credentials", "send a session cookie or an API key (Authorization: Bearer igk_…)")
}

// CreateAPIKey makes a key; the full key is returned only here.
func (s *Service) CreateAPIKey(ctx context.Context, userID, name string) (string, store.APIKey, error) {
	name, err := cleanName(name, "key")
	if err != nil {
		return "", store.APIKey{}, err
	}
	key, err := randomToken(APIKeyPrefix)
	if err != nil {
		return "", store.APIKey{}, err
	}
	k := store.APIKey{ID: newID("key_"), UserID: userID, Name: name, Prefix: displayPrefix(key), CreatedAt: s.Now()}
	err = s.Store.Write(ctx, func(tx *sql.Tx) error { return store.InsertAPIKey(ctx, tx, k, Hash(key)) })
	if err != nil {
		return "", store.APIKey{}, fmt.Errorf("creating api key: %w", err)
	}
	return key, k, nil
}

// RevokeAPIKey revokes one of the user's keys.
func (s *Service) RevokeAPIKey(ctx context.Context, userID, id string) error {
	return s.Store.Write(ctx, func(tx *sql.Tx) error { return store.RevokeAPIKey(ctx, tx, userID, id, s.Now()) })
}

// CreatePairingCode makes a single-use code valid for PairingCodeTTL.
func (s *Service) CreatePairingCode(ctx context.Context, userID string) (string, time.Time, error) {
	now := s.Now()
	for range 3 { // a collision among live codes is rare; retry it
		code, err := newPairingCode()
		if err != nil {
			return "", time.Time{}, err
		}
		err = s.Store.Write(ctx, func(tx *sql.Tx) error {
			return store.InsertPairingCode(ctx, tx, Hash(code), userID, now, now.Add(PairingCodeTTL))
		})
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return "", time.Time{}, fmt.Errorf("creating pairing code: %w", err)
		}
		return code, now.Add(PairingCodeTTL), nil
	}
	return "", time.Time{}, errors.New("creating pairing code: repeated collisions")
}

// CreateEnrollmentToken makes a reusable farm token valid for ttl.
func (s *Service) CreateEnrollmentToken(ctx context.Context, userID, name string, ttl time.Duration) (string, store.EnrollmentToken, error) {
	name, err := cleanName(name, "token")
	if err != nil {
		return "", store.EnrollmentToken{}, err
	}
	if ttl == 0 {
		ttl = DefaultEnrollTTL
	}
	if ttl < time.Minute || ttl > MaxEnrollTokenTTL {
		return "", store.EnrollmentToken{}, problem.Invalid("bad_ttl", "an enrollment token must live between 1 minute and 365 days")
	}
	tok, err := randomToken(EnrollPrefix)
	if err != nil {
		return "", store.EnrollmentToken{}, err
	}
	now := s.Now()
	t := store.EnrollmentToken{ID: newID("enr_"), UserID: userID, Name: name, Prefix: displayPrefix(tok), CreatedAt: now, ExpiresAt: now.Add(ttl)}
	err = s.Store.Write(ctx, func(tx *sql.Tx) error { return store.InsertEnrollmentToken(ctx, tx, t, Hash(tok)) })
	if err != nil {
		return "", store.EnrollmentToken{}, fmt.Errorf("creating enrollment token: %w", err)
	}
	return tok, t, nil
}

// RevokeEnrollmentToken revokes one of the user's tokens.
func (s *Service) RevokeEnrollmentToken(ctx context.Context, userID, id string) error {
	return s.Store.Write(ctx, func(tx *sql.Tx) error { return store.RevokeEnrollmentToken(ctx, tx, userID, id, s.Now()) })
}

// PairRequest is what an agent presents to join an account: exactly one of
// Code or EnrollToken, its public key, and a signature over that secret
// proving it holds the private key.
type PairRequest struct {
	Code        string
	EnrollToken string
	PublicKey   []byte
	Signature   []byte
	Name        string
	Simulated   bool
}

// Pair binds a device key to the account that issued the code or token.
func (s *Service) Pair(ctx context.Context, r PairRequest) (store.Device, error) {
	secret, kind := r.Code, "pairing code"
	switch {
	case r.Code != "" && r.EnrollToken != "":
		return store.Device{}, problem.Invalid("bad_pairing", "send a pairing code or an enrollment token, not both")
	case r.Code != "":
		code, ok := NormalizePairingCode(r.Code)
		if !ok {
			return store.Device{}, problem.Invalid("bad_pairing_code", "a pairing code is 8 letters and digits like K7QM-3XRT: copy it from the console's Devices page")
		}
		secret = code
	case r.EnrollToken != "":
		secret, kind = r.EnrollToken, "enrollment token"
	default:
		return store.Device{}, problem.Invalid("bad_pairing", "send a pairing code (from the console) or a farm enrollment token")
	}
	if len(r.PublicKey) != ed25519.PublicKeySize {
		return store.Device{}, problem.Invalid("bad_public_key", "public_key must be a 32-byte ed25519 key")
	}
	if !proto.VerifyPairing(r.PublicKey, secret, r.Signature) {
		return store.Device{}, problem.New(problem.ErrUnauthorized, "bad_signature", "the signature does not match the public key")
	}
	name, err := cleanName(r.Name, "device")
	if err != nil {
		return store.Device{}, err
	}
	now := s.Now()
	d := store.Device{ID: newID("dev_"), Name: name, PublicKey: r.PublicKey, CreatedAt: now, Simulated: r.Simulated}
	err = s.Store.Write(ctx, func(tx *sql.Tx) error {
		var err error
		if r.Code != "" {
			d.UserID, err = store.ClaimPairingCode(ctx, tx, Hash(secret), d.ID, now)
		} else {
			d.UserID, err = store.ClaimEnrollmentToken(ctx, tx, Hash(secret), now)
		}
		if err != nil {
			return err
		}
		return store.InsertDevice(ctx, tx, d)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Device{}, problem.New(problem.ErrNotFound, "unknown_secret", "this %s is not known: check it, or create a new one in the console", kind)
	case errors.Is(err, store.ErrGone):
		return store.Device{}, problem.New(problem.ErrGone, "secret_gone", "this %s can no longer be used (%s): create a new one in the console", kind, strings.TrimSuffix(err.Error(), ": "+store.ErrGone.Error()))
	case errors.Is(err, store.ErrConflict):
		return store.Device{}, problem.New(problem.ErrConflict, "already_paired", "this device is already paired; remove it in the console to pair it again")
	case err != nil:
		return store.Device{}, fmt.Errorf("pairing device: %w", err)
	}
	return d, nil
}

// MaxNameLen bounds names of devices, keys and tokens.
const MaxNameLen = 64

func cleanName(name, what string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "unnamed " + what
	}
	if utf8.RuneCountInString(name) > MaxNameLen || !utf8.ValidString(name) || strings.ContainsFunc(name, isControl) {
		return "", problem.Invalid("bad_name", "a %s name must be at most %d printable characters", what, MaxNameLen)
	}
	return name, nil
}

// CleanDeviceName validates a device name for renames.
func CleanDeviceName(name string) (string, error) {
	if strings.TrimSpace(name) == "" {
		return "", problem.Invalid("bad_name", "a device name cannot be empty")
	}
	return cleanName(name, "device")
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
