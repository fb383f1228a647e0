package scenariod

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/plan"
	"github.com/mcchaos/mcchaos/internal/profile"
)

// FileError is a mistake in a scenario file, at a line.
type FileError struct {
	File string
	Line int
	Msg  string
}

func (e *FileError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// LoadFile reads scenarios from a YAML or JSON file (JSON is read as YAML,
// so line numbers hold for both):
//
//	scenarios:
//	  - name: slow-mc2
//	    description: +300 ms on mc2 for 20 s
//	    fault_time: 20s        # Go duration; nominal testing phase
//	    fixed: false           # true: no profile shortens fault_time
//	    expect: ride-through   # or detect; omitted: derived from the faults
//	    faults:
//	      - kind: latency      # see Kinds
//	        targets: [mc2]     # mc1, mc2, mc3
//	        params: {latency_ms: 300, jitter_ms: 0}
//
// Every mistake is reported as a *FileError ("file:line: message"); several
// are joined with errors.Join.
func LoadFile(path string) ([]Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario file: %w", err)
	}
	return ParseFile(path, b)
}

// ParseFile parses the contents b of the scenario file named path. See LoadFile.
func ParseFile(path string, b []byte) ([]Scenario, error) {
	p := &fileParser{file: path}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, p.yamlError(err)
	}
	if len(doc.Content) == 0 {
		return nil, &FileError{File: path, Line: 1, Msg: "empty file: want a mapping with a scenarios list"}
	}
	root := doc.Content[0]
	list := root
	if root.Kind == yaml.MappingNode {
		fields := p.mapping(root, "scenarios")
		if list = fields["scenarios"]; list == nil {
			p.errf(root, "missing scenarios list")
			return nil, p.err()
		}
	}
	if list.Kind != yaml.SequenceNode {
		p.errf(list, "scenarios: want a list")
		return nil, p.err()
	}
	var out []Scenario
	seen := map[string]int{}
	for _, n := range list.Content {
		s, ok := p.scenario(n)
		if !ok {
			continue
		}
		if line, dup := seen[s.Name]; dup {
			p.errf(n, "scenario %s defined twice (first at line %d)", s.Name, line)
			continue
		}
		seen[s.Name] = n.Line
		out = append(out, s)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, &FileError{File: path, Line: list.Line, Msg: "no scenarios"}
	}
	return out, nil
}

type fileParser struct {
	file string
	errs []error
}

func (p *fileParser) errf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &FileError{File: p.file, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

func (p *fileParser) err() error { return errors.Join(p.errs...) }

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError turns a YAML syntax error into FileErrors.
func (p *fileParser) yamlError(err error) error {
	msgs := []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var errs []error
	for _, m := range msgs {
		line := 1
		if g := yamlLine.FindStringSubmatch(m); g != nil {
			line, _ = strconv.Atoi(g[1])
			m = g[2]
		}
		errs = append(errs, &FileError{File: p.file, Line: line, Msg: m})
	}
	return errors.Join(errs...)
}

// mapping returns n's values by key, reporting unknown keys and non-mappings.
func (p *fileParser) mapping(n *yaml.Node, known ...string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		p.errf(n, "want a mapping with keys %s", strings.Join(known, ", "))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(known, k.Value) {
			p.errf(k, "unknown key %q (known: %s)", k.Value, strings.Join(known, ", "))
			continue
		}
		out[k.Value] = v
	}
	return out
}

func (p *fileParser) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errf(n, "%s: want a string", what)
		return "", false
	}
	return n.Value, true
}

func (p *fileParser) scenario(n *yaml.Node) (Scenario, bool) {
	before := len(p.errs)
	f := p.mapping(n, "name", "description", "fault_time", "fixed", "expect", "faults")
	s := Scenario{Source: fmt.Sprintf("%s:%d", p.file, n.Line)}
	if v := f["name"]; v == nil {
		p.errf(n, "scenario has no name")
	} else if s.Name, _ = p.str(v, "name"); s.Name == SetAll || s.Name == SetExtended || strings.ContainsAny(s.Name, ", \t") || s.Name == "" {
		p.errf(v, "scenario name %q: empty, reserved or contains a comma or space", s.Name)
	} else if slices.ContainsFunc(builtin, func(b Scenario) bool { return b.Name == s.Name }) {
		p.errf(v, "scenario name %q is a built-in scenario; pick another name", s.Name)
	}
	if v := f["description"]; v != nil {
		s.Description, _ = p.str(v, "description")
	}
	if v := f["fault_time"]; v == nil {
		p.errf(n, "scenario %s: missing fault_time (a duration such as 30s)", s.Name)
	} else if d, err := time.ParseDuration(v.Value); err != nil || v.Kind != yaml.ScalarNode {
		p.errf(v, "fault_time %q: want a duration such as 30s or 1m", v.Value)
	} else if d <= 0 {
		p.errf(v, "fault_time %s: must be positive", v.Value)
	} else {
		s.FaultTime = profile.Duration(d)
	}
	if v := f["fixed"]; v != nil {
		if err := v.Decode(&s.Fixed); err != nil {
			p.errf(v, "fixed: want true or false")
		}
	}
	if v := f["expect"]; v != nil {
		if e, ok := p.str(v, "expect"); ok {
			if err := plan.CheckExpect(e); err != nil {
				p.errf(v, "%v", err)
			}
			s.Expect = e
		}
	}
	if v := f["faults"]; v == nil || v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
		p.errf(n, "scenario %s: want a non-empty faults list", s.Name)
	} else {
		for _, fn := range v.Content {
			s.Faults = append(s.Faults, p.fault(fn))
		}
	}
	if len(p.errs) > before {
		return s, false
	}
	if err := s.Validate(); err != nil { // whatever the field checks missed
		p.errf(n, "%v", err)
		return s, false
	}
	return s, true
}

func (p *fileParser) fault(n *yaml.Node) fault.Fault {
	f := p.mapping(n, "kind", "targets", "params")
	var flt fault.Fault
	if v := f["kind"]; v == nil {
		p.errf(n, "fault has no kind (known: %s)", fault.KindNames())
		return flt
	} else if k, ok := p.str(v, "kind"); ok {
		flt.Kind = fault.Kind(k)
		if _, err := fault.New(flt.Kind); err != nil {
			p.errf(v, "%v", err)
			return flt
		}
	}
	if v := f["targets"]; v == nil || v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
		p.errf(n, "fault %s: want a non-empty targets list (%s)", flt.Kind, strings.Join(Servers, ", "))
	} else {
		for _, t := range v.Content {
			if name, ok := p.str(t, "target"); ok {
				if err := fault.CheckTarget(flt.Kind, name); err != nil {
					p.errf(t, "%v", err)
				}
				flt.Targets = append(flt.Targets, name)
			}
		}
	}
	// Each parameter is checked at its own line; then the kind's
	// parameters are built from the good ones (a missing one is reported
	// at the fault).
	params := map[string]float64{}
	scratch, _ := fault.New(flt.Kind)
	if v := f["params"]; v != nil {
		if v.Kind != yaml.MappingNode {
			p.errf(v, "params: want a mapping such as {latency_ms: 200}")
		}
		for i := 0; v.Kind == yaml.MappingNode && i+1 < len(v.Content); i += 2 {
			k, val := v.Content[i], v.Content[i+1]
			x, err := strconv.ParseFloat(val.Value, 64)
			if err != nil || val.Kind != yaml.ScalarNode {
				p.errf(val, "%s: want a number, got %q", k.Value, val.Value)
				continue
			}
			if err := fault.Set(scratch, k.Value, x); err != nil {
				p.errf(k, "%v", err)
				continue
			}
			params[k.Value] = x
		}
	}
	var err error
	if flt.Params, err = fault.FromMap(flt.Kind, params); err != nil {
		p.errf(n, "%v", err)
	}
	return flt
}

// Catalogue returns the built-in scenarios followed by those of the files,
// and the names the files added. A name defined twice is an error naming
// both places.
func Catalogue(files ...string) (all []Scenario, fromFiles []string, err error) {
	all = Builtin()
	for _, f := range files {
		more, err := LoadFile(f)
		if err != nil {
			return nil, nil, err
		}
		for _, s := range more {
			for _, c := range all {
				if c.Name == s.Name {
					return nil, nil, fmt.Errorf("%s: scenario %s already defined at %s", s.Source, s.Name, c.Source)
				}
			}
			all = append(all, s)
			fromFiles = append(fromFiles, s.Name)
		}
	}
	return all, fromFiles, nil
}
