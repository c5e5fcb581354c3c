package api

import (
	"context"
	"errors"
	"sync"
	"time"

	"berth/driver"
)

// ReconcileReport says what one reconcile pass did.
type ReconcileReport struct {
	Running int      // running containers looked at
	Culled  []string // IDs of the idle containers stopped
	Failed  int      // stops that failed (logged)
}

// Reconcile runs one pass of Berth's housekeeping as of now: it culls idle
// containers and, where Berth keeps services itself, brings their replicas
// back to their definitions. The local binary runs it on a ticker, Lambda
// on a schedule; it is safe to run in several processes at once.
func (a *API) Reconcile(ctx context.Context, now time.Time) (ReconcileReport, error) {
	report, err := a.cull(ctx, now)
	if c, ok := a.driver.(driver.ServiceConverger); ok {
		err = errors.Join(err, c.ConvergeServices(ctx))
	}
	return report, err
}

// cull stops running containers whose last activity (or start) is older
// than their idle timeout.
func (a *API) cull(ctx context.Context, now time.Time) (ReconcileReport, error) {
	running, err := a.driver.List(ctx, driver.Filter{State: driver.StateRunning})
	if err != nil {
		return ReconcileReport{}, err
	}
	report := ReconcileReport{Running: len(running)}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		slots = make(chan struct{}, 4) // a few stops at once, so one slow container holds up nothing
	)
	for _, c := range running {
		last := c.LastActivity
		if last.Before(c.CreatedAt) {
			last = c.CreatedAt
		}
		idle := a.idleTimeout(c)
		if now.Sub(last) <= idle {
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			err := a.driver.Stop(ctx, c.ID, a.cfg.StopTimeout)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				report.Failed++
				a.log.Error("cull idle container", "id", c.ID, "name", c.Name, "err", err)
				return
			}
			report.Culled = append(report.Culled, c.ID)
			a.log.Info("culled idle container", "id", c.ID, "name", c.Name, "owner", c.Owner, "idle_since", last, "idle_timeout", idle)
		})
	}
	wg.Wait()
	return report, nil
}
