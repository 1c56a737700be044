package proto

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/shared/hw"
)

func TestRoundTrip(t *testing.T) {
	nonce, err := NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	msgs := map[string]any{
		TypeHello:     &Hello{MinProtocol: 1, MaxProtocol: 1, Nonce: nonce},
		TypeWelcome:   &Welcome{DeviceID: "dev_x", HeartbeatInterval: Duration(5 * time.Second), IdleTimeout: Duration(30 * time.Second), ServerTime: time.Unix(1700000000, 0).UTC()},
		TypeHeartbeat: &Heartbeat{Seq: 3, SentAt: time.Unix(1700000000, 0).UTC(), State: StatePaused, GPUs: []hw.GPUSample{{Index: 0, Name: "RTX", MemoryTotal: 10, MemoryUsed: 5, TempC: 60, UtilPct: 99}}},
	}
	for typ, body := range msgs {
		b, err := Encode(typ, body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(%s): %v", typ, err)
		}
		again, _ := Encode(typ, got)
		if string(again) != string(b) {
			t.Fatalf("%s changed in a round trip:\n%s\n%s", typ, b, again)
		}
	}
}

func TestDecodeRefusesBadMessages(t *testing.T) {
	good := `{"protocol":1,"device_id":"dev_x","signature":"` + strings.Repeat("A", 86) + `==","agent_version":"v","inventory":{"host":{},"gpus":[],"gpu_status":{"available":false}}}`
	cases := map[string]string{
		"not JSON":             `{`,
		"no type":              `{"body":{}}`,
		"unknown type":         `{"type":"rm -rf","body":{}}`,
		"no body":              `{"type":"auth"}`,
		"unknown envelope key": `{"type":"auth","body":` + good + `,"x":1}`,
		"unknown body key":     `{"type":"auth","body":{"protocol":1,"admin":true}}`,
		"short signature":      `{"type":"auth","body":{"protocol":1,"device_id":"d","signature":"AAAA"}}`,
		"zero protocol":        strings.Replace(`{"type":"auth","body":`+good+`}`, `"protocol":1`, `"protocol":0`, 1),
		"trailing data":        `{"type":"auth","body":` + good + `} {}`,
		"heartbeat seq 0":      `{"type":"heartbeat","body":{"seq":0,"state":"available","gpus":[],"host":{}}}`,
		"heartbeat bad state":  `{"type":"heartbeat","body":{"seq":1,"state":"mining","gpus":[],"host":{}}}`,
		"heartbeat hot GPU":    `{"type":"heartbeat","body":{"seq":1,"state":"available","gpus":[{"temp_c":900}],"host":{}}}`,
		"heartbeat VRAM":       `{"type":"heartbeat","body":{"seq":1,"state":"available","gpus":[{"memory_total":1,"memory_used":2}],"host":{}}}`,
		"oversized":            `{"type":"heartbeat","body":"` + strings.Repeat("x", MaxMessageBytes) + `"}`,
	}
	if _, err := Decode([]byte(`{"type":"auth","body":` + good + `}`)); err != nil {
		t.Fatalf("the good auth is refused: %v", err)
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode([]byte(in)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestSignaturesAreBoundToPurposeNonceAndDevice(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	nonce, _ := NewNonce()
	sig := SignAuth(key, nonce, "dev_a")
	if !VerifyAuth(pub, nonce, "dev_a", sig) {
		t.Fatal("a good signature does not verify")
	}
	other, _ := NewNonce()
	for name, ok := range map[string]bool{
		"other device":     VerifyAuth(pub, nonce, "dev_b", sig),
		"other nonce":      VerifyAuth(pub, other, "dev_a", sig),
		"used for pairing": VerifyPairing(pub, string(nonce)+"\ndev_a", sig),
		"short public key": VerifyAuth(pub[:16], nonce, "dev_a", sig),
	} {
		if ok {
			t.Errorf("%s: verified, want refused", name)
		}
	}
}

func TestVersionErrorSpeaksToTheUser(t *testing.T) {
	if err := CheckVersion(Protocol, MinProtocol, Protocol); err != nil {
		t.Fatalf("this build refuses itself: %v", err)
	}
	old := CheckVersion(1, 2, 3)
	var ve *VersionError
	if !errors.As(old, &ve) || !strings.Contains(old.Error(), "update Idlegrid") {
		t.Fatalf("old agent: %v", old)
	}
	if newer := CheckVersion(4, 2, 3); !strings.Contains(newer.Error(), "server must be updated") {
		t.Fatalf("newer agent: %v", newer)
	}
}
