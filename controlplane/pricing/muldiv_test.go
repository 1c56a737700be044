package pricing

import (
	"errors"
	"math"
	"testing"
)

func TestMulDiv(t *testing.T) {
	tests := []struct {
		name    string
		a, b, c int64
		want    int64
		wantErr error // nil, ErrOverflow, or errAny
	}{
		{"exact", 180_000, 10_500, 10_000, 189_000, nil},
		{"rounds down", 282_555, 9_500, 10_000, 268_427, nil}, // 268 427.25
		{"rounds down just below the next integer", 19_999, 1, 10_000, 1, nil},
		{"zero operand", 0, math.MaxInt64, 7, 0, nil},
		{"product beyond 64 bits, quotient fits", math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64, nil},
		{"product beyond 64 bits, quotient fits after halving", math.MaxInt64, 10_000, 20_000, math.MaxInt64 / 2, nil},
		{"quotient just past int64", math.MaxInt64, 2, 1, 0, ErrOverflow},
		{"quotient beyond 64 bits", math.MaxInt64, math.MaxInt64, 1, 0, ErrOverflow},
		{"quotient fits uint64 but not int64", math.MaxInt64, 3, 2, 0, ErrOverflow},
		{"negative operand", -1, 10, 10, 0, errAny},
		{"zero divisor", 1, 1, 0, 0, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mulDiv(tt.a, tt.b, tt.c)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("mulDiv(%d, %d, %d): %v", tt.a, tt.b, tt.c, err)
			case tt.wantErr == errAny && err == nil,
				tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("mulDiv(%d, %d, %d) = %d, %v; want error %v", tt.a, tt.b, tt.c, got, err, tt.wantErr)
			case got != tt.want:
				t.Errorf("mulDiv(%d, %d, %d) = %d, want %d", tt.a, tt.b, tt.c, got, tt.want)
			}
		})
	}
}

// errAny stands for "some error" in tables.
var errAny = errors.New("any error")
