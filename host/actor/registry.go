package actor

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stark-rt/stark/host/clock"
	"github.com/stark-rt/stark/host/mem"
	"github.com/stark-rt/stark/host/sched"
)

// names maps registered names to actors. A name is released when its actor
// terminates; a name held by a dead ref is free to claim.
type names struct {
	mu sync.RWMutex
	m  map[string]Ref
}

func (n *names) claim(s *System, name string, c *cell) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if old, ok := n.m[name]; ok && old != c.ref && s.table.lookup(old) != nil {
		return fmt.Errorf("%w: %q", ErrNameTaken, name)
	}
	n.m[name] = c.ref
	return nil
}

func (n *names) release(name string, ref Ref) {
	n.mu.Lock()
	if n.m[name] == ref {
		delete(n.m, name)
	}
	n.mu.Unlock()
}

// Register names a live actor. An actor has at most one name.
func (s *System) Register(name string, ref Ref) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalid)
	}
	c := s.table.lookup(ref)
	if c == nil || c == s.root {
		return fmt.Errorf("%w: %v", ErrStaleRef, ref)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateStopped {
		return ErrStopped
	}
	if c.ext != nil && c.ext.name != "" {
		return fmt.Errorf("%w: %v is already named %q", ErrInvalid, ref, c.ext.name)
	}
	if err := s.names.claim(s, name, c); err != nil {
		return err
	}
	c.extLocked().name = name
	return nil
}

// Unregister removes a name.
func (s *System) Unregister(name string) {
	s.names.mu.Lock()
	ref, ok := s.names.m[name]
	delete(s.names.m, name)
	s.names.mu.Unlock()
	if !ok {
		return
	}
	if c := s.table.lookup(ref); c != nil {
		c.mu.Lock()
		if c.ext != nil && c.ext.name == name {
			c.ext.name = ""
		}
		c.mu.Unlock()
	}
}

// Lookup returns the live actor registered under name, or ErrNotFound.
func (s *System) Lookup(name string) (Ref, error) {
	s.names.mu.RLock()
	ref, ok := s.names.m[name]
	s.names.mu.RUnlock()
	if !ok || s.table.lookup(ref) == nil {
		return 0, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return ref, nil
}

// topics is the pub/sub registry. Subscriber lists are copy-on-write, so
// Publish reads them without a lock.
type topics struct {
	mu sync.Mutex
	m  map[string]*topic
}

type topic struct {
	subs atomic.Pointer[[]Ref]
}

// Subscribe adds ref to topic. Subscribing twice is a no-op. Subscribers
// that terminate are dropped at the next Publish.
func (s *System) Subscribe(name string, ref Ref) error {
	if s.table.lookup(ref) == nil {
		return fmt.Errorf("%w: %v", ErrStaleRef, ref)
	}
	s.topics.mu.Lock()
	defer s.topics.mu.Unlock()
	t := s.topics.m[name]
	if t == nil {
		t = &topic{}
		s.topics.m[name] = t
	}
	var cur []Ref
	if p := t.subs.Load(); p != nil {
		cur = *p
	}
	for _, r := range cur {
		if r == ref {
			return nil
		}
	}
	next := append(append(make([]Ref, 0, len(cur)+1), cur...), ref)
	t.subs.Store(&next)
	return nil
}

// Unsubscribe removes ref from topic.
func (s *System) Unsubscribe(name string, ref Ref) {
	s.topics.mu.Lock()
	defer s.topics.mu.Unlock()
	s.removeSubsLocked(name, func(r Ref) bool { return r == ref })
}

func (s *System) removeSubsLocked(name string, drop func(Ref) bool) {
	t := s.topics.m[name]
	if t == nil {
		return
	}
	p := t.subs.Load()
	if p == nil {
		return
	}
	next := make([]Ref, 0, len(*p))
	for _, r := range *p {
		if !drop(r) {
			next = append(next, r)
		}
	}
	if len(next) == 0 {
		delete(s.topics.m, name)
		return
	}
	t.subs.Store(&next)
}

// Publish sends a message to every subscriber of topic and returns how many
// accepted it. Payloads are shared by all subscribers, so a *mem.Buffer is
// refused (ErrInvalid): publish bytes or an immutable value instead.
func (s *System) Publish(name string, tag uint32, payload any) (int, error) {
	return s.publish(nil, 0, name, tag, payload)
}

func (s *System) publish(w *sched.Worker, from Ref, name string, tag uint32, payload any) (int, error) {
	if _, ok := payload.(*mem.Buffer); ok {
		return 0, fmt.Errorf("%w: cannot publish a pooled buffer to many subscribers", ErrInvalid)
	}
	s.topics.mu.Lock()
	t := s.topics.m[name]
	s.topics.mu.Unlock()
	if t == nil {
		return 0, nil
	}
	p := t.subs.Load()
	if p == nil {
		return 0, nil
	}
	n, stale := 0, false
	for _, r := range *p {
		if s.table.lookup(r) == nil {
			stale = true
			continue
		}
		env := Envelope{Target: r, Sender: from, Tag: tag}
		env.setPayload(payload)
		if s.deliver(w, &env, false) == nil {
			n++
		}
	}
	if stale {
		s.topics.mu.Lock()
		s.removeSubsLocked(name, func(r Ref) bool { return s.table.lookup(r) == nil })
		s.topics.mu.Unlock()
	}
	return n, nil
}

// Timer is a pending SendAfter or SendEvery.
type Timer struct {
	mu        sync.Mutex
	t         clock.Timer
	cancelled bool
}

// Cancel stops the timer; it reports whether a delivery was still pending.
func (t *Timer) Cancel() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cancelled {
		return false
	}
	t.cancelled = true
	return t.t.Stop()
}

// SendAfter delivers a message to to after d (as measured by the system's clock).
func (s *System) SendAfter(d time.Duration, to Ref, tag uint32, payload any) *Timer {
	return s.sendAfter(d, 0, to, tag, payload)
}

func (s *System) sendAfter(d time.Duration, from, to Ref, tag uint32, payload any) *Timer {
	t := &Timer{}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.t = s.clock.AfterFunc(d, func() {
		env := Envelope{Target: to, Sender: from, Tag: tag}
		env.setPayload(payload)
		_ = s.deliver(nil, &env, false)
	})
	return t
}

// SendEvery delivers a message to to every d until cancelled or until a
// delivery finds the target gone. Pooled buffers are refused (ErrInvalid).
func (s *System) SendEvery(d time.Duration, to Ref, tag uint32, payload any) (*Timer, error) {
	return s.sendEvery(d, 0, to, tag, payload)
}

func (s *System) sendEvery(d time.Duration, from, to Ref, tag uint32, payload any) (*Timer, error) {
	if d <= 0 {
		return nil, fmt.Errorf("%w: period %v", ErrInvalid, d)
	}
	if _, ok := payload.(*mem.Buffer); ok {
		return nil, fmt.Errorf("%w: a periodic message cannot carry a pooled buffer", ErrInvalid)
	}
	t := &Timer{}
	var fire func()
	fire = func() {
		t.mu.Lock()
		if t.cancelled {
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		env := Envelope{Target: to, Sender: from, Tag: tag}
		env.setPayload(payload)
		if err := s.deliver(nil, &env, false); err != nil && s.table.lookup(to) == nil {
			t.Cancel()
			return
		}
		t.mu.Lock()
		if !t.cancelled {
			t.t = s.clock.AfterFunc(d, fire)
		}
		t.mu.Unlock()
	}
	t.mu.Lock()
	t.t = s.clock.AfterFunc(d, fire)
	t.mu.Unlock()
	return t, nil
}
