// Package farm lets a small farm watch all its rigs from one place with the
// tools it already uses. Each rig's agent serves, read-only, GET /metrics in
// the Prometheus text format (GPU metrics under the NVIDIA DCGM exporter's
// names, labels and units, so dashboards built for DCGM chart the rigs
// unchanged) and GET /status as JSON for the desktop's Farm view. Rigs can
// announce themselves over mDNS on the LAN; the Farm view discovers them, or
// probes addresses typed by hand, and an Alerter turns the polled statuses
// into alerts that raise and clear with hysteresis, so a brief spike raises
// none and an alert does not flap.
//
// The server listens on loopback by default. Anywhere else it needs a
// token, which Prometheus sends as a bearer token:
//
//	scrape_configs:
//	  - job_name: idlegrid
//	    authorization:
//	      credentials: <the rigs' --farm-token>
//	    static_configs:
//	      - targets: ['rig-01:9400', 'rig-02:9400']
//
// The package reads the agent through a Snapshot func and never drives it:
// nothing served here can change a rig.
package farm
