package farm

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"
)

func TestProbeTwoRigs(t *testing.T) {
	const token = "farm-token-for-rig-b-0123"
	snapA := simSnapshot(t)
	snapB := Snapshot{DeviceID: "dev_bbbbbbbbbbbb", Version: "1.3.9", State: "reconnecting", Verification: "failed"}
	addrA := startServer(t, &Server{Host: "rig-a", Source: func() Snapshot { return snapA }})
	addrB := startServer(t, &Server{Host: "rig-b", Token: token, Source: func() Snapshot { return snapB }})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	rig, st, err := Probe(ctx, addrA, "")
	if err != nil {
		t.Fatalf("Probe(rig-a): %v", err)
	}
	host, port, _ := net.SplitHostPort(addrA)
	if rig.Name != "rig-a" || rig.DeviceID != snapA.DeviceID || rig.Version != "1.4.0" || rig.Address() != addrA || rig.Addrs[0] != host || strconv.Itoa(rig.Port) != port || rig.TokenRequired {
		t.Errorf("Probe(rig-a) rig = %+v", rig)
	}
	if !st.Connected || len(st.Samples) != 2 || st.Samples[0].TempC != snapA.Samples[0].TempC {
		t.Errorf("Probe(rig-a) status = %+v", st)
	}

	if _, _, err := Probe(ctx, addrB, ""); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Probe(rig-b) without its token = %v; want ErrUnauthorized", err)
	}
	if _, _, err := Probe(ctx, addrB, token+"x"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Probe(rig-b) with a wrong token = %v; want ErrUnauthorized", err)
	}
	rig, st, err = Probe(ctx, "http://"+addrB+"/", token)
	if err != nil {
		t.Fatalf("Probe(rig-b): %v", err)
	}
	if rig.Name != "rig-b" || rig.DeviceID != "dev_bbbbbbbbbbbb" || !rig.TokenRequired || rig.Address() != addrB {
		t.Errorf("Probe(rig-b) rig = %+v", rig)
	}
	if st.Connected || st.State != "reconnecting" || st.Verification != "failed" {
		t.Errorf("Probe(rig-b) status = %+v", st)
	}
}

func TestProbeUnreachable(t *testing.T) {
	// A port that was just free: nothing listens on it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, _, err := Probe(context.Background(), addr, ""); err == nil {
		t.Errorf("Probe(%s) with nothing listening succeeded", addr)
	}
}

func TestStatusURL(t *testing.T) {
	tests := []struct {
		in, url, host string
		port          int
	}{
		{"192.168.1.20:9400", "http://192.168.1.20:9400/status", "192.168.1.20", 9400},
		{"192.168.1.20", "http://192.168.1.20:9400/status", "192.168.1.20", 9400},
		{" rig-07.lan:9500 ", "http://rig-07.lan:9500/status", "rig-07.lan", 9500},
		{"http://rig-07.lan:9500/", "http://rig-07.lan:9500/status", "rig-07.lan", 9500},
		{"[fd00::2]:9400", "http://[fd00::2]:9400/status", "fd00::2", 9400},
	}
	for _, tt := range tests {
		u, host, port, err := statusURL(tt.in)
		if err != nil || u != tt.url || host != tt.host || port != tt.port {
			t.Errorf("statusURL(%q) = %q, %q, %d, %v; want %q, %q, %d", tt.in, u, host, port, err, tt.url, tt.host, tt.port)
		}
	}
	for _, bad := range []string{"", "https://rig:9400", "ftp://rig", "rig:0", "rig:70000", "http://:9400"} {
		if _, _, _, err := statusURL(bad); err == nil {
			t.Errorf("statusURL(%q) accepted", bad)
		}
	}
}
