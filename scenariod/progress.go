package scenariod

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress shows a run's progress for a person: scenario i/N, its name and
// phase, the time elapsed and the planned time left for the whole run. On a
// terminal it is a progress bar redrawn every half second; elsewhere (a log,
// a CI job) one line per phase. Feed it Events (Config.OnEvent = p.Event);
// it is also an io.Writer for warning lines (Config.Log), which it prints
// without tearing the bar. It is safe for concurrent use.
type Progress struct {
	mu      sync.Mutex
	w       io.Writer
	bar     *progressbar.ProgressBar // nil when w is not a terminal
	start   time.Time
	planned time.Duration
	last    Event     // last phase start
	phStart time.Time // its time
	stop    chan struct{}
	done    sync.WaitGroup
	closed  sync.Once
}

// NewProgress returns a Progress writing to w for a run planned to last
// planned. Call Close at the end.
func NewProgress(w io.Writer, planned time.Duration) *Progress {
	p := &Progress{w: w, start: time.Now(), planned: planned, stop: make(chan struct{})}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(planned.Milliseconds(),
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetElapsedTime(false),
			progressbar.OptionSetWidth(20),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionThrottle(200*time.Millisecond),
		)
		p.done.Go(p.tick)
	}
	return p
}

func (p *Progress) tick() {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.redraw()
			p.mu.Unlock()
		}
	}
}

// status returns the line describing now. WARNING: caller holds p.mu.
func (p *Progress) status() (string, time.Duration) {
	now := time.Now()
	if p.last.Scenario == "" {
		return "starting", p.planned
	}
	inPhase := now.Sub(p.phStart)
	left := p.last.Left - min(inPhase, p.last.Planned)
	return fmt.Sprintf("[%d/%d] %s: %s %s/%s · elapsed %s · about %s left",
		p.last.Index, p.last.Total, p.last.Scenario, p.last.Phase,
		round(inPhase), round(p.last.Planned), round(now.Sub(p.start)), round(left)), left
}

// redraw updates the bar. WARNING: caller holds p.mu.
func (p *Progress) redraw() {
	if p.bar == nil {
		return
	}
	s, left := p.status()
	p.bar.Describe(s)
	p.bar.Set64((p.planned - left).Milliseconds())
}

func round(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// Event takes a runner event.
func (p *Progress) Event(e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Kind {
	case EventPhaseStart:
		p.last, p.phStart = e, e.Time
		if p.bar == nil {
			s, _ := p.status()
			fmt.Fprintf(p.w, "scenariod: %s\n", s)
		}
		p.redraw()
	case EventScenarioEnd:
		if p.bar == nil || e.Status != manifest.StatusPassed {
			p.line(fmt.Sprintf("scenariod: [%d/%d] %s: %s", e.Index, e.Total, e.Scenario, e.Status))
		}
	}
}

// line prints s on its own line, clearing and redrawing the bar around it.
// WARNING: caller holds p.mu.
func (p *Progress) line(s string) {
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintln(p.w, s)
	p.redraw()
}

// Write prints b (one or more log lines) without tearing the bar.
func (p *Progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	n, err := p.w.Write(b)
	p.redraw()
	return n, err
}

// Close stops the bar and prints the total time. Later calls do nothing.
func (p *Progress) Close() { p.closed.Do(p.close) }

func (p *Progress) close() {
	close(p.stop)
	p.done.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("[%d/%d] done", p.last.Index, p.last.Total))
		p.bar.Finish()
		fmt.Fprintln(p.w)
	}
	if p.last.Scenario != "" {
		fmt.Fprintf(p.w, "scenariod: done in %s\n", round(time.Since(p.start)))
	}
}
