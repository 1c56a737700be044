package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/api"
	"github.com/idlegrid/idlegrid/controlplane/cluster"
	"github.com/idlegrid/idlegrid/controlplane/ledger"
	"github.com/idlegrid/idlegrid/controlplane/pricing"
	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/sched"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

// requesterRoutes are the pages of someone renting GPUs.
func requesterRoutes() []Route {
	return []Route{
		{"GET", "/keys", User, (*Console).keys},
		{"POST", "/keys", User, (*Console).createKey},
		{"POST", "/keys/{id}/revoke", User, (*Console).revokeKey},
		{"GET", "/deploy", User, (*Console).deployPage},
		{"POST", "/deploy", User, (*Console).deploy},
		{"GET", "/clusters", User, (*Console).clusters},
		{"GET", "/clusters/{id}", User, (*Console).clusterPage},
		{"GET", "/clusters/{id}/live", User, (*Console).clusterLive},
		{"POST", "/clusters/{id}/extend", User, (*Console).extend},
		{"POST", "/clusters/{id}/terminate", User, (*Console).terminate},
		{"GET", "/billing", User, (*Console).billing},
		{"POST", "/billing/faucet", User, (*Console).faucet},
	}
}

func randomKey() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type keysPage struct {
	Base
	Keys   []store.APIKey
	NewKey string // shown once, right after creation
}

func (c *Console) keys(w http.ResponseWriter, r *http.Request) error {
	return c.keysPage(w, r, &keysPage{})
}

func (c *Console) keysPage(w http.ResponseWriter, r *http.Request, p *keysPage) error {
	ks, err := store.ListAPIKeys(r.Context(), c.api.Store.Reader(), me(r).ID)
	if err != nil {
		return err
	}
	p.Keys, p.Title, p.Nav = ks, "API keys", "keys"
	c.render(w, r, "keys", http.StatusOK, p)
	return nil
}

func (c *Console) createKey(w http.ResponseWriter, r *http.Request) error {
	secret, _, err := c.api.Accounts.CreateAPIKey(r.Context(), me(r).ID, r.PostFormValue("name"))
	if msg, ok := formProblem(err); ok {
		return c.keysPage(w, r, &keysPage{Base: Base{Error: msg}})
	}
	if err != nil {
		return err
	}
	// Rendered, not redirected: the secret must never sit in a URL or a
	// cookie, and it is shown this once.
	return c.keysPage(w, r, &keysPage{NewKey: secret, Base: Base{Flash: "Key created. Copy it now: it is not shown again."}})
}

func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request) error {
	if err := c.api.Accounts.RevokeAPIKey(r.Context(), me(r).ID, r.PathValue("id")); err != nil {
		return err
	}
	return redirect(w, r, "/keys", "Key revoked: programs using it are refused from now on.")
}

type deployPage struct {
	Base
	Request sched.Request
	IdemKey string
	Regions []string
	Balance int64
	MaxHrs  int
}

func (c *Console) regions() []string {
	var out []string
	for r := range c.api.Quoter.Pricing.RegionOffsets {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

func (c *Console) deployPage(w http.ResponseWriter, r *http.Request) error {
	return c.showDeploy(w, r, &deployPage{Request: sched.Request{GPUs: 1, Hours: 1}}, http.StatusOK)
}

func (c *Console) showDeploy(w http.ResponseWriter, r *http.Request, p *deployPage, status int) error {
	b, err := c.api.Ledger.BalancesOf(r.Context(), me(r).ID)
	if err != nil {
		return err
	}
	p.Title, p.Nav, p.Balance, p.Regions, p.MaxHrs = "Deploy a cluster", "deploy", b.Credit, c.regions(), pricing.MaxHours
	// A fresh key per form: pressing Deploy twice deploys once.
	p.IdemKey = "console-" + randomKey()
	c.render(w, r, "deploy", status, p)
	return nil
}

// formInt reads a whole number field; empty is 0.
func formInt(r *http.Request, name string) (int, error) {
	v := strings.TrimSpace(r.PostFormValue(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, problem.Invalid("bad_"+name, "%s must be a whole number", strings.ReplaceAll(name, "_", " "))
	}
	return n, nil
}

func (c *Console) deploy(w http.ResponseWriter, r *http.Request) error {
	var req sched.Request
	var err error
	for _, f := range []struct {
		name string
		dst  *int
	}{{"gpus", &req.GPUs}, {"hours", &req.Hours}, {"min_vram_gib", &req.MinVRAMGiB}, {"min_down_mbps", &req.MinDownMbps}} {
		if *f.dst, err = formInt(r, f.name); err != nil {
			break
		}
	}
	req.GPUModel = strings.TrimSpace(r.PostFormValue("gpu_model"))
	req.Region = r.PostFormValue("region")
	req.VerifiedOnly = r.PostFormValue("verified_only") == "on"
	var cl store.Cluster
	if err == nil {
		cl, _, err = c.api.Clusters.Deploy(r.Context(), me(r).ID, r.PostFormValue("idempotency_key"), cluster.DeployRequest{Request: req})
	}
	if msg, ok := formProblem(err); ok {
		return c.showDeploy(w, r, &deployPage{Base: Base{Error: msg}, Request: req}, api.StatusOf(err))
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/clusters/"+cl.ID, "Deployed. The cluster is starting; this page follows it until it is ready.")
}

type clustersPage struct {
	Base
	Clusters []cluster.View
}

func (c *Console) clusters(w http.ResponseWriter, r *http.Request) error {
	cs, err := store.ClustersOf(r.Context(), c.api.Store.Reader(), me(r).ID, 200)
	if err != nil {
		return err
	}
	p := &clustersPage{Base: Base{Title: "Clusters", Nav: "clusters"}}
	for _, cl := range cs {
		v, err := c.api.Clusters.Describe(r.Context(), cl, false, c.tunnelUp())
		if err != nil {
			return err
		}
		p.Clusters = append(p.Clusters, v)
	}
	c.render(w, r, "clusters", http.StatusOK, p)
	return nil
}

func (c *Console) tunnelUp() func(string) bool {
	if c.api.Tunnels == nil {
		return nil
	}
	return c.api.Tunnels.Connected
}

type clusterPage struct {
	Base
	C      cluster.View
	Ended  bool
	MaxHrs int
}

func (c *Console) view(ctx context.Context, r *http.Request) (cluster.View, error) {
	cl, err := c.api.Clusters.Own(ctx, me(r).ID, r.PathValue("id"))
	if err != nil {
		return cluster.View{}, err
	}
	return c.api.Clusters.Describe(ctx, cl, true, c.tunnelUp())
}

func (c *Console) clusterPage(w http.ResponseWriter, r *http.Request) error {
	v, err := c.view(r.Context(), r)
	if err != nil {
		return err
	}
	ended := v.State == store.ClusterTerminated || v.State == store.ClusterFailed || v.State == store.ClusterTerminating
	c.render(w, r, "cluster", http.StatusOK, &clusterPage{Base: Base{Title: "Cluster " + v.ID, Nav: "clusters"}, C: v, Ended: ended, MaxHrs: pricing.MaxHours})
	return nil
}

// clusterLive streams the cluster's view while its page is open.
func (c *Console) clusterLive(w http.ResponseWriter, r *http.Request) error {
	return c.stream(w, r, time.Second, func(ctx context.Context) (any, error) { return c.view(ctx, r) })
}

func (c *Console) extend(w http.ResponseWriter, r *http.Request) error {
	hours, err := formInt(r, "hours")
	if err == nil {
		_, err = c.api.Clusters.Extend(r.Context(), me(r).ID, r.PathValue("id"), hours)
	}
	if msg, ok := formProblem(err); ok && !isNotFound(err) {
		return redirect(w, r, "/clusters/"+r.PathValue("id"), "Not extended: "+msg)
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/clusters/"+r.PathValue("id"), "Extended by "+strconv.Itoa(hours)+" h.")
}

func isNotFound(err error) bool { return api.StatusOf(err) == http.StatusNotFound }

func (c *Console) terminate(w http.ResponseWriter, r *http.Request) error {
	if _, err := c.api.Clusters.Terminate(r.Context(), me(r).ID, r.PathValue("id")); err != nil {
		return err
	}
	return redirect(w, r, "/clusters/"+r.PathValue("id"), "Terminating: billing stopped; Ray is being stopped on every node.")
}

type billingPage struct {
	Base
	Balances ledger.Balances
	Months   []string
	Receipts []receiptLine
	IdemKey  string
}

type receiptLine struct {
	ID, Cluster, Device, Role string
	Seconds, Amount           int64
	At                        time.Time
}

func (c *Console) billing(w http.ResponseWriter, r *http.Request) error {
	u := me(r)
	b, err := c.api.Ledger.BalancesOf(r.Context(), u.ID)
	if err != nil {
		return err
	}
	p := &billingPage{Base: Base{Title: "Billing", Nav: "billing"}, Balances: b, IdemKey: randomKey()}
	now := c.api.Now().UTC()
	for i := range 3 {
		p.Months = append(p.Months, now.AddDate(0, -i, 0).Format("2006-01"))
	}
	rs, err := store.ReceiptsOf(r.Context(), c.api.Store.Reader(), u.ID)
	if err != nil {
		return err
	}
	for i, rc := range rs {
		if i == 50 {
			break
		}
		body, err := ledger.VerifyReceipt(c.api.Signer.PublicKey(), []byte(rc.Body), rc.Signature)
		if err != nil {
			return err
		}
		l := receiptLine{ID: rc.ID, Cluster: body.Cluster, Device: body.Device, Seconds: body.Seconds, At: rc.CreatedAt, Role: "paid", Amount: body.Charged}
		if rc.SupplierID == u.ID {
			l.Role, l.Amount = "earned", body.Earned
		}
		p.Receipts = append(p.Receipts, l)
	}
	c.render(w, r, "billing", http.StatusOK, p)
	return nil
}

func (c *Console) faucet(w http.ResponseWriter, r *http.Request) error {
	_, err := c.api.Faucet(r.Context(), me(r).ID, "console-"+r.PostFormValue("idempotency_key"))
	if msg, ok := formProblem(err); ok {
		return redirect(w, r, "/billing", "No credit added: "+msg)
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/billing", "Demo credit added (play money).")
}
