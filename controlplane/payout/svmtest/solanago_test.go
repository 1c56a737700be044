package svmtest_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gagliardetto/solana-go"
	computebudget "github.com/gagliardetto/solana-go/programs/compute-budget"
	"github.com/gagliardetto/solana-go/programs/system"
	"github.com/gagliardetto/solana-go/programs/token"
	"github.com/gagliardetto/solana-go/rpc"
	"github.com/gagliardetto/solana-go/rpc/jsonrpc"

	"github.com/idlegrid/idlegrid/controlplane/payout/svmtest"
)

// TestSolanaGoClient drives the server with solana-go's unmodified
// rpc.Client, as the payout code does: every method it uses must decode,
// and errors must have the shapes its error handling reads.
func TestSolanaGoClient(t *testing.T) {
	svm := svmtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := rpc.New(svm.URL())
	fin := rpc.CommitmentFinalized

	if h, err := c.GetHealth(ctx); err != nil || h != rpc.HealthOk {
		t.Fatalf("GetHealth = %q, %v", h, err)
	}
	if v, err := c.GetVersion(ctx); err != nil || v.SolanaCore == "" {
		t.Fatalf("GetVersion = %+v, %v", v, err)
	}
	slot, err := c.GetSlot(ctx, fin)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := c.GetBlockHeight(ctx, fin); err != nil || h != slot {
		t.Fatalf("GetBlockHeight = %d, %v; slot %d", h, err, slot)
	}

	treasury, recipient := solana.NewWallet().PrivateKey, solana.NewWallet().PublicKey()
	if _, err := c.RequestAirdrop(ctx, treasury.PublicKey(), 10_000_000_000, fin); err != nil {
		t.Fatal(err)
	}
	if b, err := c.GetBalance(ctx, treasury.PublicKey(), fin); err != nil || b.Value != 10_000_000_000 {
		t.Fatalf("GetBalance = %+v, %v", b, err)
	}
	if rent, err := c.GetMinimumBalanceForRentExemption(ctx, 165, fin); err != nil || rent != 2_039_280 {
		t.Fatalf("GetMinimumBalanceForRentExemption(165) = %d, %v", rent, err)
	}

	mint := solana.MustPublicKeyFromBase58(svm.CreateMint(t, 6, treasury.PublicKey().String()))
	svm.MintTo(t, mint.String(), treasury.PublicKey().String(), 5_000_000)
	from, _, _ := solana.FindAssociatedTokenAddress(treasury.PublicKey(), mint)
	to, _, _ := solana.FindAssociatedTokenAddress(recipient, mint)

	acct, err := c.GetAccountInfoWithOpts(ctx, mint, &rpc.GetAccountInfoOpts{Commitment: fin})
	if err != nil || !acct.Value.Owner.Equals(solana.TokenProgramID) || len(acct.Value.Data.GetBinary()) != 82 || acct.Value.RentEpoch == nil {
		t.Fatalf("GetAccountInfo(mint) = %+v, %v", acct, err)
	}
	if _, err := c.GetAccountInfoWithOpts(ctx, to, &rpc.GetAccountInfoOpts{Commitment: fin}); !errors.Is(err, rpc.ErrNotFound) {
		t.Fatalf("GetAccountInfo(missing) error = %v, want rpc.ErrNotFound", err)
	}
	if m, err := c.GetMultipleAccounts(ctx, from, to); err != nil || len(m.Value) != 2 || m.Value[0] == nil || m.Value[1] != nil {
		t.Fatalf("GetMultipleAccounts = %+v, %v", m, err)
	}

	// A payout leg as the payout code builds it: create the recipient's
	// token account idempotently, transfer, memo with raw UTF-8.
	build := func(amount uint64) *solana.Transaction {
		bh, err := c.GetLatestBlockhash(ctx, fin)
		if err != nil {
			t.Fatal(err)
		}
		if h, _ := c.GetBlockHeight(ctx, fin); bh.Value.LastValidBlockHeight <= h {
			t.Fatalf("lastValidBlockHeight %d is not above block height %d", bh.Value.LastValidBlockHeight, h)
		}
		create := solana.NewInstruction(solana.SPLAssociatedTokenAccountProgramID, solana.AccountMetaSlice{
			{PublicKey: treasury.PublicKey(), IsSigner: true, IsWritable: true},
			{PublicKey: to, IsWritable: true},
			{PublicKey: recipient},
			{PublicKey: mint},
			{PublicKey: solana.SystemProgramID},
			{PublicKey: solana.TokenProgramID},
		}, []byte{1})
		xfer := token.NewTransferCheckedInstruction(amount, 6, from, mint, to, treasury.PublicKey(), nil).Build()
		memo := solana.NewInstruction(solana.MemoProgramID, solana.AccountMetaSlice{}, []byte("idlegrid payout test"))
		tx, err := solana.NewTransaction([]solana.Instruction{memo, create, xfer}, bh.Value.Blockhash, solana.TransactionPayer(treasury.PublicKey()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Sign(func(solana.PublicKey) *solana.PrivateKey { return &treasury }); err != nil {
			t.Fatal(err)
		}
		return tx
	}

	tx := build(1_250_000)
	sim, err := c.SimulateTransaction(ctx, tx)
	if err != nil || sim.Value.Err != nil || sim.Value.UnitsConsumed == nil || *sim.Value.UnitsConsumed == 0 {
		t.Fatalf("SimulateTransaction = %+v, %v", sim, err)
	}
	msg, _ := tx.Message.MarshalBinary()
	if f, err := c.GetFeeForMessage(ctx, base64.StdEncoding.EncodeToString(msg), fin); err != nil || f.Value == nil || *f.Value != 5000 {
		t.Fatalf("GetFeeForMessage = %+v, %v", f, err)
	}
	raw, _ := tx.MarshalBinary()
	sig, err := c.SendRawTransactionWithOpts(ctx, raw, rpc.TransactionOpts{PreflightCommitment: fin})
	if err != nil || !sig.Equals(tx.Signatures[0]) {
		t.Fatalf("SendRawTransaction = %s, %v", sig, err)
	}
	st, err := c.GetSignatureStatuses(ctx, true, sig)
	if err != nil || st.Value[0] == nil || st.Value[0].Err != nil || st.Value[0].ConfirmationStatus != rpc.ConfirmationStatusFinalized {
		t.Fatalf("GetSignatureStatuses = %+v, %v", st, err)
	}
	if b, err := c.GetTokenAccountBalance(ctx, to, fin); err != nil || b.Value.Amount != "1250000" || b.Value.Decimals != 6 || b.Value.UiAmountString != "1.25" {
		t.Fatalf("GetTokenAccountBalance = %+v, %v", b, err)
	}
	if got := svm.TokenBalance(t, mint.String(), recipient.String()); got != 1_250_000 {
		t.Fatalf("recipient holds %d", got)
	}

	// More tokens than the treasury holds: a -32002 whose data reads as the
	// payout code expects (Custom:1 is spl-token's InsufficientFunds).
	_, err = c.SendRawTransactionWithOpts(ctx, mustMarshal(t, build(1_000_000_000)), rpc.TransactionOpts{PreflightCommitment: fin})
	var re *jsonrpc.RPCError
	if !errors.As(err, &re) || re.Code != -32002 || !strings.Contains(fmt.Sprint(re.Data), "Custom:1") {
		t.Fatalf("overspend error = %#v", err)
	}

	// The same signed bytes after their blockhash expired.
	late := build(1)
	svm.ExpireBlockhash(t)
	_, err = c.SendRawTransactionWithOpts(ctx, mustMarshal(t, late), rpc.TransactionOpts{PreflightCommitment: fin})
	if !errors.As(err, &re) || re.Code != -32002 || !strings.Contains(fmt.Sprint(re.Data), "BlockhashNotFound") {
		t.Fatalf("expired blockhash error = %#v", err)
	}
	if ok, err := c.IsBlockhashValid(ctx, late.Message.RecentBlockhash, fin); err != nil || ok.Value {
		t.Fatalf("IsBlockhashValid(expired) = %+v, %v", ok, err)
	}
	st, err = c.GetSignatureStatuses(ctx, true, late.Signatures[0])
	if err != nil || st.Value[0] != nil {
		t.Fatalf("status of a transaction that never landed = %+v, %v", st.Value, err)
	}
}

// TestFeeForMessage checks getFeeForMessage against what the SVM charges,
// priority fees included: builtins reserve 3,000 units by default, other
// programs (the memo here) 200,000.
func TestFeeForMessage(t *testing.T) {
	svm := svmtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := rpc.New(svm.URL())
	payer, dst := solana.NewWallet().PrivateKey, solana.NewWallet().PublicKey()
	svm.Airdrop(t, payer.PublicKey().String(), 10_000_000_000)
	svm.Airdrop(t, dst.String(), 1_000_000_000)
	xfer := system.NewTransferInstruction(1, payer.PublicKey(), dst).Build()
	memo := solana.NewInstruction(solana.MemoProgramID, solana.AccountMetaSlice{}, []byte("m"))
	limit := func(n uint32) solana.Instruction { return computebudget.NewSetComputeUnitLimitInstruction(n).Build() }
	price := func(n uint64) solana.Instruction { return computebudget.NewSetComputeUnitPriceInstruction(n).Build() }
	for _, tc := range []struct {
		name string
		ixs  []solana.Instruction
		fee  uint64
	}{
		{"plain", []solana.Instruction{xfer}, 5000},
		{"limit and price", []solana.Instruction{limit(400_000), price(1000), xfer}, 5400},
		{"price only", []solana.Instruction{price(1000), xfer}, 5006},
		{"price and memo", []solana.Instruction{price(1_234_567), memo, xfer}, 259_321},
	} {
		bh, err := c.GetLatestBlockhash(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		tx, err := solana.NewTransaction(tc.ixs, bh.Value.Blockhash, solana.TransactionPayer(payer.PublicKey()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Sign(func(solana.PublicKey) *solana.PrivateKey { return &payer }); err != nil {
			t.Fatal(err)
		}
		msg, _ := tx.Message.MarshalBinary()
		f, err := c.GetFeeForMessage(ctx, base64.StdEncoding.EncodeToString(msg), "")
		if err != nil || f.Value == nil || *f.Value != tc.fee {
			t.Fatalf("%s: GetFeeForMessage = %+v, %v; want %d", tc.name, f, err, tc.fee)
		}
		before, _ := c.GetBalance(ctx, payer.PublicKey(), "")
		if _, err := c.SendRawTransaction(ctx, mustMarshal(t, tx)); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		after, _ := c.GetBalance(ctx, payer.PublicKey(), "")
		if charged := before.Value - after.Value - 1; charged != tc.fee {
			t.Errorf("%s: charged %d, getFeeForMessage said %d", tc.name, charged, tc.fee)
		}
	}
}

func mustMarshal(t testing.TB, tx *solana.Transaction) []byte {
	t.Helper()
	b, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
