package tunnel

import "testing"

func TestUnderCutsOnlyWholePrefixes(t *testing.T) {
	for _, tc := range []struct {
		path, prefix, rest string
		ok                 bool
	}{
		{"/proxy/c1/api/jobs/", "/proxy/c1", "/api/jobs/", true},
		{"/proxy/c1", "/proxy/c1", "/", true},
		{"/proxy/c1/", "/proxy/c1/", "/", true},
		{"/proxy/c1/x", "/proxy/c1/", "/x", true},
		{"/proxy/c10/x", "/proxy/c1", "", false},
		{"/other/c1/x", "/proxy/c1", "", false},
	} {
		rest, ok := under(tc.path, tc.prefix)
		if rest != tc.rest || ok != tc.ok {
			t.Errorf("under(%q, %q) = %q, %v; want %q, %v", tc.path, tc.prefix, rest, ok, tc.rest, tc.ok)
		}
	}
}

func TestClusterIDsSurviveTheTransportsHostNames(t *testing.T) {
	for _, id := range []string{"cl_7f3a91", "Cluster/With:odd chars", "0e9c0b9e-3f3a-4c1e-9d55-8f1f6f8f2a10"} {
		got, err := clusterOf(hostFor(id) + ":80")
		if err != nil || got != id {
			t.Errorf("clusterOf(hostFor(%q)) = %q, %v", id, got, err)
		}
	}
	for _, addr := range []string{"example.com:80", "zz" + hostSuffix + ":80", hostSuffix + ":80"} {
		if id, err := clusterOf(addr); err == nil {
			t.Errorf("clusterOf(%q) = %q, want an error", addr, id)
		}
	}
}
