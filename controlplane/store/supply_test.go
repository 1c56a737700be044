package store

import (
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// The bulk reads a quote makes agree with the per-device ones, for devices
// with and without benchmarks and challenges, and leave out devices not
// seen since.
func TestSupplyFactsMatchPerDeviceReads(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	seed(t, s) // dev_1, never seen
	report := func(down int) string {
		return fmt.Sprintf(`{"results":[{"kind":"cpu","score":10},{"kind":"network","net_down_mbps":%d}]}`, down)
	}
	err := s.Write(ctx, func(tx *sql.Tx) error {
		for i := 2; i <= 4; i++ {
			id := fmt.Sprintf("dev_%d", i)
			key := make([]byte, 32)
			key[0] = byte(i) // keys are unique
			if err := InsertDevice(ctx, tx, Device{ID: id, UserID: "usr_1", Name: id, PublicKey: key, CreatedAt: t0}); err != nil {
				return err
			}
		}
		if err := TouchDevices(ctx, tx, map[string]time.Time{"dev_2": t0, "dev_3": t0, "dev_4": t0}); err != nil {
			return err
		}
		// dev_2: two benchmarks, the later one counts; two challenges passed, one failed.
		for i, b := range []Benchmark{
			{DeviceID: "dev_2", MeasuredAt: t0, ReceivedAt: t0, Score: 50, Tier: "bronze", Report: report(100)},
			{DeviceID: "dev_2", MeasuredAt: t0.Add(time.Hour), ReceivedAt: t0.Add(time.Hour), Score: 80, Tier: "silver", Report: report(900)},
			{DeviceID: "dev_3", MeasuredAt: t0, ReceivedAt: t0, Score: 30, Tier: "bronze", Report: `{"results":[{"kind":"cpu"}]}`},
		} {
			if err := InsertBenchmark(ctx, tx, b); err != nil {
				return fmt.Errorf("benchmark %d: %w", i, err)
			}
		}
		for i, passed := range []bool{true, true, false} {
			id := fmt.Sprintf("chl_%d", i)
			if err := InsertChallenge(ctx, tx, Challenge{ID: id, DeviceID: "dev_2", Seed: make([]byte, 32), N: 64, K: 4, IssuedAt: t0}); err != nil {
				return err
			}
			if err := FinishChallenge(ctx, tx, id, passed, true, "", t0.Add(time.Minute)); err != nil {
				return err
			}
		}
		// dev_3 has a challenge running: no result yet, nothing counted.
		return InsertChallenge(ctx, tx, Challenge{ID: "chl_running", DeviceID: "dev_3", Seed: make([]byte, 32), N: 64, K: 4, IssuedAt: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	facts, err := SupplyFactsSince(ctx, s.Reader(), t0.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := facts["dev_1"]; ok || len(facts) != 3 {
		t.Fatalf("facts for %d devices (%v), want the 3 seen", len(facts), facts)
	}
	for _, id := range []string{"dev_2", "dev_3", "dev_4"} {
		v, err := DeviceVerification(ctx, s.Reader(), id)
		if err != nil {
			t.Fatal(err)
		}
		if facts[id].Verification != v {
			t.Errorf("%s: bulk verification %+v, per device %+v", id, facts[id].Verification, v)
		}
		bs, err := Benchmarks(ctx, s.Reader(), id, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) == 1 && (facts[id].Tier != bs[0].Tier || facts[id].Score != bs[0].Score) || len(bs) == 0 && facts[id].Tier != "" {
			t.Errorf("%s: bulk benchmark %+v, per device %+v", id, facts[id], bs)
		}
	}
	if f := facts["dev_2"]; f.DownMbps != 900 || f.Verification.Passed != 2 || f.Verification.Failed != 1 {
		t.Errorf("dev_2: %+v, want the later benchmark's 900 Mbps and 2 passed, 1 failed", f)
	}
	if f := facts["dev_3"]; f.DownMbps != 0 || f.Tier != "bronze" {
		t.Errorf("dev_3 (no network result): %+v", f)
	}
}
