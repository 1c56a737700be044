package api_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/servertest"
)

// schemathesis (PyPI, installed by make deps) generates requests from the
// OpenAPI document and checks the running server's answers: no 5xx,
// documented status codes, content types, headers and response schemas.
// Sign-in, pairing and sign-out are left out (they would end or
// rate-limit the session), as are the tunnels (websockets) and deletes.
func TestAPIAgainstItsSchema(t *testing.T) {
	st, err := exec.LookPath("st")
	if err != nil {
		t.Fatal("schemathesis is not installed: pip install -r .ci/requirements-test.txt (make deps does)")
	}
	cfg := servertest.FastConfig(t.TempDir())
	cfg.Demo = 2 // devices and a fleet to answer with
	srv := servertest.Start(t, &cfg)
	owner := srv.SignUp("schema@example.com")
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, st, "run", srv.URL+"/api/v1/openapi.json",
		"-H", "Authorization: Bearer "+owner.Token,
		"--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance",
		"--max-examples", "25", "--seed", "20261122",
		"--exclude-path-regex", "tunnel|/ray/|speedtest|logout|auth/|agent/pair",
		"--exclude-method", "DELETE")
	cmd.Env = append(os.Environ(), "SCHEMATHESIS_HOOKS=", "NO_COLOR=1")
	cmd.Dir = t.TempDir() // its cache of found failures stays out of the repository
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("schemathesis found problems (%v):\n%s", err, out)
	}
	if !strings.Contains(string(out), "passed") {
		t.Fatalf("schemathesis ran no test cases:\n%s", out)
	}
}
