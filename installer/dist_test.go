// Package installer_test checks make dist: every binary for the platform
// it names, the agents with NVML where cgo allows, and the Windows ones
// Authenticode-signed and verifiable.
package installer_test

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestDist(t *testing.T) {
	tmp := t.TempDir()
	cert, key := filepath.Join(tmp, "cert.pem"), filepath.Join(tmp, "key.pem")
	// A throwaway self-signed code-signing certificate, valid for a day.
	gen := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=Idlegrid test signing",
		"-addext", "extendedKeyUsage=codeSigning", "-keyout", key, "-out", cert)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("making a test certificate (make deps installs openssl): %v\n%s", err, out)
	}
	out := filepath.Join(tmp, "dist")
	cmd := exec.Command("./dist.sh")
	cmd.Env = append(os.Environ(), "DIST="+out, "VERSION=test-1", "IDLEGRID_SIGN_CERT="+cert, "IDLEGRID_SIGN_KEY="+key)
	if log, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dist.sh: %v\n%s", err, log)
	}

	elfOf := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	machoOf := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}
	peOf := map[string]uint16{"amd64": pe.IMAGE_FILE_MACHINE_AMD64, "arm64": pe.IMAGE_FILE_MACHINE_ARM64}
	want := []string{
		"idlegrid-server-linux-amd64", "idlegrid-server-linux-arm64",
		"idlegrid-agent-linux-amd64", "idlegrid-agent-linux-arm64", "idlegrid-agent-windows-amd64.exe",
		"idlegrid-desktop-windows-amd64.exe",
	}
	for _, os := range []string{"linux", "darwin", "windows"} {
		for _, arch := range []string{"amd64", "arm64"} {
			name := "idlegridctl-" + os + "-" + arch
			if os == "windows" {
				name += ".exe"
			}
			want = append(want, name)
		}
	}
	for _, name := range want {
		path := filepath.Join(out, name)
		parts := strings.Split(strings.TrimSuffix(name, ".exe"), "-")
		goos, arch := parts[len(parts)-2], parts[len(parts)-1]
		switch goos {
		case "linux":
			f, err := elf.Open(path)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if f.Machine != elfOf[arch] {
				t.Errorf("%s is built for %v", name, f.Machine)
			}
			f.Close()
		case "darwin":
			f, err := macho.Open(path)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if f.Cpu != machoOf[arch] {
				t.Errorf("%s is built for %v", name, f.Cpu)
			}
			f.Close()
		case "windows":
			f, err := pe.Open(path)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if f.Machine != peOf[arch] {
				t.Errorf("%s is built for machine %#x", name, f.Machine)
			}
			f.Close()
			v, err := exec.Command("osslsigncode", "verify", "-CAfile", cert, "-in", path).CombinedOutput()
			if err != nil || !strings.Contains(string(v), "Signature verification: ok") {
				t.Errorf("%s: signature does not verify: %v\n%s", name, err, v)
			}
		}
	}
	// The Linux agents read NVIDIA GPUs: NVML is loaded at run time.
	for _, arch := range []string{"amd64", "arm64"} {
		b, err := os.ReadFile(filepath.Join(out, "idlegrid-agent-linux-"+arch))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("libnvidia-ml.so")) {
			t.Errorf("the linux/%s agent cannot load NVML (built without cgo?)", arch)
		}
	}
	// The desktop app for Linux: fyne's tar.xz and a .deb of the same files.
	list, err := exec.Command("tar", "-tJf", filepath.Join(out, "idlegrid-desktop-linux-amd64.tar.xz")).Output()
	if err != nil || !strings.Contains(string(list), "usr/local/bin/idlegrid\n") || !strings.Contains(string(list), ".desktop") {
		t.Errorf("desktop tar.xz: %v\n%s", err, list)
	}
	deb := filepath.Join(out, "idlegrid-desktop-linux-amd64.deb")
	info, err := exec.Command("dpkg-deb", "--info", deb).Output()
	if err != nil || !strings.Contains(string(info), "Package: idlegrid") || !strings.Contains(string(info), "Architecture: amd64") {
		t.Errorf("desktop .deb info: %v\n%s", err, info)
	}
	contents, err := exec.Command("dpkg-deb", "--contents", deb).Output()
	if err != nil || !strings.Contains(string(contents), "./usr/bin/idlegrid\n") || strings.Contains(string(contents), "/usr/local/") {
		t.Errorf("desktop .deb contents: %v\n%s", err, contents)
	}
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, _ := strings.Cut(line, "  ")
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
			t.Errorf("SHA256SUMS is wrong for %s", name)
		}
	}
}
