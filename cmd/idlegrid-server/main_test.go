package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/server"
	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// buildServer builds this command with cgo off, as a release would.
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "idlegrid-server")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	return bin
}

// The server is pure Go: it builds without cgo and links neither Fyne nor
// NVML.
func TestServerIsPureGo(t *testing.T) {
	buildServer(t)
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"fyne.io/", "github.com/NVIDIA/", "github.com/idlegrid/idlegrid/desktop"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("idlegrid-server links %s", dep)
			}
		}
	}
}

// README's quick start is exactly `make run` and `make test`, .ci/run runs
// `make test`, and the flags `make run` passes are accepted.
func TestQuickStartMatchesMakefile(t *testing.T) {
	root := repoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)## Quick start\\s*```sh\\n(.*?)```").FindSubmatch(readme)
	if block == nil {
		t.Fatal("README.md has no '## Quick start' sh block")
	}
	if got := strings.TrimSpace(string(block[1])); got != "make run\nmake test" {
		t.Fatalf("quick start is %q, want exactly make run and make test", got)
	}
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil || !regexp.MustCompile(`(?m)^make test\b`).Match(ci) {
		t.Fatalf(".ci/run does not run 'make test' (%v)", err)
	}
	flags := runFlags(t)
	cfg, err := server.Load(flags, func(string) string { return "" })
	if err != nil {
		t.Fatalf("make run's flags %q are refused: %v", flags, err)
	}
	if cfg.Listen != "127.0.0.1:8080" || cfg.Demo == 0 || !strings.HasPrefix(cfg.DataDir, "./data") {
		t.Fatalf("make run starts %+v, want 127.0.0.1:8080, ./data and a demo fleet", cfg)
	}
}

func runFlags(t *testing.T) []string {
	t.Helper()
	mk, err := os.ReadFile(filepath.Join(repoRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RUN_FLAGS\s*:=\s*(.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile has no RUN_FLAGS")
	}
	if !regexp.MustCompile(`(?m)^run:.*\n\t\$\(BIN\)/idlegrid-server \$\(RUN_FLAGS\)$`).Match(mk) {
		t.Fatal("Makefile's run target no longer starts idlegrid-server with RUN_FLAGS")
	}
	return strings.Fields(string(m[1]))
}

// make test fuzzes every fuzz target in the repository, each for a count
// of executions rather than a duration (see the Makefile for why).
func TestMakeTestFuzzesEveryTarget(t *testing.T) {
	root := repoRoot(t)
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?ms)^FUZZ_TARGETS\s*:=\s*(.*?[^\\])$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile has no FUZZ_TARGETS")
	}
	listed := map[string]bool{}
	for _, f := range strings.Fields(strings.ReplaceAll(string(m[1]), "\\", " ")) {
		parts := strings.Split(f, ":")
		if len(parts) != 3 {
			t.Fatalf("FUZZ_TARGETS entry %q is not name:package:executions", f)
		}
		if n, err := strconv.Atoi(parts[2]); err != nil || n <= 0 {
			t.Fatalf("FUZZ_TARGETS entry %q: executions must be a positive count", f)
		}
		listed[parts[1]+"."+parts[0]] = true
	}
	decl := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(f \*testing\.F\)`)
	found := 0
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		for _, fm := range decl.FindAllSubmatch(src, -1) {
			found++
			if key := "./" + filepath.ToSlash(rel) + "." + string(fm[1]); !listed[key] {
				t.Errorf("%s in %s is not in the Makefile's FUZZ_TARGETS", fm[1], rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found != len(listed) {
		t.Errorf("FUZZ_TARGETS lists %d targets, the code has %d", len(listed), found)
	}
}

// What `make run` does, with the port and data dir swapped for the test:
// the binary prints the console URL and a demo login that works, and the
// demo devices are online in the API.
func TestMakeRunShowsALivingDemo(t *testing.T) {
	bin := buildServer(t)
	flags := runFlags(t)
	for i := range flags {
		switch flags[i] {
		case "--listen":
			flags[i+1] = "127.0.0.1:0"
		case "--data":
			flags[i+1] = t.TempDir()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, flags...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()
	var url, email, password string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && (url == "" || password == "") {
		line := sc.Text()
		if m := regexp.MustCompile(`Console:\s+(http://\S+)/`).FindStringSubmatch(line); m != nil {
			url = m[1]
		}
		if m := regexp.MustCompile(`Demo login:\s+(\S+) / (\S+)`).FindStringSubmatch(line); m != nil {
			email, password = m[1], m[2]
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if url == "" || password == "" {
		t.Fatalf("the server did not print a console URL and demo login (url=%q email=%q)", url, email)
	}
	body := strings.NewReader(`{"email":"` + email + `","password":"` + password + `"}`)
	resp, err := http.Post(url+"/api/v1/auth/login", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	var sess struct {
		SessionToken string `json:"session_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signing in with the printed demo login: status %d", resp.StatusCode)
	}
	want := 0
	for i, f := range flags {
		if f == "--demo" {
			want, _ = strconv.Atoi(flags[i+1])
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		online, total := countOnline(t, url, sess.SessionToken)
		if online == want && total == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d demo devices online after 30s, want %d", online, total, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func countOnline(t *testing.T, url, token string) (online, total int) {
	req, _ := http.NewRequest("GET", url+"/api/v1/devices", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Devices []struct {
			State     string `json:"state"`
			Simulated bool   `json:"simulated"`
		} `json:"devices"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	for _, d := range out.Devices {
		if d.State == "online" && d.Simulated {
			online++
		}
	}
	return online, len(out.Devices)
}

func TestCreditCommand(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Write(t.Context(), func(tx *sql.Tx) error {
		return store.InsertUser(t.Context(), tx, store.User{ID: "usr_1", Email: "renter@example.com", PasswordHash: "x", CreatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	var out, errb strings.Builder
	run := func(args ...string) int {
		out.Reset()
		errb.Reset()
		return runCredit(t.Context(), append([]string{"--data", dir}, args...), &out, &errb)
	}
	if code := run("--email", "renter@example.com", "--amount", "12.5", "--key", "T-1"); code != 0 || !strings.Contains(out.String(), "credit is now $12.50") {
		t.Fatalf("credit: %d %q %q", code, out.String(), errb.String())
	}
	if code := run("--email", "renter@example.com", "--amount", "12.5", "--key", "T-1"); code != 0 || !strings.Contains(out.String(), "nothing added") || !strings.Contains(out.String(), "$12.50") {
		t.Fatalf("retry: %d %q", code, out.String())
	}
	if code := run("--email", "renter@example.com", "--amount", "1.2345678", "--key", "T-2"); code != 2 || !strings.Contains(errb.String(), "6 decimal places") {
		t.Fatalf("too many decimals: %d %q", code, errb.String())
	}
	if code := run("--amount", "5"); code != 2 || !strings.Contains(errb.String(), "--email is required") || !strings.Contains(errb.String(), "--key is required") {
		t.Fatalf("missing flags: %d %q", code, errb.String())
	}
	if code := run("--email", "ghost@example.com", "--amount", "5", "--key", "T-3"); code != 1 || !strings.Contains(errb.String(), "no account") {
		t.Fatalf("unknown account: %d %q", code, errb.String())
	}
}

func TestPayoutsCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errb strings.Builder
	if code := runPayouts(t.Context(), []string{"status", "--data", dir}, &out, &errb); code != 0 {
		t.Fatalf("status: %d %s", code, errb.String())
	}
	for _, want := range []string{"Mode: ledger", "threshold $10.00", "no treasury", "queued: 0", "parked: 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
	errb.Reset()
	if code := runPayouts(t.Context(), []string{"retry", "pay_nope", "--data", dir}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "not a parked payout") {
		t.Fatalf("retrying an unknown payout: %d %s", code, errb.String())
	}
	errb.Reset()
	if code := runPayouts(t.Context(), []string{"status", "--data", dir, "--payout-mode", "onchain"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "--payout-rpc") {
		t.Fatalf("on-chain without settings: %d %s", code, errb.String())
	}
}

// A backup is taken from the data directory of a running server and opens
// with the same accounts.
func TestBackupCommand(t *testing.T) {
	srv := servertest.Start(t, nil)
	srv.SignUp("renter@example.com")
	var out, errb strings.Builder
	to := filepath.Join(t.TempDir(), "copy.db")
	if code := runBackup(t.Context(), []string{"--data", srv.Cfg.DataDir, "--to", to}, &out, &errb); code != 0 || !strings.Contains(out.String(), "integrity ok") {
		t.Fatalf("backup: %d %q %q", code, out.String(), errb.String())
	}
	cp, err := store.OpenFile(t.Context(), to)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if _, err := store.UserByEmail(t.Context(), cp.Reader(), "renter@example.com"); err != nil {
		t.Fatalf("the account is not in the backup: %v", err)
	}
	if info, err := os.Stat(to); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("backup file mode: %v %v", info.Mode(), err)
	}
	if code := runBackup(t.Context(), []string{"--data", srv.Cfg.DataDir, "--to", to}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "already exists") {
		t.Fatalf("backup over an existing file: %d %q", code, errb.String())
	}
	if code := runBackup(t.Context(), []string{"--data", t.TempDir(), "--to", to + "2"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "no database") {
		t.Fatalf("backup of an empty dir: %d %q", code, errb.String())
	}
}

// liveServer is the real binary run as a child process, killed for real.
type liveServer struct {
	t   *testing.T
	bin string
	dir string
	cmd *exec.Cmd
	url string
	// args, when set, replace the demo fleet's flags (listen and data are
	// always set); env is added to the environment; stderr gets the logs.
	args   []string
	env    []string
	stderr io.Writer
}

func (s *liveServer) start() {
	s.t.Helper()
	args := s.args
	if args == nil {
		args = []string{"--demo", "3", "--heartbeat-interval", "500ms", "--offline-after", "5s", "--log-level", "warn"}
	}
	s.cmd = exec.Command(s.bin, append([]string{"--listen", "127.0.0.1:0", "--data", s.dir}, args...)...)
	s.cmd.Env = append(os.Environ(), s.env...)
	s.cmd.Stderr = s.stderr
	stdout, _ := s.cmd.StdoutPipe()
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	s.url = ""
	for s.url == "" && sc.Scan() {
		if m := regexp.MustCompile(`Console:\s+(http://\S+)/`).FindStringSubmatch(sc.Text()); m != nil {
			s.url = m[1]
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if s.url == "" {
		s.t.Fatal("the server printed no console URL")
	}
}

// kill ends the server with SIGKILL: no shutdown, no flush.
func (s *liveServer) kill() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

func (s *liveServer) do(method, path, token string, body any, out any) int {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, r)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "k-"+path)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// The control plane killed with SIGKILL right after a deploy, and again
// while the cluster runs: after each restart the cluster carries on from
// sqlite, no device is booked twice, and terminate ends it cleanly.
func TestKilledMidDeployResumes(t *testing.T) {
	s := &liveServer{t: t, bin: buildServer(t), dir: t.TempDir()}
	s.start()
	defer func() { s.kill() }()
	var sess struct {
		SessionToken string `json:"session_token"`
	}
	if st := s.do("POST", "/api/v1/auth/signup", "", map[string]string{"email": "renter@example.com", "password": "correct horse battery"}, &sess); st != http.StatusCreated {
		t.Fatalf("sign up: %d", st)
	}
	tok := sess.SessionToken
	if st := s.do("POST", "/api/v1/billing/faucet", tok, nil, nil); st != http.StatusCreated {
		t.Fatalf("faucet: %d", st)
	}
	type view struct {
		ID    string `json:"id"`
		State string `json:"state"`
		Nodes []struct {
			DeviceID   string     `json:"device_id"`
			ReleasedAt *time.Time `json:"released_at"`
		} `json:"nodes"`
	}
	var c view
	servertest.Eventually(t, 30*time.Second, "a deploy on the demo fleet", func() bool {
		return s.do("POST", "/api/v1/clusters", tok, map[string]int{"gpus": 2, "hours": 1}, &c) == http.StatusCreated
	})
	s.kill() // mid-deploy: provisioning has at most begun
	s.start()
	get := func() view {
		var v view
		s.do("GET", "/api/v1/clusters/"+c.ID, tok, nil, &v)
		return v
	}
	deadline := time.Now().Add(60 * time.Second)
	for get().State != "running" {
		if time.Now().After(deadline) {
			var raw json.RawMessage
			s.do("GET", "/api/v1/clusters/"+c.ID, tok, nil, &raw)
			t.Fatalf("the cluster is not running a minute after the restart:\n%s", raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.kill() // while running
	s.start()
	servertest.Eventually(t, 30*time.Second, "the demo fleet back", func() bool {
		var h struct {
			Agents int `json:"agents_connected"`
		}
		s.do("GET", "/healthz", "", nil, &h)
		return h.Agents == 3
	})
	v := get()
	active := map[string]bool{}
	for _, n := range v.Nodes {
		if n.ReleasedAt == nil {
			if active[n.DeviceID] {
				t.Fatalf("device %s booked twice in %+v", n.DeviceID, v)
			}
			active[n.DeviceID] = true
		}
	}
	if v.State != "running" || len(active) == 0 {
		t.Fatalf("after a kill while running: %+v", v)
	}
	var list struct {
		Clusters []view `json:"clusters"`
	}
	if s.do("GET", "/api/v1/clusters", tok, nil, &list); len(list.Clusters) != 1 {
		t.Fatalf("%d clusters after two kills, want the one deployed", len(list.Clusters))
	}
	if st := s.do("DELETE", "/api/v1/clusters/"+c.ID, tok, nil, nil); st != http.StatusAccepted {
		t.Fatalf("terminate: %d", st)
	}
	servertest.Eventually(t, 30*time.Second, "terminated", func() bool { return get().State == "terminated" })
}
