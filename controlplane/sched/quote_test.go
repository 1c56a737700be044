package sched_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/sched"
	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

type quote struct {
	ID           string `json:"quote_id"`
	PricePerHour int64  `json:"price_per_hour"`
	FeePerHour   int64  `json:"fee_per_hour"`
	Total        int64  `json:"total"`
	Affordable   bool   `json:"affordable"`
	Shortfall    string `json:"shortfall"`
	Matching     int    `json:"matching_devices"`
	Devices      []struct {
		DeviceID        string `json:"device_id"`
		GPUModel        string `json:"gpu_model"`
		GPUs            int    `json:"gpus"`
		PricePerGPUHour int64  `json:"price_per_gpu_hour"`
	} `json:"devices"`
}

func TestQuoteOverLiveSupply(t *testing.T) {
	srv := servertest.Start(t, nil)
	gamer, renter := srv.SignUp("gamer@example.com"), srv.SignUp("renter@example.com")
	for _, spec := range []string{"RTX 4090x2", "RTX 3090", "RTX 3090"} {
		a := srv.NewAgent("rig", spec)
		if err := a.Pair(t.Context(), gamer.PairingCode()); err != nil {
			t.Fatal(err)
		}
		servertest.RunAgent(t, a)
	}
	servertest.Eventually(t, 10*time.Second, "three rigs online", func() bool {
		n := 0
		for _, d := range gamer.Devices() {
			if d.State == "online" {
				n++
			}
		}
		return n == 3
	})

	var q quote
	if st := renter.Do("POST", "/api/v1/clusters/quote", map[string]any{"gpu_model": "3090", "gpus": 2, "hours": 10}, &q); st != http.StatusOK {
		t.Fatalf("quote: %d", st)
	}
	if len(q.Devices) != 2 || q.Matching != 2 || q.ID == "" || q.Total != q.PricePerHour*10 || q.FeePerHour <= 0 || q.FeePerHour >= q.PricePerHour {
		t.Fatalf("quote %+v", q)
	}
	for _, d := range q.Devices {
		if !strings.Contains(d.GPUModel, "3090") || d.GPUs != 1 {
			t.Fatalf("device %+v does not match the request", d)
		}
	}
	if q.Affordable || !strings.Contains(q.Shortfall, "top up") {
		t.Fatalf("a requester with no credit: affordable %v, %q", q.Affordable, q.Shortfall)
	}

	u, _ := store.UserByEmail(t.Context(), srv.Srv.Store.Reader(), "renter@example.com")
	if _, err := srv.Srv.Ledger.TopUp(t.Context(), u.ID, q.PricePerHour, "k1", ""); err != nil {
		t.Fatal(err)
	}
	var paid quote
	if renter.Do("POST", "/api/v1/clusters/quote", map[string]any{"gpu_model": "3090", "gpus": 2, "hours": 10}, &paid); !paid.Affordable || paid.Shortfall != "" {
		t.Fatalf("with the first hour covered: %+v", paid)
	}

	var none struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if st := renter.Do("POST", "/api/v1/clusters/quote", map[string]any{"gpu_model": "3090", "gpus": 3, "hours": 1}, &none); st != http.StatusConflict ||
		!strings.Contains(none.Error.Message, "only 2 of the 3") || !strings.Contains(none.Error.Message, "2× NVIDIA GeForce RTX 4090") {
		t.Fatalf("too many GPUs: %d %+v", st, none)
	}
	if st := renter.Do("POST", "/api/v1/clusters/quote", map[string]any{"gpus": 1, "hours": 1, "verified_only": true}, &none); st != http.StatusConflict {
		t.Fatalf("verified only, with only simulated devices: %d", st)
	}
	if st := renter.Do("POST", "/api/v1/clusters/quote", map[string]any{"gpus": 0, "hours": 0}, &none); st != http.StatusBadRequest ||
		!strings.Contains(none.Error.Message, "gpus") || !strings.Contains(none.Error.Message, "hours") {
		t.Fatalf("a bad request: %d %+v", st, none)
	}
	var cheap quote
	if st := renter.Do("POST", "/api/v1/clusters/quote", map[string]any{"gpus": 2, "hours": 1, "max_price_per_gpu_hour": 1}, &none); st != http.StatusConflict {
		t.Fatalf("a price cap below every device: %d %+v", st, cheap)
	}
}

// The limits are in characters, as the API documents them, and each
// problem says what is allowed.
func TestRequestLimits(t *testing.T) {
	for _, tc := range []struct {
		req  sched.Request
		want string // "" when valid
	}{
		{sched.Request{GPUs: 1, Hours: 1, GPUModel: strings.Repeat("é", 64), Region: strings.Repeat("ü", 32)}, ""},
		{sched.Request{GPUs: 1, Hours: 1, GPUModel: strings.Repeat("x", 65)}, "gpu_model must be at most 64 characters"},
		{sched.Request{GPUs: 1, Hours: 1, Region: strings.Repeat("x", 33)}, "region must be at most 32 characters"},
		{sched.Request{GPUs: 1, Hours: 1, MinVRAMGiB: 1025}, "min_vram_gib must be 0..1024"},
		{sched.Request{GPUs: 1, Hours: 1, MinDownMbps: -1}, "min_down_mbps and max_price_per_gpu_hour must not be negative"},
		{sched.Request{GPUs: 0, Hours: 721}, "gpus must be 1..256; hours must be 1..720"},
	} {
		err := tc.req.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v, want valid", tc.req, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: %v, want %q", tc.req, err, tc.want)
		}
	}
}
