package proto

import (
	"reflect"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/shared/hw"
)

func fullHeartbeat() Heartbeat {
	return Heartbeat{Seq: 1 << 40, SentAt: time.Date(2026, 11, 22, 9, 30, 1, 123456789, time.FixedZone("", 3600)), State: StatePaused, PauseReason: "gaming (Steam)",
		GPUs: []hw.GPUSample{
			{Index: 0, UUID: "GPU-8f1c", Name: "NVIDIA GeForce RTX 4090", MemoryTotal: 24 << 30, MemoryUsed: 1 << 30, TempC: -3, PowerMW: 450_000, PowerLimitMW: 1<<32 - 1,
				UtilPct: 100, FanPct: 55, SMClockMHz: 2520, Missing: []string{"fan"}},
			{Index: 1, Missing: []string{}},
		},
		Host: hw.HostSample{CPUPct: 1e-7, MemTotal: 1 << 36, MemUsed: 12345, DiskTotal: 1 << 40, DiskUsed: 1, NetRx: 1<<63 + 5, NetTx: 7, UptimeS: 86400}}
}

// Heartbeats as agents write them take the fast path, and it reads every
// field exactly as encoding/json does.
func TestFastHeartbeatReadsWhatEncodingJSONReads(t *testing.T) {
	for _, hb := range []Heartbeat{fullHeartbeat(), {Seq: 1, State: StateAvailable}, {Seq: 2, State: StateAvailable, GPUs: []hw.GPUSample{}}} {
		data, err := Encode(TypeHeartbeat, hb)
		if err != nil {
			t.Fatal(err)
		}
		_, body, ok := splitEncoded(data)
		if !ok {
			t.Fatalf("%s is not in Encode's form", data)
		}
		fast, ok := decodeHeartbeatFast(body)
		if !ok {
			t.Fatalf("the fast path refused what Encode wrote: %s", body)
		}
		slow, err := decodeEnvelope(data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast %#v\nslow %#v", fast, slow)
		}
	}
}

// Whatever the fast path does not take goes to encoding/json, which
// decides: a key in capitals, a null, an escape, a space, a repeated key,
// a number written another way, an unknown field.
func TestFastHeartbeatLeavesTheRestToEncodingJSON(t *testing.T) {
	for _, body := range []string{
		`{"SEQ":1,"state":"available"}`,
		`{"seq":1,"state":"available","gpus":nul}`,
		`{"seq":1,"state":"available","host":null}`,
		`{"seq":1,"state":"avail\u0061ble"}`,
		`{"seq":1, "state":"available"}`,
		`{"seq":1,"seq":2,"state":"available"}`,
		`{"seq":1.0,"state":"available"}`,
		`{"seq":01,"state":"available"}`,
		`{"seq":1,"state":"available","gpus":[{"power_mw":4294967296}]}`,
		`{"seq":1,"state":"available","surprise":true}`,
	} {
		if _, ok := decodeHeartbeatFast([]byte(body)); ok {
			t.Errorf("the fast path took %s", body)
		}
		data := []byte(`{"type":"heartbeat","body":` + body + `}`)
		got, gotErr := Decode(data)
		want, wantErr := decodeEnvelope(data)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Decode %v %v, encoding/json %v %v", body, got, gotErr, want, wantErr)
		}
	}
}

func BenchmarkDecodeHeartbeat(b *testing.B) {
	data, _ := Encode(TypeHeartbeat, fullHeartbeat())
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := Decode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeEnvelope(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
