package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// get fetches http://addr+path and returns the body of a 200 answer.
func (r *Ray) get(ctx context.Context, addr, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %s", path, resp.Status, truncateFront(strings.TrimSpace(string(body)), 200))
	}
	return body, nil
}

// version asks a head's dashboard for Ray's version; it answers once the
// dashboard serves, the Jobs API with it.
func (r *Ray) version(ctx context.Context, dashboard string) (string, error) {
	body, err := r.get(ctx, dashboard, "/api/version")
	if err != nil {
		return "", err
	}
	var v struct {
		RayVersion string `json:"ray_version"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("decoding /api/version: %w", err)
	}
	return v.RayVersion, nil
}

// raylet asks a node's dashboard agent whether the GCS counts its raylet
// alive.
func (r *Ray) raylet(ctx context.Context, agent string) error {
	body, err := r.get(ctx, agent, "/api/local_raylet_healthz")
	if err != nil {
		return err
	}
	if s := strings.TrimSpace(string(body)); s != "success" {
		return fmt.Errorf("raylet health: %q", truncateFront(s, 200))
	}
	return nil
}

// nodeList is what a head knows of its cluster's nodes.
type nodeList struct {
	headIP string   // the IP Ray advertises for the head; "" until it is alive
	names  []string // node names of the alive nodes, sorted
}

// aliveNodes lists the cluster's nodes through the state API, the one
// node listing that keeps resource names as they were given (the
// dashboard's /nodes?view=summary rewrites them in camel case).
func (r *Ray) aliveNodes(ctx context.Context, dashboard string) (nodeList, error) {
	body, err := r.get(ctx, dashboard, "/api/v0/nodes?limit=10000")
	if err != nil {
		return nodeList{}, err
	}
	return parseNodes(body)
}

// parseNodes reads the state API's answer to GET /api/v0/nodes.
func parseNodes(body []byte) (nodeList, error) {
	var resp struct {
		Result bool   `json:"result"`
		Msg    string `json:"msg"`
		Data   struct {
			Result struct {
				Result []struct {
					NodeIP    string             `json:"node_ip"`
					IsHead    bool               `json:"is_head_node"`
					State     string             `json:"state"`
					Resources map[string]float64 `json:"resources_total"`
				} `json:"result"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nodeList{}, fmt.Errorf("decoding /api/v0/nodes: %w", err)
	}
	if !resp.Result {
		return nodeList{}, fmt.Errorf("/api/v0/nodes: %s", truncateFront(resp.Msg, 200))
	}
	var list nodeList
	for _, n := range resp.Data.Result.Result {
		if n.State != "ALIVE" {
			continue
		}
		if n.IsHead {
			list.headIP = n.NodeIP
		}
		for res := range n.Resources {
			if name, ok := strings.CutPrefix(res, nodeResourcePrefix); ok {
				list.names = append(list.names, name)
			}
		}
	}
	slices.Sort(list.names)
	list.names = slices.Compact(list.names)
	return list, nil
}
