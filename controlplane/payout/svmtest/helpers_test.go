package svmtest_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/payout/svmtest"
	"github.com/idlegrid/idlegrid/shared/wallet"
)

// Tests here build legacy transactions by hand, so the server is checked
// on the wire format itself, with no Solana library in between.

type key struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

func newKey(t testing.TB) key {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key{priv, pub}
}

func (k key) String() string { return wallet.EncodeBase58(k.pub) }

const b58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

func decode58(t testing.TB, s string) []byte {
	t.Helper()
	n := new(big.Int)
	for _, r := range s {
		i := strings.IndexRune(b58, r)
		if i < 0 {
			t.Fatalf("%q is not base58", s)
		}
		n.Mul(n, big.NewInt(58))
		n.Add(n, big.NewInt(int64(i)))
	}
	zeros := len(s) - len(strings.TrimLeft(s, "1"))
	return append(make([]byte, zeros), n.Bytes()...)
}

// transfer is a signed legacy transaction moving lamports with the System
// program's Transfer (instruction 2).
func transfer(t testing.TB, from key, to string, lamports uint64, blockhash string) []byte {
	t.Helper()
	msg := []byte{1, 0, 1, 3} // 1 signer, 0 read-only signed, 1 read-only unsigned; 3 keys
	msg = append(msg, from.pub...)
	msg = append(msg, decode58(t, to)...)
	msg = append(msg, make([]byte, 32)...) // the System program, 111…1
	msg = append(msg, decode58(t, blockhash)...)
	data := binary.LittleEndian.AppendUint32(nil, 2)
	data = binary.LittleEndian.AppendUint64(data, lamports)
	msg = append(msg, 1, 2, 2, 0, 1, byte(len(data))) // 1 instruction: program 2, accounts [0 1]
	msg = append(msg, data...)
	tx := append([]byte{1}, ed25519.Sign(from.priv, msg)...)
	return append(tx, msg...)
}

// message is the message part of a one-signature transaction.
func message(tx []byte) []byte { return tx[1+64:] }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func call(t testing.TB, svm *svmtest.SVM, method string, params, result any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return svm.Call(ctx, method, params, result)
}

func mustCall(t testing.TB, svm *svmtest.SVM, method string, params, result any) {
	t.Helper()
	if err := call(t, svm, method, params, result); err != nil {
		t.Fatal(err)
	}
}

// rpcError is call's error as a JSON-RPC error, failing the test if it
// is none.
func rpcError(t testing.TB, err error) *svmtest.RPCError {
	t.Helper()
	var re *svmtest.RPCError
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want a JSON-RPC error", err)
	}
	return re
}

type blockhash struct {
	Context struct {
		Slot uint64 `json:"slot"`
	} `json:"context"`
	Value struct {
		Blockhash            string `json:"blockhash"`
		LastValidBlockHeight uint64 `json:"lastValidBlockHeight"`
	} `json:"value"`
}

func latest(t testing.TB, svm *svmtest.SVM) blockhash {
	t.Helper()
	var bh blockhash
	mustCall(t, svm, "getLatestBlockhash", []any{map[string]any{"commitment": "finalized"}}, &bh)
	return bh
}

func balance(t testing.TB, svm *svmtest.SVM, pubkey string) uint64 {
	t.Helper()
	var out struct {
		Value uint64 `json:"value"`
	}
	mustCall(t, svm, "getBalance", []any{pubkey}, &out)
	return out.Value
}

type status struct {
	Slot               uint64          `json:"slot"`
	Confirmations      *uint64         `json:"confirmations"`
	Err                json.RawMessage `json:"err"`
	ConfirmationStatus string          `json:"confirmationStatus"`
}

func statuses(t testing.TB, svm *svmtest.SVM, sigs ...string) []*status {
	t.Helper()
	var out struct {
		Value []*status `json:"value"`
	}
	mustCall(t, svm, "getSignatureStatuses", []any{sigs, map[string]any{"searchTransactionHistory": true}}, &out)
	if len(out.Value) != len(sigs) {
		t.Fatalf("getSignatureStatuses answered %d statuses for %d signatures", len(out.Value), len(sigs))
	}
	return out.Value
}

// preflight is the data of a -32002 error.
type preflight struct {
	Err           json.RawMessage `json:"err"`
	Logs          []string        `json:"logs"`
	UnitsConsumed uint64          `json:"unitsConsumed"`
}

func preflightData(t testing.TB, re *svmtest.RPCError) preflight {
	t.Helper()
	var p preflight
	if err := json.Unmarshal(re.Data, &p); err != nil {
		t.Fatalf("error data %s: %v", re.Data, err)
	}
	return p
}
