package api

import (
	"net/http"

	"github.com/gorilla/websocket"
	"strconv"
	"time"

	"github.com/idlegrid/idlegrid/assets"
	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

// Routes is every endpoint of the API, in one table.
func Routes() []Route {
	return []Route{
		{Method: "GET", Path: "/healthz", Access: Public, handle: (*Server).healthz},
		{Method: "GET", Path: "/api/v1/openapi.json", Access: Public, handle: (*Server).openAPI},
		{Method: "POST", Path: "/api/v1/auth/signup", Access: Public, Limited: true, handle: (*Server).signUp},
		{Method: "POST", Path: "/api/v1/auth/login", Access: Public, Limited: true, handle: (*Server).signIn},
		{Method: "POST", Path: "/api/v1/auth/logout", Access: User, handle: (*Server).signOut},
		{Method: "GET", Path: "/api/v1/me", Access: User, handle: (*Server).me},
		{Method: "GET", Path: "/api/v1/keys", Access: User, handle: (*Server).listKeys},
		{Method: "POST", Path: "/api/v1/keys", Access: User, handle: (*Server).createKey},
		{Method: "DELETE", Path: "/api/v1/keys/{id}", Access: User, handle: (*Server).revokeKey},
		{Method: "POST", Path: "/api/v1/pairing-codes", Access: User, handle: (*Server).createPairingCode},
		{Method: "GET", Path: "/api/v1/enrollment-tokens", Access: User, handle: (*Server).listEnrollmentTokens},
		{Method: "POST", Path: "/api/v1/enrollment-tokens", Access: User, handle: (*Server).createEnrollmentToken},
		{Method: "DELETE", Path: "/api/v1/enrollment-tokens/{id}", Access: User, handle: (*Server).revokeEnrollmentToken},
		{Method: "POST", Path: "/api/v1/agent/pair", Access: Public, Limited: true, handle: (*Server).pairDevice},
		{Method: "GET", Path: "/api/v1/agent/connect", Access: Public, handle: (*Server).agentConnect},
		{Method: "GET", Path: "/api/v1/devices", Access: User, handle: (*Server).listDevices},
		{Method: "GET", Path: "/api/v1/devices/{id}", Access: User, handle: (*Server).getDevice},
		{Method: "PATCH", Path: "/api/v1/devices/{id}", Access: User, handle: (*Server).patchDevice},
		{Method: "DELETE", Path: "/api/v1/devices/{id}", Access: User, handle: (*Server).deleteDevice},
		{Method: "GET", Path: "/api/v1/devices/{id}/telemetry", Access: User, handle: (*Server).deviceTelemetry},
		{Method: "GET", Path: "/api/v1/devices/{id}/benchmarks", Access: User, handle: (*Server).deviceBenchmarks},
		{Method: "POST", Path: "/api/v1/devices/{id}/verify", Access: User, handle: (*Server).verifyDevice},
		{Method: "GET", Path: "/api/v1/explorer/stats", Access: Public, handle: (*Server).explorerStats},
		{Method: "POST", Path: "/api/v1/clusters/quote", Access: User, handle: (*Server).quote},
		{Method: "POST", Path: "/api/v1/clusters", Access: User, handle: (*Server).deployCluster},
		{Method: "GET", Path: "/api/v1/clusters", Access: User, handle: (*Server).listClusters},
		{Method: "GET", Path: "/api/v1/clusters/{id}", Access: User, handle: (*Server).getCluster},
		{Method: "POST", Path: "/api/v1/clusters/{id}/extend", Access: User, handle: (*Server).extendCluster},
		{Method: "DELETE", Path: "/api/v1/clusters/{id}", Access: User, handle: (*Server).terminateCluster},
		{Method: "GET", Path: "/api/v1/clusters/{id}/tunnel", Access: User, handle: (*Server).clusterTunnel},
		{Method: "GET", Path: "/ray/{token}/{path...}", Access: Public, handle: (*Server).clusterDashboard},
		{Method: "POST", Path: "/ray/{token}/{path...}", Access: Public, handle: (*Server).clusterDashboard},
		{Method: "GET", Path: "/api/v1/agent/tunnel", Access: Public, Limited: true, handle: (*Server).agentTunnel},
		{Method: "GET", Path: "/api/v1/billing", Access: User, handle: (*Server).billing},
		{Method: "POST", Path: "/api/v1/billing/faucet", Access: User, handle: (*Server).faucet},
		{Method: "GET", Path: "/api/v1/billing/statement", Access: User, handle: (*Server).statement},
		{Method: "GET", Path: "/api/v1/earnings", Access: User, handle: (*Server).earnings},
		{Method: "GET", Path: "/api/v1/payouts", Access: User, handle: (*Server).payouts},
		{Method: "PUT", Path: "/api/v1/me/wallet", Access: User, handle: (*Server).setWallet},
		{Method: "PUT", Path: "/api/v1/me/webhook", Access: User, handle: (*Server).setWebhook},
		{Method: "GET", Path: "/api/v1/me/webhook", Access: User, handle: (*Server).getWebhook},
		{Method: "DELETE", Path: "/api/v1/me/webhook", Access: User, handle: (*Server).deleteWebhook},
		{Method: "GET", Path: "/api/v1/receipts", Access: User, handle: (*Server).receipts},
		{Method: "GET", Path: "/api/v1/receipts/public-key", Access: Public, handle: (*Server).receiptKey},
		{Method: "GET", Path: "/api/v1/speedtest/ping", Access: Public, handle: (*Server).speedPing},
		{Method: "GET", Path: "/api/v1/speedtest/download", Access: Public, handle: (*Server).speedDownload},
		{Method: "POST", Path: "/api/v1/speedtest/upload", Access: Public, handle: (*Server).speedUpload},
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.Store.SchemaVersion(r.Context()); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "agents_connected": s.Hub.ConnectedCount()})
	return nil
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(assets.OpenAPI)
	return err
}

func (s *Server) agentConnect(w http.ResponseWriter, r *http.Request) error {
	if !websocket.IsWebSocketUpgrade(r) {
		return problem.Invalid("not_websocket", "this is the agents' websocket endpoint: run idlegrid-agent or the desktop app to connect")
	}
	s.Hub.ServeHTTP(w, r)
	return nil
}

// StatsJSON is the public network summary.
type StatsJSON struct {
	DevicesTotal  int `json:"devices_total"`
	DevicesOnline int `json:"devices_online"`
	GPUsOnline    int `json:"gpus_online"`
	Suppliers     int `json:"suppliers"`
	// Verified* count real devices that passed their compute challenge.
	VerifiedDevices   int            `json:"verified_devices"`
	VerifiedSuppliers int            `json:"verified_suppliers"`
	GPUsByModel       map[string]int `json:"gpus_by_model"`
	At                time.Time      `json:"at"`
}

func (s *Server) explorerStats(w http.ResponseWriter, r *http.Request) error {
	now := s.Now()
	st, err := store.Stats(r.Context(), s.Store.Reader(), s.Hub.Config().OnlineSince(now), now.Add(-2*s.VerifyEvery))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, StatsJSON{
		DevicesTotal: st.DevicesTotal, DevicesOnline: st.DevicesOnline, GPUsOnline: st.GPUsOnline,
		Suppliers: st.Suppliers, VerifiedDevices: st.VerifiedDevices, VerifiedSuppliers: st.VerifiedSuppliers,
		GPUsByModel: st.GPUsByModel, At: now.UTC(),
	})
	return nil
}

// parseSince reads the telemetry window's start: RFC 3339, or a duration
// back from now like "15m"; default 10 minutes.
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return now.Add(-10 * time.Minute), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, problem.Invalid("bad_since", "since must be an RFC 3339 time (2026-11-22T10:00:00Z) or a duration like 15m")
}

func parseLimit(v string, def, max int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, problem.Invalid("bad_limit", "limit must be a number from 1 to %d", max)
	}
	return n, nil
}
