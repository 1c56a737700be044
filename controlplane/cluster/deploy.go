// Package cluster runs requesters' clusters: Deploy reserves devices and
// the deposit in one transaction, and the Manager's Serve loop drives each
// cluster through its states (docs/CLUSTERS.md):
//
//	pending → provisioning → running ⇄ degraded → terminating → terminated
//	                 ↘ failed (head lost, provisioning timed out)
//
// All state lives in sqlite; the loop only compares it with what agents
// report and sends them runtime_start and runtime_stop, so a restarted
// control plane picks up where it stopped.
package cluster

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/ledger"
	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/sched"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/money"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// DeployRequest is a deploy: a request, or a quote to honour.
type DeployRequest struct {
	sched.Request
	// QuoteID, when set, deploys exactly the quoted devices at the quoted
	// prices, or fails saying the quote no longer holds.
	QuoteID string `json:"quote_id,omitempty"`
}

// maxPlacementTries bounds re-placements after losing a device to a
// concurrent deploy. Every lost race means another deploy won, and a
// placement that finds too little supply ends the loop, so this is only a
// guard: 100 deploys racing for the same best device need a few dozen.
const maxPlacementTries = 64

// Deploy reserves devices for a new cluster of ownerID. A repeated
// idemKey returns the cluster it created first (created is false).
func (m *Manager) Deploy(ctx context.Context, ownerID, idemKey string, dr DeployRequest) (c store.Cluster, created bool, err error) {
	if len(idemKey) > 128 {
		return c, false, problem.Invalid("bad_idempotency_key", "the Idempotency-Key header is over 128 characters")
	}
	if idemKey != "" {
		if c, err := store.ClusterByIdemKey(ctx, m.Store.Reader(), ownerID, idemKey); err == nil {
			return c, false, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return c, false, err
		}
	}
	req, quoted, err := m.quoted(ctx, ownerID, dr)
	if err != nil {
		return c, false, err
	}
	var sup sched.Supply
	if quoted == nil {
		if sup, err = m.Quoter.Supply(ctx, req, nil); err != nil {
			return c, false, err
		}
	}
	for range maxPlacementTries {
		picked, release := quoted, func() {}
		if picked == nil {
			if picked, release, err = m.Quoter.PlaceHeld(sup, req); err != nil {
				return c, false, err
			}
		}
		c, err = m.reserve(ctx, ownerID, idemKey, dr.QuoteID, req, picked)
		if err == nil {
			// Deploys that read the supply before this commit still see these
			// devices free: keep them held a little longer, and those place
			// around them rather than lose a race in the database.
			time.AfterFunc(max(m.Quoter.CacheFor, time.Second), release)
		} else {
			release()
		}
		var taken *takenError
		switch {
		case err == nil:
			m.Kick()
			m.Log.Info("cluster deployed", "cluster", c.ID, "owner", ownerID, "devices", len(picked), "gpus", c.GPUs)
			return c, true, nil
		case errors.Is(err, store.ErrConflict) && idemKey != "":
			// The same key won a race with us: answer with its cluster.
			if c, err2 := store.ClusterByIdemKey(ctx, m.Store.Reader(), ownerID, idemKey); err2 == nil {
				return c, false, nil
			}
			return c, false, err
		case errors.As(err, &taken) && quoted == nil:
			// Lost a race: leave out every device taken since the supply
			// was read, and place again on the rest.
			busy, err := store.BusyDevices(ctx, m.Store.Reader())
			if err != nil {
				return c, false, err
			}
			busy[taken.device] = true
			sup.Free = slices.DeleteFunc(slices.Clone(sup.Free), func(c sched.Candidate) bool { return busy[c.DeviceID] })
		case errors.As(err, &taken):
			return c, false, problem.New(problem.ErrConflict, "quote_stale", "a device of quote %s was just taken by another cluster: ask for a new quote", dr.QuoteID)
		default:
			return c, false, err
		}
	}
	return c, false, problem.New(problem.ErrConflict, "not_enough_supply", "devices kept being taken by other deploys: try again")
}

type takenError struct{ device string }

func (e *takenError) Error() string { return "device " + e.device + " is already in a cluster" }

// quoted resolves a deploy against a quote: its request, and its devices
// if they are all still online and free. Without a quote it returns the
// request and no devices.
func (m *Manager) quoted(ctx context.Context, ownerID string, dr DeployRequest) (sched.Request, []sched.Candidate, error) {
	if dr.QuoteID == "" {
		return dr.Request, nil, dr.Request.Validate()
	}
	q, err := store.QuoteByID(ctx, m.Store.Reader(), ownerID, dr.QuoteID)
	if errors.Is(err, store.ErrNotFound) {
		return dr.Request, nil, problem.New(problem.ErrNotFound, "quote_not_found", "no quote %s of yours: ask for a quote first", dr.QuoteID)
	}
	if err != nil {
		return dr.Request, nil, err
	}
	if !m.Now().Before(q.ExpiresAt) {
		return dr.Request, nil, problem.New(problem.ErrConflict, "quote_expired", "quote %s expired at %s: ask for a new one", q.ID, q.ExpiresAt.UTC().Format("15:04:05 UTC"))
	}
	var req sched.Request
	var lines []sched.Line
	if err := json.Unmarshal([]byte(q.Request), &req); err != nil {
		return req, nil, fmt.Errorf("reading quote %s: %w", q.ID, err)
	}
	if err := json.Unmarshal([]byte(q.Devices), &lines); err != nil {
		return req, nil, fmt.Errorf("reading quote %s: %w", q.ID, err)
	}
	if dr.GPUs != 0 && dr.Request != req {
		return req, nil, problem.Invalid("quote_mismatch", "the request differs from quote %s: send only quote_id, or ask for a new quote", q.ID)
	}
	var out []sched.Candidate
	for _, l := range lines {
		d, err := store.DeviceByID(ctx, m.Store.Reader(), l.DeviceID)
		live, on := m.Hub.Live(l.DeviceID)
		if err != nil || !on || live.State == proto.StatePaused {
			return req, nil, problem.New(problem.ErrConflict, "quote_stale", "device %s of quote %s is no longer offered: ask for a new quote", l.DeviceID, q.ID)
		}
		out = append(out, sched.Candidate{DeviceID: d.ID, SupplierID: d.UserID, GPUModel: l.GPUModel, GPUs: l.GPUs, Region: d.Region,
			PricePerGPUHour: l.PricePerGPUHour, SupplierPerGPUHour: l.SupplierPerHour, FeePerGPUHour: l.PricePerGPUHour - l.SupplierPerHour})
	}
	return req, out, nil
}

// reserve is the deploy's one transaction: the devices must be free, the
// credit must cover the deposit, and the cluster, its nodes and their
// assignments are written together.
func (m *Manager) reserve(ctx context.Context, ownerID, idemKey, quoteID string, req sched.Request, picked []sched.Candidate) (store.Cluster, error) {
	now := m.Now()
	c := store.Cluster{ID: NewID("cls_"), OwnerID: ownerID, IdemKey: idemKey, QuoteID: quoteID, Runtime: proto.RuntimeRay, State: store.ClusterPending,
		Hours: req.Hours, CreatedAt: now, UpdatedAt: now}
	reqJSON, err := json.Marshal(req)
	if err != nil {
		return c, err
	}
	c.Request = string(reqJSON)
	var models []string
	for _, p := range picked {
		c.GPUs += p.GPUs
		c.PricePerHour += p.PricePerGPUHour * int64(p.GPUs)
		if !slices.Contains(models, p.GPUModel) {
			models = append(models, p.GPUModel)
		}
	}
	err = m.Store.Write(ctx, func(tx *sql.Tx) error {
		for _, p := range picked {
			if _, err := store.NodeOfDevice(ctx, tx, p.DeviceID); err == nil {
				return &takenError{device: p.DeviceID}
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if err := m.checkDeposit(ctx, tx, ownerID, c.PricePerHour); err != nil {
			return err
		}
		if err := store.InsertCluster(ctx, tx, c); err != nil {
			return err
		}
		for i, p := range picked {
			role := proto.RoleWorker
			if i == 0 {
				role = proto.RoleHead // Place puts the best device first
			}
			if err := m.addNode(ctx, tx, c, p, role, now); err != nil {
				return err
			}
		}
		return store.AddClusterEvent(ctx, tx, c.ID, "created", fmt.Sprintf("deployed on %d device(s): %d× %s for %d h at %s/h",
			len(picked), c.GPUs, strings.Join(models, ", "), c.Hours, money.Micros(c.PricePerHour).USD()), now)
	})
	return c, err
}

// addNode reserves one device for c with its assignment (billed from when
// it is ready).
func (m *Manager) addNode(ctx context.Context, tx *sql.Tx, c store.Cluster, p sched.Candidate, role string, at time.Time) error {
	a := store.Assignment{ID: NewID("asg_"), ClusterID: c.ID, DeviceID: p.DeviceID, RequesterID: c.OwnerID, SupplierID: p.SupplierID,
		PricePerHour: p.PricePerGPUHour * int64(p.GPUs), FeeBP: m.Quoter.Pricing.FeeBasisPoints, CreatedAt: at}
	if err := store.InsertAssignment(ctx, tx, a); err != nil {
		return err
	}
	_, err := store.InsertClusterNode(ctx, tx, store.ClusterNode{ClusterID: c.ID, DeviceID: p.DeviceID, Assignment: a.ID, Role: role, State: store.NodeStarting,
		GPUs: p.GPUs, GPUModel: p.GPUModel, Region: p.Region, PricePerGPUHour: p.PricePerGPUHour, CreatedAt: at})
	if errors.Is(err, store.ErrConflict) {
		return &takenError{device: p.DeviceID}
	}
	return err
}

// checkDeposit fails when the owner's credit does not cover DepositHours
// of perHour, inside the deploy's transaction.
func (m *Manager) checkDeposit(ctx context.Context, tx *sql.Tx, ownerID string, perHour int64) error {
	need := perHour * int64(max(m.Config.DepositHours, 0))
	have, err := store.LedgerBalance(ctx, tx, ledger.Requester(ownerID))
	if err != nil {
		return err
	}
	if have < need {
		return problem.New(store.ErrInsufficientFunds, "insufficient_funds", "this cluster needs %s of credit for its first %d hour(s); you have %s: top up %s or more",
			money.Micros(need).USD(), m.Config.DepositHours, money.Micros(have).USD(), money.Micros(need-have).USD())
	}
	return nil
}

// NewID returns a random id with a type prefix ("cls_…").
func NewID(prefix string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand never fails on supported systems
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b)
}
