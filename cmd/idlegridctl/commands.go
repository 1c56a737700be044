package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/cluster"
	"github.com/idlegrid/idlegrid/controlplane/sched"
	"github.com/idlegrid/idlegrid/shared/money"
	"github.com/idlegrid/idlegrid/shared/tunnel"
)

// requestFlags are the flags shared by quote and deploy.
type requestFlags struct {
	r        sched.Request
	maxPrice string
}

func (f *requestFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.r.GPUs, "gpus", 1, "number of GPUs")
	fs.IntVar(&f.r.Hours, "hours", 1, "hours to run")
	fs.StringVar(&f.r.GPUModel, "model", "", "GPU model, any part of its name (e.g. 4090); empty: any")
	fs.IntVar(&f.r.MinVRAMGiB, "vram", 0, "minimum GPU memory in GiB")
	fs.StringVar(&f.r.Region, "region", "", "region, e.g. eu-west; empty: any")
	fs.IntVar(&f.r.MinDownMbps, "min-down-mbps", 0, "minimum download bandwidth of each node")
	fs.BoolVar(&f.r.VerifiedOnly, "verified", false, "only devices that passed their compute challenge")
	fs.StringVar(&f.maxPrice, "max-price", "", "highest price per GPU-hour in USD, e.g. 0.40")
}

func (f *requestFlags) request() (sched.Request, error) {
	if f.maxPrice != "" {
		p, err := money.ParseUSD(f.maxPrice)
		if err != nil {
			return f.r, usagef("--max-price: %v", err)
		}
		f.r.MaxPricePerGPUHour = int64(p)
	}
	return f.r, nil
}

func usd(m int64) string { return money.Micros(m).USD() }

func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type quoteAnswer struct {
	sched.Quote
	Affordable bool   `json:"affordable"`
	Shortfall  string `json:"shortfall"`
}

func cmdQuote(ctx context.Context, c *client, args []string, out io.Writer) error {
	fs := newFlags("quote", "[flags]", c.log)
	var rf requestFlags
	rf.register(fs)
	asJSON := fs.Bool("json", false, "print the quote as JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	req, err := rf.request()
	if err != nil {
		return err
	}
	var q quoteAnswer
	if err := c.do(ctx, "POST", "/api/v1/clusters/quote", nil, req, &q); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out, q)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tGPU\tCOUNT\tREGION\tTIER\tVERIFIED\tPER GPU-HOUR")
	for _, l := range q.Lines {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%v\t%s\n", l.DeviceID, l.GPUModel, l.GPUs, orDash(l.Region), orDash(l.Tier), l.Verified, usd(l.PricePerGPUHour))
	}
	_ = tw.Flush()
	fmt.Fprintf(out, "\nQuote %s: %s/h, %s for %d h (valid until %s)\n", q.ID, usd(q.PricePerHour), usd(q.Total), q.Hours, q.ExpiresAt.Local().Format("15:04:05"))
	if !q.Affordable {
		fmt.Fprintf(out, "Not affordable yet: %s\n", q.Shortfall)
	} else {
		fmt.Fprintf(out, "Deploy it with: idlegridctl deploy --quote %s\n", q.ID)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmdDeploy(ctx context.Context, c *client, args []string, out io.Writer) error {
	fs := newFlags("deploy", "[flags]", c.log)
	var rf requestFlags
	rf.register(fs)
	quote := fs.String("quote", "", "deploy this quote's devices at its prices (other request flags are ignored)")
	key := fs.String("idempotency-key", "", "retry-safe key; the same key never deploys twice (default: random)")
	wait := fs.Duration("wait", 10*time.Minute, "how long to show progress until ready (0: don't wait)")
	asJSON := fs.Bool("json", false, "print the cluster as JSON when done")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	req, err := rf.request()
	if err != nil {
		return err
	}
	body := cluster.DeployRequest{Request: req, QuoteID: *quote}
	if *quote != "" {
		body.Request = sched.Request{}
	}
	if *key == "" {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		*key = "ctl-" + hex.EncodeToString(b)
	}
	var v cluster.View
	if err := c.do(ctx, "POST", "/api/v1/clusters", http.Header{"Idempotency-Key": {*key}}, body, &v); err != nil {
		return err
	}
	fmt.Fprintf(c.log, "Deployed %s: %d GPU(s) for %d h at %s/h.\n", v.ID, v.GPUs, v.Hours, usd(v.PricePerHour))
	if *wait > 0 {
		if v, err = watch(ctx, c, v.ID, *wait, c.log); err != nil {
			return err
		}
	}
	if *asJSON {
		return printJSON(out, v)
	}
	fmt.Fprintln(out, v.ID)
	return nil
}

// watch shows a cluster's new events until it is running or ends.
func watch(ctx context.Context, c *client, id string, limit time.Duration, log io.Writer) (cluster.View, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var seen int64
	state := ""
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		var v cluster.View
		if err := c.do(ctx, "GET", "/api/v1/clusters/"+id, nil, nil, &v); err != nil {
			if ctx.Err() != nil {
				return v, fmt.Errorf("cluster %s is not ready after %s; follow it with: idlegridctl status %s", id, limit, id)
			}
			return v, err
		}
		for _, e := range v.Events {
			if e.ID > seen {
				fmt.Fprintf(log, "  %s  %-14s %s\n", e.At.Local().Format("15:04:05"), e.Kind, e.Message)
				seen = e.ID
			}
		}
		if v.State != state {
			state = v.State
			joined := 0
			for _, n := range v.Nodes {
				if n.State == "joined" {
					joined++
				}
			}
			fmt.Fprintf(log, "[%s] %d of %d node(s) joined\n", v.State, joined, len(v.Nodes))
		}
		switch v.State {
		case "running":
			fmt.Fprintf(log, "Cluster %s is ready. Reach Ray with: idlegridctl forward %s 8265\n", id, id)
			return v, nil
		case "failed", "terminated", "terminating":
			return v, fmt.Errorf("cluster %s %s: %s", id, v.State, v.Reason)
		}
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("cluster %s is still %s after %s; follow it with: idlegridctl status %s", id, v.State, limit, id)
		case <-t.C:
		}
	}
}

func cmdList(ctx context.Context, c *client, args []string, out io.Writer) error {
	fs := newFlags("ls", "[--json]", c.log)
	asJSON := fs.Bool("json", false, "print as JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	var res struct {
		Clusters []cluster.View `json:"clusters"`
	}
	if err := c.do(ctx, "GET", "/api/v1/clusters", nil, nil, &res); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out, res.Clusters)
	}
	if len(res.Clusters) == 0 {
		fmt.Fprintln(out, "No clusters yet. Deploy one with: idlegridctl deploy --gpus 1")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tGPUS\tPER HOUR\tCOST SO FAR\tCREATED\tEXPIRES")
	for _, v := range res.Clusters {
		exp := "-"
		if v.ExpiresAt != nil {
			exp = v.ExpiresAt.Local().Format("01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", v.ID, v.State, v.GPUs, usd(v.PricePerHour), usd(v.Cost.Charged+v.Cost.Unpaid),
			v.CreatedAt.Local().Format("01-02 15:04"), exp)
	}
	return tw.Flush()
}

func cmdStatus(ctx context.Context, c *client, args []string, out io.Writer) error {
	fs := newFlags("status", "CLUSTER [--json]", c.log)
	asJSON := fs.Bool("json", false, "print as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := oneArg("cluster id", pos)
	if err != nil {
		return err
	}
	var v cluster.View
	if err := c.do(ctx, "GET", "/api/v1/clusters/"+id, nil, nil, &v); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out, v)
	}
	fmt.Fprintf(out, "Cluster %s: %s", v.ID, v.State)
	if v.Reason != "" {
		fmt.Fprintf(out, " (%s)", v.Reason)
	}
	fmt.Fprintf(out, "\n%d GPU(s), %s/h; cost so far %s for %d billed device-seconds", v.GPUs, usd(v.PricePerHour), usd(v.Cost.Charged+v.Cost.Unpaid), v.Cost.BilledSeconds)
	if v.Cost.Accruing > 0 {
		fmt.Fprintf(out, " (+ about %s not metered yet)", usd(v.Cost.Accruing))
	}
	if v.ExpiresAt != nil && v.EndedAt == nil {
		fmt.Fprintf(out, "; runs until %s", v.ExpiresAt.Local().Format("2006-01-02 15:04"))
	}
	fmt.Fprint(out, "\n\n")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tROLE\tSTATE\tHEALTH\tGPU\tREGION\tRAY")
	for _, n := range v.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d× %s\t%s\t%s\n", n.DeviceID, n.Role, n.State, n.Health, n.GPUs, n.GPUModel, orDash(n.Region), orDash(n.Runtime))
	}
	_ = tw.Flush()
	fmt.Fprintln(out, "\nEvents:")
	for _, e := range v.Events {
		fmt.Fprintf(out, "  %s  %-14s %s\n", e.At.Local().Format("15:04:05"), e.Kind, e.Message)
	}
	return nil
}

func cmdExtend(ctx context.Context, c *client, args []string, out io.Writer) error {
	fs := newFlags("extend", "CLUSTER --hours N", c.log)
	hours := fs.Int("hours", 1, "hours to add")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := oneArg("cluster id", pos)
	if err != nil {
		return err
	}
	var v cluster.View
	if err := c.do(ctx, "POST", "/api/v1/clusters/"+id+"/extend", nil, map[string]int{"hours": *hours}, &v); err != nil {
		return err
	}
	fmt.Fprintf(out, "Cluster %s now runs until %s.\n", v.ID, v.ExpiresAt.Local().Format("2006-01-02 15:04"))
	return nil
}

func cmdTerminate(ctx context.Context, c *client, args []string, out io.Writer) error {
	fs := newFlags("terminate", "CLUSTER [--wait 1m]", c.log)
	wait := fs.Duration("wait", time.Minute, "how long to wait until every node stopped (0: don't wait)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := oneArg("cluster id", pos)
	if err != nil {
		return err
	}
	var v cluster.View
	if err := c.do(ctx, "DELETE", "/api/v1/clusters/"+id, nil, nil, &v); err != nil {
		return err
	}
	fmt.Fprintf(out, "Cluster %s is %s; billing stopped.\n", v.ID, v.State)
	deadline := time.Now().Add(*wait)
	for *wait > 0 && v.State == "terminating" {
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster %s is still stopping after %s: its nodes will be released when they confirm or time out", id, *wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		if err := c.do(ctx, "GET", "/api/v1/clusters/"+id, nil, nil, &v); err != nil {
			return err
		}
	}
	if *wait > 0 {
		fmt.Fprintf(out, "Cluster %s is %s: every node stopped, cost %s.\n", v.ID, v.State, usd(v.Cost.Charged+v.Cost.Unpaid))
	}
	return nil
}

// remotePorts maps what a user types to the head's port names.
var remotePorts = map[string]string{"8265": "dashboard", "dashboard": "dashboard", "10001": "client", "client": "client"}

func cmdForward(ctx context.Context, c *client, args []string, out io.Writer) error {
	fs := newFlags("forward", "CLUSTER [PORT] [--local ADDR]", c.log)
	local := fs.String("local", "", "local address to listen on (default 127.0.0.1:PORT)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usagef("give a cluster id and optionally a port: 8265 (dashboard, the default) or 10001 (Ray client)")
	}
	id, portArg := pos[0], "8265"
	if len(pos) == 2 {
		portArg = pos[1]
	}
	name, ok := remotePorts[portArg]
	if !ok {
		return usagef("port %q: forward 8265 (Ray dashboard and Jobs API) or 10001 (Ray client)", portArg)
	}
	if *local == "" {
		p := portArg
		if name == portArg {
			p = map[string]string{"dashboard": "8265", "client": "10001"}[name]
		}
		*local = net.JoinHostPort("127.0.0.1", p)
	}
	var v cluster.View
	if err := c.do(ctx, "GET", "/api/v1/clusters/"+id, nil, nil, &v); err != nil {
		return err
	}
	if v.State != "running" && v.State != "degraded" {
		return fmt.Errorf("cluster %s is %s: it can be reached once it is running", id, v.State)
	}
	if v.Simulated {
		return fmt.Errorf("cluster %s runs on simulated suppliers (a demo fleet): no Ray runs there, so there is nothing to forward", id)
	}
	ln, err := net.Listen("tcp", *local)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (pick another with --local 127.0.0.1:PORT)", *local, err)
	}
	endpoint := c.wsURL("/api/v1/clusters/" + id + "/tunnel?port=" + name)
	header := http.Header{"Authorization": {"Bearer " + c.key}}
	fmt.Fprintf(out, "Forwarding %s to the %s of cluster %s's head node. Ctrl+C to stop.\n", ln.Addr(), name, id)
	if name == "dashboard" {
		fmt.Fprintf(out, "  ray job submit --address http://%s -- python script.py\n", ln.Addr())
	}
	// A connection the tunnel refuses is reported here and closed; the
	// forward goes on for the next one.
	log := slog.New(slog.NewTextHandler(c.log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return tunnel.Forward(ctx, ln, func(ctx context.Context) (net.Conn, error) {
		return tunnel.DialWebsocket(ctx, endpoint, header)
	}, log)
}
