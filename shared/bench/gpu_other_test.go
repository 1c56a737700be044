//go:build !linux && !windows

package bench

import (
	"context"
	"strings"
	"testing"
)

func TestGPUIsSkippedWhereCUDADoesNotExist(t *testing.T) {
	rep, err := Run(context.Background(), []Kind{GPU}, quick(t), nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if r := rep.Results[0]; !strings.Contains(r.Skipped, "only for Linux and Windows") || len(r.GPUs) != 0 {
		t.Errorf("result = %+v, want a worded skip and no GPUs", r)
	}
}
