package api_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/servertest"
)

// schemathesis (PyPI, installed by make deps) generates requests from the
// OpenAPI document and checks the running server's answers: no 5xx,
// documented status codes, content types, headers and response schemas;
// requests the document calls valid are accepted (testdata/schemathesis.toml
// lists the statuses that depend on state, not input); a missing required
// header is refused, as are undocumented methods and requests without
// credentials.
// Sign-in, pairing and sign-out are left out (they would end or
// rate-limit the session), as are the websockets (tunnels, agent/connect)
// and deletes.
func TestAPIAgainstItsSchema(t *testing.T) {
	st, err := exec.LookPath("st")
	if err != nil {
		t.Fatal("schemathesis is not installed: pip install -r .ci/requirements-test.txt (make deps does)")
	}
	config, err := filepath.Abs("testdata/schemathesis.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := servertest.FastConfig(t.TempDir())
	cfg.Demo = 2 // devices and a fleet to answer with
	srv := servertest.Start(t, &cfg)
	owner := srv.SignUp("schema@example.com")
	// A connected device of the owner's, for the device routes.
	rig := srv.NewAgent("rig", "RTX 3060")
	if err := rig.Pair(t.Context(), owner.PairingCode()); err != nil {
		t.Fatal(err)
	}
	servertest.RunAgent(t, rig)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, st, "--config-file", config, "run", srv.URL+"/api/v1/openapi.json",
		"-H", "Authorization: Bearer "+owner.Token,
		"--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,"+
			"positive_data_acceptance,missing_required_header,unsupported_method,ignored_auth",
		"--max-examples", "25", "--seed", "20261122",
		"--exclude-path-regex", "tunnel|/ray/|speedtest|logout|auth/|agent/pair|agent/connect",
		"--exclude-method", "DELETE")
	cmd.Env = append(os.Environ(), "SCHEMATHESIS_HOOKS=", "NO_COLOR=1", "SCHEMA_DEVICE="+rig.State().DeviceID)
	cmd.Dir = t.TempDir() // its cache of found failures stays out of the repository
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("schemathesis found problems (%v):\n%s", err, out)
	}
	if !strings.Contains(string(out), "passed") {
		t.Fatalf("schemathesis ran no test cases:\n%s", out)
	}
	t.Logf("schemathesis:\n%s", out)
}
