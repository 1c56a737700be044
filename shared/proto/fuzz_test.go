package proto

import (
	"errors"
	"reflect"
	"testing"
)

// Decode takes anything an agent or a server could send: it never panics,
// refuses with ErrMalformed, and what it accepts encodes and decodes to the
// same type again.
func FuzzDecode(f *testing.F) {
	full := fullHeartbeat()
	seeds := []any{
		&Heartbeat{Seq: 1, State: StateAvailable},
		&full,
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
	f.Add([]byte(`{"type":"heartbeat","body":{"seq":1,"state":"available"}}}`))
	f.Add([]byte(`{"type":"heartbeat","body":{"seq":1,"state":"available"},"type":"auth"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := Decode(data)
		// The one-pass path decides exactly as the general one.
		slow, slowErr := decodeEnvelope(data)
		if (err == nil) != (slowErr == nil) || (err == nil && !reflect.DeepEqual(msg, slow)) {
			t.Fatalf("one-pass and general decoding disagree on %q: %v (%#v) against %v (%#v)", data, err, msg, slowErr, slow)
		}
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

// A value must be the whole message: a stray closing bracket after it is
// refused (json.Decoder.More alone lets it through).
func TestTrailingBracketIsRefused(t *testing.T) {
	for _, data := range []string{
		`{"type":"heartbeat","body":{"seq":1,"state":"available"}}}`,
		`{"type":"heartbeat","body":{"seq":1,"state":"available"}}]`,
		`{"type":"heartbeat","body":{"seq":1,"state":"available"}} {}`,
	} {
		if _, err := Decode([]byte(data)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%s) = %v, want ErrMalformed", data, err)
		}
	}
	if _, err := Decode([]byte(`{"type":"heartbeat","body":{"seq":1,"state":"available"}}` + " \n")); err != nil {
		t.Errorf("trailing space refused: %v", err)
	}
}
