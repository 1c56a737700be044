package challenge

import "crypto/sha256"

// Domain-separated hashes: a leaf can never be passed off as an inner node.
const (
	leafTag = 0x00
	nodeTag = 0x01
)

// LeafHash commits to row i: SHA-256(0x00 ‖ i as uint32 BE ‖ row bytes).
func LeafHash(i int, row []int64) [32]byte {
	h := sha256.New()
	h.Write([]byte{leafTag, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
	h.Write(RowBytes(row))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func nodeHash(l, r [32]byte) [32]byte {
	var b [65]byte
	b[0] = nodeTag
	copy(b[1:], l[:])
	copy(b[33:], r[:])
	return sha256.Sum256(b[:])
}

// Tree is a Merkle tree over rows. An odd node at the end of a level is
// carried up unchanged rather than paired with itself, so no two row lists
// share a root.
type Tree struct {
	levels [][][32]byte // levels[0] are the leaves
}

// BuildTree hashes rows into a tree.
func BuildTree(rows [][]int64) *Tree {
	level := make([][32]byte, len(rows))
	for i, r := range rows {
		level[i] = LeafHash(i, r)
	}
	t := &Tree{levels: [][][32]byte{level}}
	for len(level) > 1 {
		next := make([][32]byte, 0, (len(level)+1)/2)
		for i := 0; i+1 < len(level); i += 2 {
			next = append(next, nodeHash(level[i], level[i+1]))
		}
		if len(level)%2 == 1 {
			next = append(next, level[len(level)-1])
		}
		t.levels = append(t.levels, next)
		level = next
	}
	return t
}

// Root is the commitment.
func (t *Tree) Root() [32]byte { return t.levels[len(t.levels)-1][0] }

// Proof lists the siblings from leaf i up; carried nodes have none.
func (t *Tree) Proof(i int) [][32]byte {
	var p [][32]byte
	for _, level := range t.levels[:len(t.levels)-1] {
		sib := i ^ 1
		if sib < len(level) {
			p = append(p, level[sib])
		}
		i /= 2
	}
	return p
}

// VerifyProof checks that leaf is row i of n under root.
func VerifyProof(root [32]byte, n, i int, leaf [32]byte, proof [][32]byte) bool {
	if n <= 0 || i < 0 || i >= n {
		return false
	}
	h := leaf
	for size := n; size > 1; size = (size + 1) / 2 {
		sib := i ^ 1
		if sib < size {
			if len(proof) == 0 {
				return false
			}
			if i%2 == 0 {
				h = nodeHash(h, proof[0])
			} else {
				h = nodeHash(proof[0], h)
			}
			proof = proof[1:]
		}
		i /= 2
	}
	return len(proof) == 0 && h == root
}
