// Package web serves the console and the public explorer: server-rendered
// pages from templates embedded in assets/, with small plain-JavaScript
// parts that stay live over server-sent events. It is a client of the same
// services and store as the JSON API; sessions are the API's cookie.
//
// Every page is declared once in Routes (who may see it), which the access
// tests walk. Forms are protected against cross-site requests by the
// server's cross-origin protection (Sec-Fetch-Site and Origin checks).
package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/idlegrid/idlegrid/assets"
	"github.com/idlegrid/idlegrid/controlplane/api"
	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/money"
)

// Access says who may open a page.
type Access int

// Access levels. Pages of a signed-in user show only their own objects;
// anyone else's are not found.
const (
	Public Access = iota
	User
)

// Route is one page or form action.
type Route struct {
	Method, Path string
	Access       Access
	handle       func(c *Console, w http.ResponseWriter, r *http.Request) error
}

// Routes is every page and form of the console and explorer.
func Routes() []Route {
	rs := []Route{
		{"GET", "/{$}", Public, (*Console).home},
		{"GET", "/login", Public, (*Console).loginPage},
		{"POST", "/login", Public, (*Console).login},
		{"POST", "/signup", Public, (*Console).signup},
		{"POST", "/logout", User, (*Console).logout},
	}
	rs = append(rs, requesterRoutes()...)
	rs = append(rs, supplierRoutes()...)
	return append(rs, explorerRoutes()...)
}

// Console serves the pages.
type Console struct {
	api     *api.Server
	log     *slog.Logger
	pages   map[string]*template.Template
	figures figuresCache // the explorer's network figures, shared by its pages
}

// Base is what every page's data carries; page structs embed it.
type Base struct {
	Title string
	Nav   string // the menu entry to highlight
	User  *store.User
	Flash string
	Error string
	Demo  bool
}

func (b *Base) base() *Base { return b }

type pageData interface{ base() *Base }

// New parses the templates; a broken template fails start-up, not a request.
func New(a *api.Server, log *slog.Logger) (*Console, error) {
	c := &Console{api: a, log: log, pages: map[string]*template.Template{}}
	funcs := template.FuncMap{
		"gib":   func(b uint64) string { return fmt.Sprintf("%.0f GiB", float64(b)/(1<<30)) },
		"ago":   func(t *time.Time) string { return ago(a.Now().Sub(*t)) },
		"since": func(t time.Time) string { return ago(a.Now().Sub(t)) },
		"usd":   func(m int64) string { return money.Micros(m).USD() },
		"when": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				return v.UTC().Format("2006-01-02 15:04:05 UTC")
			case *time.Time:
				if v != nil {
					return v.UTC().Format("2006-01-02 15:04:05 UTC")
				}
			}
			return "—"
		},
		"short": func(s string) string {
			if len(s) > 14 {
				return s[:6] + "…" + s[len(s)-6:]
			}
			return s
		},
		"pct": func(f float64) string { return fmt.Sprintf("%.0f %%", 100*f) },
	}
	files, err := fs.Glob(assets.Web, "web/templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := template.New("").Funcs(funcs).ParseFS(assets.Web, "web/templates/layout.html", "web/templates/partials.html", f)
		if err != nil {
			return nil, fmt.Errorf("parsing template %s: %w", name, err)
		}
		c.pages[name] = t
	}
	return c, nil
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// Register adds the console's routes to mux.
func (c *Console) Register(mux *http.ServeMux) {
	static, _ := fs.Sub(assets.Web, "web/static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	for _, rt := range Routes() {
		mux.Handle(rt.Method+" "+rt.Path, c.wrap(rt))
	}
}

type userKey struct{}

func (c *Console) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.Access == User {
			u := c.user(r)
			if u == nil {
				to := "/login"
				if r.Method == http.MethodGet {
					to += "?next=" + url.QueryEscape(r.URL.RequestURI())
				}
				http.Redirect(w, r, to, http.StatusSeeOther)
				return
			}
			r = r.WithContext(contextWithUser(r, u))
		}
		if err := rt.handle(c, w, r); err != nil {
			c.fail(w, r, err)
		}
	})
}

// me is the signed-in user of a User route.
func me(r *http.Request) *store.User { u, _ := r.Context().Value(userKey{}).(*store.User); return u }

// user returns the signed-in user, or nil.
func (c *Console) user(r *http.Request) *store.User {
	if u := me(r); u != nil {
		return u
	}
	if _, err := r.Cookie(api.SessionCookie); err != nil {
		return nil
	}
	u, err := c.api.Authenticate(r)
	if err != nil {
		return nil
	}
	return &u
}

// errorPage is shown for a failed request.
type errorPage struct {
	Base
	Status int
}

// fail shows err as a page with the status it maps to; our own failures
// are logged and shown without their details.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := api.StatusOf(err)
	msg := "Something went wrong on our side; it has been logged. Please try again."
	var pe *problem.Error
	if errors.As(err, &pe) {
		msg = pe.Message
	} else if errors.Is(err, store.ErrNotFound) {
		msg, status = "There is nothing here, or it is not yours.", http.StatusNotFound
	} else {
		c.log.Error("console request failed", "path", r.URL.Path, "err", err)
	}
	c.render(w, r, "error", status, &errorPage{Base: Base{Title: http.StatusText(status), Error: msg}, Status: status})
}

// render executes a page with the layout.
func (c *Console) render(w http.ResponseWriter, r *http.Request, name string, status int, data pageData) {
	b := data.base()
	if b.User == nil {
		b.User = c.user(r)
	}
	b.Demo = c.api.Demo
	if b.Flash == "" {
		b.Flash = takeFlash(w, r)
	}
	var buf bytes.Buffer
	t := c.pages[name]
	if t == nil {
		c.log.Error("no such page template", "page", name)
		http.Error(w, "the page could not be rendered; it has been logged", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		c.log.Error("rendering page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered; it has been logged", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

const flashCookie = "idlegrid_flash"

// flash shows msg on the next page (after a redirect).
func flash(w http.ResponseWriter, msg string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(msg), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 60})
}

func takeFlash(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", HttpOnly: true, MaxAge: -1})
	msg, _ := url.QueryUnescape(ck.Value)
	return msg
}

// redirect answers a form with a redirect to to, flashing msg there.
func redirect(w http.ResponseWriter, r *http.Request, to, msg string) error {
	if msg != "" {
		flash(w, msg)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// formProblem is a form's refusal in words, shown on the page it came
// from; other errors go to fail.
func formProblem(err error) (string, bool) {
	var pe *problem.Error
	if errors.As(err, &pe) && api.StatusOf(err) < 500 {
		return pe.Message, true
	}
	return "", false
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) error {
	if c.user(r) == nil {
		http.Redirect(w, r, "/explorer", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/devices", http.StatusSeeOther)
	return nil
}

type loginPage struct {
	Base
	Email, Next string
}

// safeNext keeps post-login redirects on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/devices"
	}
	return next
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) error {
	if c.user(r) != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	c.render(w, r, "login", http.StatusOK, &loginPage{Base: Base{Title: "Sign in"}, Next: r.URL.Query().Get("next")})
	return nil
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) error {
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	tok, _, err := c.api.Accounts.SignIn(r.Context(), email, password)
	if err != nil {
		return c.loginError(w, r, email, err)
	}
	api.SetSessionCookie(w, r, tok)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
	return nil
}

func (c *Console) signup(w http.ResponseWriter, r *http.Request) error {
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	if _, err := c.api.Accounts.SignUp(r.Context(), email, password); err != nil {
		return c.loginError(w, r, email, err)
	}
	return c.login(w, r)
}

func (c *Console) loginError(w http.ResponseWriter, r *http.Request, email string, err error) error {
	msg, ok := formProblem(err)
	if !ok {
		return err
	}
	c.render(w, r, "login", api.StatusOf(err), &loginPage{Base: Base{Title: "Sign in", Error: msg}, Email: email, Next: r.PostFormValue("next")})
	return nil
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) error {
	if ck, err := r.Cookie(api.SessionCookie); err == nil {
		if err := c.api.Accounts.SignOut(r.Context(), ck.Value); err != nil {
			c.log.Error("signing out", "err", err)
		}
	}
	api.ClearSessionCookie(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

func contextWithUser(r *http.Request, u *store.User) context.Context {
	return context.WithValue(r.Context(), userKey{}, u)
}
