package farm

import (
	"context"
	"net"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/mdns"
)

func TestTXTRoundTrip(t *testing.T) {
	for _, token := range []bool{false, true} {
		s := Service{DeviceID: "dev_0123456789ab", Version: "1.4.0", TokenRequired: token}
		txt := encodeTXT(s)
		var r Rig
		decodeTXT(append(txt, "future=key", "bare"), &r) // unknown keys are ignored
		if r.DeviceID != s.DeviceID || r.Version != s.Version || r.TokenRequired != token {
			t.Errorf("decodeTXT(encodeTXT(%+v)) = %+v (txt %q)", s, r, txt)
		}
	}
	want := []string{"txtvers=1", "device_id=dev_1", "version=2.0", "token=required"}
	if got := encodeTXT(Service{DeviceID: "dev_1", Version: "2.0", TokenRequired: true}); !slices.Equal(got, want) {
		t.Errorf("encodeTXT = %q, want %q", got, want)
	}
}

func TestRigFromEntry(t *testing.T) {
	e := &mdns.ServiceEntry{
		Name:         `rig\ 07._idlegrid._tcp.local.`,
		Host:         "rig-07.local.",
		AddrV4:       net.ParseIP("192.168.1.20"),
		AddrV6IPAddr: &net.IPAddr{IP: net.ParseIP("fe80::1"), Zone: "eth0"},
		Port:         9400,
		InfoFields:   []string{"txtvers=1", "device_id=dev_7", "version=1.4.0", "token=required"},
	}
	want := Rig{Name: "rig 07", Addrs: []string{"192.168.1.20", "fe80::1%eth0"}, Port: 9400, DeviceID: "dev_7", Version: "1.4.0", TokenRequired: true}
	if got := rigFromEntry(e); !reflect.DeepEqual(got, want) {
		t.Errorf("rigFromEntry = %+v, want %+v", got, want)
	}
	if got := want.Address(); got != "192.168.1.20:9400" {
		t.Errorf("Address() = %q", got)
	}
}

func TestInstanceName(t *testing.T) {
	for in, want := range map[string]string{
		"rig-07._idlegrid._tcp.local.":      "rig-07",
		`rig\.a._idlegrid._tcp.local.`:      "rig.a",
		`caf\195\169._idlegrid._tcp.local.`: "café",
		"other.local.":                      "other.local",
	} {
		if got := instanceName(in); got != want {
			t.Errorf("instanceName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDNSLabel(t *testing.T) {
	for in, want := range map[string]string{
		"rig-07":          "rig-07",
		"rig-07.farm.lan": "rig-07",
		"Rig 07 (garage)": "Rig-07--garage",
		"-x-":             "x",
	} {
		if got := dnsLabel(in); got != want {
			t.Errorf("dnsLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAnnounceAndDiscoverTwoRigs announces two rigs over real multicast DNS
// and browses for them. It needs an interface that is up with the MULTICAST
// flag (here eth0; lo has none, so multicast leaves by the default route
// and the kernel loops it back to this host's listeners). Both rigs run in
// this process on 224.0.0.251:5353, as two agents on two machines would.
func TestAnnounceAndDiscoverTwoRigs(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	rigs := []Service{
		{Instance: "rig-a", Host: "rig-a", Port: 9400, DeviceID: "dev_aaaaaaaaaaaa", Version: "1.4.0", IPs: []net.IP{net.ParseIP("192.0.2.10")}},
		{Instance: "rig-b", Host: "rig-b", Port: 9401, DeviceID: "dev_bbbbbbbbbbbb", Version: "1.4.1", TokenRequired: true, IPs: []net.IP{net.ParseIP("192.0.2.11")}},
	}
	done := make(chan error, len(rigs))
	for _, s := range rigs {
		go func() { done <- Announce(ctx, s) }()
	}
	t.Cleanup(func() {
		cancel()
		for range rigs {
			if err := <-done; err != nil {
				t.Errorf("Announce: %v", err)
			}
		}
	})

	want := []Rig{
		{Name: "rig-a", Addrs: []string{"192.0.2.10"}, Port: 9400, DeviceID: "dev_aaaaaaaaaaaa", Version: "1.4.0"},
		{Name: "rig-b", Addrs: []string{"192.0.2.11"}, Port: 9401, DeviceID: "dev_bbbbbbbbbbbb", Version: "1.4.1", TokenRequired: true},
	}
	// The announcers start in the background: browse until both answer,
	// with a deadline rather than a sleep.
	deadline := time.Now().Add(15 * time.Second)
	var got []Rig
	for time.Now().Before(deadline) {
		var err error
		got, err = Discover(ctx, 500*time.Millisecond)
		if err != nil {
			t.Fatalf("Discover: %v", err)
		}
		if reflect.DeepEqual(got, want) {
			return
		}
	}
	t.Fatalf("Discover = %+v, want %+v", got, want)
}

func TestDiscoverHonoursAnEndedContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	<-ctx.Done()
	if _, err := Discover(ctx, time.Second); err == nil {
		t.Error("Discover with an ended context succeeded")
	}
}
