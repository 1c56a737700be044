// Package problem is the control plane's error vocabulary: a few sentinel
// kinds that the API maps to HTTP statuses in one place, and Error, which
// carries a message meant for the user next to its kind.
package problem

import (
	"errors"
	"fmt"

	"github.com/idlegrid/idlegrid/controlplane/store"
)

// Kinds. NotFound and Conflict are the store's own, so a store error needs
// no translation.
var (
	ErrInvalid      = errors.New("invalid request")
	ErrUnauthorized = errors.New("not signed in")
	ErrForbidden    = errors.New("forbidden")
	ErrNotFound     = store.ErrNotFound
	ErrConflict     = store.ErrConflict
	ErrGone         = store.ErrGone
	ErrRateLimited  = errors.New("too many requests")
)

// Error is a failure with words for the user: what went wrong and, where
// possible, what to do next. Code is a stable machine-readable name.
type Error struct {
	Kind    error
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap exposes the kind to errors.Is.
func (e *Error) Unwrap() error { return e.Kind }

// New returns an *Error.
func New(kind error, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid is shorthand for a bad-input error.
func Invalid(code, format string, args ...any) *Error {
	return New(ErrInvalid, code, format, args...)
}
