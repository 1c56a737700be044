package runtime

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
)

// Ports a node picks come from [portLow, portHigh): below the ephemeral
// range the kernel hands out for port 0 and outgoing connections
// (32768–60999 on Linux, 49152–65535 on Windows and macOS), so that Ray's
// own port-0 binds and connections cannot take one in the moment between
// the check here and Ray's bind; and above 10002–19999, the worker ports of
// any Ray node on the host started with the defaults.
const (
	portLow  = 20000
	portHigh = 32000
)

// freePorts picks n distinct ports, none in skip, that nothing listens on.
// Each is checked by listening on it on every address; all n listeners are
// held until the last is found.
func freePorts(n int, skip map[int]bool) ([]int, error) {
	var (
		ports []int
		held  []net.Listener
	)
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for try := 0; len(ports) < n && try < 200; try++ {
		p := portLow + rand.IntN(portHigh-portLow)
		if skip[p] {
			continue
		}
		l, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			continue // taken; held ones fail here too
		}
		held = append(held, l)
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, errors.New("no free ports left between 20000 and 32000")
	}
	return ports, nil
}
