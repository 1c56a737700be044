package supplier

import (
	"sync"
	"time"

	"github.com/idlegrid/idlegrid/shared/guard"
)

// Prefs is the part of Fyne's preferences the app uses. fyne.Preferences
// satisfies it, so this package stays free of Fyne; MemPrefs serves tests
// and the headless agent.
type Prefs interface {
	StringWithFallback(key, fallback string) string
	SetString(key, value string)
	IntWithFallback(key string, fallback int) int
	SetInt(key string, value int)
	FloatWithFallback(key string, fallback float64) float64
	SetFloat(key string, value float64)
	BoolWithFallback(key string, fallback bool) bool
	SetBool(key string, value bool)
}

// Preference keys: every setting the desktop app keeps, in one place.
const (
	KeyServerURL     = "server_url"
	KeyOnboarded     = "onboarded"
	KeyWallet        = "payout_wallet"
	KeyMaxTempC      = "guard_max_temp_c"
	KeyMaxPowerW     = "guard_max_power_w"
	KeyOnlyWhenIdle  = "guard_only_when_idle"
	KeyIdleMinutes   = "guard_idle_minutes"
	KeyScheduleOn    = "guard_schedule_on"
	KeyScheduleFrom  = "guard_schedule_from"
	KeyScheduleTo    = "guard_schedule_to"
	KeyPricePerKWh   = "electricity_price_per_kwh"
	KeyCurrency      = "electricity_currency"
	KeyStartAtLogin  = "start_at_login"
	KeyPaused        = "paused"
	KeyBenchmarkNote = "benchmark_note"
	// The Farm view's rigs and token are farm.KeyRigs and farm.KeyToken
	// (shared/farm keeps them, next to the model that reads them).
)

// Settings are the supplier's choices.
type Settings struct {
	ServerURL    string
	Onboarded    bool
	Wallet       string // validated Solana address, or empty
	Limits       guard.Limits
	PricePerKWh  float64 // electricity price; display only, never a balance
	Currency     string
	StartAtLogin bool
	Paused       bool
}

// LoadSettings reads the settings with defaults for what was never set.
func LoadSettings(p Prefs, defaultServer string) Settings {
	d := guard.DefaultLimits()
	return Settings{
		ServerURL: p.StringWithFallback(KeyServerURL, defaultServer),
		Onboarded: p.BoolWithFallback(KeyOnboarded, false),
		Wallet:    p.StringWithFallback(KeyWallet, ""),
		Limits: guard.Limits{
			MaxTempC:     p.IntWithFallback(KeyMaxTempC, d.MaxTempC),
			MaxPowerW:    p.IntWithFallback(KeyMaxPowerW, d.MaxPowerW),
			OnlyWhenIdle: p.BoolWithFallback(KeyOnlyWhenIdle, d.OnlyWhenIdle),
			IdleAfter:    time.Duration(p.IntWithFallback(KeyIdleMinutes, int(d.IdleAfter/time.Minute))) * time.Minute,
			Schedule: guard.Schedule{
				Enabled: p.BoolWithFallback(KeyScheduleOn, false),
				From:    p.IntWithFallback(KeyScheduleFrom, d.Schedule.From),
				To:      p.IntWithFallback(KeyScheduleTo, d.Schedule.To),
			},
		},
		PricePerKWh:  p.FloatWithFallback(KeyPricePerKWh, 0.30),
		Currency:     p.StringWithFallback(KeyCurrency, "USD"),
		StartAtLogin: p.BoolWithFallback(KeyStartAtLogin, false),
		Paused:       p.BoolWithFallback(KeyPaused, false),
	}
}

func saveSettings(p Prefs, s Settings) {
	p.SetString(KeyServerURL, s.ServerURL)
	p.SetBool(KeyOnboarded, s.Onboarded)
	p.SetString(KeyWallet, s.Wallet)
	p.SetInt(KeyMaxTempC, s.Limits.MaxTempC)
	p.SetInt(KeyMaxPowerW, s.Limits.MaxPowerW)
	p.SetBool(KeyOnlyWhenIdle, s.Limits.OnlyWhenIdle)
	p.SetInt(KeyIdleMinutes, int(s.Limits.IdleAfter/time.Minute))
	p.SetBool(KeyScheduleOn, s.Limits.Schedule.Enabled)
	p.SetInt(KeyScheduleFrom, s.Limits.Schedule.From)
	p.SetInt(KeyScheduleTo, s.Limits.Schedule.To)
	p.SetFloat(KeyPricePerKWh, s.PricePerKWh)
	p.SetString(KeyCurrency, s.Currency)
	p.SetBool(KeyStartAtLogin, s.StartAtLogin)
	p.SetBool(KeyPaused, s.Paused)
}

// MemPrefs keeps preferences in memory.
type MemPrefs struct {
	mu sync.Mutex
	m  map[string]any
}

func (p *MemPrefs) get(key string) (any, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.m[key]
	return v, ok
}

func (p *MemPrefs) set(key string, v any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]any{}
	}
	p.m[key] = v
}

func fallback[T any](p *MemPrefs, key string, def T) T {
	if v, ok := p.get(key); ok {
		if t, ok := v.(T); ok {
			return t
		}
	}
	return def
}

// StringWithFallback implements Prefs.
func (p *MemPrefs) StringWithFallback(k, d string) string { return fallback(p, k, d) }

// SetString implements Prefs.
func (p *MemPrefs) SetString(k, v string) { p.set(k, v) }

// IntWithFallback implements Prefs.
func (p *MemPrefs) IntWithFallback(k string, d int) int { return fallback(p, k, d) }

// SetInt implements Prefs.
func (p *MemPrefs) SetInt(k string, v int) { p.set(k, v) }

// FloatWithFallback implements Prefs.
func (p *MemPrefs) FloatWithFallback(k string, d float64) float64 { return fallback(p, k, d) }

// SetFloat implements Prefs.
func (p *MemPrefs) SetFloat(k string, v float64) { p.set(k, v) }

// BoolWithFallback implements Prefs.
func (p *MemPrefs) BoolWithFallback(k string, d bool) bool { return fallback(p, k, d) }

// SetBool implements Prefs.
func (p *MemPrefs) SetBool(k string, v bool) { p.set(k, v) }
