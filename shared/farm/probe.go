package farm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Rig is a machine running the agent, as discovery or a probe found it.
type Rig struct {
	// Name is the mDNS instance name, or the host typed by hand.
	Name string `json:"name"`
	// Addrs are IP addresses (or, for a rig typed by hand, its host name),
	// best first.
	Addrs         []string `json:"addrs"`
	Port          int      `json:"port"`
	DeviceID      string   `json:"device_id,omitempty"`
	Version       string   `json:"version,omitempty"`
	TokenRequired bool     `json:"token_required,omitempty"`
}

// Address is host:port of the rig's first address, ready for Probe; empty
// without one.
func (r Rig) Address() string {
	if len(r.Addrs) == 0 || r.Port == 0 {
		return ""
	}
	return net.JoinHostPort(r.Addrs[0], strconv.Itoa(r.Port))
}

// ErrUnauthorized is wrapped by Probe when the rig refused the token (or
// wanted one and got none).
var ErrUnauthorized = errors.New("the rig refused the farm token: check it matches the rig's --farm-token")

// maxStatusBytes bounds what Probe reads from a rig.
const maxStatusBytes = 1 << 20

// probeClient talks to rigs on the LAN: never through a proxy from the
// environment, which could not reach them anyway.
var probeClient = &http.Client{
	Transport: &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		ResponseHeaderTimeout: 10 * time.Second,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       time.Minute,
	},
}

// Probe reads a rig's GET /status. addr is host:port, a bare host (the
// default port 9400 is used) or an http:// URL; token may be empty for a
// rig that needs none. The Farm view polls rigs typed by hand with it.
func Probe(ctx context.Context, addr, token string) (Rig, Status, error) {
	u, host, port, err := statusURL(addr)
	if err != nil {
		return Rig{}, Status{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Rig{}, Status{}, fmt.Errorf("probing %s: %w", addr, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return Rig{}, Status{}, fmt.Errorf("probing %s: %w", addr, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return Rig{}, Status{}, fmt.Errorf("probing %s: %w", addr, ErrUnauthorized)
	case resp.StatusCode != http.StatusOK:
		return Rig{}, Status{}, fmt.Errorf("probing %s: the rig answered %s", addr, resp.Status)
	}
	var st Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxStatusBytes)).Decode(&st); err != nil {
		return Rig{}, Status{}, fmt.Errorf("probing %s: unreadable status (is this an idlegrid agent?): %w", addr, err)
	}
	rig := Rig{
		Name:          st.Host,
		Addrs:         []string{host},
		Port:          port,
		DeviceID:      st.DeviceID,
		Version:       st.Version,
		TokenRequired: token != "",
	}
	if rig.Name == "" {
		rig.Name = host
	}
	return rig, st, nil
}

// statusURL turns what a user typed into the status URL, host and port.
func statusURL(addr string) (u, host string, port int, err error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", "", 0, errors.New("no rig address: type one like 192.168.1.20:9400")
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	p, err := url.Parse(addr)
	if err != nil || p.Scheme != "http" || p.Hostname() == "" {
		return "", "", 0, fmt.Errorf("rig address %q: type one like 192.168.1.20:9400", addr)
	}
	port = DefaultPort
	if ps := p.Port(); ps != "" {
		if port, err = strconv.Atoi(ps); err != nil || port < 1 || port > 65535 {
			return "", "", 0, fmt.Errorf("rig address %q: the port must be 1..65535", addr)
		}
	}
	host = p.Hostname()
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/status", host, port, nil
}
