package payout

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gagliardetto/solana-go"
	computebudget "github.com/gagliardetto/solana-go/programs/compute-budget"
	"github.com/gagliardetto/solana-go/programs/token"
	"github.com/gagliardetto/solana-go/rpc"
	"github.com/gagliardetto/solana-go/rpc/jsonrpc"
)

// MaxTxBytes is Solana's limit on a serialized transaction; solana-go
// does not check it, so batches are sized against it here.
const MaxTxBytes = 1232

// chain talks to Solana through the unmodified solana-go RPC client.
type chain struct {
	rpc         *rpc.Client
	treasury    solana.PrivateKey
	mint        solana.PublicKey
	treasuryATA solana.PublicKey
	decimals    uint8
	cfg         Config
}

func newChain(cfg Config) (*chain, error) {
	key, err := solana.PrivateKeyFromSolanaKeygenFile(cfg.TreasuryKey)
	if err != nil {
		// The error may quote the file; say only that it is unreadable.
		return nil, fmt.Errorf("the treasury key file %s is not a Solana keypair", cfg.TreasuryKey)
	}
	mint, err := solana.PublicKeyFromBase58(cfg.Mint)
	if err != nil {
		return nil, fmt.Errorf("--payout-mint %q is not a Solana address", cfg.Mint)
	}
	ata, _, err := solana.FindAssociatedTokenAddress(key.PublicKey(), mint)
	if err != nil {
		return nil, fmt.Errorf("deriving the treasury token account: %w", err)
	}
	return &chain{rpc: rpc.New(cfg.RPCURL), treasury: key, mint: mint, treasuryATA: ata, decimals: cfg.Decimals, cfg: cfg}, nil
}

// Treasury is the treasury's public address.
func (c *chain) Treasury() solana.PublicKey { return c.treasury.PublicKey() }

// TreasuryBalance reads the treasury's token balance (base units).
func (c *chain) TreasuryBalance(ctx context.Context) (uint64, error) {
	out, err := c.rpc.GetTokenAccountBalance(ctx, c.treasuryATA, rpc.CommitmentFinalized)
	if err != nil {
		return 0, fmt.Errorf("reading the treasury balance: %w", err)
	}
	var n uint64
	_, err = fmt.Sscan(out.Value.Amount, &n)
	return n, err
}

// leg is one payout in a batch.
type leg struct {
	id     string
	owner  solana.PublicKey
	ata    solana.PublicKey
	amount uint64
	create bool // the recipient has no token account yet
}

// createIdempotent is the associated-token-account program's
// CreateIdempotent (instruction data [1]): solana-go only builds the
// legacy Create, which fails when the account exists.
func (c *chain) createIdempotent(l leg) solana.Instruction {
	return solana.NewInstruction(solana.SPLAssociatedTokenAccountProgramID, solana.AccountMetaSlice{
		{PublicKey: c.treasury.PublicKey(), IsSigner: true, IsWritable: true},
		{PublicKey: l.ata, IsWritable: true},
		{PublicKey: l.owner},
		{PublicKey: c.mint},
		{PublicKey: solana.SystemProgramID},
		{PublicKey: solana.TokenProgramID},
	}, []byte{1})
}

// memo is the memo program with the raw UTF-8 as data (solana-go's memo
// builder prefixes a length byte).
func memo(text string) solana.Instruction {
	return solana.NewInstruction(solana.MemoProgramID, solana.AccountMetaSlice{}, []byte(text))
}

func (c *chain) instructions(batchID string, legs []leg) ([]solana.Instruction, error) {
	var ixs []solana.Instruction
	if c.cfg.ComputeUnits > 0 {
		ix, err := computebudget.NewSetComputeUnitLimitInstruction(c.cfg.ComputeUnits).ValidateAndBuild()
		if err != nil {
			return nil, err
		}
		ixs = append(ixs, ix)
	}
	if c.cfg.PriorityMicroLamports > 0 {
		ix, err := computebudget.NewSetComputeUnitPriceInstruction(c.cfg.PriorityMicroLamports).ValidateAndBuild()
		if err != nil {
			return nil, err
		}
		ixs = append(ixs, ix)
	}
	ixs = append(ixs, memo("idlegrid payout batch "+batchID))
	for _, l := range legs {
		if l.create {
			ixs = append(ixs, c.createIdempotent(l))
		}
		ix, err := token.NewTransferCheckedInstruction(l.amount, c.decimals, c.treasuryATA, c.mint, l.ata, c.treasury.PublicKey(), nil).ValidateAndBuild()
		if err != nil {
			return nil, fmt.Errorf("building transfer: %w", err)
		}
		ixs = append(ixs, ix)
	}
	return ixs, nil
}

// build signs a transaction of legs with blockhash and returns its bytes.
func (c *chain) build(batchID string, legs []leg, blockhash solana.Hash) ([]byte, solana.Signature, error) {
	ixs, err := c.instructions(batchID, legs)
	if err != nil {
		return nil, solana.Signature{}, err
	}
	tx, err := solana.NewTransaction(ixs, blockhash, solana.TransactionPayer(c.treasury.PublicKey()))
	if err != nil {
		return nil, solana.Signature{}, fmt.Errorf("building batch: %w", err)
	}
	sigs, err := tx.Sign(func(k solana.PublicKey) *solana.PrivateKey {
		if k.Equals(c.treasury.PublicKey()) {
			return &c.treasury
		}
		return nil
	})
	if err != nil {
		return nil, solana.Signature{}, fmt.Errorf("signing batch: %w", err)
	}
	b, err := tx.MarshalBinary()
	if err != nil {
		return nil, solana.Signature{}, err
	}
	return b, sigs[0], nil
}

// fits reports whether legs fit one transaction, measured on a real
// serialization.
func (c *chain) fits(legs []leg) (bool, error) {
	b, _, err := c.build("pay_00000000000000000000", legs, solana.Hash{})
	if err != nil {
		return false, err
	}
	return len(b) <= MaxTxBytes, nil
}

// hasAccount reports whether an account exists.
func (c *chain) hasAccount(ctx context.Context, pk solana.PublicKey) (bool, error) {
	_, err := c.rpc.GetAccountInfoWithOpts(ctx, pk, &rpc.GetAccountInfoOpts{Commitment: rpc.CommitmentFinalized})
	if errors.Is(err, rpc.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking up %s: %w", pk, err)
	}
	return true, nil
}

// sendError classifies a send failure in words for the operator.
func sendError(err error) (reason string, insufficient bool) {
	var re *jsonrpc.RPCError
	if errors.As(err, &re) {
		msg := fmt.Sprintf("%s (%d)", re.Message, re.Code)
		data := fmt.Sprint(re.Data)
		switch {
		case strings.Contains(data, "Custom:1") || strings.Contains(data, "Custom 1") || strings.Contains(data, "insufficient funds"):
			return "the treasury has too few tokens for this batch: fund it, then retry the parked payouts", true
		case strings.Contains(data, "BlockhashNotFound") || strings.Contains(re.Message, "Blockhash not found"):
			return "blockhash expired before the batch landed; it is rebuilt once the old one is surely dead", false
		case re.Code == -32003:
			return "the cluster refused the batch's signature: check the treasury key", false
		case strings.Contains(data, "InsufficientFundsForFee") || strings.Contains(data, "insufficient lamports"):
			return "the treasury has too little SOL for fees or new token accounts: fund it, then retry", true
		}
		return msg, false
	}
	return err.Error(), false
}
