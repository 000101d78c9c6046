package supervise

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/stark-rt/stark/host/actor"
)

// Policy is a one-for-one actor.Supervisor for plain actors that spawn
// children without a supervisor spec (and for the root guardian): each
// failed child is restarted after its backoff, with its own restart
// intensity; a child that exceeds it is stopped and the failure escalates
// to the parent (at the root it is recorded in the system's stats).
//
// One Policy value may serve many parents at once: its state is kept per
// child and dropped when the child terminates.
type Policy struct {
	MaxRestarts int           // per child within Period; default 10, < 0 for 0
	Period      time.Duration // default 1s
	Backoff     Backoff

	mu   sync.Mutex
	kids map[actor.Ref]*policyChild
	rng  *rand.Rand
}

type policyChild struct {
	intensity *Intensity
	attempts  int
	last      time.Time
}

// NewPolicy returns a Policy with the given limits.
func NewPolicy(maxRestarts int, period time.Duration, b Backoff) *Policy {
	return &Policy{MaxRestarts: maxRestarts, Period: period, Backoff: b}
}

func (p *Policy) limits() (int, time.Duration) {
	n, d := p.MaxRestarts, p.Period
	if n == 0 {
		n = 10
	} else if n < 0 {
		n = 0
	}
	if d <= 0 {
		d = time.Second
	}
	return n, d
}

// ChildFailed restarts child after its backoff, or stops it and escalates
// once it failed too often.
func (p *Policy) ChildFailed(ctx *actor.Context, child actor.Ref, reason error) {
	maxRestarts, period := p.limits()
	now := ctx.Now()
	p.mu.Lock()
	if p.kids == nil {
		p.kids = make(map[actor.Ref]*policyChild)
		seed := ctx.System().Seed()
		p.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	}
	k := p.kids[child]
	if k == nil {
		k = &policyChild{intensity: NewIntensity(maxRestarts, period)}
		p.kids[child] = k
	}
	exceeded := k.intensity.Record(now)
	if !exceeded {
		if k.last.IsZero() || now.Sub(k.last) > period {
			k.attempts = 0
		}
		k.attempts++
		k.last = now
	}
	delay := p.Backoff.Delay(k.attempts, p.rng)
	p.mu.Unlock()

	if exceeded {
		_ = ctx.StopChild(child)
		ctx.Escalate(fmt.Errorf("%w: child %v failed more than %d times in %v: %w", ErrIntensity, child, maxRestarts, period, reason))
		return
	}
	_ = ctx.RestartChild(child, delay)
}

// ChildTerminated forgets the child's restart history.
func (p *Policy) ChildTerminated(_ *actor.Context, child actor.Ref, _ error) {
	p.mu.Lock()
	delete(p.kids, child)
	p.mu.Unlock()
}
