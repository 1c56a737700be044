//go:build linux

package idle

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// Without any system bus (containers, CI) the answer is a State, never an
// error: that is what lets the supplier app run there at all.
func TestDetectWithoutSystemBus(t *testing.T) {
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "no-bus"))
	st, err := Detect().Read(context.Background())
	if err != nil {
		t.Fatalf("Read without a bus: %v", err)
	}
	if st.Known || st.Reason == "" || st.Source != "logind" {
		t.Fatalf("Read without a bus = %+v, want unknown from logind with a reason", st)
	}
	if !strings.Contains(st.Reason, "D-Bus") {
		t.Errorf("reason %q does not say the bus is missing", st.Reason)
	}
}

// fakeSession is one logind session object's idle properties.
type fakeSession struct {
	idleHint  any // bool, or a wrong type to test checking
	idleSince any // uint64, or a wrong type
}

// fakeLogind plays org.freedesktop.login1 on a private bus: sessions maps
// object paths to sessions, and byPID is what GetSessionByPID answers ("" =
// this process has no session).
type fakeLogind struct {
	sessions map[dbus.ObjectPath]fakeSession
	byPID    dbus.ObjectPath
}

// manager implements the one Manager method the source calls.
type manager struct{ byPID dbus.ObjectPath }

func (m manager) GetSessionByPID(pid uint32) (dbus.ObjectPath, *dbus.Error) {
	if m.byPID == "" {
		return "", dbus.NewError("org.freedesktop.login1.NoSessionForPID", []any{fmt.Sprintf("PID %d does not belong to any known session", pid)})
	}
	return m.byPID, nil
}

// serve claims logind's name on the bus at addr and exports f until the test
// ends.
func (f fakeLogind) serve(t testing.TB, addr string) {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connecting the fake logind: %v", err)
	}
	if err := conn.Export(manager{f.byPID}, logindPath, logindManager); err != nil {
		t.Fatal(err)
	}
	for path, s := range f.sessions {
		_, err := prop.Export(conn, path, prop.Map{logindSession: {
			"IdleHint":      {Value: s.idleHint, Emit: prop.EmitFalse},
			"IdleSinceHint": {Value: s.idleSince, Emit: prop.EmitFalse},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if reply, err := conn.RequestName(logindName, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("claiming %s: reply %v, %v", logindName, reply, err)
	}
	t.Cleanup(func() {
		// Released explicitly so the next case can claim the name at once;
		// a closed connection is released whenever the daemon gets to it.
		conn.ReleaseName(logindName)
		conn.Close()
	})
}

// startBus runs a private dbus-daemon for the test and returns its address.
func startBus(t testing.TB) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Fatal("dbus-daemon is not installed: run `make deps` (Debian: dbus-daemon)")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "bus.conf")
	err = os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=`+dir+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+conf, "--nofork", "--nopidfile", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// The daemon prints its address once it listens: no polling needed.
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading dbus-daemon's address: %v", err)
	}
	return strings.TrimSpace(addr)
}

func TestLogindSource(t *testing.T) {
	addr := startBus(t)
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) uint64 { return uint64(now.Add(-d).UnixMicro()) }
	const session = dbus.ObjectPath("/org/freedesktop/login1/session/_32")

	for _, tc := range []struct {
		name       string
		logind     *fakeLogind // nil: no logind on the bus
		display    string
		want       State
		wantReason string // substring of Reason
		wantErr    bool
	}{
		{
			name:       "idle session through session/auto",
			logind:     &fakeLogind{sessions: map[dbus.ObjectPath]fakeSession{autoSession: {true, ago(90 * time.Second)}}},
			want:       State{IdleFor: 90 * time.Second, Known: true, Source: "logind"},
			wantReason: "$DISPLAY is not set",
		},
		{
			name:   "active session",
			logind: &fakeLogind{sessions: map[dbus.ObjectPath]fakeSession{autoSession: {false, ago(time.Hour)}}},
			want:   State{Known: true, Source: "logind"},
		},
		{
			name: "older logind without session/auto: found by PID",
			logind: &fakeLogind{
				sessions: map[dbus.ObjectPath]fakeSession{session: {true, ago(10 * time.Minute)}},
				byPID:    session,
			},
			want: State{IdleFor: 10 * time.Minute, Known: true, Source: "logind"},
		},
		{
			name:       "no session for this process",
			logind:     &fakeLogind{},
			want:       State{Source: "logind"},
			wantReason: "knows no session",
		},
		{
			name:       "no logind on the bus",
			want:       State{Source: "logind"},
			wantReason: "knows no session",
		},
		{
			name: "broken X server is only a note",
			logind: &fakeLogind{
				sessions: map[dbus.ObjectPath]fakeSession{autoSession: {true, ago(time.Minute)}},
			},
			display:    "/nonexistent/x11-socket:0",
			want:       State{IdleFor: time.Minute, Known: true, Source: "logind"},
			wantReason: "full-screen check failed",
		},
		{
			name: "property of the wrong type is an error",
			logind: &fakeLogind{
				sessions: map[dbus.ObjectPath]fakeSession{session: {true, int32(7)}},
				byPID:    session,
			},
			wantErr: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.logind != nil {
				tc.logind.serve(t, addr)
			}
			src := newLogindSource(func(ctx context.Context) (*dbus.Conn, error) {
				return dbus.Connect(addr, dbus.WithContext(ctx))
			}, tc.display)
			src.now = func() time.Time { return now }

			st, err := src.Read(context.Background())
			if (err != nil) != tc.wantErr {
				t.Fatalf("Read error = %v, want error: %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if !strings.Contains(st.Reason, tc.wantReason) {
				t.Errorf("Reason %q does not contain %q", st.Reason, tc.wantReason)
			}
			if !st.Known && st.Reason == "" {
				t.Errorf("unknown State without a reason")
			}
			st.Reason = ""
			if st != tc.want {
				t.Errorf("Read = %+v, want %+v", st, tc.want)
			}
		})
	}
}

func TestLogindSourceEndsWithContext(t *testing.T) {
	addr := startBus(t)
	fakeLogind{sessions: map[dbus.ObjectPath]fakeSession{autoSession: {true, uint64(1)}}}.serve(t, addr)
	src := newLogindSource(func(ctx context.Context) (*dbus.Conn, error) {
		return dbus.Connect(addr, dbus.WithContext(ctx))
	}, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read with a cancelled context: error %v, want context.Canceled", err)
	}
}
