package cluster

// Capabilities the control plane mints for a cluster: the head's tunnel
// token and the owner's dashboard link, both HMACs under the manager's key.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// TunnelToken is the head's credential for its cluster's tunnel: only the
// control plane can mint it, and it names both the cluster and the head.
func (m *Manager) TunnelToken(clusterID, headDeviceID string) string {
	mac := hmac.New(sha256.New, m.TokenKey)
	fmt.Fprintf(mac, "idlegrid/tunnel/v1\n%s\n%s", clusterID, headDeviceID)
	return clusterID + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// DashboardToken is the capability in the owner's link to the head's Ray
// dashboard (/ray/TOKEN/): the proxied pages run sandboxed, without the
// owner's cookies, so the link itself must carry the right to use it.
func (m *Manager) DashboardToken(clusterID, ownerID string) string {
	mac := hmac.New(sha256.New, m.TokenKey)
	fmt.Fprintf(mac, "idlegrid/dashboard/v1\n%s\n%s", clusterID, ownerID)
	return clusterID + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// CheckDashboardToken returns the cluster a dashboard token opens, while
// the cluster runs.
func (m *Manager) CheckDashboardToken(ctx context.Context, token string) (string, error) {
	id, _, _ := strings.Cut(token, ".")
	bad := problem.New(problem.ErrNotFound, "bad_dashboard_link", "this dashboard link is not valid (any more): open it again from the cluster's page")
	if len(id) > 64 {
		return "", bad
	}
	c, err := store.ClusterByID(ctx, m.Store.Reader(), id)
	if err != nil || c.Ended() || c.State == store.ClusterTerminating || !hmac.Equal([]byte(m.DashboardToken(id, c.OwnerID)), []byte(token)) {
		return "", bad
	}
	return id, nil
}

// CheckTunnelToken returns the cluster and head device a token is for,
// if the cluster still runs with that head.
func (m *Manager) CheckTunnelToken(ctx context.Context, token string) (clusterID, deviceID string, err error) {
	id, _, ok := strings.Cut(token, ".")
	bad := problem.New(problem.ErrUnauthorized, "bad_tunnel_token", "this tunnel token is not valid (any more)")
	if !ok || len(id) > 64 {
		return "", "", bad
	}
	c, err := store.ClusterByID(ctx, m.Store.Reader(), id)
	if err != nil || c.Ended() || c.State == store.ClusterTerminating {
		return "", "", bad
	}
	nodes, err := store.ClusterNodes(ctx, m.Store.Reader(), id)
	if err != nil {
		return "", "", err
	}
	for _, n := range nodes {
		if n.Role == proto.RoleHead && n.ReleasedAt.IsZero() && hmac.Equal([]byte(m.TunnelToken(id, n.DeviceID)), []byte(token)) {
			return id, n.DeviceID, nil
		}
	}
	return "", "", bad
}
