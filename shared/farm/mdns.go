package farm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/mdns"
)

// ServiceType is what rigs announce on the LAN (DNS-SD, RFC 6763).
const ServiceType = "_idlegrid._tcp"

const mdnsDomain = "local."

// maxRigs bounds the rigs one Discover reports.
const maxRigs = 1024

// TXT record keys. txtvers lets a later build change the others.
const (
	txtVersion  = "txtvers"
	txtDevice   = "device_id"
	txtAgent    = "version"
	txtToken    = "token"
	tokenNeeded = "required"
	tokenNone   = "none"
)

// Service is what a rig announces.
type Service struct {
	Instance      string // the rig's name on the LAN; default the host name
	Port          int    // the status server's port
	DeviceID      string
	Version       string
	TokenRequired bool
	// Host is the mDNS host name; default the host name. IPs are the
	// addresses announced; default those of every interface that is up,
	// multicast-capable and not loopback.
	Host string
	IPs  []net.IP
}

// Announce answers mDNS queries for ServiceType with s until ctx ends. Only
// call it in LAN mode: it tells the whole LAN that a rig is here.
func Announce(ctx context.Context, s Service) error {
	zone, err := s.zone()
	if err != nil {
		return fmt.Errorf("announcing the rig on the LAN: %w", err)
	}
	srv, err := mdns.NewServer(&mdns.Config{Zone: zone, Logger: quietLogger()})
	if err != nil {
		return fmt.Errorf("announcing the rig on the LAN (multicast DNS): %w", err)
	}
	<-ctx.Done()
	return srv.Shutdown()
}

func (s Service) zone() (*mdns.MDNSService, error) {
	host, _ := os.Hostname()
	if s.Instance == "" {
		s.Instance = host
	}
	if s.Host == "" {
		s.Host = host
	}
	s.Instance = dnsLabel(s.Instance)
	s.Host = dnsLabel(s.Host)
	if s.Instance == "" || s.Host == "" {
		return nil, errors.New("the rig has no name to announce")
	}
	if s.Port < 1 || s.Port > 65535 {
		return nil, fmt.Errorf("port %d is not a TCP port", s.Port)
	}
	if len(s.IPs) == 0 {
		ips, err := lanIPs()
		if err != nil {
			return nil, err
		}
		s.IPs = ips
	}
	return mdns.NewMDNSService(s.Instance, ServiceType, mdnsDomain, s.Host+"."+mdnsDomain, s.Port, s.IPs, encodeTXT(s))
}

// dnsLabel makes s one DNS label: no dots (they would split it), at most 63
// bytes, no leading or trailing dash.
func dnsLabel(s string) string {
	s = strings.TrimSuffix(strings.TrimSpace(s), ".")
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[:i] // "rig-07.lan" announces as "rig-07"
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := b.String()
	if len(out) > 63 {
		out = out[:63]
	}
	return strings.Trim(out, "-")
}

// lanIPs lists the addresses other machines on the LAN can reach.
func lanIPs() ([]net.IP, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing network interfaces: %w", err)
	}
	var ips []net.IP
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 || ifc.Flags&net.FlagMulticast == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLinkLocalUnicast() {
				ips = append(ips, n.IP)
			}
		}
	}
	if len(ips) == 0 {
		return nil, errors.New("no network interface with an address to announce (is the machine on a LAN?)")
	}
	return ips, nil
}

func encodeTXT(s Service) []string {
	token := tokenNone
	if s.TokenRequired {
		token = tokenNeeded
	}
	return []string{
		txtVersion + "=1",
		txtDevice + "=" + s.DeviceID,
		txtAgent + "=" + s.Version,
		txtToken + "=" + token,
	}
}

// decodeTXT reads the TXT strings into a Rig's fields. Unknown keys are
// ignored, as DNS-SD asks.
func decodeTXT(txt []string, r *Rig) {
	for _, kv := range txt {
		k, v, _ := strings.Cut(kv, "=")
		switch strings.ToLower(k) {
		case txtDevice:
			r.DeviceID = v
		case txtAgent:
			r.Version = v
		case txtToken:
			r.TokenRequired = v != tokenNone
		}
	}
}

// rigFromEntry maps a browsed service entry to a Rig: the instance name
// without the service and domain, IPv4 first.
func rigFromEntry(e *mdns.ServiceEntry) Rig {
	r := Rig{Name: instanceName(e.Name), Port: e.Port}
	if e.AddrV4 != nil {
		r.Addrs = append(r.Addrs, e.AddrV4.String())
	}
	if e.AddrV6IPAddr != nil {
		r.Addrs = append(r.Addrs, e.AddrV6IPAddr.String())
	}
	decodeTXT(e.InfoFields, &r)
	return r
}

// instanceName takes "rig\ 07._idlegrid._tcp.local." to "rig 07".
func instanceName(fqdn string) string {
	name := strings.TrimSuffix(fqdn, "."+ServiceType+"."+mdnsDomain)
	if name == fqdn {
		name = strings.TrimSuffix(name, ".")
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '\\' || i+1 == len(name) {
			b.WriteByte(c)
			continue
		}
		// \DDD is a byte in decimal; \X is X.
		if i+3 < len(name) && isDigit(name[i+1]) && isDigit(name[i+2]) && isDigit(name[i+3]) {
			n := int(name[i+1]-'0')*100 + int(name[i+2]-'0')*10 + int(name[i+3]-'0')
			if n < 256 {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(name[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Discover browses the LAN for ServiceType for timeout (or until ctx's
// deadline, if sooner) and returns the rigs that answered, sorted by name.
// It finds nothing, and no error, on a network that drops multicast.
func Discover(ctx context.Context, timeout time.Duration) ([]Rig, error) {
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("browsing the LAN for rigs: %w", cmp.Or(ctx.Err(), context.DeadlineExceeded))
	}
	// The mdns client keeps writing to an entry after sending it (later
	// answers fill it in), so entries are read only once the query is over.
	// Its sends never block: the buffer must hold every rig of a farm.
	entries := make(chan *mdns.ServiceEntry, maxRigs)
	params := &mdns.QueryParam{
		Service: ServiceType,
		Domain:  mdnsDomain,
		Timeout: timeout,
		Entries: entries,
		Logger:  quietLogger(),
	}
	err := mdns.QueryContext(ctx, params)
	close(entries)
	if err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("browsing the LAN for rigs (multicast DNS): %w", err)
	}
	found := map[string]Rig{}
	for e := range entries {
		if r := rigFromEntry(e); r.Name != "" && r.Port != 0 {
			found[e.Name] = r
		}
	}
	rigs := make([]Rig, 0, len(found))
	for _, r := range found {
		rigs = append(rigs, r)
	}
	slices.SortFunc(rigs, func(a, b Rig) int { return strings.Compare(a.Name, b.Name) })
	return rigs, nil
}

// quietLogger drops the mdns package's log lines: it logs every packet it
// cannot parse and every address family it cannot bind, which is noise to
// a user.
func quietLogger() *log.Logger { return log.New(io.Discard, "", 0) }
