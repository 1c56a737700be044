package proto

import (
	"bytes"
	"slices"
	"strconv"

	"github.com/idlegrid/idlegrid/shared/hw"
)

// decodeHeartbeatFast reads a heartbeat body written the way agents write
// it (encoding/json's output: no spaces, lower-case keys never repeated,
// strings of printable ASCII without escapes, no nulls) without
// reflection: heartbeats are most of what a control plane reads, and
// encoding/json was a fifth of its CPU at 20,000 agents. Anything else
// returns ok false and is left to encoding/json, which then decides.
// FuzzDecode checks that what this accepts decodes to the same value
// through encoding/json.
func decodeHeartbeatFast(b []byte) (*Heartbeat, bool) {
	s := scanner{b: b}
	hb := &Heartbeat{}
	ok := s.object(func(key string) bool {
		switch key {
		case "seq":
			return s.uint(&hb.Seq, 64)
		case "sent_at":
			start := s.i
			if _, ok := s.str(); !ok {
				return false
			}
			return hb.SentAt.UnmarshalJSON(b[start:s.i]) == nil
		case "state":
			return s.strTo(&hb.State)
		case "pause_reason":
			return s.strTo(&hb.PauseReason)
		case "gpus":
			if s.null() { // an agent without GPUs
				return true
			}
			hb.GPUs = []hw.GPUSample{}
			return s.array(func() bool {
				var g hw.GPUSample
				if !s.gpu(&g) {
					return false
				}
				hb.GPUs = append(hb.GPUs, g)
				return true
			})
		case "host":
			return s.host(&hb.Host)
		}
		return false
	})
	if !ok || s.i != len(b) {
		return nil, false
	}
	return hb, true
}

// scanner reads the narrow JSON decodeHeartbeatFast takes.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) next(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object reads {"key":value,…}, handing each key to field, which reads the
// value; a repeated key is refused (encoding/json would keep the last).
func (s *scanner) object(field func(key string) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	var seen []string // a dozen keys at most: cheaper than a map
	for {
		key, ok := s.str()
		if !ok || slices.Contains(seen, key) || !s.next(':') || !field(key) {
			return false
		}
		seen = append(seen, key)
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// null reads a JSON null.
func (s *scanner) null() bool {
	if bytes.HasPrefix(s.b[s.i:], []byte("null")) {
		s.i += 4
		return true
	}
	return false
}

// array reads [value,…], each value by elem.
func (s *scanner) array(elem func() bool) bool {
	if !s.next('[') {
		return false
	}
	if s.next(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if s.next(']') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// str reads a string of printable ASCII without escapes.
func (s *scanner) str() (string, bool) {
	if !s.next('"') {
		return "", false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			v := string(s.b[start:s.i])
			s.i++
			return v, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return "", false
		}
	}
	return "", false
}

func (s *scanner) strTo(v *string) bool {
	str, ok := s.str()
	*v = str
	return ok
}

// digits reads an optional minus (when signed) and an integer without
// leading zeros, as JSON writes one, and returns its text.
func (s *scanner) digits(signed bool) (string, bool) {
	start := s.i
	if signed {
		s.next('-')
	}
	first := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	n := s.i - first
	if n == 0 || (n > 1 && s.b[first] == '0') {
		return "", false
	}
	return string(s.b[start:s.i]), true
}

func (s *scanner) uint(v *uint64, bits int) bool {
	d, ok := s.digits(false)
	if !ok {
		return false
	}
	n, err := strconv.ParseUint(d, 10, bits)
	*v = n
	return err == nil
}

func (s *scanner) int(v *int) bool {
	d, ok := s.digits(true)
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(d, 10, strconv.IntSize)
	*v = int(n)
	return err == nil
}

func (s *scanner) uint32(v *uint32) bool {
	var n uint64
	ok := s.uint(&n, 32)
	*v = uint32(n)
	return ok
}

// float reads a JSON number: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
func (s *scanner) float(v *float64) bool {
	start := s.i
	if _, ok := s.digits(true); !ok {
		return false
	}
	if s.next('.') {
		if !s.someDigits() {
			return false
		}
	}
	if s.next('e') || s.next('E') {
		if !s.next('+') {
			s.next('-')
		}
		if !s.someDigits() {
			return false
		}
	}
	f, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
	*v = f
	return err == nil
}

func (s *scanner) someDigits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

func (s *scanner) gpu(g *hw.GPUSample) bool {
	return s.object(func(key string) bool {
		switch key {
		case "index":
			return s.int(&g.Index)
		case "uuid":
			return s.strTo(&g.UUID)
		case "name":
			return s.strTo(&g.Name)
		case "memory_total":
			return s.uint(&g.MemoryTotal, 64)
		case "memory_used":
			return s.uint(&g.MemoryUsed, 64)
		case "temp_c":
			return s.int(&g.TempC)
		case "power_mw":
			return s.uint32(&g.PowerMW)
		case "power_limit_mw":
			return s.uint32(&g.PowerLimitMW)
		case "util_pct":
			return s.int(&g.UtilPct)
		case "fan_pct":
			return s.int(&g.FanPct)
		case "sm_clock_mhz":
			return s.int(&g.SMClockMHz)
		case "missing":
			g.Missing = []string{}
			return s.array(func() bool {
				m, ok := s.str()
				g.Missing = append(g.Missing, m)
				return ok
			})
		}
		return false
	})
}

func (s *scanner) host(h *hw.HostSample) bool {
	return s.object(func(key string) bool {
		switch key {
		case "cpu_pct":
			return s.float(&h.CPUPct)
		case "mem_total":
			return s.uint(&h.MemTotal, 64)
		case "mem_used":
			return s.uint(&h.MemUsed, 64)
		case "disk_total":
			return s.uint(&h.DiskTotal, 64)
		case "disk_used":
			return s.uint(&h.DiskUsed, 64)
		case "net_rx":
			return s.uint(&h.NetRx, 64)
		case "net_tx":
			return s.uint(&h.NetTx, 64)
		case "uptime_s":
			return s.uint(&h.UptimeS, 64)
		}
		return false
	})
}
