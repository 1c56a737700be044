// Package runtime runs this device's part of clusters: the agent starts and
// stops nodes on the control plane's word and reports their states. Each
// runtime sits behind the Runtime interface so that a container runtime can
// join Ray later.
//
// # Ray
//
// Ray runs one `ray start --block` per cluster, in its own process group and
// temp dir, with its output in ray.log in that dir. Several nodes (of
// different devices) may share one host, as they do in tests, so a node
// never uses one of Ray's fixed default ports: it picks its GCS, dashboard,
// client server and dashboard agent ports itself, and the head's two
// metrics servers through DASHBOARD_METRIC_PORT and AUTOSCALER_METRIC_PORT.
// Every other port is 0, which Ray 2.60 passes on to processes that bind
// port 0 and report the port they got, so they cannot collide. That includes
// workers: `ray start` documents "If not set, random ports will be chosen"
// for --min-worker-port, but its defaults are 10002–19999, a range shared
// by every node on the host; 0/0 gives each worker an ephemeral port.
//
// Every node declares two custom resources (Ray accepts ':' and spaces in
// resource names, but its raylet gets them as a comma-separated list and
// the dashboard's node summary rewrites them in camel case, so names are
// kept to letters, digits, '.', '-' and '_'):
//
//   - idlegrid_gpu:<model>, quantity = the node's GPUs, so a requester can
//     target a model: @ray.remote(num_gpus=1, resources={"idlegrid_gpu:NVIDIA_GeForce_RTX_4090": 1})
//     (GPUResource gives the name; characters outside the set become '_').
//   - idlegrid_node:<node name>, quantity 1, by which the head tells which
//     devices have joined (NodeResource).
//
// A head is running once its dashboard answers GET /api/version and the
// state API (GET /api/v0/nodes) lists the head alive, which also gives the
// IP Ray advertises: Ray replaces a node IP of 127.0.0.1 with the host's
// outbound address. It then lists the alive nodes every NodesInterval and
// reports their names. A worker is running once its own dashboard agent
// answers GET /api/local_raylet_healthz with "success", which the agent
// says only after the head's GCS counts this node's raylet alive (or while
// the GCS cannot be reached at all, so as not to raise false alarms). Both
// checks go on while the node runs: `ray start --block` ends when a process
// of its node dies, except one that exits on SIGTERM, which it takes for a
// graceful exit (that is what `ray stop` on the host sends), so a node that
// fails its checks for UnhealthyAfter is given up and killed.
//
// Stop sends SIGTERM to `ray start` alone, which drains the node and stops
// its processes in order (about 3 s); SIGTERM to the whole group makes the
// raylet wait up to 30 s for a GCS that is already gone. After a grace the
// group gets SIGKILL. Ray starts its workers in process groups of their
// own and job drivers in sessions of their own, so on Linux a node's
// processes are found afterwards by a marker in their environment
// (IDLEGRID_RAY_NODE) or the node's dir in their command line, and killed.
//
// Multi-node Ray runs on Linux only: Ray itself disables clusters on
// Windows and macOS, and Detect says so there.
package runtime
