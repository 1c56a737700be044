package ledger

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/keyfile"
)

// Receipt is what the control plane signs at the end of an assignment:
// both the supplier and the requester can fetch it and check it against
// the control plane's published key.
type Receipt struct {
	ID           string    `json:"id"`
	Assignment   string    `json:"assignment"`
	Device       string    `json:"device"`
	Cluster      string    `json:"cluster"`
	Requester    string    `json:"requester"`
	Supplier     string    `json:"supplier"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	Seconds      int64     `json:"seconds"`
	Charged      int64     `json:"charged"` // micro-USD paid by the requester
	Earned       int64     `json:"earned"`  // micro-USD to the supplier
	Fee          int64     `json:"fee"`     // micro-USD to the platform
	Unpaid       int64     `json:"unpaid"`  // micro-USD that could not be charged
	PricePerHour int64     `json:"price_per_hour"`
}

// receiptContext separates receipt signatures from every other signature.
const receiptContext = "idlegrid/receipt/v1\n"

// Signer signs receipts with the control plane's key.
type Signer struct {
	key ed25519.PrivateKey
}

// LoadSigner reads the receipt key from dir, creating it on first start.
// It vouches for every receipt, so a key readable by others is refused.
func LoadSigner(dir string) (*Signer, error) {
	key, err := keyfile.LoadOrCreate(filepath.Join(dir, "receipts.key"))
	if err != nil {
		return nil, fmt.Errorf("receipt key: %w", err)
	}
	return &Signer{key: key}, nil
}

// PublicKey is what receipts verify against.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Sign returns the canonical body and its signature.
func (s *Signer) Sign(r Receipt) (body []byte, sig []byte, err error) {
	body, err = json.Marshal(r)
	if err != nil {
		return nil, nil, err
	}
	return body, ed25519.Sign(s.key, append([]byte(receiptContext), body...)), nil
}

// VerifyReceipt checks a receipt body against its signature and returns
// the receipt.
func VerifyReceipt(pub ed25519.PublicKey, body, sig []byte) (Receipt, error) {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, append([]byte(receiptContext), body...), sig) {
		return Receipt{}, errors.New("the receipt's signature does not match the control plane's key")
	}
	var r Receipt
	if err := json.Unmarshal(body, &r); err != nil {
		return Receipt{}, fmt.Errorf("reading receipt: %w", err)
	}
	return r, nil
}

// Finish ends an assignment at `at`, meters it to the end and signs its
// receipt, all idempotent: calling it again changes nothing.
func (m *Meter) Finish(ctx context.Context, assignmentID string, at time.Time, signer *Signer) error {
	if err := m.Ledger.Store.Write(ctx, func(tx *sql.Tx) error { return store.EndAssignment(ctx, tx, assignmentID, at) }); err != nil {
		return err
	}
	// Heartbeats up to the end may still sit in the hub's queue: settle to
	// the end regardless of Lag, since the assignment is over.
	a, err := store.AssignmentByID(ctx, m.Ledger.Store.Reader(), assignmentID)
	if err != nil {
		return err
	}
	if err := m.settle(ctx, a, 0); err != nil {
		return err
	}
	if a, err = store.AssignmentByID(ctx, m.Ledger.Store.Reader(), assignmentID); err != nil {
		return err
	}
	earned, fee, err := store.ChargeTotals(ctx, m.Ledger.Store.Reader(), a.ID)
	if err != nil {
		return err
	}
	r := Receipt{
		ID: "rcp_" + a.ID, Assignment: a.ID, Device: a.DeviceID, Cluster: a.ClusterID, Requester: a.RequesterID, Supplier: a.SupplierID,
		Start: a.ReadyAt, End: a.EndedAt, Seconds: a.BilledMS / 1000, Charged: a.Charged, Earned: earned, Fee: fee, Unpaid: a.Unpaid,
		PricePerHour: a.PricePerHour,
	}
	if a.ReadyAt.IsZero() {
		r.Start = a.EndedAt // never ready: nothing was billed
	}
	body, sig, err := signer.Sign(r)
	if err != nil {
		return err
	}
	return m.Ledger.Store.Write(ctx, func(tx *sql.Tx) error {
		return store.InsertReceipt(ctx, tx, store.Receipt{ID: r.ID, AssignmentID: a.ID, RequesterID: a.RequesterID, SupplierID: a.SupplierID,
			Body: string(body), Signature: sig, CreatedAt: m.Ledger.Now()})
	})
}
