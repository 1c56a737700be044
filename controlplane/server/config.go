package server

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/api"
	"github.com/idlegrid/idlegrid/controlplane/cluster"
	"github.com/idlegrid/idlegrid/controlplane/notify"
	"github.com/idlegrid/idlegrid/controlplane/payout"
	"github.com/idlegrid/idlegrid/shared/challenge"
	"github.com/idlegrid/idlegrid/shared/money"
)

// Config is the control plane's settings. Defaults come from Defaults,
// then IDLEGRID_* environment variables, then flags.
type Config struct {
	Listen            string        // address to serve on
	DataDir           string        // sqlite file and demo agents' state
	Demo              int           // simulated supplier agents to run in-process
	PublicURL         string        // URL agents and browsers use; default from Listen
	HeartbeatInterval time.Duration // told to agents
	OfflineAfter      time.Duration // silence before a device is offline
	LogLevel          string        // debug, info, warn, error
	// RateLimit bounds sign-in and pairing tries per client address.
	RateLimit api.RateLimit
	// ChallengeEvery re-challenges verified devices; ChallengeSize is the
	// challenge's matrix size n.
	ChallengeEvery time.Duration
	ChallengeSize  int
	// EarningsHold is how long earnings stay pending before they are
	// payable (room to catch fraud before money leaves).
	EarningsHold time.Duration
	// Payout is the payout policy and, for on-chain mode, the chain.
	Payout payout.Config
	// PayoutExplorerCluster is added to explorer links (e.g. "devnet").
	PayoutExplorerCluster string
	// Cluster tunes cluster provisioning, repair and draining.
	Cluster cluster.Config
	// Notify tunes alert webhooks.
	Notify notify.Config
	// DebugListen, when set, serves Go's profiler (net/http/pprof) on this
	// loopback address, for measuring the server under load.
	DebugListen string
	// FailPoint is the IDLEGRID_FAILPOINT test hook (see FailPointEnv):
	// empty in production.
	FailPoint string
}

// Defaults returns the settings for a local start.
func Defaults() Config {
	return Config{
		Listen:            "127.0.0.1:8080",
		DataDir:           "./data",
		HeartbeatInterval: 5 * time.Second,
		OfflineAfter:      30 * time.Second,
		LogLevel:          "info",
		RateLimit:         api.DefaultRateLimit,
		ChallengeEvery:    time.Hour,
		ChallengeSize:     challenge.DefaultN,
		EarningsHold:      72 * time.Hour,
		Cluster:           cluster.Defaults(),
	}
}

// env names, one per setting.
var envNames = map[string]string{
	"listen":                    "IDLEGRID_LISTEN",
	"data":                      "IDLEGRID_DATA",
	"demo":                      "IDLEGRID_DEMO",
	"public-url":                "IDLEGRID_PUBLIC_URL",
	"heartbeat-interval":        "IDLEGRID_HEARTBEAT_INTERVAL",
	"offline-after":             "IDLEGRID_OFFLINE_AFTER",
	"log-level":                 "IDLEGRID_LOG_LEVEL",
	"challenge-every":           "IDLEGRID_CHALLENGE_EVERY",
	"challenge-size":            "IDLEGRID_CHALLENGE_SIZE",
	"earnings-hold":             "IDLEGRID_EARNINGS_HOLD",
	"payout-mode":               "IDLEGRID_PAYOUT_MODE",
	"payout-threshold":          "IDLEGRID_PAYOUT_THRESHOLD",
	"payout-every":              "IDLEGRID_PAYOUT_EVERY",
	"payout-rate":               "IDLEGRID_PAYOUT_RATE",
	"payout-decimals":           "IDLEGRID_PAYOUT_DECIMALS",
	"payout-mint":               "IDLEGRID_PAYOUT_MINT",
	"payout-rpc":                "IDLEGRID_PAYOUT_RPC",
	"payout-treasury-key":       "IDLEGRID_PAYOUT_TREASURY_KEY",
	"payout-priority-fee":       "IDLEGRID_PAYOUT_PRIORITY_FEE",
	"payout-explorer-cluster":   "IDLEGRID_PAYOUT_EXPLORER_CLUSTER",
	"cluster-provision-timeout": "IDLEGRID_CLUSTER_PROVISION_TIMEOUT",
	"drain-grace":               "IDLEGRID_DRAIN_GRACE",
	"ray-num-cpus":              "IDLEGRID_RAY_NUM_CPUS",
	"ray-object-store-mib":      "IDLEGRID_RAY_OBJECT_STORE_MIB",
	"webhook-allow-private":     "IDLEGRID_WEBHOOK_ALLOW_PRIVATE",
	"debug-listen":              "IDLEGRID_DEBUG_LISTEN",
}

// Load builds the config from defaults, the environment and args, reporting
// every problem at once.
func Load(args []string, getenv func(string) string) (Config, error) {
	c := Defaults()
	fs := flag.NewFlagSet("idlegrid-server", flag.ContinueOnError)
	fs.StringVar(&c.Listen, "listen", c.Listen, "address to serve the console, API and agent hub on")
	fs.StringVar(&c.DataDir, "data", c.DataDir, "directory for the sqlite database and demo agents")
	fs.IntVar(&c.Demo, "demo", c.Demo, "run N simulated supplier agents in-process (0: none)")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "URL that agents and browsers reach this server at (default http://LISTEN)")
	fs.DurationVar(&c.HeartbeatInterval, "heartbeat-interval", c.HeartbeatInterval, "how often agents send heartbeats")
	fs.DurationVar(&c.OfflineAfter, "offline-after", c.OfflineAfter, "silence after which a device is offline")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.DurationVar(&c.ChallengeEvery, "challenge-every", c.ChallengeEvery, "how often verified devices prove their compute again")
	fs.IntVar(&c.ChallengeSize, "challenge-size", c.ChallengeSize, "matrix size n of the compute challenge (64..4096)")
	fs.DurationVar(&c.EarningsHold, "earnings-hold", c.EarningsHold, "how long supplier earnings stay pending before they are payable")
	fs.StringVar(&c.Payout.Mode, "payout-mode", "ledger", "ledger (record payouts as paid off chain) or onchain (SPL transfers on Solana)")
	fs.Func("payout-threshold", "pay suppliers once this many USD are payable (default 10)", func(v string) error {
		m, err := money.ParseUSD(v)
		c.Payout.Threshold = int64(m)
		return err
	})
	fs.DurationVar(&c.Payout.Every, "payout-every", 24*time.Hour, "payout schedule")
	fs.Func("payout-rate", "USD per whole token used to convert credits (default 1, a USD stablecoin)", func(v string) error {
		m, err := money.ParseUSD(v)
		c.Payout.MicrosPerToken = int64(m)
		return err
	})
	fs.Func("payout-decimals", "the token's decimals (default 6)", func(v string) error {
		n, err := strconv.ParseUint(v, 10, 8)
		c.Payout.Decimals = uint8(n)
		return err
	})
	fs.StringVar(&c.Payout.Mint, "payout-mint", "", "SPL token mint address (on-chain mode)")
	fs.StringVar(&c.Payout.RPCURL, "payout-rpc", "", "Solana JSON-RPC URL (on-chain mode)")
	fs.StringVar(&c.Payout.TreasuryKey, "payout-treasury-key", "", "treasury keypair file, Solana keygen JSON, mode 0600 (on-chain mode)")
	fs.Func("payout-priority-fee", "compute-unit price in micro-lamports added to each batch (default none)", func(v string) error {
		n, err := strconv.ParseUint(v, 10, 64)
		c.Payout.PriorityMicroLamports = n
		return err
	})
	fs.StringVar(&c.PayoutExplorerCluster, "payout-explorer-cluster", "", "cluster named in explorer links, e.g. devnet (empty: mainnet)")
	fs.DurationVar(&c.Cluster.ProvisionTimeout, "cluster-provision-timeout", c.Cluster.ProvisionTimeout, "a cluster not ready this long after its deploy fails")
	fs.DurationVar(&c.Cluster.DrainGrace, "drain-grace", c.Cluster.DrainGrace, "notice a requester gets before a supplier's paused node leaves the cluster")
	fs.IntVar(&c.Cluster.NumCPUs, "ray-num-cpus", c.Cluster.NumCPUs, "CPUs each Ray node offers (0: the agent decides)")
	fs.IntVar(&c.Cluster.ObjectStoreMiB, "ray-object-store-mib", c.Cluster.ObjectStoreMiB, "object store size of each Ray node in MiB (0: the agent decides)")
	fs.BoolVar(&c.Notify.AllowPrivate, "webhook-allow-private", c.Notify.AllowPrivate, "let webhooks call loopback and private addresses (a LAN-only operator)")
	fs.StringVar(&c.DebugListen, "debug-listen", c.DebugListen, "serve Go's profiler (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060 (empty: off)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: idlegrid-server [flags]\n\nEvery flag can also be set as an environment variable, e.g. --listen as IDLEGRID_LISTEN.\n\n")
		fs.PrintDefaults()
	}
	var errs []error
	// Environment first, so flags override it.
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envNames[f.Name]); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %v", envNames[f.Name], v, err))
			}
		}
	})
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.FailPoint = getenv(FailPointEnv) // a test hook: environment only, no flag
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}
	errs = append(errs, c.validate()...)
	return c, errors.Join(errs...)
}

func (c *Config) validate() []error {
	var errs []error
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen %q must be host:port, e.g. 127.0.0.1:8080", c.Listen))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		errs = append(errs, fmt.Errorf("--listen %q: bad port", c.Listen))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data must name a directory"))
	}
	if c.Demo < 0 || c.Demo > 1000 {
		errs = append(errs, fmt.Errorf("--demo %d must be between 0 and 1000", c.Demo))
	}
	if c.HeartbeatInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("--heartbeat-interval %s is too short", c.HeartbeatInterval))
	}
	if c.OfflineAfter <= 3*c.HeartbeatInterval {
		errs = append(errs, fmt.Errorf("--offline-after %s must be longer than three heartbeat intervals (%s)", c.OfflineAfter, 3*c.HeartbeatInterval))
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		errs = append(errs, fmt.Errorf("--public-url %q must start with http:// or https://", c.PublicURL))
	}
	if c.ChallengeEvery < time.Minute {
		errs = append(errs, fmt.Errorf("--challenge-every %s must be at least a minute", c.ChallengeEvery))
	}
	if (challenge.Params{N: c.ChallengeSize}).Validate() != nil {
		errs = append(errs, fmt.Errorf("--challenge-size %d must be between %d and %d", c.ChallengeSize, challenge.MinN, challenge.MaxN))
	}
	if c.Demo > 0 && c.Payout.Mode == payout.ModeOnChain {
		errs = append(errs, errors.New("--demo pays simulated suppliers: it runs with --payout-mode ledger only"))
	}
	if c.EarningsHold < 0 {
		errs = append(errs, fmt.Errorf("--earnings-hold %s must not be negative", c.EarningsHold))
	}
	if c.DebugListen != "" {
		host, _, err := net.SplitHostPort(c.DebugListen)
		if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			errs = append(errs, fmt.Errorf("--debug-listen %q must be a loopback host:port such as 127.0.0.1:6060: the profiler shows memory and must not be public", c.DebugListen))
		}
	}
	if c.FailPoint != "" {
		if _, err := payoutFailPoint(c.FailPoint); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q must be debug, info, warn or error", c.LogLevel))
	}
	return errs
}

// Getenv is os.Getenv, named for wiring.
var Getenv = os.Getenv
