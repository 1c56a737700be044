package pricing

import (
	"testing"
	"time"
)

func TestBandwidthBoundaries(t *testing.T) {
	tests := []struct {
		name string
		mbps int
		want int64
	}{
		{"unmeasured", 0, 9_000},
		{"99 Mbit/s", 99, 9_000},
		{"100 Mbit/s", 100, 10_000},
		{"499 Mbit/s", 499, 10_000},
		{"500 Mbit/s", 500, 10_500},
		{"999 Mbit/s", 999, 10_500},
		{"1000 Mbit/s", 1000, 11_000},
		{"10 Gbit/s", 10_000, 11_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bandwidthFactor(tt.mbps); got.BasisPoints != tt.want || got.Name != FactorBandwidth {
				t.Errorf("bandwidthFactor(%d) = %+v, want %d bp", tt.mbps, got, tt.want)
			}
		})
	}
}

func TestDemandBoundaries(t *testing.T) {
	tests := []struct {
		name           string
		busy, matching int
		want           int64
	}{
		{"idle", 0, 100, 10_000},
		{"49 % busy", 49, 100, 10_000},
		{"just under half", 4_999, 10_000, 10_000},
		{"50 % busy", 50, 100, 10_000},
		{"51 % busy", 51, 100, 10_100},
		{"two thirds busy", 2, 3, 11_666}, // u = 6666 bp
		{"80 % busy", 8, 10, 13_000},
		{"99 % busy", 99, 100, 14_900},
		{"100 % busy", 100, 100, 15_000},
		{"the only device, busy", 1, 1, 15_000},
		{"the only device, free", 0, 1, 10_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := demandFactor(tt.busy, tt.matching)
			if err != nil {
				t.Fatal(err)
			}
			if got.BasisPoints != tt.want || got.Name != FactorDemand {
				t.Errorf("demandFactor(%d, %d) = %+v, want %d bp", tt.busy, tt.matching, got, tt.want)
			}
		})
	}
}

func TestPeakBoundaries(t *testing.T) {
	def := DefaultConfig() // peak 17:00–23:00
	wrap := DefaultConfig()
	wrap.PeakHours = [2]int{22, 2}
	none := DefaultConfig()
	none.PeakHours = [2]int{0, 0}
	allDay := DefaultConfig()
	allDay.PeakHours = [2]int{0, 24}
	utc := func(h, m int) time.Time { return time.Date(2026, 3, 10, h, m, 0, 0, time.UTC) }

	tests := []struct {
		name   string
		cfg    Config
		at     time.Time
		region string
		want   int64
	}{
		{"16:59 UTC, unknown region", def, utc(16, 59), "", 10_000},
		{"17:00 UTC, unknown region", def, utc(17, 0), "", 11_500},
		{"22:59 UTC, unknown region", def, utc(22, 59), "", 11_500},
		{"23:00 UTC, unknown region", def, utc(23, 0), "", 10_000},
		{"midnight", def, utc(0, 0), "", 10_000},
		{"16:00 UTC is 17:00 in eu-west", def, utc(16, 0), "eu-west", 11_500},
		{"22:00 UTC is 23:00 in eu-west", def, utc(22, 0), "eu-west", 10_000},
		{"21:00 UTC is 16:00 in us-east", def, utc(21, 0), "us-east", 10_000},
		{"22:00 UTC is 17:00 in us-east", def, utc(22, 0), "us-east", 11_500},
		{"03:00 UTC is 22:00 the day before in us-east", def, utc(3, 0), "us-east", 11_500},
		{"04:00 UTC is 23:00 the day before in us-east", def, utc(4, 0), "us-east", 10_000},
		{"09:00 UTC is 17:00 in asia", def, utc(9, 0), "asia", 11_500},
		{"15:00 UTC is 23:00 in asia", def, utc(15, 0), "asia", 10_000},
		{"time given in another zone", def, time.Date(2026, 3, 10, 23, 30, 0, 0, time.FixedZone("", 5*3600)), "", 11_500}, // 18:30 UTC
		{"wrapping window, 21:00", wrap, utc(21, 0), "", 10_000},
		{"wrapping window, 22:00", wrap, utc(22, 0), "", 11_500},
		{"wrapping window, 01:59", wrap, utc(1, 59), "", 11_500},
		{"wrapping window, 02:00", wrap, utc(2, 0), "", 10_000},
		{"no peak hours", none, utc(19, 0), "", 10_000},
		{"peak all day, 00:00", allDay, utc(0, 0), "", 11_500},
		{"peak all day, 23:59", allDay, utc(23, 59), "", 11_500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := peakFactor(tt.at, tt.region, tt.cfg)
			if got.BasisPoints != tt.want || got.Name != FactorPeak {
				t.Errorf("peakFactor(%v, %q) = %+v, want %d bp", tt.at, tt.region, got, tt.want)
			}
		})
	}
}

func TestCommitmentBoundaries(t *testing.T) {
	tests := []struct {
		name  string
		hours int
		want  int64
	}{
		{"1 h", 1, 10_000},
		{"23 h", 23, 10_000},
		{"24 h", 24, 9_500},
		{"167 h", 167, 9_500},
		{"168 h", 168, 9_000},
		{"720 h", 720, 9_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := commitmentFactor(tt.hours); got.BasisPoints != tt.want || got.Name != FactorCommitment {
				t.Errorf("commitmentFactor(%d) = %+v, want %d bp", tt.hours, got, tt.want)
			}
		})
	}
}

func TestRegionFactor(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RegionBP["oceania"] = 12_000
	delete(cfg.RegionBP, "asia")
	tests := []struct {
		region string
		want   int64
	}{
		{"", 10_000},
		{"eu-west", 10_000},
		{"oceania", 12_000},
		{"asia", 10_000}, // known, but no multiplier configured
	}
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			if got := regionFactor(tt.region, cfg); got.BasisPoints != tt.want || got.Name != FactorRegion {
				t.Errorf("regionFactor(%q) = %+v, want %d bp", tt.region, got, tt.want)
			}
		})
	}
}

func TestFormatBP(t *testing.T) {
	for bp, want := range map[int64]string{
		10_000: "×1.00",
		10_500: "×1.05",
		11_500: "×1.15",
		9_000:  "×0.90",
		11_666: "×1.1666",
		15_000: "×1.50",
		10_001: "×1.0001",
		20_000: "×2.00",
		500:    "×0.05",
	} {
		if got := formatBP(bp); got != want {
			t.Errorf("formatBP(%d) = %q, want %q", bp, got, want)
		}
	}
}
