package farm

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// mapPrefs keeps preferences in a map, as the app's would.
type mapPrefs map[string]string

func (p mapPrefs) StringWithFallback(k, d string) string {
	if v, ok := p[k]; ok {
		return v
	}
	return d
}
func (p mapPrefs) SetString(k, v string) { p[k] = v }

// deadAddr is a loopback address nothing listens on.
func deadAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// liveRig is a rig whose snapshot the test changes between polls.
type liveRig struct {
	mu   sync.Mutex
	snap Snapshot
}

func (r *liveRig) source() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snap
}

func (r *liveRig) setTemp(gpu, c int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.snap.Samples[gpu].TempC = c
}

func rowKeys(rows []Row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s/%d %s", r.Rig, r.GPU, r.State))
	}
	return out
}

func TestViewKeepsHandTypedRigsInPrefs(t *testing.T) {
	p := mapPrefs{}
	v := NewView(p)
	for _, c := range []struct{ in, want string }{
		{"10.0.0.7", "10.0.0.7:9400"},
		{" rig-07:9401 ", "rig-07:9401"},
		{"http://10.0.0.8:9400/x", "10.0.0.8:9400"},
	} {
		got, err := v.AddManual(c.in, "")
		if err != nil || got != c.want {
			t.Errorf("AddManual(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "ftp://10.0.0.7", "10.0.0.7:99999"} {
		if _, err := v.AddManual(bad, ""); err == nil || !strings.Contains(err.Error(), "192.168.1.20:9400") && !strings.Contains(err.Error(), "1..65535") {
			t.Errorf("AddManual(%q) = %v; want an error that shows a good address", bad, err)
		}
	}
	if _, err := v.AddManual("rig-07:9401", "a-token-of-sixteen-chars"); err != nil {
		t.Fatal(err)
	}
	v.SetToken(" farm-wide-token-0123 ")
	v.RemoveManual("10.0.0.8:9400")

	again := NewView(p)
	got := again.Manual()
	want := []ManualRig{{Addr: "10.0.0.7:9400"}, {Addr: "rig-07:9401", Token: "a-token-of-sixteen-chars"}}
	if fmt.Sprint(got) != fmt.Sprint(want) || again.Token() != "farm-wide-token-0123" {
		t.Errorf("reloaded %v token %q; want %v and the farm token", got, again.Token(), want)
	}
	if NewView(mapPrefs{KeyRigs: "not json"}).Manual() != nil {
		t.Error("an unreadable list was not dropped")
	}
}

// Two live rigs typed by hand, one of them also found on the LAN, one
// discovered rig that has gone away, and a token only one rig needs.
func TestViewMergesPollsAndSortsWorstFirst(t *testing.T) {
	const token = "farm-token-for-rig-b-0123"
	a := &liveRig{snap: simSnapshot(t)} // two cards
	a.snap.Paused = false
	a.setTemp(0, 72)
	a.setTemp(1, 60)
	b := &liveRig{snap: simSnapshot(t)}
	b.snap.DeviceID, b.snap.Paused = "dev_bbbbbbbbbbbb", false
	b.snap.Connected, b.snap.State, b.snap.LastError = false, "reconnecting", "the control plane did not answer"
	b.setTemp(0, 66)
	b.setTemp(1, 50)
	addrA := startServer(t, &Server{Host: "rig-a", Source: a.source})
	addrB := startServer(t, &Server{Host: "rig-b", Token: token, Source: b.source})
	gone := deadAddr(t)

	clock := t0
	v := NewView(nil)
	v.Now = func() time.Time { return clock }
	if _, err := v.AddManual(addrA, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := v.AddManual(addrB, ""); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addrB)
	v.found["rig-b-on-the-lan"] = Rig{Name: "rig-b-on-the-lan", Addrs: []string{host}, Port: atoi(t, port)}
	ghost, gport, _ := net.SplitHostPort(gone)
	v.found["rig-gone"] = Rig{Name: "rig-gone", Addrs: []string{ghost}, Port: atoi(t, gport)}

	ctx := context.Background()
	v.Poll(ctx)
	rows := v.Rows()
	want := []string{
		addrB + "/-1 unreachable", // wants a token; known by its address alone
		"rig-gone/-1 unreachable",
		"rig-a/0 online",
		"rig-a/1 online",
	}
	if got := rowKeys(rows); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows %q; want %q", got, want)
	}
	if r := rows[1].Reason; !strings.Contains(r, "rig-gone did not answer at "+gone) || !strings.Contains(r, "--lan") {
		t.Errorf("a rig that went away: %q", r)
	}
	if r := rows[0].Reason; !strings.Contains(r, "refused the farm token") || !strings.Contains(r, "--farm-token") {
		t.Errorf("a rig that wants a token: %q", r)
	}

	v.SetToken(token)
	clock = clock.Add(5 * time.Second)
	v.Poll(ctx)
	rows = v.Rows()
	want = []string{
		"rig-gone/-1 unreachable",
		"rig-a/0 online",
		"rig-b/0 offline",
		"rig-a/1 online",
		"rig-b/1 offline",
	}
	if got := rowKeys(rows); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("with the token: rows %q; want %q", got, want)
	}
	r := rows[1]
	if r.Rig != "rig-a" || !r.Reading || r.Model != "RTX 4090" || r.PowerLimitW != 450 || r.UtilPct == 0 || r.EarnsPerHour != 312_500 || r.Manual != true {
		t.Errorf("rig-a GPU 1: %+v", r)
	}
	if rows[2].Reason != "the control plane did not answer" {
		t.Errorf("an offline rig says %q", rows[2].Reason)
	}

	// A card held at 95 °C for 30 s raises one alert; a spike of 10 s
	// raised none. By then (60 s) the rig that went away is offline too.
	b.setTemp(1, 95)
	clock = clock.Add(5 * time.Second)
	v.Poll(ctx)
	b.setTemp(1, 70)
	clock = clock.Add(10 * time.Second)
	v.Poll(ctx)
	if al := v.Alerter.Active(); len(al) != 0 {
		t.Fatalf("a 10 s spike raised %v", al)
	}
	b.setTemp(1, 95)
	for range 4 {
		clock = clock.Add(10 * time.Second)
		v.Poll(ctx)
	}
	al := v.Alerter.Active()
	if len(al) != 2 || al[0].Kind != KindOverTemp || al[0].Rig != "rig-b" || al[0].GPU != 1 || al[1].Kind != KindOffline || al[1].Rig != "rig-gone" {
		t.Fatalf("alerts %+v; want rig-b GPU 1 over temperature and rig-gone offline", al)
	}
	if s := SinceText(al[0], clock); !strings.Contains(s, "(30 s)") {
		t.Errorf("SinceText = %q", s)
	}
	// Alerts first, ahead of a hotter card that has none.
	// (Polled at the same instant: 5 s more would raise rig-b's
	// disconnection as well.)
	b.setTemp(1, 84)
	a.setTemp(0, 90)
	v.Poll(ctx)
	rows = v.Rows()
	want = []string{"rig-gone/-1 unreachable", "rig-b/1 offline", "rig-a/0 online"}
	if got := rowKeys(rows[:3]); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("with alerts: rows %q; want %q first", rowKeys(rows), want)
	}
	if len(rows[1].Alerts) != 1 || len(rows[2].Alerts) != 0 {
		t.Errorf("alerts on rows: %+v / %+v", rows[1].Alerts, rows[2].Alerts)
	}

	v.RemoveManual(addrB)
	for _, r := range v.Rows() {
		if strings.HasPrefix(r.Rig, "rig-b") && r.Rig != "rig-b-on-the-lan" {
			t.Errorf("a removed rig still shows: %+v", r)
		}
	}
}

func atoi(tb testing.TB, s string) int {
	tb.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		tb.Fatal(err)
	}
	return n
}
