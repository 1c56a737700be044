package proto

import (
	"errors"
	"strings"
	"testing"
)

func TestRuntimeMessagesRoundTrip(t *testing.T) {
	msgs := []any{
		&RuntimeStart{ClusterID: "cls_abcdefgh23", Runtime: RuntimeRay, Role: RoleHead, NodeName: "dev_x", GPUs: 2, GPUModel: "RTX 4090", TunnelToken: "tok"},
		&RuntimeStart{ClusterID: "cls_abcdefgh23", Runtime: RuntimeRay, Role: RoleWorker, HeadAddress: "10.0.0.1:6379", NodeName: "dev_y", GPUs: 1},
		&RuntimeStop{ClusterID: "cls_abcdefgh23", Reason: "terminated by its owner"},
		&RuntimeStatus{Runtimes: []RuntimeState{{ClusterID: "cls_abcdefgh23", Role: RoleHead, State: RuntimeRunning, Address: "10.0.0.1:6379", Nodes: []string{"dev_x", "dev_y"}}}},
	}
	for _, m := range msgs {
		b, err := Encode(TypeOf(m), m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", TypeOf(m), err)
		}
		if TypeOf(got) != TypeOf(m) {
			t.Fatalf("decoded %s as %s", TypeOf(m), TypeOf(got))
		}
	}
}

func TestRuntimeMessagesRefuseNonsense(t *testing.T) {
	cases := map[string]struct {
		typ  string
		body any
		want string
	}{
		"worker without head": {TypeRuntimeStart, RuntimeStart{ClusterID: "cls_abcdefgh23", Runtime: RuntimeRay, Role: RoleWorker, NodeName: "d"}, "head_address"},
		"unknown runtime":     {TypeRuntimeStart, RuntimeStart{ClusterID: "cls_abcdefgh23", Runtime: "docker", Role: RoleHead, NodeName: "d"}, "unknown runtime"},
		"bad cluster id":      {TypeRuntimeStop, RuntimeStop{ClusterID: "../etc/passwd"}, "not an id"},
		"bad state":           {TypeRuntimeStatus, RuntimeStatus{Runtimes: []RuntimeState{{ClusterID: "cls_abcdefgh23", Role: RoleHead, State: "dancing"}}}, "unknown runtime state"},
		"too many gpus":       {TypeRuntimeStart, RuntimeStart{ClusterID: "cls_abcdefgh23", Runtime: RuntimeRay, Role: RoleHead, NodeName: "d", GPUs: 99}, "out of range"},
	}
	for name, c := range cases {
		b, err := Encode(c.typ, c.body)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Decode(b)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error saying %q", name, err, c.want)
		}
	}
}
