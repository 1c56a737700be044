package idle

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestStateAway(t *testing.T) {
	const after = time.Minute
	for _, tc := range []struct {
		name  string
		state State
		want  bool
	}{
		{"idle long enough", State{IdleFor: 2 * time.Minute, Known: true}, true},
		{"idle exactly the threshold", State{IdleFor: time.Minute, Known: true}, true},
		{"idle not long enough", State{IdleFor: 59 * time.Second, Known: true}, false},
		{"idle but a game is full-screen", State{IdleFor: time.Hour, FullScreen: true, Known: true}, false},
		{"unknown counts as present", State{IdleFor: time.Hour, Reason: "no session"}, false},
		{"zero state", State{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.state.Away(after); got != tc.want {
				t.Errorf("%+v.Away(%v) = %v, want %v", tc.state, after, got, tc.want)
			}
		})
	}
}

func TestFake(t *testing.T) {
	ctx := context.Background()
	var f Fake
	var _ Source = &f

	if st, err := f.Read(ctx); err != nil || st != (State{}) {
		t.Fatalf("zero Fake read %+v, %v; want the zero State and no error", st, err)
	}

	want := State{IdleFor: 5 * time.Minute, FullScreen: true, Known: true, Source: "fake"}
	f.Set(want)
	if st, err := f.Read(ctx); err != nil || st != want {
		t.Fatalf("after Set read %+v, %v; want %+v", st, err, want)
	}

	broken := errors.New("sensor unplugged")
	f.SetErr(broken)
	if _, err := f.Read(ctx); !errors.Is(err, broken) {
		t.Fatalf("after SetErr read error %v, want %v", err, broken)
	}
	f.Set(want)
	if _, err := f.Read(ctx); err != nil {
		t.Fatalf("Set did not clear the error: %v", err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.Read(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("read with a cancelled context: error %v, want context.Canceled", err)
	}
}

// The Fake is shared between a test and the code under test's goroutines;
// the race detector checks this.
func TestFakeConcurrentUse(t *testing.T) {
	var f Fake
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 100 {
				f.Set(State{IdleFor: time.Duration(i*100 + j), Known: true})
				if _, err := f.Read(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if st, _ := f.Read(context.Background()); !st.Known {
		t.Errorf("last State %+v is not the one a writer set", st)
	}
}

// Whatever the machine, Detect's Source keeps its promise: a State either
// Known or with a reason, named by its source, and no error merely because
// this session cannot tell.
func TestDetectReadKeepsItsPromise(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := Detect().Read(ctx)
	if err != nil {
		t.Fatalf("Detect().Read: %v", err)
	}
	if st.Source == "" {
		t.Errorf("State %+v names no source", st)
	}
	if !st.Known && (st.Reason == "" || st.IdleFor != 0 || st.FullScreen) {
		t.Errorf("unknown State %+v must give a reason and claim nothing", st)
	}
	t.Logf("this machine: %+v", st)
}
