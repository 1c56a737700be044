package autostart

import (
	"errors"
	"testing"
)

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		valid bool
	}{
		{"Idlegrid", true},
		{"Idlegrid Dev", true},
		{"idlegrid-beta_2.1", true},
		{"", false},
		{".hidden", false},
		{" Idlegrid", false},
		{"../../evil", false},
		{`a\b`, false},
		{"tab\tname", false},
		{"Idlégrid", false},
		{"a23456789012345678901234567890123456789012345678901234567890abcd", true},
		{"a23456789012345678901234567890123456789012345678901234567890abcde", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkName(tc.name)
			if (err == nil) != tc.valid {
				t.Fatalf("checkName(%q) = %v, want valid: %v", tc.name, err, tc.valid)
			}
			if err != nil && !errors.Is(err, ErrInvalidEntry) {
				t.Errorf("error %v does not wrap ErrInvalidEntry", err)
			}
		})
	}
}

// Bad input is refused before anything is written, on every OS.
func TestPublicFunctionsRefuseBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Enable with a relative Exec", func() error { return Enable(Entry{Name: "Idlegrid", Exec: "idlegrid"}) }},
		{"Enable with an empty Exec", func() error { return Enable(Entry{Name: "Idlegrid"}) }},
		{"Enable with a path in the name", func() error { return Enable(Entry{Name: "../x", Exec: "/bin/true"}) }},
		{"Disable with an empty name", func() error { return Disable("") }},
		{"Enabled with a path in the name", func() error { _, err := Enabled("a/b"); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, ErrInvalidEntry) {
				t.Errorf("error %v, want ErrInvalidEntry", err)
			}
		})
	}
}

func TestSlug(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"Idlegrid", "idlegrid"},
		{"Idlegrid Dev", "idlegrid-dev"},
		{"ig_2.0", "ig_2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := slug(tc.name); got != tc.want {
				t.Errorf("slug(%q) = %q, want %q", tc.name, got, tc.want)
			}
		})
	}
}
