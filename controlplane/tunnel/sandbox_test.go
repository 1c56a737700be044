package tunnel

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

func answer(ctype, body string) *http.Response {
	h := http.Header{"Content-Type": {ctype}, "Set-Cookie": {"a=b"}}
	return &http.Response{Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}

func TestSandboxShimsPagesAndLocksThemIn(t *testing.T) {
	r := answer("text/html; charset=utf-8", `<!doctype html><html><HEAD><title>Ray</title></HEAD><body></body></html>`)
	if err := sandbox(r); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	if !bytes.HasPrefix(b, []byte(`<!doctype html><html><HEAD>`+storageShim+`<title>`)) || r.ContentLength != int64(len(b)) {
		t.Fatalf("page not shimmed right after <head>: %q (length %d)", b[:80], r.ContentLength)
	}
	if !strings.HasPrefix(r.Header.Get("Content-Security-Policy"), "sandbox ") || strings.Contains(r.Header.Get("Content-Security-Policy"), "allow-same-origin") ||
		r.Header.Get("Set-Cookie") != "" || r.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("headers: %v", r.Header)
	}

	js := answer("application/javascript", "console.log(1)")
	if err := sandbox(js); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(js.Body); string(b) != "console.log(1)" || js.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("script changed: %q", b)
	}

	big := strings.Repeat("x", maxShimmed+10)
	page := answer("text/html", "<head>"+big)
	if err := sandbox(page); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(page.Body); string(b) != "<head>"+big {
		t.Fatalf("a page too big to shim lost or changed bytes: %d of %d", len(b), len(big)+6)
	}
}
