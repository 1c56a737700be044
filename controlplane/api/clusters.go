package api

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/idlegrid/idlegrid/controlplane/cluster"
	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

// TunnelServer is the control plane's end of head-node tunnels
// (controlplane/tunnel).
type TunnelServer interface {
	Accept(w http.ResponseWriter, r *http.Request, clusterID, deviceID string)
	ServeStream(w http.ResponseWriter, r *http.Request, clusterID, port string)
	Proxy(clusterID, prefix string) http.Handler
	Connected(clusterID string) bool
}

// Tunnel port names a requester may reach on the head node.
var tunnelPorts = map[string]bool{"dashboard": true, "client": true}

func (s *Server) describe(r *http.Request, c store.Cluster, full bool) (cluster.View, error) {
	var up func(string) bool
	if s.Tunnels != nil {
		up = s.Tunnels.Connected
	}
	return s.Clusters.Describe(r.Context(), c, full, up)
}

func (s *Server) deployCluster(w http.ResponseWriter, r *http.Request) error {
	var req cluster.DeployRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	u := UserFrom(r.Context())
	c, created, err := s.Clusters.Deploy(r.Context(), u.ID, strings.TrimSpace(r.Header.Get("Idempotency-Key")), req)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	w.Header().Set("Location", "/api/v1/clusters/"+c.ID)
	return s.writeCluster(w, r, c, nil, status)
}

// writeCluster answers with c as its owner sees it, or with err.
func (s *Server) writeCluster(w http.ResponseWriter, r *http.Request, c store.Cluster, err error, status int) error {
	if err != nil {
		return err
	}
	v, err := s.describe(r, c, true)
	if err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}

func (s *Server) listClusters(w http.ResponseWriter, r *http.Request) error {
	limit, err := parseLimit(r.URL.Query().Get("limit"), 50, 500)
	if err != nil {
		return err
	}
	cs, err := store.ClustersOf(r.Context(), s.Store.Reader(), UserFrom(r.Context()).ID, limit)
	if err != nil {
		return err
	}
	out := make([]cluster.View, 0, len(cs))
	for _, c := range cs {
		v, err := s.describe(r, c, false)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"clusters": out})
	return nil
}

func (s *Server) getCluster(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Clusters.Own(r.Context(), UserFrom(r.Context()).ID, r.PathValue("id"))
	return s.writeCluster(w, r, c, err, http.StatusOK)
}

func (s *Server) extendCluster(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Hours int `json:"hours"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	c, err := s.Clusters.Extend(r.Context(), UserFrom(r.Context()).ID, r.PathValue("id"), req.Hours)
	return s.writeCluster(w, r, c, err, http.StatusOK)
}

func (s *Server) terminateCluster(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Clusters.Terminate(r.Context(), UserFrom(r.Context()).ID, r.PathValue("id"))
	return s.writeCluster(w, r, c, err, http.StatusAccepted)
}

// ownRunning is the owner's cluster, if its head can be reached.
func (s *Server) ownRunning(r *http.Request) (store.Cluster, error) {
	c, err := s.Clusters.Own(r.Context(), UserFrom(r.Context()).ID, r.PathValue("id"))
	if err != nil {
		return c, err
	}
	if c.Ended() || c.State == store.ClusterTerminating {
		return c, problem.New(problem.ErrConflict, "cluster_ended", "cluster %s is %s: there is nothing to reach", c.ID, c.State)
	}
	if s.Tunnels == nil {
		return c, problem.New(problem.ErrConflict, "tunnel_unavailable", "this control plane has no tunnels")
	}
	return c, nil
}

// clusterTunnel is a websocket carrying one TCP stream to a port of the
// head node: idlegridctl forward uses it.
func (s *Server) clusterTunnel(w http.ResponseWriter, r *http.Request) error {
	c, err := s.ownRunning(r)
	if err != nil {
		return err
	}
	port := r.URL.Query().Get("port")
	if !tunnelPorts[port] {
		return problem.Invalid("bad_port", "port must be dashboard (Ray dashboard and Jobs API) or client (Ray client)")
	}
	s.Tunnels.ServeStream(w, r, c.ID, port)
	return nil
}

// clusterDashboard proxies the head's Ray dashboard for whoever holds the
// owner's dashboard link (/ray/TOKEN/…), sandboxed.
func (s *Server) clusterDashboard(w http.ResponseWriter, r *http.Request) error {
	token := r.PathValue("token")
	id, err := s.Clusters.CheckDashboardToken(r.Context(), token)
	if err != nil {
		return err
	}
	if s.Tunnels == nil {
		return problem.New(problem.ErrConflict, "tunnel_unavailable", "this control plane has no tunnels")
	}
	s.Tunnels.Proxy(id, "/ray/"+token).ServeHTTP(w, r)
	return nil
}

var bearer = regexp.MustCompile(`^Bearer (\S{1,200})$`)

// agentTunnel is where a head node's agent opens its cluster's tunnel,
// with the token it got in runtime_start.
func (s *Server) agentTunnel(w http.ResponseWriter, r *http.Request) error {
	m := bearer.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil || s.Tunnels == nil {
		return problem.New(problem.ErrUnauthorized, "bad_tunnel_token", "send the cluster's tunnel token as 'Authorization: Bearer <token>'")
	}
	clusterID, deviceID, err := s.Clusters.CheckTunnelToken(r.Context(), m[1])
	if err != nil {
		return err
	}
	s.Tunnels.Accept(w, r, clusterID, deviceID)
	return nil
}
