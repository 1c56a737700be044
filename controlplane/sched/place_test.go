package sched

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func ids(cs []Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.DeviceID
	}
	return out
}

func TestPlacePrefersCheapThenBetterDevices(t *testing.T) {
	cs := []Candidate{
		{DeviceID: "pricey", GPUs: 1, PricePerGPUHour: 400_000, Bench: 100, Reputation: 1, DownMbps: 1000},
		{DeviceID: "cheap", GPUs: 1, PricePerGPUHour: 200_000, Bench: 100, Reputation: 1, DownMbps: 1000},
		{DeviceID: "cheap-flaky", GPUs: 1, PricePerGPUHour: 200_000, Bench: 100, Reputation: 0, DownMbps: 1000},
		{DeviceID: "cheap-slow", GPUs: 1, PricePerGPUHour: 200_000, Bench: 80, Reputation: 1, DownMbps: 50},
	}
	got, ok := Place(cs, 2)
	if !ok || !slices.Equal(ids(got), []string{"cheap", "cheap-slow"}) {
		t.Fatalf("placed %v (%v), want cheap then cheap-slow", ids(got), ok)
	}
	if got, ok := Place(cs, 5); ok || got != nil {
		t.Fatalf("5 GPUs out of 4: %v %v", ids(got), ok)
	}
}

func TestPlaceKeepsAClusterInOneRegionWhenItCan(t *testing.T) {
	cs := []Candidate{
		{DeviceID: "us-best", Region: "us-east", GPUs: 1, PricePerGPUHour: 100_000, Reputation: 1},
		{DeviceID: "eu-1", Region: "eu-west", GPUs: 1, PricePerGPUHour: 150_000, Reputation: 1},
		{DeviceID: "eu-2", Region: "eu-west", GPUs: 1, PricePerGPUHour: 150_000, Reputation: 1},
		{DeviceID: "asia-1", Region: "asia", GPUs: 1, PricePerGPUHour: 100_000, Reputation: 1},
	}
	got, ok := Place(cs, 2)
	if !ok || !slices.Equal(ids(got), []string{"eu-1", "eu-2"}) {
		t.Fatalf("placed %v, want both eu-west devices (the only region with two)", ids(got))
	}
	// Three GPUs fit in no single region: the best overall.
	got, ok = Place(cs, 3)
	if !ok || len(got) != 3 || got[0].DeviceID != "asia-1" || got[1].DeviceID != "us-best" {
		t.Fatalf("placed %v across regions", ids(got))
	}
}

func TestPlaceCountsGPUsNotDevices(t *testing.T) {
	cs := []Candidate{
		{DeviceID: "rig8", GPUs: 8, PricePerGPUHour: 100_000},
		{DeviceID: "single", GPUs: 1, PricePerGPUHour: 300_000},
	}
	got, ok := Place(cs, 4)
	if !ok || !slices.Equal(ids(got), []string{"rig8"}) {
		t.Fatalf("placed %v, want the 8-GPU rig alone", ids(got))
	}
}

func TestPlaceIsDeterministicAndLeavesItsInputAlone(t *testing.T) {
	cs := supply(2000, 1)
	before := slices.Clone(cs)
	a, _ := Place(cs, 8)
	b, _ := Place(cs, 8)
	if !slices.Equal(ids(a), ids(b)) || !slices.Equal(cs, before) {
		t.Fatal("placement differs between runs or changed its input")
	}
	// The chosen devices are the best-scoring ones of their region: no
	// device of that region left out scores higher than the worst chosen.
	region := a[0].Region
	for _, c := range a {
		if c.Region != region {
			t.Fatalf("a placement that fits one region spans two: %v", a)
		}
	}
}

// supply makes n varied candidates over 8 regions, 1–4 GPUs each.
func supply(n int, seed uint64) []Candidate {
	r := rand.New(rand.NewPCG(seed, seed))
	regions := []string{"us-west", "us-central", "us-east", "south-america", "eu-west", "eu-east", "asia", "oceania"}
	cs := make([]Candidate, n)
	for i := range cs {
		cs[i] = Candidate{
			DeviceID: fmt.Sprintf("dev_%07d", i), Region: regions[r.IntN(len(regions))], GPUs: 1 + r.IntN(4),
			PricePerGPUHour: 50_000 + int64(r.IntN(400_000)), Bench: r.Float64() * 1000, Reputation: r.Float64(), DownMbps: r.IntN(2000),
		}
	}
	return cs
}

// Placement of 8 GPUs among 10k and 100k candidates, in memory:
//
//	go test -run x -bench Place ./controlplane/sched/
func BenchmarkPlace(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		cs := supply(n, 7)
		b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, ok := Place(cs, 8); !ok {
					b.Fatal("no placement")
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// PlaceExcept never picks an excluded device and otherwise places as Place
// does on the rest.
func TestPlaceExceptLeavesDevicesOut(t *testing.T) {
	cands := supply(2000, 7)
	best, ok := Place(cands, 8)
	if !ok {
		t.Fatal("no placement")
	}
	except := map[string]bool{}
	for _, c := range best[:4] {
		except[c.DeviceID] = true
	}
	got, ok := PlaceExcept(cands, 8, except)
	if !ok {
		t.Fatal("no placement without 4 devices")
	}
	rest := slices.DeleteFunc(slices.Clone(cands), func(c Candidate) bool { return except[c.DeviceID] })
	want, _ := Place(rest, 8)
	if !slices.EqualFunc(got, want, func(a, b Candidate) bool { return a.DeviceID == b.DeviceID }) {
		t.Fatalf("PlaceExcept picked %v, Place on the rest %v", ids(got), ids(want))
	}
	few := cands[:3]
	if _, ok := PlaceExcept(few, few[2].GPUs+1, map[string]bool{few[0].DeviceID: true, few[1].DeviceID: true}); ok {
		t.Fatalf("placed %d GPUs on the one device left, which has %d", few[2].GPUs+1, few[2].GPUs)
	}
}

// Deploys in flight place around each other's devices, and a device is
// offered again once its hold is released.
func TestPlaceHeldKeepsConcurrentDeploysApart(t *testing.T) {
	q := &Quoter{}
	sup := Supply{Free: supply(200, 3)}
	r := Request{GPUs: 4, Hours: 1}
	a, releaseA, err := q.PlaceHeld(sup, r)
	if err != nil {
		t.Fatal(err)
	}
	b, releaseB, err := q.PlaceHeld(sup, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range a {
		if slices.ContainsFunc(b, func(y Candidate) bool { return y.DeviceID == x.DeviceID }) {
			t.Fatalf("device %s picked by two deploys in flight", x.DeviceID)
		}
	}
	releaseA()
	again, releaseAgain, err := q.PlaceHeld(sup, r)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(again, a, func(x, y Candidate) bool { return x.DeviceID == y.DeviceID }) {
		t.Fatalf("after release the best devices are %v, want %v again", ids(again), ids(a))
	}
	releaseB()
	releaseAgain()
	if len(q.held) != 0 {
		t.Fatalf("%d devices still held after every release", len(q.held))
	}
}
