package svmtest_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/idlegrid/idlegrid/controlplane/payout/svmtest"
)

const (
	tokenProgram     = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
	rentExemptNoData = 890_880
	feePerSignature  = 5_000
)

func TestSVM(t *testing.T) {
	svm := svmtest.Start(t)

	t.Run("health", func(t *testing.T) {
		var ok string
		mustCall(t, svm, "getHealth", nil, &ok)
		if ok != "ok" {
			t.Fatalf("getHealth = %q", ok)
		}
	})

	t.Run("airdrop", func(t *testing.T) {
		k := newKey(t)
		if got := balance(t, svm, k.String()); got != 0 {
			t.Fatalf("new account balance = %d", got)
		}
		sig := svm.Airdrop(t, k.String(), 2_000_000_000)
		svm.Airdrop(t, k.String(), 2_000_000_000) // the same request again is a new airdrop
		if got := balance(t, svm, k.String()); got != 4_000_000_000 {
			t.Fatalf("balance after airdrops = %d, want 4000000000", got)
		}
		st := statuses(t, svm, sig)[0]
		if st == nil || string(st.Err) != "null" || st.ConfirmationStatus != "finalized" || st.Confirmations != nil {
			t.Fatalf("airdrop status = %+v", st)
		}
	})

	t.Run("mint", func(t *testing.T) {
		authority, owner, other := newKey(t), newKey(t), newKey(t)
		mint := svm.CreateMint(t, 6, authority.String())
		var info struct {
			Value *struct {
				Data  [2]string `json:"data"`
				Owner string    `json:"owner"`
				Space int       `json:"space"`
			} `json:"value"`
		}
		mustCall(t, svm, "getAccountInfo", []any{mint, map[string]any{"encoding": "base64"}}, &info)
		if info.Value == nil || info.Value.Owner != tokenProgram || info.Value.Space != 82 || info.Value.Data[1] != "base64" {
			t.Fatalf("mint account = %+v", info.Value)
		}

		if svm.ATAExists(t, mint, owner.String()) {
			t.Fatal("ATAExists before MintTo")
		}
		ata := svm.MintTo(t, mint, owner.String(), 1_500_000)
		if got := svm.TokenBalance(t, mint, owner.String()); got != 1_500_000 {
			t.Fatalf("TokenBalance = %d, want 1500000", got)
		}
		if !svm.ATAExists(t, mint, owner.String()) {
			t.Fatal("ATAExists = false after MintTo")
		}
		if svm.ATAExists(t, mint, other.String()) || svm.TokenBalance(t, mint, other.String()) != 0 {
			t.Fatal("a wallet never minted to has a token account")
		}
		svm.MintTo(t, mint, owner.String(), 1)

		var bal struct {
			Value struct {
				Amount         string `json:"amount"`
				Decimals       int    `json:"decimals"`
				UIAmountString string `json:"uiAmountString"`
			} `json:"value"`
		}
		mustCall(t, svm, "getTokenAccountBalance", []any{ata}, &bal)
		if bal.Value.Amount != "1500001" || bal.Value.Decimals != 6 || bal.Value.UIAmountString != "1.500001" {
			t.Fatalf("getTokenAccountBalance = %+v", bal.Value)
		}
		var lamports uint64
		mustCall(t, svm, "getMinimumBalanceForRentExemption", []any{165}, &lamports)
		if lamports != 2_039_280 {
			t.Fatalf("rent-exempt minimum of a token account = %d", lamports)
		}
		if got := balance(t, svm, ata); got != lamports {
			t.Fatalf("token account holds %d lamports, want its rent-exempt %d", got, lamports)
		}
		re := rpcError(t, call(t, svm, "getTokenAccountBalance", []any{other.String()}, nil))
		if re.Code != -32602 {
			t.Fatalf("getTokenAccountBalance of no account: %v", re)
		}
	})

	t.Run("blockhash expiry", func(t *testing.T) {
		bh := latest(t, svm)
		height := svm.BlockHeight(t)
		if bh.Value.Blockhash == "" || bh.Value.LastValidBlockHeight <= height {
			t.Fatalf("getLatestBlockhash = %+v at height %d", bh.Value, height)
		}
		svm.Advance(t, 10)
		if got := svm.BlockHeight(t); got != height+10 {
			t.Fatalf("height after Advance(10) = %d, want %d", got, height+10)
		}
		if latest(t, svm).Value != bh.Value {
			t.Fatal("the blockhash changed before its last valid height")
		}
		svm.ExpireBlockhash(t)
		if got := svm.BlockHeight(t); got <= bh.Value.LastValidBlockHeight {
			t.Fatalf("height after ExpireBlockhash = %d, not past %d", got, bh.Value.LastValidBlockHeight)
		}
		next := latest(t, svm)
		if next.Value.Blockhash == bh.Value.Blockhash || next.Value.LastValidBlockHeight <= svm.BlockHeight(t) {
			t.Fatalf("after expiry getLatestBlockhash = %+v", next.Value)
		}
		var valid struct{ Value bool }
		mustCall(t, svm, "isBlockhashValid", []any{bh.Value.Blockhash}, &valid)
		if valid.Value {
			t.Fatal("isBlockhashValid(expired) = true")
		}

		// Advancing past the last valid height expires it too.
		svm.Advance(t, int(next.Value.LastValidBlockHeight-svm.BlockHeight(t))+1)
		if latest(t, svm).Value.Blockhash == next.Value.Blockhash {
			t.Fatal("the blockhash outlived its last valid height")
		}
	})

	t.Run("unknown method", func(t *testing.T) {
		re := rpcError(t, call(t, svm, "getNoSuchThing", nil, nil))
		if re.Code != -32601 {
			t.Fatalf("unknown method: %v", re)
		}
	})

	t.Run("garbage transaction", func(t *testing.T) {
		for _, tx := range []string{"AQID", "////", b64(make([]byte, 200)), b64(bytes.Repeat([]byte{0xff}, 300))} {
			re := rpcError(t, call(t, svm, "sendTransaction", []any{tx, map[string]any{"encoding": "base64"}}, nil))
			if re.Code != -32602 {
				t.Errorf("sendTransaction(%.20s…): %v, want -32602", tx, re)
			}
		}
		re := rpcError(t, call(t, svm, "sendTransaction", []any{"not base58!"}, nil))
		if re.Code != -32602 {
			t.Errorf("sendTransaction(not base58): %v", re)
		}
		big := b64(make([]byte, 1300))
		re = rpcError(t, call(t, svm, "sendTransaction", []any{big, map[string]any{"encoding": "base64"}}, nil))
		if re.Code != -32602 || !strings.Contains(re.Message, "too large") {
			t.Errorf("sendTransaction(1300 bytes): %v", re)
		}
		mustCall(t, svm, "getHealth", nil, nil) // still up
	})

	t.Run("transactions", func(t *testing.T) {
		payer, to := newKey(t), newKey(t)
		svm.Airdrop(t, payer.String(), 1_000_000_000)
		bh := latest(t, svm).Value.Blockhash
		send := func(tx []byte, skipPreflight bool) (string, error) {
			var sig string
			err := call(t, svm, "sendTransaction", []any{b64(tx), map[string]any{"encoding": "base64", "skipPreflight": skipPreflight, "preflightCommitment": "finalized"}}, &sig)
			return sig, err
		}

		tx := transfer(t, payer, to.String(), 1_000_000, bh)
		var fee struct{ Value *uint64 }
		mustCall(t, svm, "getFeeForMessage", []any{b64(message(tx))}, &fee)
		if fee.Value == nil || *fee.Value != feePerSignature {
			t.Fatalf("getFeeForMessage = %v, want %d", fee.Value, feePerSignature)
		}
		sig, err := send(tx, false)
		if err != nil {
			t.Fatal(err)
		}
		if want := decode58(t, sig); !bytes.Equal(want, tx[1:65]) {
			t.Fatalf("signature %s is not the transaction's first signature", sig)
		}
		if st := statuses(t, svm, sig)[0]; st == nil || string(st.Err) != "null" || st.ConfirmationStatus != "finalized" {
			t.Fatalf("status = %+v", st)
		}
		if got, want := balance(t, svm, payer.String()), uint64(1_000_000_000-1_000_000-feePerSignature); got != want {
			t.Fatalf("payer balance = %d, want %d", got, want)
		}
		if got := balance(t, svm, to.String()); got != 1_000_000 {
			t.Fatalf("recipient balance = %d", got)
		}

		// The same bytes again: refused by preflight, never run twice.
		_, err = send(tx, false)
		re := rpcError(t, err)
		if re.Code != -32002 || string(preflightData(t, re).Err) != `"AlreadyProcessed"` {
			t.Fatalf("resend: %v %s", re, re.Data)
		}
		if sig2, err := send(tx, true); err != nil || sig2 != sig {
			t.Fatalf("resend without preflight = %s, %v; want the same signature", sig2, err)
		}
		if got := balance(t, svm, to.String()); got != 1_000_000 {
			t.Fatalf("recipient balance after resends = %d", got)
		}

		bad := transfer(t, payer, to.String(), 2, bh)
		bad[10] ^= 1
		if re := rpcError(t, second(send(bad, false))); re.Code != -32003 || re.Message != "Transaction signature verification failure" {
			t.Fatalf("bad signature: %v", re)
		}

		// More than the payer has: preflight shows the System program's error.
		poor := transfer(t, payer, to.String(), 10_000_000_000, bh)
		re = rpcError(t, second(send(poor, false)))
		pd := preflightData(t, re)
		if re.Code != -32002 || !strings.HasPrefix(re.Message, "Transaction simulation failed: Error processing Instruction 0: custom program error: 0x1") ||
			string(pd.Err) != `{"InstructionError":[0,{"Custom":1}]}` || len(pd.Logs) == 0 {
			t.Fatalf("insufficient funds: %v %s", re, re.Data)
		}
		// Without preflight it lands, fails, and costs the fee.
		before := balance(t, svm, payer.String())
		poorSig, err := send(poor, true)
		if err != nil {
			t.Fatal(err)
		}
		if st := statuses(t, svm, poorSig)[0]; st == nil || string(st.Err) != `{"InstructionError":[0,{"Custom":1}]}` {
			t.Fatalf("failed transaction status = %+v", st)
		}
		if got := balance(t, svm, payer.String()); got != before-feePerSignature {
			t.Fatalf("payer paid %d for a failed transaction, want the fee", before-got)
		}

		// An expired blockhash: refused, and without preflight never lands.
		late := transfer(t, payer, to.String(), 3, bh)
		svm.ExpireBlockhash(t)
		re = rpcError(t, second(send(late, false)))
		if re.Code != -32002 || re.Message != "Transaction simulation failed: Blockhash not found" || string(preflightData(t, re).Err) != `"BlockhashNotFound"` {
			t.Fatalf("expired blockhash: %v %s", re, re.Data)
		}
		lateSig, err := send(late, true)
		if err != nil {
			t.Fatal(err)
		}
		if st := statuses(t, svm, lateSig, sig); st[0] != nil || st[1] == nil {
			t.Fatalf("statuses = %+v, %+v; want null for the expired one", st[0], st[1])
		}
		mustCall(t, svm, "getFeeForMessage", []any{b64(message(late))}, &fee)
		if fee.Value != nil {
			t.Fatalf("getFeeForMessage with an expired blockhash = %d, want null", *fee.Value)
		}
	})

	t.Run("simulate", func(t *testing.T) {
		payer, to := newKey(t), newKey(t)
		svm.Airdrop(t, payer.String(), 1_000_000_000)
		bh := latest(t, svm)
		tx := transfer(t, payer, to.String(), rentExemptNoData, bh.Value.Blockhash)
		unsigned := append([]byte{1}, make([]byte, 64)...)
		unsigned = append(unsigned, message(tx)...)

		type simulation struct {
			Value struct {
				Err                  json.RawMessage `json:"err"`
				Logs                 []string        `json:"logs"`
				UnitsConsumed        uint64          `json:"unitsConsumed"`
				ReplacementBlockhash *struct {
					Blockhash string `json:"blockhash"`
				} `json:"replacementBlockhash"`
			} `json:"value"`
		}
		var sim simulation
		mustCall(t, svm, "simulateTransaction", []any{b64(unsigned), map[string]any{"encoding": "base64"}}, &sim)
		if string(sim.Value.Err) != "null" || sim.Value.UnitsConsumed == 0 || len(sim.Value.Logs) == 0 {
			t.Fatalf("simulation = %+v", sim.Value)
		}
		re := rpcError(t, call(t, svm, "simulateTransaction", []any{b64(unsigned), map[string]any{"encoding": "base64", "sigVerify": true}}, nil))
		if re.Code != -32003 {
			t.Fatalf("simulate unsigned with sigVerify: %v", re)
		}
		if got := balance(t, svm, to.String()); got != 0 {
			t.Fatalf("simulation moved lamports: %d", got)
		}

		svm.ExpireBlockhash(t)
		mustCall(t, svm, "simulateTransaction", []any{b64(tx), map[string]any{"encoding": "base64"}}, &sim)
		if string(sim.Value.Err) != `"BlockhashNotFound"` {
			t.Fatalf("simulate with an expired blockhash: err %s", sim.Value.Err)
		}
		sim = simulation{}
		mustCall(t, svm, "simulateTransaction", []any{b64(tx), map[string]any{"encoding": "base64", "replaceRecentBlockhash": true}}, &sim)
		if string(sim.Value.Err) != "null" || sim.Value.ReplacementBlockhash == nil || sim.Value.ReplacementBlockhash.Blockhash != latest(t, svm).Value.Blockhash {
			t.Fatalf("simulate with replaceRecentBlockhash = %+v", sim.Value)
		}
	})

	t.Run("context slot", func(t *testing.T) {
		re := rpcError(t, call(t, svm, "getBalance", []any{newKey(t).String(), map[string]any{"minContextSlot": svm.BlockHeight(t) + 1000}}, nil))
		if re.Code != -32016 {
			t.Fatalf("minContextSlot in the future: %v", re)
		}
	})

	t.Run("account encodings", func(t *testing.T) {
		var none struct {
			Value *json.RawMessage `json:"value"`
		}
		mustCall(t, svm, "getAccountInfo", []any{newKey(t).String(), map[string]any{"encoding": "base64"}}, &none)
		if none.Value != nil {
			t.Fatalf("missing account = %s, want null", *none.Value)
		}
		re := rpcError(t, call(t, svm, "getAccountInfo", []any{"not-a-key"}, nil))
		if re.Code != -32602 {
			t.Fatalf("bad pubkey: %v", re)
		}
	})
}

func second[T any](_ T, err error) error { return err }
