// Package web serves the console's server-rendered pages from templates
// embedded in assets/. It is a client of the same account service and store
// as the JSON API; sessions are the API's cookie.
package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/idlegrid/idlegrid/assets"
	"github.com/idlegrid/idlegrid/controlplane/api"
	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

// Console serves the pages.
type Console struct {
	api   *api.Server
	log   *slog.Logger
	pages map[string]*template.Template
}

// New parses the templates; a broken template fails start-up, not a request.
func New(a *api.Server, log *slog.Logger) (*Console, error) {
	funcs := template.FuncMap{
		"gib": func(b uint64) string { return fmt.Sprintf("%.0f GiB", float64(b)/(1<<30)) },
		"ago": func(t *time.Time) string { return ago(a.Now().Sub(*t)) },
	}
	c := &Console{api: a, log: log, pages: map[string]*template.Template{}}
	for _, p := range []string{"login", "devices"} {
		t, err := template.New("").Funcs(funcs).ParseFS(assets.Web, "web/templates/layout.html", "web/templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing template %s: %w", p, err)
		}
		c.pages[p] = t
	}
	return c, nil
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	}
	return fmt.Sprintf("%d h ago", int(d.Hours()))
}

// Register adds the console's routes to mux.
func (c *Console) Register(mux *http.ServeMux) {
	static, _ := fs.Sub(assets.Web, "web/static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", c.home)
	mux.HandleFunc("GET /login", c.loginPage)
	mux.HandleFunc("POST /login", c.login)
	mux.HandleFunc("POST /signup", c.signup)
	mux.HandleFunc("POST /logout", c.logout)
	mux.HandleFunc("POST /devices/pairing-code", c.pairingCode)
}

type page struct {
	Title          string
	User           *store.User
	Flash, Error   string
	Email          string
	Devices        []api.DeviceJSON
	PairingCode    string
	PairingExpires string
}

func (c *Console) render(w http.ResponseWriter, name string, status int, p page) {
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		c.log.Error("rendering page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered; it has been logged", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// user returns the signed-in user, or nil.
func (c *Console) user(r *http.Request) *store.User {
	if _, err := r.Cookie(api.SessionCookie); err != nil {
		return nil
	}
	u, err := c.api.Authenticate(r)
	if err != nil {
		return nil
	}
	return &u
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	u := c.user(r)
	if u == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	c.devicesPage(w, r, u, page{})
}

func (c *Console) devicesPage(w http.ResponseWriter, r *http.Request, u *store.User, p page) {
	ds, err := store.DevicesByUser(r.Context(), c.api.Store.Reader(), u.ID)
	if err != nil {
		c.log.Error("listing devices", "err", err)
		p.Error = "Your devices could not be loaded; please reload the page."
	}
	now := c.api.Now()
	for _, d := range ds {
		v, err := c.api.DeviceView(r.Context(), d, now)
		if err != nil {
			c.log.Error("showing device", "device", d.ID, "err", err)
			p.Error = "Some devices could not be loaded; please reload the page."
			continue
		}
		p.Devices = append(p.Devices, v)
	}
	sort.SliceStable(p.Devices, func(i, j int) bool { return p.Devices[i].Name < p.Devices[j].Name })
	p.Title, p.User = "Devices", u
	c.render(w, "devices", http.StatusOK, p)
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if c.user(r) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	c.render(w, "login", http.StatusOK, page{Title: "Sign in"})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	tok, _, err := c.api.Accounts.SignIn(r.Context(), email, password)
	if err != nil {
		c.formError(w, email, err)
		return
	}
	api.SetSessionCookie(w, r, tok)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (c *Console) signup(w http.ResponseWriter, r *http.Request) {
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	if _, err := c.api.Accounts.SignUp(r.Context(), email, password); err != nil {
		c.formError(w, email, err)
		return
	}
	c.login(w, r)
}

func (c *Console) formError(w http.ResponseWriter, email string, err error) {
	var pe *problem.Error
	status := http.StatusBadRequest
	msg := "Something went wrong; please try again."
	if errors.As(err, &pe) {
		msg = pe.Message
		if errors.Is(err, problem.ErrUnauthorized) {
			status = http.StatusUnauthorized
		}
	} else {
		c.log.Error("console sign-in", "err", err)
		status = http.StatusInternalServerError
	}
	c.render(w, "login", status, page{Title: "Sign in", Error: msg, Email: email})
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(api.SessionCookie); err == nil {
		if err := c.api.Accounts.SignOut(r.Context(), ck.Value); err != nil {
			c.log.Error("signing out", "err", err)
		}
	}
	api.ClearSessionCookie(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (c *Console) pairingCode(w http.ResponseWriter, r *http.Request) {
	u := c.user(r)
	if u == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	code, exp, err := c.api.Accounts.CreatePairingCode(r.Context(), u.ID)
	p := page{}
	if err != nil {
		c.log.Error("creating pairing code", "err", err)
		p.Error = "A pairing code could not be created; please try again."
	} else {
		p.PairingCode, p.PairingExpires = code, exp.UTC().Format("15:04 UTC")
	}
	c.devicesPage(w, r, u, p)
}
