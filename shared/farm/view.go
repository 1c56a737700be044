package farm

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file is the Farm view's model, free of any GUI: the rigs typed by
// hand and those found on the LAN merged into one list, polled together, fed
// to an Alerter, and flattened into one row per GPU, worst first.

// Defaults of the View's timing.
const (
	DefaultPollEvery       = 5 * time.Second
	DefaultDiscoverEvery   = 30 * time.Second
	DefaultDiscoverTimeout = 2 * time.Second
	DefaultProbeTimeout    = 4 * time.Second
)

// Preference keys of the Farm view. (The desktop's other keys are in
// shared/supplier/prefs.go.)
const (
	KeyRigs  = "farm_rigs"  // JSON list of ManualRig
	KeyToken = "farm_token" // the farm token sent to every rig without its own
)

// maxParallelProbes bounds the rigs polled at once, so a big farm does not
// open a hundred connections in the same instant.
const maxParallelProbes = 8

// Prefs is the part of the app's preferences the View keeps its rigs in;
// fyne.Preferences and supplier.MemPrefs satisfy it.
type Prefs interface {
	StringWithFallback(key, fallback string) string
	SetString(key, value string)
}

// ManualRig is a rig the farmer typed by hand.
type ManualRig struct {
	Addr string `json:"addr"` // host:port
	// Token is this rig's farm token; empty: the View's farm token.
	Token string `json:"token,omitempty"`
}

// Rig states as the Farm view shows them.
const (
	RigChecking    = "checking"    // not polled yet
	RigOnline      = "online"      // answered, connected, supplying
	RigPaused      = "paused"      // answered, paused (Row.Reason says why)
	RigOffline     = "offline"     // answered, but its agent is not connected to the control plane
	RigUnreachable = "unreachable" // did not answer (Row.Reason says what to do)
)

// Row is one GPU of one rig, or the whole rig (GPU -1) when its GPUs are not
// known: it has not answered yet, or it has no GPU.
type Row struct {
	Rig    string // the rig's name, as alerts use it
	Addr   string // host:port it is polled at
	Manual bool   // typed by hand (can be removed)

	GPU   int    // index, or -1 for the whole rig
	Model string // "RTX 4090"; for a rig row, what is known about its GPUs

	// Reading is true when the figures below are from the rig's latest
	// answer; an unreachable rig's GPUs have none.
	Reading     bool
	TempC       int
	PowerW      int
	PowerLimitW int
	UtilPct     int

	State  string // Rig*
	Reason string // why it is paused, offline or unreachable, in words
	// EarnsPerHour is the whole rig's rate in micro-USD per hour.
	EarnsPerHour int64
	// Alerts are the active alerts on this GPU or on the whole rig.
	Alerts []Alert
}

// View merges the rigs typed by hand with those discovered on the LAN,
// polls them all and keeps their latest answers. Set the exported fields
// before Serve or the first Poll; zero durations take the Default* values.
// Its methods are safe for concurrent use.
type View struct {
	// Alerter is fed every poll; NewView makes one. Set its OnChange to
	// notify the farmer.
	Alerter *Alerter
	// Now stamps observations; default time.Now. Tests move it instead of
	// waiting.
	Now             func() time.Time
	PollEvery       time.Duration
	DiscoverEvery   time.Duration
	DiscoverTimeout time.Duration
	ProbeTimeout    time.Duration
	// OnUpdate, if set, is called after every poll and discovery (from the
	// goroutine that ran it, never with a lock held).
	OnUpdate func()

	prefs Prefs
	kick  chan struct{}

	pollMu sync.Mutex // one poll round at a time, so observations stay in order

	mu          sync.Mutex
	manual      []ManualRig
	token       string
	found       map[string]Rig // discovered, by instance name; kept once seen
	rigs        map[string]*rigState
	discovering bool
	discovery   DiscoveryStatus
}

// DiscoveryStatus says how the last browse of the LAN went.
type DiscoveryStatus struct {
	On    bool      // discovery is enabled
	At    time.Time // when the last browse ended; zero before the first
	Found int       // rigs that answered it
	Err   error
}

// rigState is what the View knows of one target.
type rigState struct {
	name     string // the name last given to the Alerter
	polled   bool
	ok       bool
	answered bool   // st holds an answer (maybe an old one)
	st       Status // the latest answer
	problem  string
}

// target is one rig to poll.
type target struct {
	key    string // the manual address, or "mdns:" + instance name
	addr   string
	token  string
	name   string // discovered instance name, or the answering host, or addr
	manual bool
}

// NewView makes a View whose hand-typed rigs and farm token live in p (nil:
// kept in memory only).
func NewView(p Prefs) *View {
	v := &View{Alerter: &Alerter{}, prefs: p, kick: make(chan struct{}, 1), found: map[string]Rig{}, rigs: map[string]*rigState{}}
	if p != nil {
		v.token = p.StringWithFallback(KeyToken, "")
		if s := p.StringWithFallback(KeyRigs, ""); s != "" {
			// A list that does not parse was not written by this code; it is
			// dropped rather than keeping the view from opening.
			_ = json.Unmarshal([]byte(s), &v.manual)
		}
	}
	return v
}

func (v *View) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// save writes the hand-typed rigs and the token (v.mu held).
func (v *View) save() {
	if v.prefs == nil {
		return
	}
	b, _ := json.Marshal(v.manual)
	v.prefs.SetString(KeyRigs, string(b))
	v.prefs.SetString(KeyToken, v.token)
}

// NormalizeAddr turns what a farmer typed ("10.0.0.7", "rig-07:9401",
// "http://10.0.0.7:9400/") into host:port, or says what is wrong with it.
func NormalizeAddr(addr string) (string, error) {
	_, host, port, err := statusURL(addr)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// AddManual adds a rig typed by hand, or sets the token of one already
// listed, and returns its normalized address.
func (v *View) AddManual(addr, token string) (string, error) {
	addr, err := NormalizeAddr(addr)
	if err != nil {
		return "", err
	}
	token = strings.TrimSpace(token)
	v.mu.Lock()
	defer v.mu.Unlock()
	if i := slices.IndexFunc(v.manual, func(m ManualRig) bool { return m.Addr == addr }); i >= 0 {
		v.manual[i].Token = token
	} else {
		v.manual = append(v.manual, ManualRig{Addr: addr, Token: token})
	}
	v.save()
	return addr, nil
}

// RemoveManual stops watching a rig typed by hand and clears its alerts.
func (v *View) RemoveManual(addr string) {
	v.mu.Lock()
	v.manual = slices.DeleteFunc(v.manual, func(m ManualRig) bool { return m.Addr == addr })
	v.save()
	rs := v.rigs[addr]
	delete(v.rigs, addr)
	v.mu.Unlock()
	if rs != nil && rs.name != "" {
		v.Alerter.Forget(v.now(), rs.name)
	}
}

// Manual lists the rigs typed by hand, in the order they were added.
func (v *View) Manual() []ManualRig {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.manual)
}

// SetToken sets the farm token sent to every rig that has none of its own.
func (v *View) SetToken(token string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.token = strings.TrimSpace(token)
	v.save()
}

// Token is the farm token.
func (v *View) Token() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.token
}

// EnableDiscovery starts browsing the LAN (at once, then every
// DiscoverEvery) in Serve. It is off until asked for, so a desktop that is
// no farm does not query the LAN.
func (v *View) EnableDiscovery() {
	v.mu.Lock()
	v.discovering = true
	v.mu.Unlock()
	v.Kick()
}

// Discovery says how the last browse of the LAN went.
func (v *View) Discovery() DiscoveryStatus {
	v.mu.Lock()
	defer v.mu.Unlock()
	d := v.discovery
	d.On = v.discovering
	return d
}

// Kick makes Serve poll (and discover, if enabled) now.
func (v *View) Kick() {
	select {
	case v.kick <- struct{}{}:
	default:
	}
}

// Serve polls every PollEvery and, once EnableDiscovery was called, browses
// the LAN every DiscoverEvery, until ctx ends.
func (v *View) Serve(ctx context.Context) error {
	poll := time.NewTicker(cmp.Or(v.PollEvery, DefaultPollEvery))
	defer poll.Stop()
	disc := time.NewTicker(cmp.Or(v.DiscoverEvery, DefaultDiscoverEvery))
	defer disc.Stop()
	v.Poll(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-v.kick:
			v.discoverIfOn(ctx)
			v.Poll(ctx)
		case <-disc.C:
			if v.discoverIfOn(ctx) {
				v.Poll(ctx)
			}
		case <-poll.C:
			v.Poll(ctx)
		}
	}
}

func (v *View) discoverIfOn(ctx context.Context) bool {
	v.mu.Lock()
	on := v.discovering
	v.mu.Unlock()
	if !on {
		return false
	}
	_, _ = v.Discover(ctx)
	return true
}

// Discover browses the LAN once (the step Serve repeats) and adds the rigs
// that answered to the view. Rigs once found stay: one that stops
// answering shows as unreachable rather than vanishing.
func (v *View) Discover(ctx context.Context) ([]Rig, error) {
	rigs, err := Discover(ctx, cmp.Or(v.DiscoverTimeout, DefaultDiscoverTimeout))
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	v.mu.Lock()
	v.discovery = DiscoveryStatus{At: v.now(), Found: len(rigs), Err: err}
	for _, r := range rigs {
		if r.Address() != "" {
			v.found[r.Name] = r
		}
	}
	v.mu.Unlock()
	v.updated()
	return rigs, err
}

func (v *View) updated() {
	if v.OnUpdate != nil {
		v.OnUpdate()
	}
}

// targets merges the hand-typed rigs and the discovered ones (v.mu held). A
// discovered rig at an address typed by hand, or with the device ID of one,
// is that rig.
func (v *View) targets() []target {
	var out []target
	addrs := map[string]bool{}
	devices := map[string]bool{}
	for _, m := range v.manual {
		t := target{key: m.Addr, addr: m.Addr, token: cmp.Or(m.Token, v.token), name: m.Addr, manual: true}
		if rs := v.rigs[t.key]; rs != nil && rs.answered {
			t.name = cmp.Or(rs.st.Host, t.name)
			if rs.st.DeviceID != "" {
				devices[rs.st.DeviceID] = true
			}
		}
		addrs[m.Addr] = true
		out = append(out, t)
	}
	names := make([]string, 0, len(v.found))
	for n := range v.found {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		r := v.found[n]
		if addrs[r.Address()] || (r.DeviceID != "" && devices[r.DeviceID]) {
			continue
		}
		out = append(out, target{key: "mdns:" + n, addr: r.Address(), token: v.token, name: n})
	}
	// Two rigs with one name (say, both "ubuntu") would share alerts: the
	// second and later are told apart by their address.
	seen := map[string]bool{}
	for i := range out {
		if seen[out[i].name] {
			out[i].name += " (" + out[i].addr + ")"
		}
		seen[out[i].name] = true
	}
	return out
}

// probed is one target's answer to a poll.
type probed struct {
	st  Status
	err error
}

// Poll probes every rig at once (a few at a time), feeds the answers to the
// Alerter and keeps them for Rows.
func (v *View) Poll(ctx context.Context) {
	v.pollMu.Lock()
	defer v.pollMu.Unlock()
	v.mu.Lock()
	ts := v.targets()
	v.mu.Unlock()
	if len(ts) == 0 {
		v.updated()
		return
	}
	res := make([]probed, len(ts))
	sem := make(chan struct{}, maxParallelProbes)
	var wg sync.WaitGroup
	for i, t := range ts {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			pctx, cancel := context.WithTimeout(ctx, cmp.Or(v.ProbeTimeout, DefaultProbeTimeout))
			defer cancel()
			_, st, err := Probe(pctx, t.addr, t.token)
			res[i] = probed{st: st, err: err}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // shutting down: a cancelled probe says nothing about the rig
	}

	now := v.now()
	byKey := make(map[string]probed, len(ts))
	for i, t := range ts {
		byKey[t.key] = res[i]
	}
	var forget []string
	v.mu.Lock()
	for key, r := range byKey {
		rs := v.rigs[key]
		if rs == nil {
			rs = &rigState{}
			v.rigs[key] = rs
		}
		rs.polled, rs.ok = true, r.err == nil
		if r.err == nil {
			rs.st, rs.answered = r.st, true
		}
	}
	// Names are taken after the answers: a rig typed by hand is named by
	// its host once it first answers. The list may also have changed while
	// the probes ran; only rigs still listed are observed.
	ts = v.targets()
	var observe []target
	for _, t := range ts {
		rs, r := v.rigs[t.key], byKey[t.key]
		if _, probedNow := byKey[t.key]; !probedNow || rs == nil {
			continue
		}
		if r.err != nil {
			rs.problem = Explain(t.name, t.addr, r.err)
		} else {
			rs.problem = ""
		}
		if rs.name != "" && rs.name != t.name && !slices.ContainsFunc(ts, func(o target) bool { return o.name == rs.name }) {
			forget = append(forget, rs.name)
		}
		rs.name = t.name
		observe = append(observe, t)
	}
	// A rig removed while it was probed, or found on the LAN and since
	// known to be one typed by hand, is no longer watched under its key.
	for key, rs := range v.rigs {
		if !slices.ContainsFunc(ts, func(t target) bool { return t.key == key }) {
			if rs.name != "" && !slices.ContainsFunc(ts, func(t target) bool { return t.name == rs.name }) {
				forget = append(forget, rs.name)
			}
			delete(v.rigs, key)
		}
	}
	v.mu.Unlock()

	// The Alerter calls OnChange, which may reach the GUI: no lock is held.
	for _, n := range forget {
		v.Alerter.Forget(now, n)
	}
	for _, t := range observe {
		r := byKey[t.key]
		v.Alerter.Observe(now, t.name, r.st, r.err == nil)
	}
	v.updated()
}

// Explain says in words what to do about a rig that did not answer.
func Explain(name, addr string, err error) string {
	who := name + " at " + addr
	if name == addr {
		who = addr
	}
	var nerr net.Error
	switch {
	case errors.Is(err, ErrUnauthorized):
		return who + " refused the farm token: type the token its agent was started with (--farm-token) for this address or as the farm token."
	case errors.As(err, &nerr), errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("%s at %s: is its agent started with --lan and the same farm token, and is port %s open in its firewall?", noAnswer(name, addr), addr, portOf(addr))
	default:
		return fmt.Sprintf("%s as an idlegrid agent at %s (%v): check the address and port (the agent's default is %d).", noAnswer(name, addr), addr, err, DefaultPort)
	}
}

// noAnswer is "rig-07 did not answer", or "Nothing answered" for a rig
// known only by its address.
func noAnswer(name, addr string) string {
	if name == addr {
		return "Nothing answered"
	}
	return name + " did not answer"
}

func portOf(addr string) string {
	if _, p, err := net.SplitHostPort(addr); err == nil {
		return p
	}
	return strconv.Itoa(DefaultPort)
}

// Rows is every GPU of every rig, worst first: rows with active alerts,
// then rigs that do not answer, then the hottest cards.
func (v *View) Rows() []Row {
	active := v.Alerter.Active()
	v.mu.Lock()
	ts := v.targets()
	var rows []Row
	for _, t := range ts {
		rows = append(rows, rowsOf(t, v.rigs[t.key])...)
	}
	v.mu.Unlock()
	for i := range rows {
		for _, a := range active {
			if a.Rig == rows[i].Rig && (a.GPU < 0 || a.GPU == rows[i].GPU) {
				rows[i].Alerts = append(rows[i].Alerts, a)
			}
		}
	}
	slices.SortStableFunc(rows, worstFirst)
	return rows
}

func worstFirst(a, b Row) int {
	return cmp.Or(
		-cmp.Compare(len(a.Alerts), len(b.Alerts)),
		-cmp.Compare(rank(a), rank(b)),
		-cmp.Compare(a.TempC, b.TempC),
		strings.Compare(a.Rig, b.Rig),
		cmp.Compare(a.GPU, b.GPU),
	)
}

// rank orders rows without alerts: a rig that does not answer before one
// not checked yet, before one with readings.
func rank(r Row) int {
	switch {
	case r.State == RigUnreachable:
		return 2
	case r.State == RigChecking:
		return 1
	default:
		return 0
	}
}

func rowsOf(t target, rs *rigState) []Row {
	base := Row{Rig: t.name, Addr: t.addr, Manual: t.manual, GPU: -1}
	switch {
	case rs == nil || !rs.polled:
		base.State = RigChecking
		return []Row{base}
	case !rs.ok:
		base.State, base.Reason = RigUnreachable, rs.problem
		if !rs.answered || len(rs.st.GPUs) == 0 {
			return []Row{base}
		}
		// The cards it had when it last answered, without their figures.
		var rows []Row
		for _, g := range rs.st.GPUs {
			r := base
			r.GPU, r.Model = g.Index, gpuModel(g.Name)
			rows = append(rows, r)
		}
		return rows
	}
	st := rs.st
	base.EarnsPerHour = st.EarnsPerHour
	switch {
	case st.Paused:
		base.State, base.Reason = RigPaused, st.PauseReason
	case !st.Connected:
		base.State, base.Reason = RigOffline, cmp.Or(st.LastError, "its agent is "+cmp.Or(st.State, "not connected")+" to the control plane")
	default:
		base.State = RigOnline
	}
	var rows []Row
	seen := map[int]bool{}
	for _, s := range st.Samples {
		r := base
		r.GPU, r.Model, r.Reading = s.Index, gpuModel(s.Name), true
		r.TempC, r.UtilPct = s.TempC, s.UtilPct
		r.PowerW, r.PowerLimitW = int(s.PowerMW/1000), int(s.PowerLimitMW/1000)
		rows = append(rows, r)
		seen[s.Index] = true
	}
	for _, g := range st.GPUs {
		if seen[g.Index] {
			continue
		}
		r := base
		r.GPU, r.Model = g.Index, gpuModel(g.Name)
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		base.Model = "no GPU"
		if st.GPUError != "" {
			base.Model = "GPUs unreadable: " + st.GPUError
		}
		rows = append(rows, base)
	}
	slices.SortFunc(rows, func(a, b Row) int { return cmp.Compare(a.GPU, b.GPU) })
	return rows
}

// gpuModel shortens "NVIDIA GeForce RTX 4090" to "RTX 4090".
func gpuModel(name string) string {
	return strings.TrimPrefix(strings.TrimPrefix(name, "NVIDIA "), "GeForce ")
}

// Title is the kind in a few words, for a heading or a notification.
func (k Kind) Title() string {
	switch k {
	case KindOverTemp:
		return "GPU over temperature"
	case KindGPULost:
		return "GPU lost"
	case KindOffline:
		return "Rig not answering"
	case KindDisconnected:
		return "Agent disconnected"
	case KindVerificationFailed:
		return "Verification failed"
	default:
		return string(k)
	}
}

// SinceText is how long an alert has been going on, as of now: "since
// 14:03:10 (2 min 5 s)".
func SinceText(a Alert, now time.Time) string {
	return fmt.Sprintf("since %s (%s)", a.Since.Local().Format("15:04:05"), words(now.Sub(a.Since)))
}
