package pricing

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/shared/bench/score"
)

// workedExample is the example of docs/PRICING.md: a gold GPU on a
// 600 Mbit/s line, 8 of 10 matching devices busy, starting at 19:00 local
// in eu-west (UTC+1), for 48 hours.
var workedExample = Inputs{
	Tier:     score.TierGold,
	DownMbps: 600,
	Matching: 10,
	Busy:     8,
	At:       time.Date(2026, 3, 10, 18, 0, 0, 0, time.UTC),
	Region:   "eu-west",
	Hours:    48,
}

func TestWorkedExample(t *testing.T) {
	p, err := Quote(workedExample, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name  string
		bp    int64
		after int64
	}{
		{FactorBandwidth, 10_500, 189_000},
		{FactorDemand, 13_000, 245_700},
		{FactorPeak, 11_500, 282_555},
		{FactorCommitment, 9_500, 268_427}, // 268 427.25, rounded down
		{FactorRegion, 10_000, 268_427},
	}
	if p.BasePerHour != 180_000 {
		t.Errorf("BasePerHour = %d, want 180000", p.BasePerHour)
	}
	if len(p.Factors) != len(want) {
		t.Fatalf("got %d factors, want %d: %+v", len(p.Factors), len(want), p.Factors)
	}
	for i, w := range want {
		f := p.Factors[i]
		if f.Name != w.name || f.BasisPoints != w.bp || f.After != w.after {
			t.Errorf("factor %d = %s %d bp → %d, want %s %d bp → %d", i, f.Name, f.BasisPoints, f.After, w.name, w.bp, w.after)
		}
	}
	if p.SupplierPerHour != 268_427 || p.FeePerHour != 14_127 || p.PricePerHour != 282_554 {
		t.Errorf("supplier %d + fee %d = price %d, want 268427 + 14127 = 282554", p.SupplierPerHour, p.FeePerHour, p.PricePerHour)
	}
	total, err := Total(p, 1, workedExample.Hours)
	if err != nil || total != 13_562_592 {
		t.Errorf("Total(1 GPU, 48 h) = %d, %v; want 13562592", total, err)
	}
	if got := p.Factors[2].Why; !strings.Contains(got, "19:00 local in eu-west (UTC+1)") {
		t.Errorf("peak factor says %q; want it to name 19:00 local in eu-west", got)
	}
}

// TestDocMatchesCode keeps docs/PRICING.md honest: the worked example's
// figures, the default base rates and every band of every factor appear
// on the page.
func TestDocMatchesCode(t *testing.T) {
	b, err := os.ReadFile("../../docs/PRICING.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	p, err := Quote(workedExample, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		usd(p.BasePerHour), usd(p.SupplierPerHour), usd(p.FeePerHour), usd(p.PricePerHour),
		"| " + percent(demandKneeBP) + " ", formatBP(demandFullBP), formatBP(peakBP),
	}
	for _, f := range p.Factors {
		want = append(want, usd(f.After))
	}
	total, _ := Total(p, 1, workedExample.Hours)
	want = append(want, usd(total))
	for _, tier := range tiers {
		want = append(want, usd(DefaultConfig().BasePerHour[tier]))
	}
	for _, band := range bandwidthBands {
		want = append(want, "| "+band.label+" | "+formatBP(band.bp)+" |")
	}
	for _, band := range commitmentBands {
		want = append(want, "| "+band.label+" | "+formatBP(band.bp)+" |")
	}
	for _, s := range want {
		if !strings.Contains(doc, s) {
			t.Errorf("docs/PRICING.md doesn't mention %q", s)
		}
	}
}

// usd writes micro-USD as dollars, the way the doc does: 282554 → "$0.282554".
func usd(micro int64) string {
	return fmt.Sprintf("$%d.%06d", micro/1_000_000, micro%1_000_000)
}

// grid yields many valid inputs across every band of every factor.
func grid(yield func(Inputs) bool) {
	regions := []string{"", "eu-west", "us-east", "asia", "oceania"}
	for _, tier := range tiers {
		for _, mbps := range []int{0, 99, 100, 499, 500, 999, 1000, 5000} {
			for _, load := range [][2]int{{0, 1}, {1, 1}, {49, 100}, {50, 100}, {51, 100}, {2, 3}, {8, 10}, {999, 1000}} {
				for _, hour := range []int{0, 9, 16, 17, 22, 23} {
					for _, hours := range []int{1, 23, 24, 167, 168, 720} {
						for _, region := range regions {
							in := Inputs{
								Tier: tier, DownMbps: mbps, Busy: load[0], Matching: load[1],
								At:     time.Date(2026, 7, 1, hour, 30, 0, 0, time.UTC),
								Region: region, Hours: hours,
							}
							if !yield(in) {
								return
							}
						}
					}
				}
			}
		}
	}
}

func TestConservation(t *testing.T) {
	for _, fee := range []int64{0, 1, 500, 1234, 3333, 9999} {
		cfg := DefaultConfig()
		cfg.FeeBasisPoints = fee
		cfg.RegionBP["oceania"] = 12_345
		n := 0
		for in := range grid {
			n++
			p, err := Quote(in, cfg)
			if err != nil {
				t.Fatalf("fee %d, %+v: %v", fee, in, err)
			}
			checkPrice(t, p, fee)
		}
		if n < 10_000 {
			t.Fatalf("grid has only %d inputs", n)
		}
	}
}

// checkPrice checks a quote's arithmetic: the formula, the split and that
// the requester pays the least price that gives the supplier their rate.
func checkPrice(t testing.TB, p Price, fee int64) {
	t.Helper()
	rate := p.BasePerHour
	for _, f := range p.Factors {
		rate = rate * f.BasisPoints / bpOne // small enough not to overflow here
		if f.After != rate {
			t.Fatalf("%+v: factor %s leaves %d, want %d", p, f.Name, f.After, rate)
		}
	}
	if p.SupplierPerHour != rate {
		t.Fatalf("%+v: supplier gets %d, the formula says %d", p, p.SupplierPerHour, rate)
	}
	if p.SupplierPerHour+p.FeePerHour != p.PricePerHour {
		t.Fatalf("%+v: supplier %d + fee %d != price %d", p, p.SupplierPerHour, p.FeePerHour, p.PricePerHour)
	}
	if want := p.PricePerHour * fee / bpOne; p.FeePerHour != want {
		t.Fatalf("%+v: fee %d, want ⌊%d × %d / 10000⌋ = %d", p, p.FeePerHour, p.PricePerHour, fee, want)
	}
	if less := p.PricePerHour - 1; less-less*fee/bpOne >= p.SupplierPerHour {
		t.Fatalf("%+v: a price of %d would already pay the supplier %d", p, less, p.SupplierPerHour)
	}
}

func TestMonotonicity(t *testing.T) {
	cfg := DefaultConfig()
	quote := func(in Inputs) Price {
		t.Helper()
		p, err := Quote(in, cfg)
		if err != nil {
			t.Fatalf("%+v: %v", in, err)
		}
		return p
	}
	never := func(what string, in Inputs, prev, next Price, cheaper bool) {
		t.Helper()
		for _, c := range []struct {
			name       string
			prev, next int64
		}{
			{"price", prev.PricePerHour, next.PricePerHour},
			{"supplier's rate", prev.SupplierPerHour, next.SupplierPerHour},
		} {
			if cheaper && c.next < c.prev || !cheaper && c.next > c.prev {
				t.Fatalf("%s changed the %s from %d to %d at %+v", what, c.name, c.prev, c.next, in)
			}
		}
	}

	t.Run("higher tier never cheaper", func(t *testing.T) {
		for in := range grid {
			if in.Tier != Unrated {
				continue
			}
			prev := quote(in)
			for _, tier := range tiers[1:] {
				in.Tier = tier
				next := quote(in)
				never("a higher tier", in, prev, next, true)
				prev = next
			}
		}
	})
	t.Run("more busy never cheaper", func(t *testing.T) {
		for in := range grid {
			if in.Busy != 0 || in.Matching != 1 {
				continue
			}
			in.Matching = 1000
			prev := quote(in)
			for in.Busy = 1; in.Busy <= in.Matching; in.Busy++ {
				next := quote(in)
				never("one more busy device", in, prev, next, true)
				prev = next
			}
		}
	})
	t.Run("longer commitment never pricier per hour", func(t *testing.T) {
		for in := range grid {
			if in.Hours != MinHours {
				continue
			}
			prev := quote(in)
			for in.Hours = MinHours + 1; in.Hours <= MaxHours; in.Hours++ {
				next := quote(in)
				never("a longer commitment", in, prev, next, false)
				prev = next
			}
		}
	})
	t.Run("faster line never cheaper", func(t *testing.T) {
		in := workedExample
		in.DownMbps = 0
		prev := quote(in)
		for in.DownMbps = 1; in.DownMbps <= 2000; in.DownMbps++ {
			next := quote(in)
			never("a faster line", in, prev, next, true)
			prev = next
		}
	})
}

func TestQuoteValidation(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Inputs)
		wants []string // each must appear in the message
	}{
		{"unknown tier", func(in *Inputs) { in.Tier = "diamond" },
			[]string{`unknown tier "diamond"`, "bronze, silver, gold, platinum", "unrated"}},
		{"tier in the wrong case", func(in *Inputs) { in.Tier = "Gold" }, []string{`unknown tier "Gold"`}},
		{"unknown region", func(in *Inputs) { in.Region = "mars" },
			[]string{`unknown region "mars"`, "asia, eu-east, eu-west", `or "" if unknown`}},
		{"negative bandwidth", func(in *Inputs) { in.DownMbps = -1 }, []string{"download bandwidth can't be negative, got -1 Mbit/s"}},
		{"negative matching", func(in *Inputs) { in.Matching = -1 }, []string{"matching devices can't be negative"}},
		{"negative busy", func(in *Inputs) { in.Busy = -1 }, []string{"busy devices can't be negative"}},
		{"busy exceeds matching", func(in *Inputs) { in.Busy = 11 }, []string{"11 devices busy but only 10 match"}},
		{"zero hours", func(in *Inputs) { in.Hours = 0 }, []string{"commitment must be 1 to 720 hours, got 0"}},
		{"721 hours", func(in *Inputs) { in.Hours = 721 }, []string{"commitment must be 1 to 720 hours, got 721"}},
		{"negative hours", func(in *Inputs) { in.Hours = -48 }, []string{"got -48"}},
		{"no start time", func(in *Inputs) { in.At = time.Time{} }, []string{"start time is missing"}},
		{"all at once", func(in *Inputs) {
			*in = Inputs{Tier: "diamond", DownMbps: -5, Matching: 2, Busy: 3, Hours: 0}
		}, []string{"diamond", "-5 Mbit/s", "3 devices busy", "got 0", "start time"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := workedExample
			tt.edit(&in)
			_, err := Quote(in, DefaultConfig())
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("Quote(%+v) = %v, want an ErrInvalidInput", in, err)
			}
			var ie *InputError
			if !errors.As(err, &ie) || len(ie.Problems) == 0 {
				t.Fatalf("Quote(%+v) = %#v, want an *InputError", in, err)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q doesn't say %q", err, w)
				}
			}
		})
	}
}

func TestNoMatchingSupply(t *testing.T) {
	in := workedExample
	in.Matching, in.Busy = 0, 0
	_, err := Quote(in, DefaultConfig())
	if !errors.Is(err, ErrNoSupply) || errors.Is(err, ErrInvalidInput) {
		t.Fatalf("Quote with no matching devices = %v, want ErrNoSupply", err)
	}
	if err.Error() != "no matching supply" {
		t.Errorf("error says %q", err)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Config)
		wants []string
	}{
		{"zero config", func(c *Config) { *c = Config{} }, []string{"no base rate for unrated devices", `no base rate for tier "platinum"`}},
		{"fee of 100 %", func(c *Config) { c.FeeBasisPoints = 10_000 }, []string{"fee must be 0 to 9999 basis points, got 10000"}},
		{"negative fee", func(c *Config) { c.FeeBasisPoints = -1 }, []string{"fee must be"}},
		{"zero base rate", func(c *Config) { c.BasePerHour["silver"] = 0 }, []string{`base rate for tier "silver" must be positive`}},
		{"gold below silver", func(c *Config) { c.BasePerHour["gold"] = 79_999 },
			[]string{`base rate for tier "gold" (79999) is below tier "silver" (80000)`}},
		{"unknown tier priced", func(c *Config) { c.BasePerHour["diamond"] = 1 }, []string{`base rate for unknown tier "diamond"`}},
		{"peak hour 25", func(c *Config) { c.PeakHours[1] = 25 }, []string{"peak hours must be 0 to 24, got 25"}},
		{"offset 15", func(c *Config) { c.RegionOffsets["mars"] = 15 }, []string{`region "mars": UTC offset must be -12 to 14 hours, got 15`}},
		{"empty region name", func(c *Config) { c.RegionOffsets[""] = 0 }, []string{"a region needs a name"}},
		{"multiplier without offset", func(c *Config) { c.RegionBP["mars"] = 10_000 }, []string{`region "mars" has a multiplier but no UTC offset`}},
		{"zero multiplier", func(c *Config) { c.RegionBP["asia"] = 0 }, []string{`region "asia": multiplier must be positive`}},
		{"several at once", func(c *Config) { c.FeeBasisPoints = -1; c.PeakHours[0] = -1 }, []string{"fee must be", "got -1 in position 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			_, err := Quote(workedExample, cfg)
			if err == nil || errors.Is(err, ErrInvalidInput) {
				t.Fatalf("Quote with a bad config = %v, want a config error", err)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q doesn't say %q", err, w)
				}
			}
		})
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig: %v", err)
	}
}

func TestQuoteOverflowAndZero(t *testing.T) {
	cfg := DefaultConfig()
	for _, tier := range tiers {
		cfg.BasePerHour[tier] = math.MaxInt64 / 2
	}
	if _, err := Quote(workedExample, cfg); !errors.Is(err, ErrOverflow) {
		t.Errorf("Quote at a base of MaxInt64/2 = %v, want ErrOverflow", err)
	}

	cfg = DefaultConfig()
	cfg.BasePerHour[Unrated] = 1
	in := workedExample
	in.Tier, in.DownMbps, in.Busy, in.Hours = Unrated, 0, 0, 720
	in.At = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	if _, err := Quote(in, cfg); err == nil || !strings.Contains(err.Error(), "rounds to 0") {
		t.Errorf("Quote at a base of 1 micro-USD = %v, want a rounds-to-zero error", err)
	}
}

func TestTotal(t *testing.T) {
	p := Price{SupplierPerHour: 268_427, FeePerHour: 14_127, PricePerHour: 282_554}
	big := Price{PricePerHour: math.MaxInt64/2 + 1}
	tests := []struct {
		name        string
		p           Price
		gpus, hours int
		want        int64
		wantErr     error
	}{
		{"one GPU-hour", p, 1, 1, 282_554, nil},
		{"8 GPUs for a week", p, 8, 168, 282_554 * 8 * 168, nil},
		{"largest that fits", Price{PricePerHour: math.MaxInt64 / 6}, 2, 3, math.MaxInt64 / 6 * 6, nil},
		{"overflow on GPUs", big, 2, 1, 0, ErrOverflow},
		{"overflow on hours", big, 1, 2, 0, ErrOverflow},
		{"overflow on both", Price{PricePerHour: 1 << 32}, 1 << 16, 1 << 16, 0, ErrOverflow},
		{"zero GPUs", p, 0, 1, 0, ErrInvalidInput},
		{"zero hours", p, 1, 0, 0, ErrInvalidInput},
		{"negative price", Price{PricePerHour: -1}, 1, 1, 0, ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Total(tt.p, tt.gpus, tt.hours)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Total(%d, %d, %d) = %d, %v; want error %v", tt.p.PricePerHour, tt.gpus, tt.hours, got, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Total(%d, %d, %d) = %d, want %d", tt.p.PricePerHour, tt.gpus, tt.hours, got, tt.want)
			}
		})
	}
}
