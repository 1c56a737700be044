package challenge

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"
)

func seed(b byte) [32]byte {
	var s [32]byte
	for i := range s {
		s[i] = b + byte(i)
	}
	return s
}

func cryptoIntn(n int) int {
	v, _ := rand.Int(rand.Reader, big.NewInt(int64(n)))
	return int(v.Int64())
}

func TestHonestDevicePasses(t *testing.T) {
	p := Params{Seed: seed(1), N: 128}
	w, err := Prove(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range PickRows(p.N, DefaultK, cryptoIntn) {
		rp, err := w.Open(i)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Check(w.Tree.Root(), rp); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
	}
}

func TestDeterministicAcrossRuns(t *testing.T) {
	p := Params{Seed: seed(9), N: MinN}
	a, _ := Prove(t.Context(), p)
	b, _ := Prove(t.Context(), p)
	if a.Tree.Root() != b.Tree.Root() {
		t.Fatal("two honest runs of one challenge give different roots")
	}
	other, _ := Prove(t.Context(), Params{Seed: seed(10), N: MinN})
	if other.Tree.Root() == a.Tree.Root() {
		t.Fatal("different seeds give the same root")
	}
	// A pinned root: any change to the generator, the arithmetic or the
	// encoding breaks every deployed device, so it must show up here.
	if got := fmt.Sprintf("%x", a.Tree.Root()); got != pinnedRoot {
		t.Fatalf("root of the pinned challenge is %s, want %s", got, pinnedRoot)
	}
}

const pinnedRoot = "9ddde1b9146c95fc0762f8772578e244a8e8a97554cfd8fbf4399d8d0c35ee48"

func TestCheatersFail(t *testing.T) {
	p := Params{Seed: seed(2), N: 100} // not a power of two: exercises carried nodes
	w, err := Prove(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := NewVerifier(p)
	root := w.Tree.Root()
	stale, _ := Prove(t.Context(), Params{Seed: seed(3), N: 100})
	cases := []struct {
		name string
		root [32]byte
		rp   func() RowProof
		want error
	}{
		{"wrong row value", root, func() RowProof {
			rp, _ := w.Open(7)
			rp.Row = append([]int64(nil), rp.Row...)
			rp.Row[3]++
			return rp
		}, ErrBadProof},
		{"wrong row with a matching forged tree", func() [32]byte {
			rows := append([][]int64(nil), w.Rows...)
			rows[7] = append([]int64(nil), rows[7]...)
			rows[7][3]++
			return BuildTree(rows).Root()
		}(), func() RowProof {
			rows := append([][]int64(nil), w.Rows...)
			rows[7] = append([]int64(nil), rows[7]...)
			rows[7][3]++
			return RowProof{Index: 7, Row: rows[7], Proof: BuildTree(rows).Proof(7)}
		}, ErrWrongRow},
		{"forged proof", root, func() RowProof {
			rp, _ := w.Open(8)
			rp.Proof[0][0] ^= 1
			return rp
		}, ErrBadProof},
		{"proof of another row", root, func() RowProof {
			rp, _ := w.Open(8)
			rp.Index = 9
			return rp
		}, ErrBadProof},
		{"answer to a stale seed", stale.Tree.Root(), func() RowProof {
			rp, _ := stale.Open(5)
			return rp
		}, ErrWrongRow},
		{"short row", root, func() RowProof {
			rp, _ := w.Open(1)
			rp.Row = rp.Row[:10]
			return rp
		}, ErrWrongIndex},
		{"index out of range", root, func() RowProof { return RowProof{Index: 100, Row: make([]int64, 100)} }, ErrWrongIndex},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := v.Check(tc.root, tc.rp()); !errors.Is(err, tc.want) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMerkleProofsForEverySize(t *testing.T) {
	for n := 1; n <= 33; n++ {
		rows := make([][]int64, n)
		for i := range rows {
			rows[i] = []int64{int64(i), int64(n)}
		}
		tr := BuildTree(rows)
		for i := range n {
			if !VerifyProof(tr.Root(), n, i, LeafHash(i, rows[i]), tr.Proof(i)) {
				t.Fatalf("n=%d: proof of row %d fails", n, i)
			}
			if n > 1 && VerifyProof(tr.Root(), n, i, LeafHash(i, rows[(i+1)%n]), tr.Proof(i)) {
				t.Fatalf("n=%d: row %d verified with another row's data", n, i)
			}
		}
	}
}

func TestProveRespectsCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Prove(ctx, Params{Seed: seed(1), N: 2048}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Prove on a cancelled context = %v", err)
	}
}

func TestPlausibility(t *testing.T) {
	// 512³ MACs on 8 cores at 2e10 each: ~0.84 ms at the very least.
	if got := MinPlausible(512, 8); got < 800*time.Microsecond || got > 900*time.Microsecond {
		t.Fatalf("MinPlausible(512, 8) = %v", got)
	}
	if MinPlausible(512, 0) != MinPlausible(512, 1) {
		t.Fatal("zero cores must count as one")
	}
}

func TestRowBytesRoundTrip(t *testing.T) {
	row := []int64{0, -1, 1 << 40, -(1 << 40)}
	got, err := ParseRow(RowBytes(row))
	if err != nil || len(got) != 4 || got[2] != 1<<40 || got[3] != -(1<<40) {
		t.Fatalf("round trip %v, %v", got, err)
	}
	if _, err := ParseRow([]byte{1, 2, 3}); err == nil {
		t.Fatal("a ragged row was accepted")
	}
}

func BenchmarkProve(b *testing.B) {
	p := Params{Seed: seed(1), N: DefaultN}
	for b.Loop() {
		if _, err := Prove(context.Background(), p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	p := Params{Seed: seed(1), N: DefaultN}
	w, _ := Prove(context.Background(), p)
	rows := PickRows(p.N, DefaultK, cryptoIntn)
	proofs := make([]RowProof, len(rows))
	for i, r := range rows {
		proofs[i], _ = w.Open(r)
	}
	root := w.Tree.Root()
	for b.Loop() {
		v, _ := NewVerifier(p)
		for _, rp := range proofs {
			if err := v.Check(root, rp); err != nil {
				b.Fatal(err)
			}
		}
	}
}
