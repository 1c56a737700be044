// Package api is the control plane's JSON HTTP API under /api/v1. Every
// route is declared once in Routes, which the OpenAPI document and the
// access tests are checked against. Handlers are thin: they decode, call the
// account service or the store, and encode; errors are mapped to statuses in
// one place (writeError).
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/big"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/account"
	"github.com/idlegrid/idlegrid/controlplane/cluster"
	"github.com/idlegrid/idlegrid/controlplane/hub"
	"github.com/idlegrid/idlegrid/controlplane/ledger"
	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/sched"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

// Access says who may call a route.
type Access int

// Access levels.
const (
	Public Access = iota // anyone, no credentials
	User                 // a signed-in account (session cookie or API key)
)

// Route is one endpoint.
type Route struct {
	Method  string
	Path    string // net/http pattern syntax: /api/v1/devices/{id}
	Access  Access
	Limited bool // rate limited per client address (secrets guessing)
	handle  func(s *Server, w http.ResponseWriter, r *http.Request) error
}

// Server serves the API.
type Server struct {
	Store    *store.Store
	Accounts *account.Service
	Hub      *hub.Hub
	Log      *slog.Logger
	Now      func() time.Time
	// VerifyEvery is the re-challenge period, to tell a stale pass.
	VerifyEvery time.Duration
	// Challenger issues compute challenges on request.
	Challenger interface {
		Challenge(ctx context.Context, deviceID string) (string, error)
	}
	// Quoter prices cluster requests; DepositHours of the price must be
	// covered by credit to deploy.
	Quoter       *sched.Quoter
	DepositHours int
	// Payouts describes the payout policy.
	Payouts PayoutPolicy
	// Ledger and Signer are the money; Demo enables the faucet.
	Ledger *ledger.Ledger
	Signer *ledger.Signer
	Demo   bool
	// Clusters deploys and runs clusters; Tunnels reaches their heads.
	Clusters *cluster.Manager
	Tunnels  TunnelServer

	limiter *limiter
	callers *callers
	speed   *speedLimiter
}

// New returns a Server.
func New(st *store.Store, acc *account.Service, h *hub.Hub, rl RateLimit, log *slog.Logger) *Server {
	return &Server{Store: st, Accounts: acc, Hub: h, Log: log, Now: time.Now, VerifyEvery: time.Hour, limiter: newLimiter(rl, time.Now), callers: newCallers(rl, time.Now), speed: newSpeedLimiter()}
}

// SessionCookie is the console session's cookie name.
const SessionCookie = "idlegrid_session"

// Register adds every route to mux.
func (s *Server) Register(mux *http.ServeMux) {
	for _, rt := range Routes() {
		mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
	}
}

type userKey struct{}

// UserFrom returns the authenticated account of a User route.
func UserFrom(ctx context.Context) store.User {
	u, _ := ctx.Value(userKey{}).(store.User)
	return u
}

func (s *Server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := func() error {
			if rt.Limited && !s.limiter.allow(clientAddr(r)) {
				return problem.New(problem.ErrRateLimited, "rate_limited", "too many attempts from your address: wait a minute and try again")
			}
			if rt.Access == User {
				u, err := s.Authenticate(r)
				if err != nil {
					return err
				}
				if ok, wait := s.callers.allow(u.ID); !ok {
					secs := int(math.Ceil(wait.Seconds()))
					w.Header().Set("Retry-After", strconv.Itoa(secs))
					return problem.New(problem.ErrRateLimited, "rate_limited", "too many requests from this account: slow down, and retry in %d s", secs)
				}
				r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
			}
			err := rt.handle(s, w, r)
			if rt.Limited && err != nil && StatusOf(err) < 500 {
				s.limiter.failed(clientAddr(r))
			}
			return err
		}()
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

// Authenticate resolves the caller from a bearer token or the session cookie.
func (s *Server) Authenticate(r *http.Request) (store.User, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return store.User{}, problem.New(problem.ErrUnauthorized, "bad_credentials", "the Authorization header must be 'Bearer <API key>'")
		}
		return s.Accounts.Authenticate(r.Context(), strings.TrimSpace(tok))
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return s.Accounts.Authenticate(r.Context(), c.Value)
	}
	return store.User{}, problem.New(problem.ErrUnauthorized, "not_signed_in", "sign in, or send an API key as 'Authorization: Bearer igk_…'")
}

// errorBody is every error response.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// StatusOf is the one map from error kinds to HTTP statuses; the console
// uses it too.
func StatusOf(err error) int {
	switch {
	case errors.Is(err, problem.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, problem.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, problem.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, problem.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, problem.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, problem.ErrGone):
		return http.StatusGone
	case errors.Is(err, problem.ErrRateLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, store.ErrInsufficientFunds):
		return http.StatusPaymentRequired
	case errors.Is(err, store.ErrFull), errors.Is(err, store.ErrBusy):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := StatusOf(err)
	var body errorBody
	var pe *problem.Error
	switch {
	case errors.As(err, &pe):
		body.Error.Code, body.Error.Message = pe.Code, pe.Message
	case status == http.StatusNotFound:
		body.Error.Code, body.Error.Message = "not_found", "no such object, or it is not yours"
	case errors.Is(err, store.ErrFull):
		s.Log.Error("database full", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Error.Code, body.Error.Message = "storage_full", "the server's storage is full, so nothing was changed; the operator has been told: retry later"
		w.Header().Set("Retry-After", "300")
	case errors.Is(err, store.ErrBusy):
		body.Error.Code, body.Error.Message = "busy", "the server is busy and changed nothing: retry in a few seconds"
		w.Header().Set("Retry-After", "5")
	case status == http.StatusInternalServerError:
		s.Log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Error.Code, body.Error.Message = "internal", "something went wrong on the server; it has been logged, please retry"
	default:
		body.Error.Code, body.Error.Message = "error", err.Error()
	}
	if status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "60")
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// maxBody bounds every request body.
const maxBody = 64 << 10

// decode reads a JSON body strictly: the right content type, no unknown
// fields, one value, bounded size.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return problem.Invalid("bad_content_type", "send the body as application/json")
		}
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return problem.Invalid("bad_body", "the request body could not be read: %v", err)
	}
	if len(data) > maxBody {
		return problem.Invalid("body_too_large", "the body is over %d bytes", maxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(wholeNumbersIn(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return problem.Invalid("bad_json", "the request needs a JSON body")
		}
		return problem.Invalid("bad_json", "the body is not valid JSON for this request: %v", err)
	}
	if dec.More() {
		return problem.Invalid("bad_json", "the body must hold a single JSON object")
	}
	return nil
}

// wholeNumbersIn respells the whole numbers of a JSON body that are written
// with a fraction or an exponent (2.0, 1e3) as integers, so they decode
// into integer fields: JSON has one number type, and the OpenAPI document
// counts 2.0 as an integer. A body that is not one JSON value is returned
// as it is, for the strict decode to refuse with its reason.
func wholeNumbersIn(data []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil || dec.More() {
		return data
	}
	changed := false
	v = wholeNumbers(v, &changed)
	if !changed {
		return data
	}
	out, err := json.Marshal(v)
	if err != nil {
		return data
	}
	return out
}

func wholeNumbers(v any, changed *bool) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = wholeNumbers(e, changed)
		}
	case []any:
		for i, e := range v {
			v[i] = wholeNumbers(e, changed)
		}
	case json.Number:
		if n, ok := asInteger(string(v)); ok {
			*changed = true
			return json.Number(n)
		}
	}
	return v
}

// asInteger spells s as an integer when it is a whole number written with a
// fraction or an exponent, and fits an int64: "2.0" and "1e3" are, "2.5"
// is not.
func asInteger(s string) (string, bool) {
	if !strings.ContainsAny(s, ".eE") {
		return s, false
	}
	if _, exp, ok := strings.Cut(strings.ToLower(s), "e"); ok {
		// Past 10^±30 no int64 is meant; big.Rat would spend time on it.
		if e, err := strconv.Atoi(exp); err != nil || e < -30 || e > 30 {
			return s, false
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || !r.IsInt() || !r.Num().IsInt64() {
		return s, false
	}
	return r.Num().String(), true
}

func pathID(r *http.Request) string { return r.PathValue("id") }

func clientAddr(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return host
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
