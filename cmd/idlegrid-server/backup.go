package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/idlegrid/idlegrid/controlplane/store"
)

// runBackup takes a consistent copy of the database while the server runs:
//
//	idlegrid-server backup --data ./data --to /backups/idlegrid-2026-11-22.db
func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("idlegrid-server backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr("IDLEGRID_DATA", "./data"), "the server's data directory")
	to := fs.String("to", "", "file to write the copy to (must not exist)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *to == "" {
		fmt.Fprintln(stderr, "idlegrid-server backup: say where the copy goes with --to FILE")
		return 2
	}
	if _, err := os.Stat(filepath.Join(*data, store.FileName)); err != nil {
		fmt.Fprintf(stderr, "idlegrid-server backup: no database in %s (%v): point --data at the server's data directory\n", *data, err)
		return 1
	}
	st, err := store.Open(ctx, *data)
	if err != nil {
		fmt.Fprintf(stderr, "idlegrid-server backup: %v\n", err)
		return 1
	}
	defer st.Close()
	v, err := st.Backup(ctx, *to)
	if err != nil {
		fmt.Fprintf(stderr, "idlegrid-server backup: %v\n", err)
		return 1
	}
	info, _ := os.Stat(*to)
	fmt.Fprintf(stdout, "Backed up %s to %s (%d bytes, schema %d, integrity ok).\n", st.Path(), *to, info.Size(), v)
	return 0
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
