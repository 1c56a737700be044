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
		percent(demandKneeBP), formatBP(demandFullBP), formatBP(peakBP),
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

// sparse picks a slice of grid small enough to sweep another input
// through every value: still every tier, both sides of the peak window and
// the slowest and fastest lines.
func sparse(in Inputs) bool {
	return (in.DownMbps == 0 || in.DownMbps == 1000) &&
		(in.At.Hour() == 9 || in.At.Hour() == 17) &&
		(in.Region == "" || in.Region == "asia")
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
	quote := func(t testing.TB, in Inputs) Price {
		t.Helper()
		p, err := Quote(in, cfg)
		if err != nil {
			t.Fatalf("%+v: %v", in, err)
		}
		return p
	}
	// sweep quotes each input of next in turn and checks that neither the
	// price nor the supplier's rate ever moves the wrong way.
	sweep := func(t testing.TB, what string, cheaper bool, next func(*Inputs) bool, in Inputs) int {
		t.Helper()
		prev, n := quote(t, in), 0
		for next(&in) {
			p := quote(t, in)
			for _, c := range []struct {
				name     string
				was, now int64
			}{
				{"price", prev.PricePerHour, p.PricePerHour},
				{"supplier's rate", prev.SupplierPerHour, p.SupplierPerHour},
			} {
				if cheaper && c.now < c.was || !cheaper && c.now > c.was {
					t.Fatalf("%s changed the %s from %d to %d at %+v", what, c.name, c.was, c.now, in)
				}
			}
			prev = p
			n++
		}
		return n
	}
	atLeast := func(t testing.TB, n, want int) {
		t.Helper()
		if n < want {
			t.Fatalf("swept only %d steps, want at least %d", n, want)
		}
	}

	t.Run("higher tier never cheaper", func(t *testing.T) {
		n := 0
		for in := range grid {
			if in.Tier != Unrated {
				continue
			}
			i := 0
			n += sweep(t, "a higher tier", true, func(in *Inputs) bool {
				if i++; i >= len(tiers) {
					return false
				}
				in.Tier = tiers[i]
				return true
			}, in)
		}
		atLeast(t, n, 40_000)
	})
	t.Run("more busy never cheaper", func(t *testing.T) {
		n := 0
		for in := range grid {
			if in.Busy != 0 || in.Matching != 1 || !sparse(in) || in.Hours == 23 || in.Hours == 167 {
				continue
			}
			in.Matching = 100
			n += sweep(t, "one more busy device", true, func(in *Inputs) bool {
				in.Busy++
				return in.Busy <= in.Matching
			}, in)
		}
		atLeast(t, n, 10_000)
	})
	t.Run("longer commitment never pricier per hour", func(t *testing.T) {
		n := 0
		for in := range grid {
			if in.Hours != MinHours || !sparse(in) || in.Region != "" || in.Matching != 1 && in.Matching != 10 {
				continue
			}
			n += sweep(t, "a longer commitment", false, func(in *Inputs) bool {
				in.Hours++
				return in.Hours <= MaxHours
			}, in)
		}
		atLeast(t, n, 40_000)
	})
	t.Run("faster line never cheaper", func(t *testing.T) {
		in := workedExample
		in.DownMbps = 0
		n := sweep(t, "a faster line", true, func(in *Inputs) bool {
			in.DownMbps++
			return in.DownMbps <= 2000
		}, in)
		atLeast(t, n, 2000)
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
		cfg.BasePerHour[tier] = math.MaxInt64 / 10 * 9
	}
	if _, err := Quote(workedExample, cfg); !errors.Is(err, ErrOverflow) || !strings.Contains(err.Error(), "demand") {
		t.Errorf("Quote at a base of 0.9 × MaxInt64 = %v, want ErrOverflow applying demand", err)
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

func TestGrossUp(t *testing.T) {
	tests := []struct {
		name          string
		supplier, fee int64
		want          int64
		wantErr       error
	}{
		{"nothing", 0, 500, 0, nil},
		{"one micro-dollar", 1, 500, 1, nil}, // the fee on 1 rounds to 0
		{"19 micro-dollars", 19, 500, 19, nil},
		{"20 micro-dollars", 20, 500, 21, nil}, // ⌊21 × 5 %⌋ = 1
		{"100 micro-dollars", 100, 500, 105, nil},
		{"where rounding up would overshoot", 100, 500, 105, nil}, // ⌈100/0.95⌉ = 106 would pay 101
		{"the worked example", 268_427, 500, 282_554, nil},
		{"no fee", 268_427, 0, 268_427, nil},
		{"a 99.99 % fee", 1, 9_999, 1, nil},
		{"a 99.99 % fee, more", 2, 9_999, 10_001, nil},
		{"largest int64 without a fee", math.MaxInt64, 0, math.MaxInt64, nil},
		{"overflow", math.MaxInt64/20*19 + 100, 500, 0, ErrOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := grossUp(tt.supplier, tt.fee)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("grossUp(%d, %d) = %d, %v; want %d, %v", tt.supplier, tt.fee, got, err, tt.want, tt.wantErr)
			}
		})
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
