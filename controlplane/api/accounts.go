package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/account"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

// UserJSON is an account as the API shows it.
type UserJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
}

func userJSON(u store.User) UserJSON {
	return UserJSON{ID: u.ID, Email: u.Email, CreatedAt: u.CreatedAt}
}

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// SessionJSON answers sign-up and sign-in; the token is also set as the
// console cookie.
type SessionJSON struct {
	User         UserJSON `json:"user"`
	SessionToken string   `json:"session_token"`
}

func (s *Server) signUp(w http.ResponseWriter, r *http.Request) error {
	var c credentials
	if err := decode(r, &c); err != nil {
		return err
	}
	if _, err := s.Accounts.SignUp(r.Context(), c.Email, c.Password); err != nil {
		return err
	}
	return s.startSession(w, r, c, http.StatusCreated)
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) error {
	var c credentials
	if err := decode(r, &c); err != nil {
		return err
	}
	return s.startSession(w, r, c, http.StatusOK)
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, c credentials, status int) error {
	tok, u, err := s.Accounts.SignIn(r.Context(), c.Email, c.Password)
	if err != nil {
		return err
	}
	SetSessionCookie(w, r, tok)
	writeJSON(w, status, SessionJSON{User: userJSON(u), SessionToken: tok})
	return nil
}

// SetSessionCookie stores a console session in the browser: HttpOnly,
// SameSite=Lax, and Secure whenever the request came over TLS.
func SetSessionCookie(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
		MaxAge: int(account.SessionTTL / time.Second),
	})
}

// ClearSessionCookie removes the console session cookie.
func ClearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, MaxAge: -1})
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) error {
	var tokens []string
	if c, err := r.Cookie(SessionCookie); err == nil {
		tokens = append(tokens, c.Value)
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && strings.HasPrefix(tok, account.SessionPrefix) {
		tokens = append(tokens, tok)
	}
	for _, tok := range tokens {
		if err := s.Accounts.SignOut(r.Context(), tok); err != nil {
			return err
		}
	}
	ClearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, userJSON(UserFrom(r.Context())))
	return nil
}

// KeyJSON is an API key without its secret.
type KeyJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	// Key is the full secret, present only in the response that created it.
	Key string `json:"key,omitempty"`
}

func keyJSON(k store.APIKey) KeyJSON {
	return KeyJSON{ID: k.ID, Name: k.Name, Prefix: k.Prefix, CreatedAt: k.CreatedAt, LastUsedAt: timePtr(k.LastUsedAt), RevokedAt: timePtr(k.RevokedAt)}
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := store.ListAPIKeys(r.Context(), s.Store.Reader(), UserFrom(r.Context()).ID)
	if err != nil {
		return err
	}
	out := make([]KeyJSON, 0, len(keys))
	for _, k := range keys {
		out = append(out, keyJSON(k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": out})
	return nil
}

type nameBody struct {
	Name string `json:"name"`
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var b nameBody
	if err := decode(r, &b); err != nil {
		return err
	}
	secret, k, err := s.Accounts.CreateAPIKey(r.Context(), UserFrom(r.Context()).ID, b.Name)
	if err != nil {
		return err
	}
	out := keyJSON(k)
	out.Key = secret
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	if err := s.Accounts.RevokeAPIKey(r.Context(), UserFrom(r.Context()).ID, pathID(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// PairingCodeJSON is a fresh pairing code.
type PairingCodeJSON struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) createPairingCode(w http.ResponseWriter, r *http.Request) error {
	code, exp, err := s.Accounts.CreatePairingCode(r.Context(), UserFrom(r.Context()).ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, PairingCodeJSON{Code: code, ExpiresAt: exp})
	return nil
}

// EnrollmentTokenJSON is a farm token without its secret.
type EnrollmentTokenJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Uses      int        `json:"uses"`
	// Token is the full secret, present only in the response that created it.
	Token string `json:"token,omitempty"`
}

func tokenJSON(t store.EnrollmentToken) EnrollmentTokenJSON {
	return EnrollmentTokenJSON{ID: t.ID, Name: t.Name, Prefix: t.Prefix, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, RevokedAt: timePtr(t.RevokedAt), Uses: t.Uses}
}

func (s *Server) listEnrollmentTokens(w http.ResponseWriter, r *http.Request) error {
	toks, err := store.ListEnrollmentTokens(r.Context(), s.Store.Reader(), UserFrom(r.Context()).ID)
	if err != nil {
		return err
	}
	out := make([]EnrollmentTokenJSON, 0, len(toks))
	for _, t := range toks {
		out = append(out, tokenJSON(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

type enrollBody struct {
	Name       string `json:"name"`
	ValidHours int    `json:"valid_hours"` // 0: 30 days
}

func (s *Server) createEnrollmentToken(w http.ResponseWriter, r *http.Request) error {
	var b enrollBody
	if err := decode(r, &b); err != nil {
		return err
	}
	secret, t, err := s.Accounts.CreateEnrollmentToken(r.Context(), UserFrom(r.Context()).ID, b.Name, time.Duration(b.ValidHours)*time.Hour)
	if err != nil {
		return err
	}
	out := tokenJSON(t)
	out.Token = secret
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) revokeEnrollmentToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.Accounts.RevokeEnrollmentToken(r.Context(), UserFrom(r.Context()).ID, pathID(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
