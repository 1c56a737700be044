// Package shared is the root of the code used by both sides: the agent
// (desktop app and headless) and the control plane. Nothing under it may
// import desktop/ or controlplane/; walls_test.go enforces that.
package shared
