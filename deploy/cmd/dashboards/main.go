// Command dashboards writes the Grafana dashboard built in Go by
// deploy.Dashboard to deploy/grafana/dashboards/, where Grafana's file
// provisioning and collect's snapshots read it. Run it after changing a
// panel (`go generate ./deploy`); deploy's TestDashboardGenerated fails
// while the committed JSON differs.
//
//	go run ./deploy/cmd/dashboards [-o file]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mcchaos/mcchaos/deploy"
)

func main() {
	err := run(os.Stdout, os.Stderr, os.Args[1:])
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "dashboards:", err)
		os.Exit(2)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "dashboards:", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

func run(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("dashboards", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", deploy.DashboardPath(), "the file to write")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q (usage: dashboards [-o file])", fs.Arg(0))}
	}
	b, err := deploy.DashboardJSON()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		return fmt.Errorf("write dashboard: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}
