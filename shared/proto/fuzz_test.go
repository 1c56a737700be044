package proto

import (
	"errors"
	"testing"
)

// Decode takes anything an agent or a server could send: it never panics,
// refuses with ErrMalformed, and what it accepts encodes and decodes to the
// same type again.
func FuzzDecode(f *testing.F) {
	seeds := []any{
		&Heartbeat{Seq: 1, State: StateAvailable},
		&RuntimeStart{ClusterID: "cls_abcdefgh23", Runtime: RuntimeRay, Role: RoleWorker, HeadAddress: "10.0.0.1:6379", NodeName: "dev_x", GPUs: 1},
		&RuntimeStatus{Runtimes: []RuntimeState{{ClusterID: "cls_abcdefgh23", Role: RoleHead, State: RuntimeRunning, Nodes: []string{"a"}}}},
		&RuntimeStop{ClusterID: "cls_abcdefgh23"},
		&PayoutWallet{Address: "11111111111111111111111111111111"},
	}
	for _, s := range seeds {
		b, err := Encode(TypeOf(s), s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"type":"heartbeat","body":{"seq":0}}`))
	f.Add([]byte(`{"type":"auth","body":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("a refusal that is not ErrMalformed: %v", err)
			}
			return
		}
		b, err := Encode(TypeOf(msg), msg)
		if err != nil {
			t.Fatalf("re-encoding an accepted %s: %v", TypeOf(msg), err)
		}
		again, err := Decode(b)
		if err != nil || TypeOf(again) != TypeOf(msg) {
			t.Fatalf("an accepted %s does not survive a round trip: %v", TypeOf(msg), err)
		}
	})
}
