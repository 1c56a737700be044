package money

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

// rng returns the same pseudo-random sequence on every run, so a property
// failure can be reproduced.
func rng() *rand.Rand { return rand.New(rand.NewPCG(20240601, 7)) }

// edgeInt64s are the values where sign handling and overflow go wrong.
var edgeInt64s = []int64{
	0, 1, -1, 2, -2, 9, 10, 999_999, 1_000_000, 1_000_001, -999_999, -1_000_000,
	math.MaxInt64, math.MaxInt64 - 1, math.MinInt64, math.MinInt64 + 1,
	math.MaxInt32, math.MinInt32, 1 << 32, -(1 << 32), 3_037_000_499, -3_037_000_500,
}

// randInt64 draws values of every magnitude, not just huge ones as a
// uniform draw would.
func randInt64(r *rand.Rand) int64 {
	v := int64(r.Uint64() >> r.UintN(64))
	if r.IntN(2) == 0 {
		return -v
	}
	return v
}

func TestParseUSDAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Micros
	}{
		{"whole dollars", "12", 12_000_000},
		{"one decimal", "12.5", 12_500_000},
		{"six decimals", "12.345678", 12_345_678},
		{"dollar sign", "$12.34", 12_340_000},
		{"negative", "-3.5", -3_500_000},
		{"negative with dollar sign", "-$3.50", -3_500_000},
		{"surrounding spaces", " 7 ", 7_000_000},
		{"tabs and newline", "\t7\n", 7_000_000},
		{"zero", "0", 0},
		{"negative zero", "-0.000000", 0},
		{"one micro", "0.000001", 1},
		{"minus one micro", "-0.000001", -1},
		{"leading zeros", "007.50", 7_500_000},
		{"trailing zeros within six places", "1.500000", 1_500_000},
		{"largest", "9223372036854.775807", math.MaxInt64},
		{"smallest", "-9223372036854.775808", math.MinInt64},
		{"smallest with dollar sign", "-$9223372036854.775808", math.MinInt64},
		{"many leading zeros", "0000000000000000000000001", PerUSD},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseUSD(tc.in)
			if err != nil {
				t.Fatalf("ParseUSD(%q) failed: %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("ParseUSD(%q) = %d micros, want %d", tc.in, int64(got), int64(tc.want))
			}
		})
	}
}

func TestParseUSDRejects(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		words    string // part of the message a user reads
	}{
		{"empty", "", "is empty"},
		{"only spaces", "   ", "is empty"},
		{"lone point", ".", "has no digits"},
		{"lone dollar sign", "$", "has no digits"},
		{"lone minus", "-", "has no digits"},
		{"nothing before the point", ".5", `write "0.5"`},
		{"nothing after the point", "1.", `write "1"`},
		{"seven decimals", "12.3456789", `"12.3456789" has more than 6 decimal places; credits are counted in millionths of a dollar`},
		{"seven decimals all zero", "1.0000000", "more than 6 decimal places"},
		{"exponent", "1e3", "exponent notation"},
		{"thousands separator", "1,000", "contains a comma"},
		{"decimal comma", "12,50", "contains a comma"},
		{"NaN", "NaN", `contains "N", which is not a digit 0-9`},
		{"infinity", "Inf", `contains "I"`},
		{"plus then minus", "+-1", "plus sign"},
		{"plus sign", "+1", "plus sign"},
		{"double minus", "--1", "sign in the wrong place"},
		{"minus after dollar sign", "$-3.50", "sign in the wrong place"},
		{"sign in the middle", "1-2", "sign in the middle"},
		{"two points", "1.2.3", "more than one decimal point"},
		{"space inside", "1 000", "space inside"},
		{"space after sign", "- 5", "space inside"},
		{"arabic-indic digits", "١٢", "not one of the ASCII digits 0-9"},
		{"fullwidth digit", "１", "not one of the ASCII digits 0-9"},
		{"invalid utf-8", "1\xff", `contains "\xff"`},
		{"hex", "0x10", `contains "x"`},
		{"currency code", "12 USD", "space inside"},
		{"one micro too many", "9223372036854.775808", "out of range; credits must lie between -9223372036854.775808 and 9223372036854.775807"},
		{"one micro too few", "-9223372036854.775809", "out of range"},
		{"beyond uint64", "99999999999999999999999", "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseUSD(tc.in)
			if err == nil {
				t.Fatalf("ParseUSD(%q) = %d micros, want an error", tc.in, int64(got))
			}
			if !errors.Is(err, ErrAmount) {
				t.Errorf("ParseUSD(%q) error %q does not wrap ErrAmount", tc.in, err)
			}
			if !strings.Contains(err.Error(), tc.words) {
				t.Errorf("ParseUSD(%q) error %q does not say %q", tc.in, err, tc.words)
			}
		})
	}
}

func TestStringAndUSD(t *testing.T) {
	for _, tc := range []struct {
		name      string
		m         Micros
		str, disp string
	}{
		{"zero", 0, "0.00", "$0.00"},
		{"one micro", 1, "0.000001", "$0.000001"},
		{"minus one micro", -1, "-0.000001", "-$0.000001"},
		{"one dollar", PerUSD, "1.00", "$1.00"},
		{"just under a dollar", 999_999, "0.999999", "$0.999999"},
		{"cents", 12_340_000, "12.34", "$12.34"},
		{"negative half", -3_500_000, "-3.50", "-$3.50"},
		{"trailing zero trimmed", 12_345_600, "12.3456", "$12.3456"},
		{"ten cents", 100_000, "0.10", "$0.10"},
		{"largest", math.MaxInt64, "9223372036854.775807", "$9223372036854.775807"},
		{"smallest", math.MinInt64, "-9223372036854.775808", "-$9223372036854.775808"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.m.String(); got != tc.str {
				t.Errorf("Micros(%d).String() = %q, want %q", int64(tc.m), got, tc.str)
			}
			if got := tc.m.USD(); got != tc.disp {
				t.Errorf("Micros(%d).USD() = %q, want %q", int64(tc.m), got, tc.disp)
			}
		})
	}
}

func TestStringRoundTrips(t *testing.T) {
	r := rng()
	values := append([]int64(nil), edgeInt64s...)
	for range 10_000 {
		values = append(values, randInt64(r))
	}
	for _, v := range values {
		m := Micros(v)
		for _, text := range []string{m.String(), m.USD()} {
			got, err := ParseUSD(text)
			if err != nil {
				t.Fatalf("ParseUSD(%q), printed from %d micros, failed: %v", text, v, err)
			}
			if got != m {
				t.Fatalf("ParseUSD(%q) = %d, want %d", text, int64(got), v)
			}
		}
	}
}

// floorDiv is the reference for MulDiv: big.Int.Div is Euclidean division,
// which for a positive divisor is floor division.
func floorDiv(a, b, c int64) *big.Int {
	p := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	return p.Div(p, big.NewInt(c))
}

func checkMulDiv(t testing.TB, a, b, c int64) {
	t.Helper()
	want := floorDiv(a, b, c)
	got, err := MulDiv(a, b, c)
	if !want.IsInt64() {
		if err == nil {
			t.Fatalf("MulDiv(%d, %d, %d) = %d, want an overflow error (exact result %s)", a, b, c, got, want)
		}
		if !errors.Is(err, ErrAmount) {
			t.Fatalf("MulDiv(%d, %d, %d) error %q does not wrap ErrAmount", a, b, c, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("MulDiv(%d, %d, %d) failed: %v; want %s", a, b, c, err, want)
	}
	if got != want.Int64() {
		t.Fatalf("MulDiv(%d, %d, %d) = %d, want %s", a, b, c, got, want)
	}
}

func TestMulDivMatchesBigFloor(t *testing.T) {
	for _, tc := range []struct {
		name    string
		a, b, c int64
		want    int64 // checked when ok
		ok      bool
	}{
		{"exact", 6, 7, 2, 21, true},
		{"positive rounds down", 7, 1, 2, 3, true},
		{"negative rounds toward minus infinity", -7, 1, 2, -4, true},
		{"negative divisor side", 7, -1, 2, -4, true},
		{"two negatives are positive", -7, -1, 2, 3, true},
		{"negative exact", -8, 1, 2, -4, true},
		{"minus one third", -1, 1, 3, -1, true},
		{"zero times negative", 0, -5, 3, 0, true},
		{"fee of one basis point", 12_345, 1, 10_000, 1, true},
		{"intermediate beyond 64 bits", math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64, true},
		{"smallest times one", math.MinInt64, 1, 1, math.MinInt64, true},
		{"smallest squared over smallest magnitude", math.MinInt64, math.MinInt64, math.MaxInt64, 0, false},
		{"smallest times minus one overflows", math.MinInt64, -1, 1, 0, false},
		{"doubling then halving the largest", math.MaxInt64, 2, 2, math.MaxInt64, true},
		{"just over the largest", math.MaxInt64, 3, 2, 0, false},
		{"quotient needs more than 64 bits", math.MaxInt64, math.MaxInt64, 1, 0, false},
		{"negative quotient far beyond 64 bits", math.MinInt64, math.MaxInt64, 2, 0, false},
		{"negative reaches smallest exactly", -(1 << 62), 4, 2, math.MinInt64, true},
		// (2^64-1)/2 = 2^63-1 remainder 1: flooring steps onto math.MinInt64.
		{"floor steps onto smallest", -6_148_914_691_236_517_205, 3, 2, math.MinInt64, true},
		// (2^64+1)/2 = 2^63 remainder 1: flooring steps one past it.
		{"floor steps past smallest", -274_177, 67_280_421_310_721, 2, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkMulDiv(t, tc.a, tc.b, tc.c)
			got, err := MulDiv(tc.a, tc.b, tc.c)
			if (err == nil) != tc.ok {
				t.Fatalf("MulDiv(%d, %d, %d) error = %v, want ok=%v", tc.a, tc.b, tc.c, err, tc.ok)
			}
			if tc.ok && got != tc.want {
				t.Fatalf("MulDiv(%d, %d, %d) = %d, want %d", tc.a, tc.b, tc.c, got, tc.want)
			}
		})
	}
}

func TestMulDivProperty(t *testing.T) {
	r := rng()
	for range 20_000 {
		a, b, c := randInt64(r), randInt64(r), randInt64(r)
		if c == math.MinInt64 {
			c++
		}
		if c < 0 {
			c = -c
		}
		if c == 0 {
			c = 1
		}
		checkMulDiv(t, a, b, c)
	}
	for _, a := range edgeInt64s {
		for _, b := range edgeInt64s {
			for _, c := range []int64{1, 2, 3, 7, 10_000, 1_000_000, math.MaxInt64} {
				checkMulDiv(t, a, b, c)
			}
		}
	}
}

func TestMulDivRejectsNonPositiveDivisor(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    int64
	}{{"zero", 0}, {"minus one", -1}, {"smallest", math.MinInt64}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := MulDiv(10, 10, tc.c)
			if !errors.Is(err, ErrAmount) || !strings.Contains(err.Error(), "must be positive") {
				t.Fatalf("MulDiv(10, 10, %d) error = %v, want ErrAmount saying the divisor must be positive", tc.c, err)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name          string
		total         Micros
		bp            int64
		supplier, fee Micros
	}{
		{"no fee", 10 * PerUSD, 0, 10 * PerUSD, 0},
		{"all fee", 10 * PerUSD, 10_000, 0, 10 * PerUSD},
		{"ten percent", 10 * PerUSD, 1_000, 9 * PerUSD, PerUSD},
		{"fraction goes to the supplier", 9_999, 1, 9_999, 0},
		{"fee rounds down", 19_999, 5_000, 10_000, 9_999},
		{"zero total", 0, 2_500, 0, 0},
		{"largest total", math.MaxInt64, 10_000, 0, math.MaxInt64},
		{"largest total, half", math.MaxInt64, 5_000, math.MaxInt64/2 + 1, math.MaxInt64 / 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			supplier, fee, err := Split(tc.total, tc.bp)
			if err != nil {
				t.Fatalf("Split(%s, %d) failed: %v", tc.total, tc.bp, err)
			}
			if supplier != tc.supplier || fee != tc.fee {
				t.Fatalf("Split(%s, %d) = supplier %s, fee %s; want %s, %s", tc.total, tc.bp, supplier, fee, tc.supplier, tc.fee)
			}
		})
	}
}

func TestSplitConservesEveryMicro(t *testing.T) {
	r := rng()
	bps := []int64{0, 1, 3, 250, 999, 1_000, 3_333, 5_000, 9_999, 10_000}
	totals := []Micros{0, 1, 2, 9_999, 10_000, 10_001, PerUSD, math.MaxInt64, math.MaxInt64 - 1}
	for range 5_000 {
		totals = append(totals, Micros(randInt64(r)&math.MaxInt64))
		bps = append(bps, r.Int64N(10_001))
	}
	for i, total := range totals {
		for _, bp := range []int64{bps[i%len(bps)], bps[(i*7+3)%len(bps)], 0, 10_000} {
			supplier, fee, err := Split(total, bp)
			if err != nil {
				t.Fatalf("Split(%s, %d) failed: %v", total, bp, err)
			}
			if supplier+fee != total || supplier < 0 || fee < 0 {
				t.Fatalf("Split(%s, %d) = %s + %s, which does not add up to the total without going negative", total, bp, supplier, fee)
			}
			if want := floorDiv(int64(total), bp, 10_000); want.Int64() != int64(fee) {
				t.Fatalf("Split(%s, %d) fee = %s micros, want floor(total·bp/10000) = %s", total, bp, fee, want)
			}
		}
	}
}

func TestSplitRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		total Micros
		bp    int64
		words string
	}{
		{"negative total", -1, 100, "negative amount -0.000001"},
		{"negative fee", PerUSD, -1, "outside 0 to 10000"},
		{"fee above 100 percent", PerUSD, 10_001, "outside 0 to 10000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Split(tc.total, tc.bp)
			if !errors.Is(err, ErrAmount) || !strings.Contains(err.Error(), tc.words) {
				t.Fatalf("Split(%s, %d) error = %v, want ErrAmount saying %q", tc.total, tc.bp, err, tc.words)
			}
		})
	}
}

func TestAddSub(t *testing.T) {
	for _, tc := range []struct {
		name         string
		a, b         Micros
		sum, diff    Micros
		sumOK, subOK bool
	}{
		{"small", 3, 2, 5, 1, true, true},
		{"mixed signs", -3, 2, -1, -5, true, true},
		{"largest plus zero", math.MaxInt64, 0, math.MaxInt64, math.MaxInt64, true, true},
		{"largest plus one overflows", math.MaxInt64, 1, 0, math.MaxInt64 - 1, false, true},
		{"smallest minus one overflows", math.MinInt64, 1, math.MinInt64 + 1, 0, true, false},
		{"smallest plus smallest", math.MinInt64, math.MinInt64, 0, 0, false, true},
		{"zero minus smallest", 0, math.MinInt64, math.MinInt64, 0, true, false},
		{"minus one minus smallest", -1, math.MinInt64, 0, math.MaxInt64, false, true},
		{"largest minus minus one", math.MaxInt64, -1, math.MaxInt64 - 1, 0, true, false},
		{"largest plus smallest", math.MaxInt64, math.MinInt64, -1, 0, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sum, err := Add(tc.a, tc.b)
			if (err == nil) != tc.sumOK || tc.sumOK && sum != tc.sum {
				t.Errorf("Add(%d, %d) = %d, %v; want %d, ok=%v", tc.a, tc.b, sum, err, tc.sum, tc.sumOK)
			}
			if err != nil && (!errors.Is(err, ErrAmount) || !strings.Contains(err.Error(), "out of the range")) {
				t.Errorf("Add(%d, %d) error %q does not wrap ErrAmount or say it is out of range", tc.a, tc.b, err)
			}
			diff, err := Sub(tc.a, tc.b)
			if (err == nil) != tc.subOK || tc.subOK && diff != tc.diff {
				t.Errorf("Sub(%d, %d) = %d, %v; want %d, ok=%v", tc.a, tc.b, diff, err, tc.diff, tc.subOK)
			}
			if err != nil && !errors.Is(err, ErrAmount) {
				t.Errorf("Sub(%d, %d) error %q does not wrap ErrAmount", tc.a, tc.b, err)
			}
		})
	}
}

func TestAddSubMatchBig(t *testing.T) {
	r := rng()
	for range 20_000 {
		a, b := randInt64(r), randInt64(r)
		wantSum := new(big.Int).Add(big.NewInt(a), big.NewInt(b))
		sum, err := Add(Micros(a), Micros(b))
		if wantSum.IsInt64() != (err == nil) || err == nil && int64(sum) != wantSum.Int64() {
			t.Fatalf("Add(%d, %d) = %d, %v; want %s", a, b, sum, err, wantSum)
		}
		wantDiff := new(big.Int).Sub(big.NewInt(a), big.NewInt(b))
		diff, err := Sub(Micros(a), Micros(b))
		if wantDiff.IsInt64() != (err == nil) || err == nil && int64(diff) != wantDiff.Int64() {
			t.Fatalf("Sub(%d, %d) = %d, %v; want %s", a, b, diff, err, wantDiff)
		}
	}
}
