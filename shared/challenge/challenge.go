// Package challenge is the verifiable compute challenge that keeps the
// network from paying for GPUs that aren't there. The control plane sends a
// random seed and a size n; the device builds two seeded n×n integer
// matrices, multiplies them with exact integer arithmetic (so every honest
// device gets the same bits), and commits to the product with a Merkle root
// over its rows. The control plane then asks for k random rows with their
// Merkle proofs and checks each by recomputing that one row: O(k·n²) work
// against the device's O(n³).
package challenge

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"
)

// Sizes. MaxN bounds the device's work and the size of one row on the wire
// (a row of 4096 int64 is 32 KiB).
const (
	MinN     = 64
	MaxN     = 4096
	DefaultN = 1024
	DefaultK = 8
	MaxK     = 64
)

// Params define one challenge.
type Params struct {
	Seed [32]byte
	N    int
}

// Validate checks the size.
func (p Params) Validate() error {
	if p.N < MinN || p.N > MaxN {
		return fmt.Errorf("challenge size %d is outside %d..%d", p.N, MinN, MaxN)
	}
	return nil
}

// entryBound keeps matrix entries in [-2^15, 2^15): a product entry is a
// sum of n products below 2^30, so it fits int64 for any n ≤ MaxN.
const entryBound = 1 << 15

// stream returns the deterministic generator for matrix name ("A" or "B").
// ChaCha8 is specified bit for bit, so every platform draws the same values.
func stream(seed [32]byte, name string) *rand.ChaCha8 {
	return rand.NewChaCha8(sha256.Sum256(append(append([]byte("idlegrid/challenge/v1/"), name...), seed[:]...)))
}

// Matrices returns A and B, row-major.
func Matrices(p Params) (a, b []int32) {
	gen := func(name string) []int32 {
		s := stream(p.Seed, name)
		m := make([]int32, p.N*p.N)
		for i := range m {
			m[i] = int32(s.Uint64()%(2*entryBound)) - entryBound
		}
		return m
	}
	return gen("A"), gen("B")
}

// Row computes row i of A·B.
func Row(a, b []int32, n, i int) []int64 {
	out := make([]int64, n)
	rowA := a[i*n : (i+1)*n]
	for k, av := range rowA {
		x := int64(av)
		if x == 0 {
			continue
		}
		rowB := b[k*n : (k+1)*n]
		for j, bv := range rowB {
			out[j] += x * int64(bv)
		}
	}
	return out
}

// Product computes every row of A·B on all cores, checking ctx between rows.
func Product(ctx context.Context, p Params) ([][]int64, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	a, b := Matrices(p)
	rows := make([][]int64, p.N)
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				rows[i] = Row(a, b, p.N, i)
			}
		}()
	}
	var err error
feed:
	for i := range p.N {
		select {
		case next <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("computing the challenge: %w", err)
	}
	return rows, nil
}

// RowBytes is a row's canonical encoding: int64 little-endian.
func RowBytes(row []int64) []byte {
	b := make([]byte, 8*len(row))
	for i, v := range row {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return b
}

// ParseRow decodes RowBytes.
func ParseRow(b []byte) ([]int64, error) {
	if len(b)%8 != 0 {
		return nil, errors.New("a row's length must be a multiple of 8 bytes")
	}
	row := make([]int64, len(b)/8)
	for i := range row {
		row[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return row, nil
}

// Work is a device's answer in progress: the product's Merkle tree, kept
// until the control plane asks for rows.
type Work struct {
	Params  Params
	Rows    [][]int64
	Tree    *Tree
	Elapsed time.Duration
}

// Prove computes the product and commits to it.
func Prove(ctx context.Context, p Params) (*Work, error) {
	start := time.Now()
	rows, err := Product(ctx, p)
	if err != nil {
		return nil, err
	}
	tree := BuildTree(rows)
	return &Work{Params: p, Rows: rows, Tree: tree, Elapsed: time.Since(start)}, nil
}

// Open returns row i with its proof.
func (w *Work) Open(i int) (RowProof, error) {
	if i < 0 || i >= len(w.Rows) {
		return RowProof{}, fmt.Errorf("row %d is outside 0..%d", i, len(w.Rows)-1)
	}
	return RowProof{Index: i, Row: w.Rows[i], Proof: w.Tree.Proof(i)}, nil
}

// RowProof is one opened row.
type RowProof struct {
	Index int
	Row   []int64
	Proof [][32]byte
}

// Verifier checks opened rows of one challenge. It generates the matrices
// once (O(n²)) and recomputes only the rows asked for.
type Verifier struct {
	p    Params
	a, b []int32
}

// NewVerifier prepares to check answers to p.
func NewVerifier(p Params) (*Verifier, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	a, b := Matrices(p)
	return &Verifier{p: p, a: a, b: b}, nil
}

// Failure reasons, stable words recorded with a failed challenge.
var (
	ErrWrongRow   = errors.New("a row does not match the product")
	ErrBadProof   = errors.New("a Merkle proof does not lead to the committed root")
	ErrWrongIndex = errors.New("a row that was not asked for")
)

// Check verifies one opened row against root.
func (v *Verifier) Check(root [32]byte, rp RowProof) error {
	if rp.Index < 0 || rp.Index >= v.p.N || len(rp.Row) != v.p.N {
		return fmt.Errorf("%w: row %d with %d values", ErrWrongIndex, rp.Index, len(rp.Row))
	}
	if !VerifyProof(root, v.p.N, rp.Index, LeafHash(rp.Index, rp.Row), rp.Proof) {
		return fmt.Errorf("%w (row %d)", ErrBadProof, rp.Index)
	}
	want := Row(v.a, v.b, v.p.N, rp.Index)
	for j := range want {
		if want[j] != rp.Row[j] {
			return fmt.Errorf("%w (row %d, column %d)", ErrWrongRow, rp.Index, j)
		}
	}
	return nil
}

// PickRows draws k distinct row indexes with r (crypto-random in the
// control plane, so a device can't predict which rows will be checked).
func PickRows(n, k int, r func(n int) int) []int {
	k = min(k, n)
	seen := map[int]bool{}
	out := make([]int, 0, k)
	for len(out) < k {
		i := r(n)
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out
}

// MaxMACPerCoreSecond is a generous upper bound on exact int64
// multiply-adds one CPU core can do per second (vectorised). A device
// claiming to finish faster than its cores allow did not do the work.
const MaxMACPerCoreSecond = 2e10

// MinPlausible is the fastest honest time for n on cores CPU cores.
func MinPlausible(n, cores int) time.Duration {
	cores = max(cores, 1)
	macs := float64(n) * float64(n) * float64(n)
	return time.Duration(macs / (float64(cores) * MaxMACPerCoreSecond) * float64(time.Second))
}
