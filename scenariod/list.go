package scenariod

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mcchaos/mcchaos/internal/profile"
)

// List writes the catalogue as a table: name, set, fault, targets, the
// phase lengths (stabilization/testing/recovery) under each profile, and
// the description.
func List(w io.Writer, catalogue []Scenario) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var profs []profile.Profile
	head := []string{"NAME", "SET", "FAULT", "TARGET"}
	for _, n := range profile.Names() {
		p, err := profile.Get(n)
		if err != nil {
			return err
		}
		profs = append(profs, p)
		head = append(head, strings.ToUpper(n)+" (stab/test/rec)")
	}
	head = append(head, "DESCRIPTION")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, s := range catalogue {
		set := SetAll
		switch {
		case s.Source != "builtin":
			set = s.Source
		case s.Extended:
			set = SetExtended
		}
		var faults, targets []string
		for _, f := range s.Faults {
			faults = append(faults, f.String())
			targets = append(targets, strings.Join(f.Targets, "+"))
		}
		row := []string{s.Name, set, strings.Join(faults, "; "), strings.Join(targets, "; ")}
		for _, p := range profs {
			row = append(row, fmt.Sprintf("%s/%s/%s", short(p.Stabilization), short(p.FaultTime(time.Duration(s.FaultTime), s.Fixed)), short(p.Recovery)))
		}
		row = append(row, s.Description)
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// short prints a duration without zero units: 1m, 30s, 100ms.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
