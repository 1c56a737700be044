// Package svmtest runs a real Solana VM for tests: LiteSVM (npm package
// litesvm, in rpc/) behind a local Solana JSON-RPC, so payout code talks to
// it with an unmodified RPC client and sends real signed transactions
// through the real System, SPL Token, Token-2022, Associated Token Account
// and Memo programs, with signature, blockhash and rent checks on.
//
// The server differs from a cluster where a test can tell: every slot has a
// block (block height equals slot), a transaction is finalized the moment
// it lands (each landing advances one slot), and only the latest blockhash
// is valid, so it stays the latest until block height passes its last valid
// height. ExpireBlockhash and Advance move block height on.
//
// Start needs Node 20+ and npm: it installs rpc/node_modules with npm ci on
// first use, and fails the test (never skips it) when it cannot.
//
// Public keys are base58 strings throughout, so this package needs no
// Solana library.
package svmtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
	callTimeout  = 30 * time.Second
)

// SVM is a running test SVM and its RPC endpoint.
type SVM struct {
	url    string
	client *http.Client
	ids    atomic.Uint64
	stderr *tail

	exited  chan struct{} // closed once the server process has exited
	waitErr error         // its exit status, set before exited closes
}

// RPCError is a JSON-RPC error answered by the server, in the real RPC's
// shape: e.g. -32002 for a failed preflight (Data holds err and logs),
// -32003 for a bad signature, -32601 for an unknown method.
type RPCError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message)
}

// Start runs a fresh SVM for t and stops it when t ends.
func Start(t testing.TB) *SVM {
	t.Helper()
	dir := rpcDir(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("svmtest: node is not installed (%v): the payout tests run a Solana VM under Node 20+; install Node and npm (.ci/install-deps does on CI)", err)
	}
	ensureModules(t, dir)

	out, stdoutW, err := os.Pipe()
	if err != nil {
		t.Fatalf("svmtest: %v", err)
	}
	s := &SVM{client: &http.Client{}, stderr: &tail{}, exited: make(chan struct{})}
	// --exit-with-stdin: the server exits when this process does, however
	// it ends, since the pipe's write end dies with it.
	cmd := exec.Command(node, "server.mjs", "0", "--exit-with-stdin")
	cmd.Dir = dir
	cmd.Stdout = stdoutW
	cmd.Stderr = s.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("svmtest: %v", err)
	}
	err = cmd.Start()
	stdoutW.Close()
	if err != nil {
		out.Close()
		t.Fatalf("svmtest: starting node server.mjs: %v", err)
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
			if s.url != "" { // else Start has said why already
				t.Errorf("svmtest: the SVM server died during the test (%v); its stderr:\n%s", s.waitErr, s.stderr)
			}
			return
		default:
		}
		stdin.Close()
		_ = cmd.Process.Kill()
		timer := time.NewTimer(stopTimeout)
		defer timer.Stop()
		select {
		case <-s.exited:
		case <-timer.C:
			t.Errorf("svmtest: the SVM server (pid %d) did not exit %v after being killed", cmd.Process.Pid, stopTimeout)
		}
	})

	type line struct {
		text string
		err  error
	}
	first := make(chan line, 1)
	go func() {
		defer out.Close()
		r := bufio.NewReader(out)
		text, err := r.ReadString('\n')
		first <- line{text, err}
		_, _ = io.Copy(io.Discard, r)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	var l line
	select {
	case l = <-first:
	case <-timer.C:
		t.Fatalf("svmtest: the SVM server printed no port within %v; its stderr:\n%s", startTimeout, s.stderr)
	}
	if l.err != nil {
		<-s.exited // stdout closed: the process is gone or going
		t.Fatalf("svmtest: the SVM server exited before listening (%v); its stderr:\n%s", s.waitErr, s.stderr)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(l.text), "listening ")
	if !ok {
		t.Fatalf("svmtest: the SVM server's first line is %q, want \"listening 127.0.0.1:PORT\"", l.text)
	}
	s.url = "http://" + addr
	return s
}

// URL is the JSON-RPC endpoint, for rpc.New and the like.
func (s *SVM) URL() string { return s.url }

// Call makes one JSON-RPC call. params is nil, a positional []any, or an
// object (the svm_* methods take one). A JSON-RPC error comes back as a
// wrapped *RPCError; result, if not nil, receives the result.
func (s *SVM) Call(ctx context.Context, method string, params, result any) error {
	req := struct {
		JSONRPC string `json:"jsonrpc"`
		ID      uint64 `json:"id"`
		Method  string `json:"method"`
		Params  any    `json:"params,omitempty"`
	}{"2.0", s.ids.Add(1), method, params}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("calling %s: %w", method, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("calling %s: %w", method, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(hreq)
	if err != nil {
		select {
		case <-s.exited:
			return fmt.Errorf("calling %s: %w; the SVM server has exited (%v), its stderr:\n%s", method, err, s.waitErr, s.stderr)
		default:
			return fmt.Errorf("calling %s: %w", method, err)
		}
	}
	defer resp.Body.Close()
	var out struct {
		Result json.RawMessage `json:"result"`
		Error  *RPCError       `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return fmt.Errorf("calling %s: reading the answer (HTTP %s): %w", method, resp.Status, err)
	}
	if out.Error != nil {
		return fmt.Errorf("calling %s: %w", method, out.Error)
	}
	if result != nil {
		if err := json.Unmarshal(out.Result, result); err != nil {
			return fmt.Errorf("calling %s: decoding %s: %w", method, out.Result, err)
		}
	}
	return nil
}

// call is Call for helpers: bounded, and fatal on error.
func (s *SVM) call(t testing.TB, method string, params, result any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := s.Call(ctx, method, params, result); err != nil {
		t.Fatalf("svmtest: %v", err)
	}
}

// CreateMint makes an initialized SPL Token mint with no supply, whose
// mint authority is authority, and returns its address.
func (s *SVM) CreateMint(t testing.TB, decimals uint8, authority string) string {
	t.Helper()
	var mint string
	s.call(t, "svm_createMint", map[string]any{"decimals": decimals, "authority": authority}, &mint)
	return mint
}

// MintTo adds amount base units to owner's associated token account for
// mint (creating the account, rent paid, when missing) and to the mint's
// supply, without a transaction or the authority's signature. It returns
// the token account's address.
func (s *SVM) MintTo(t testing.TB, mint, owner string, amount uint64) string {
	t.Helper()
	var ata string
	s.call(t, "svm_mintTo", map[string]any{"mint": mint, "owner": owner, "amount": strconv.FormatUint(amount, 10)}, &ata)
	return ata
}

// TokenBalance is the balance of owner's associated token account for
// mint, in base units: 0 when the account does not exist.
func (s *SVM) TokenBalance(t testing.TB, mint, owner string) uint64 {
	t.Helper()
	var amount *string
	s.call(t, "svm_tokenBalance", map[string]any{"mint": mint, "owner": owner}, &amount)
	if amount == nil {
		return 0
	}
	n, err := strconv.ParseUint(*amount, 10, 64)
	if err != nil {
		t.Fatalf("svmtest: token balance %q: %v", *amount, err)
	}
	return n
}

// ATAExists reports whether owner's associated token account for mint
// exists.
func (s *SVM) ATAExists(t testing.TB, mint, owner string) bool {
	t.Helper()
	var ok bool
	s.call(t, "svm_ataExists", map[string]any{"mint": mint, "owner": owner}, &ok)
	return ok
}

// ExpireBlockhash ends the current blockhash: transactions signed with it
// fail with BlockhashNotFound from now on, and block height is past the
// last valid height getLatestBlockhash gave for it.
func (s *SVM) ExpireBlockhash(t testing.TB) {
	t.Helper()
	s.call(t, "svm_expireBlockhash", nil, nil)
}

// Advance moves block height on by slots. Passing the current blockhash's
// last valid height expires it, as on a cluster.
func (s *SVM) Advance(t testing.TB, slots int) {
	t.Helper()
	if slots < 0 {
		t.Fatalf("svmtest: Advance(%d): block height only moves forward", slots)
	}
	s.call(t, "svm_advance", map[string]any{"slots": slots}, nil)
}

// BlockHeight is the current block height (getBlockHeight).
func (s *SVM) BlockHeight(t testing.TB) uint64 {
	t.Helper()
	var h uint64
	s.call(t, "getBlockHeight", nil, &h)
	return h
}

// Airdrop credits lamports to pubkey through requestAirdrop and returns
// the airdrop's signature. Below the rent-exempt minimum (890,880) a new
// account is not created, as on a cluster: the signature then has an error.
func (s *SVM) Airdrop(t testing.TB, pubkey string, lamports uint64) string {
	t.Helper()
	if lamports > 1<<53 {
		t.Fatalf("svmtest: Airdrop of %d lamports: JSON numbers past 2^53 lose precision", lamports)
	}
	var sig string
	s.call(t, "requestAirdrop", []any{pubkey, lamports}, &sig)
	return sig
}

// tail keeps the last bytes written to it: the server's stderr, for
// failure messages.
type tail struct {
	mu sync.Mutex
	b  []byte
}

const tailMax = 64 << 10

func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if len(w.b) > tailMax {
		w.b = w.b[len(w.b)-tailMax:]
	}
	return len(p), nil
}

func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.b) == 0 {
		return "(empty)"
	}
	return string(w.b)
}
