// Package promwait waits until Prometheus has scraped the targets of a
// job: the one scrape wait of bench, the stack and scenariod.
package promwait

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// ErrNotScraped is wrapped when the wait runs out.
var ErrNotScraped = errors.New("prometheus has not scraped every target")

// Want is a job and the number of its targets that must be up (at least 1).
type Want struct {
	Job     string
	Targets int
}

// Wait polls Prometheus at url until every job has at least its number of
// targets with up == 1, or ctx ends.
func Wait(ctx context.Context, url string, wants ...Want) error {
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotScraped, err)
	}
	papi := v1.NewAPI(c)
	var short []string
	var last error
	for {
		short, last = short[:0], nil
		for _, w := range wants {
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			v, _, _, err := papi.Query(qctx, fmt.Sprintf("count(up{job=%q} == 1)", w.Job), time.Now())
			cancel()
			have := 0
			if err != nil {
				last = err
			} else if vec, ok := v.(model.Vector); ok && len(vec) > 0 {
				have = int(vec[0].Value)
			}
			if have < max(w.Targets, 1) {
				short = append(short, fmt.Sprintf("%s (%d of %d up)", w.Job, have, max(w.Targets, 1)))
			}
		}
		if len(short) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			why := ""
			if last != nil {
				why = fmt.Sprintf(" (last error: %v)", last)
			}
			return fmt.Errorf("%w: %s at %s%s; check that Prometheus scrapes them", ErrNotScraped, strings.Join(short, ", "), url, why)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
