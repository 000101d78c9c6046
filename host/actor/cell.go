package actor

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stark-rt/stark/host/clock"
	"github.com/stark-rt/stark/host/sched"
)

// cellState is where a cell is in its life. Only the cell's own turn
// changes it, always under c.mu, so senders read it under the same lock.
type cellState uint8

const (
	stateRunning   cellState = iota // handling messages
	stateSuspended                  // failed (or restarting): queueing, not handling
	stateDraining                   // graceful stop: handling what is queued, refusing new messages
	stateStopping                   // waiting for children to terminate
	stateStopped                    // terminal
)

type sysKind uint8

const (
	sysStart sysKind = iota
	sysStop
	sysKill
	sysRestart
	sysSuspend
	sysResume
	sysChildFailed
	sysChildTerminated
	sysChildStarted
	sysFail
)

// sysMsg travels in the system lane, which is always handled before user
// messages and is never limited by the mailbox capacity.
type sysMsg struct {
	kind  sysKind
	gen   uint32 // restart: the incarnation to replace; child failed: the one that failed
	child *cell
	err   error
}

// cell is one actor: its mailbox, its current instance, its place in the
// supervision tree. It is the sched.Task the scheduler runs.
type cell struct {
	sys      *System
	ref      Ref
	parent   *cell
	producer Producer
	actor    Actor // owned by the cell's turn
	ctx      Context

	mu        sync.Mutex
	state     cellState
	scheduled bool // queued in the scheduler or running
	overflow  Overflow
	capacity  int32
	size      int32                    // user messages accepted and not yet finished, under mu
	inbox     []Envelope               // the segment senders append to
	segs      atomic.Pointer[segments] // set under mu; only for mailboxes that ever held more than a segment
	sysq      []sysMsg
	hasSys    atomic.Bool // len(sysq) > 0, readable without the lock
	paused    atomic.Bool // Context.Pause: no user messages until System.Unpause
	accepted  uint64      // under mu

	// Owned by the cell's turn.
	batch []Envelope
	bi    int
	done  int32 // finished messages not yet subtracted from size
	left  int   // budget left in the current turn (Context.Next spends it too)

	processed    atomic.Uint64
	deadLettered atomic.Uint64
	// observed: the supervisor of this cell's children is a ChildObserver,
	// so children report each successful start (read by the children).
	observed atomic.Bool
	// incarnation counts completed restarts. A restart request or a
	// failure report names the incarnation it is about, so one that
	// arrives after the instance was already replaced is dropped.
	incarnation atomic.Uint32
	// sequentialStop: a graceful stop stops children one at a time, last
	// started first (set at spawn, read-only afterwards).
	sequentialStop bool

	// Children, in start order; guarded by this cell's mu. A child's
	// prev/next are guarded by its parent's mu.
	firstChild, lastChild *cell
	prevSib, nextSib      *cell
	nchildren             int

	ext *cellExt // rarely used fields, under mu
}

// cellExt holds what most actors never use, to keep idle actors small.
type cellExt struct {
	name            string
	waitTimeout     time.Duration
	shutdownTimeout time.Duration
	supervisor      Supervisor
	watchers        []Ref
	spaceCh         chan struct{} // closed when room appears, for OverflowWait senders
	stopReason      error
	restartPending  bool
	killTimer       clock.Timer
}

func (c *cell) extLocked() *cellExt {
	if c.ext == nil {
		c.ext = &cellExt{}
	}
	return c.ext
}

// supervisor returns who decides for c's children: the spawn option, else
// the actor itself when it implements Supervisor, else the system default.
func (c *cell) supervisor() Supervisor {
	if c.ext != nil && c.ext.supervisor != nil {
		return c.ext.supervisor
	}
	if s, ok := c.actor.(Supervisor); ok {
		return s
	}
	return c.sys.defaultSupervisor
}

func (c *cell) restartPending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ext != nil && c.ext.restartPending
}

func (c *cell) schedule(w *sched.Worker) {
	if w != nil {
		w.Schedule(c)
	} else {
		c.sys.sched.Submit(c)
	}
}

// push queues a user message. It returns errDropped when the drop policy
// applied; any error means the message was not accepted.
func (c *cell) push(w *sched.Worker, env *Envelope, try, force bool) error {
	c.mu.Lock()
	for {
		if c.state >= stateDraining {
			c.mu.Unlock()
			return ErrStopped
		}
		if force || c.size < c.capacity {
			break
		}
		if try || c.overflow == OverflowFail {
			c.mu.Unlock()
			return ErrMailboxFull
		}
		if c.overflow == OverflowDrop {
			c.mu.Unlock()
			return errDropped
		}
		if !c.waitForSpace() { // unlocks and relocks
			c.mu.Unlock()
			return fmt.Errorf("%w: waited for room", ErrMailboxFull)
		}
	}
	if len(c.inbox) == cap(c.inbox) && cap(c.inbox) >= segmentSize {
		c.chainSegment()
	}
	c.inbox = append(c.inbox, *env)
	c.size++
	c.accepted++
	wake := !c.scheduled && c.state == stateRunning && !c.paused.Load()
	if wake {
		c.scheduled = true
	}
	c.mu.Unlock()
	if wake {
		c.schedule(w)
	}
	return nil
}

var errDropped = errors.New("stark: dropped by overflow policy")

// waitForSpace blocks (c.mu held on entry and exit) until the consumer
// frees room or the wait timeout passes. It reports false on timeout.
func (c *cell) waitForSpace() bool {
	ext := c.extLocked()
	if ext.spaceCh == nil {
		ext.spaceCh = make(chan struct{})
	}
	ch := ext.spaceCh
	d := ext.waitTimeout
	if d <= 0 {
		d = c.sys.askTimeout
	}
	c.mu.Unlock()
	expired := make(chan struct{})
	t := c.sys.clock.AfterFunc(d, func() { close(expired) })
	ok := true
	select {
	case <-ch:
		t.Stop()
	case <-expired:
		ok = false
	}
	c.mu.Lock()
	return ok
}

// unpause lets a paused cell handle user messages again, scheduling it
// when messages are waiting.
func (c *cell) unpause() {
	c.paused.Store(false)
	c.mu.Lock()
	run := !c.scheduled && c.size > 0 && (c.state == stateRunning || c.state == stateDraining)
	if run {
		c.scheduled = true
	}
	c.mu.Unlock()
	if run {
		c.schedule(nil)
	}
}

// pushSys queues a system message; it is dropped if the cell already stopped.
func (c *cell) pushSys(w *sched.Worker, m sysMsg) bool {
	c.mu.Lock()
	if c.state == stateStopped {
		c.mu.Unlock()
		return false
	}
	c.sysq = append(c.sysq, m)
	c.hasSys.Store(true)
	wake := !c.scheduled
	c.scheduled = true
	c.mu.Unlock()
	if wake {
		c.schedule(w)
	}
	return true
}

// Run is the cell's turn on a scheduler worker: system messages first, then
// up to the budget of user messages. It reports whether work is left.
func (c *cell) Run(w *sched.Worker) bool {
	c.ctx.w = w
	c.left = c.sys.budget
	for c.left > 0 {
		if c.hasSys.Load() {
			c.runSystem()
			c.left--
			continue
		}
		if c.state != stateRunning && c.state != stateDraining || c.state == stateRunning && c.paused.Load() {
			break
		}
		env := c.next()
		if env == nil {
			if c.state == stateDraining {
				c.beginStopping(ErrStopped, false)
				continue
			}
			break
		}
		c.invoke(env)
		c.left--
	}
	c.ctx.w = nil

	c.mu.Lock()
	c.size -= c.done
	c.done = 0
	if c.ext != nil && c.ext.spaceCh != nil && c.size < c.capacity {
		close(c.ext.spaceCh)
		c.ext.spaceCh = nil
	}
	more := len(c.sysq) > 0 || (c.size > 0 && (c.state == stateRunning && !c.paused.Load() || c.state == stateDraining))
	c.scheduled = more
	c.mu.Unlock()
	return more
}

// A mailbox is a chain of segments of at most segmentSize envelopes: a
// burst never regrows (and copies) one big slice under the senders' lock,
// and an actor keeps at most a few segments between bursts. Most mailboxes
// never fill one segment and never allocate the chain.
const segmentSize = 256

type segments struct {
	full    [][]Envelope // under mu: filled segments, oldest first, before inbox
	spare   []Envelope   // under mu: an empty segment for the next chain link
	pending [][]Envelope // owned by the turn: segments taken at the last swap, after batch
}

// chainSegment moves the full inbox to the chain and starts a new one (c.mu held).
func (c *cell) chainSegment() {
	sg := c.segs.Load()
	if sg == nil {
		sg = &segments{}
		c.segs.Store(sg)
	}
	sg.full = append(sg.full, c.inbox)
	c.inbox = sg.spare
	sg.spare = nil
	if c.inbox == nil {
		c.inbox = make([]Envelope, 0, segmentSize)
	}
}

// next returns the next user message: from the batch in hand, then from
// the segments taken with it, then from a fresh swap with the senders'
// inbox. The pointer stays valid until the next call.
func (c *cell) next() *Envelope {
	if c.bi < len(c.batch) {
		e := &c.batch[c.bi]
		c.bi++
		return e
	}
	clear(c.batch) // drop references held by handled messages
	done := c.batch[:0]
	c.bi = 0
	if sg := c.segs.Load(); sg != nil && len(sg.pending) > 0 {
		c.batch = sg.pending[0]
		sg.pending[0] = nil
		sg.pending = sg.pending[1:]
		if cap(done) >= segmentSize {
			c.mu.Lock()
			if sg.spare == nil {
				sg.spare = done
			}
			c.mu.Unlock()
		}
		c.bi = 1
		return &c.batch[0]
	}
	c.mu.Lock()
	if sg := c.segs.Load(); sg != nil && len(sg.full) > 0 {
		full := sg.full
		c.batch = full[0]
		sg.pending = append(append(sg.pending[:0], full[1:]...), c.inbox)
		clear(full)
		sg.full = full[:0]
		c.inbox = done
	} else {
		c.batch, c.inbox = c.inbox, done
	}
	c.mu.Unlock()
	if len(c.batch) == 0 {
		return nil
	}
	c.bi = 1
	return &c.batch[0]
}

func (c *cell) invoke(env *Envelope) {
	c.ctx.env = env
	err := c.receive(env)
	env = c.ctx.env // Context.Next may have moved on to later messages
	c.ctx.env = nil
	if env == nil { // Next finished every message it handed out
		if err != nil {
			c.sys.failures.Add(1)
			c.fail(err)
		}
		return
	}
	c.done++
	if err != nil {
		c.sys.deadLetter(env, c, err)
		c.deadLettered.Add(1)
		c.sys.failures.Add(1)
		c.fail(err)
		return
	}
	env.releasePayload()
	c.processed.Add(1)
}

func (c *cell) receive(env *Envelope) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &Failure{Actor: c.ref, Err: &PanicError{Value: r}, Stack: debug.Stack()}
		}
	}()
	if err = c.actor.Receive(&c.ctx, env); err != nil {
		var f *Failure
		if !errors.As(err, &f) {
			err = &Failure{Actor: c.ref, Err: err}
		}
	}
	return err
}

// call runs a lifecycle hook, turning a panic into an error.
func (c *cell) call(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &Failure{Actor: c.ref, Err: &PanicError{Value: r}, Stack: debug.Stack()}
		}
	}()
	if err = f(); err != nil {
		err = &Failure{Actor: c.ref, Err: err}
	}
	return err
}

func (c *cell) setState(s cellState) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
}

// fail suspends the cell and reports the failure to its parent.
func (c *cell) fail(reason error) {
	if c.parent == nil { // the root guardian: nobody above to decide
		c.sys.recordEscalation(c.ref, reason)
		return
	}
	c.setState(stateSuspended)
	c.parent.pushSys(c.ctx.w, sysMsg{kind: sysChildFailed, gen: c.incarnation.Load(), child: c, err: reason})
}

func (c *cell) runSystem() {
	c.mu.Lock()
	q := c.sysq
	c.sysq = nil
	c.hasSys.Store(false)
	c.mu.Unlock()
	for i := range q {
		c.handleSys(&q[i])
	}
}

func (c *cell) handleSys(m *sysMsg) {
	switch m.kind {
	case sysStart:
		if c.state == stateRunning {
			c.start()
		}
	case sysStop:
		c.paused.Store(false) // a draining actor must make progress
		switch c.state {
		case stateRunning:
			c.setState(stateDraining)
		case stateSuspended:
			c.beginStopping(ErrStopped, false)
		}
	case sysKill:
		if c.state != stateStopped {
			c.beginStopping(ErrKilled, true)
		}
	case sysRestart:
		if (c.state == stateRunning || c.state == stateSuspended) && m.gen == c.incarnation.Load() && !c.restartPending() {
			c.restart(m.err)
		}
	case sysSuspend:
		if c.state == stateRunning {
			c.setState(stateSuspended)
		}
	case sysResume:
		if c.state == stateSuspended && (c.ext == nil || !c.ext.restartPending) {
			c.setState(stateRunning)
		}
	case sysFail:
		if (c.state == stateRunning || c.state == stateDraining) && m.gen == c.incarnation.Load() {
			c.sys.failures.Add(1)
			c.fail(m.err)
		}
	case sysChildFailed:
		if m.gen != m.child.incarnation.Load() {
			return // that instance was already replaced
		}
		if m.child.parent == c && c.isChild(m.child) && c.state != stateStopped {
			if c.state == stateStopping || c.restartPending() {
				return // every child is being stopped already
			}
			c.supervisor().ChildFailed(&c.ctx, m.child.ref, m.err)
		}
	case sysChildStarted:
		if o, ok := c.supervisor().(ChildObserver); ok && c.state < stateStopping && !c.restartPending() && m.child.parent == c && c.isChild(m.child) {
			o.ChildStarted(&c.ctx, m.child.ref)
		}
	case sysChildTerminated:
		c.unlink(m.child)
		if cw, ok := c.supervisor().(ChildWatcher); ok && c.state < stateStopping && !c.restartPending() {
			cw.ChildTerminated(&c.ctx, m.child.ref, m.err)
		}
		c.mu.Lock()
		n := c.nchildren
		restart := c.ext != nil && c.ext.restartPending
		c.mu.Unlock()
		switch {
		case n == 0 && c.state == stateStopping:
			c.finalize()
		case n == 0 && restart:
			c.finishRestart()
		case c.state == stateStopping && c.sequentialStop && c.stopReason() == ErrStopped:
			c.stopLastChild()
		}
	}
}

// start runs the Starter hook of the current instance and, when the
// parent's supervisor observes starts, reports success to the parent.
func (c *cell) start() {
	if s, ok := c.actor.(Starter); ok {
		if err := c.call(func() error { return s.Started(&c.ctx) }); err != nil {
			c.sys.failures.Add(1)
			c.fail(err)
			return
		}
	}
	if p := c.parent; p != nil && p.observed.Load() {
		p.pushSys(c.ctx.w, sysMsg{kind: sysChildStarted, child: c})
	}
}

// observe records whether c's children must report their starts.
func (c *cell) observe() {
	_, ok := c.supervisor().(ChildObserver)
	c.observed.Store(ok)
}

// stopInstance runs the Stopped hook once and lets go of the instance.
func (c *cell) stopInstance() {
	if s, ok := c.actor.(Stopper); ok {
		_ = c.call(func() error { s.Stopped(&c.ctx); return nil })
	}
	c.actor = nil
}

// restart replaces the instance, keeping the mailbox. Children of the old
// instance are killed first and the new instance starts once they are gone.
func (c *cell) restart(reason error) {
	c.setState(stateSuspended)
	c.stopInstance()
	children := c.childList()
	if len(children) > 0 {
		c.mu.Lock()
		c.extLocked().restartPending = true
		c.mu.Unlock()
		for _, ch := range children {
			ch.pushSys(c.ctx.w, sysMsg{kind: sysKill})
		}
		return
	}
	c.finishRestart()
}

func (c *cell) finishRestart() {
	c.mu.Lock()
	if c.ext != nil {
		c.ext.restartPending = false
	}
	c.mu.Unlock()
	a, err := c.sys.produce(c.producer, c.ref)
	if err != nil {
		c.fail(err)
		return
	}
	c.actor = a
	c.incarnation.Add(1)
	c.observe()
	c.sys.restarts.Add(1)
	c.setState(stateRunning)
	c.start()
}

// beginStopping refuses further messages, dead-letters what is queued
// (nothing is left after a graceful drain), stops the children and
// finalizes once the last one has terminated.
func (c *cell) beginStopping(reason error, kill bool) {
	c.mu.Lock()
	c.state = stateStopping
	if c.ext != nil || reason != ErrStopped {
		c.extLocked().stopReason = reason
	}
	c.mu.Unlock()
	c.dropQueued(reason)
	children := c.childList()
	if c.sequentialStop && !kill && len(children) > 0 {
		c.stopLastChild()
		return
	}
	for _, ch := range children {
		if kill {
			ch.pushSys(c.ctx.w, sysMsg{kind: sysKill})
			continue
		}
		ch.pushSys(c.ctx.w, sysMsg{kind: sysStop})
		ch.armKillTimer()
	}
	if len(children) == 0 {
		c.finalize()
	}
}

// stopLastChild gracefully stops the most recently started child; the
// next one follows when it has terminated (OTP's shutdown order).
func (c *cell) stopLastChild() {
	c.mu.Lock()
	last := c.lastChild
	c.mu.Unlock()
	if last != nil {
		last.pushSys(c.ctx.w, sysMsg{kind: sysStop})
		last.armKillTimer()
	}
}

func (c *cell) stopReason() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ext == nil || c.ext.stopReason == nil {
		return ErrStopped
	}
	return c.ext.stopReason
}

// armKillTimer kills c if a graceful stop takes longer than its shutdown timeout.
func (c *cell) armKillTimer() {
	d := c.sys.shutdownTimeout
	c.mu.Lock()
	if c.ext != nil && c.ext.shutdownTimeout > 0 {
		d = c.ext.shutdownTimeout
	}
	if d <= 0 || c.state == stateStopped {
		c.mu.Unlock()
		return
	}
	ext := c.extLocked()
	if ext.killTimer == nil {
		ext.killTimer = c.sys.clock.AfterFunc(d, func() { c.pushSys(nil, sysMsg{kind: sysKill}) })
	}
	c.mu.Unlock()
}

// dropQueued dead-letters every queued user message, oldest first.
func (c *cell) dropQueued(reason error) {
	queued := [][]Envelope{c.batch[c.bi:]}
	c.mu.Lock()
	if sg := c.segs.Load(); sg != nil {
		queued = append(queued, sg.pending...)
		queued = append(queued, sg.full...)
		c.segs.Store(nil)
	}
	queued = append(queued, c.inbox)
	c.inbox = nil
	n := 0
	for _, q := range queued {
		n += len(q)
	}
	c.size -= int32(n)
	c.mu.Unlock()
	for _, q := range queued {
		for i := range q {
			c.sys.deadLetter(&q[i], c, reason)
			c.deadLettered.Add(1)
		}
	}
	c.batch, c.bi = nil, 0
}

// finalize ends the cell: last hook, name, watchers, table slot, parent.
func (c *cell) finalize() {
	c.stopInstance()
	c.mu.Lock()
	c.state = stateStopped
	var reason error
	var name string
	var watchers []Ref
	if ext := c.ext; ext != nil {
		reason, name, watchers = ext.stopReason, ext.name, ext.watchers
		ext.watchers = nil
		if ext.spaceCh != nil {
			close(ext.spaceCh)
			ext.spaceCh = nil
		}
		if ext.killTimer != nil {
			ext.killTimer.Stop()
		}
	}
	c.sysq = nil
	c.hasSys.Store(false)
	c.mu.Unlock()
	if errors.Is(reason, ErrStopped) {
		reason = nil // a normal stop
	}
	if name != "" {
		c.sys.names.release(name, c.ref)
	}
	for _, wr := range watchers {
		c.sys.notifyTerminated(c.ctx.w, wr, c.ref, reason)
	}
	c.sys.table.remove(c, c.counters())
	if c.parent != nil {
		c.parent.pushSys(c.ctx.w, sysMsg{kind: sysChildTerminated, child: c, err: reason})
	} else {
		close(c.sys.rootDone)
	}
}

func (c *cell) counters() Counters {
	// Finished messages are counted by the turn without the lock (c.done
	// is the turn's own), so queued is derived from the atomic counters:
	// every accepted message is processed, dead-lettered or still queued.
	processed, dead := c.processed.Load(), c.deadLettered.Load()
	c.mu.Lock()
	acc := c.accepted
	c.mu.Unlock()
	var queued uint64
	if acc > processed+dead {
		queued = acc - processed - dead
	}
	return Counters{Accepted: acc, Processed: processed, DeadLettered: dead, Queued: queued}
}

// link appends child to c's children. It fails if c is stopping.
func (c *cell) link(child *cell) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state >= stateStopping {
		return ErrStopped
	}
	child.prevSib = c.lastChild
	if c.lastChild != nil {
		c.lastChild.nextSib = child
	} else {
		c.firstChild = child
	}
	c.lastChild = child
	c.nchildren++
	return nil
}

func (c *cell) unlink(child *cell) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if child.prevSib == nil && c.firstChild != child {
		return // not linked
	}
	if child.prevSib != nil {
		child.prevSib.nextSib = child.nextSib
	} else {
		c.firstChild = child.nextSib
	}
	if child.nextSib != nil {
		child.nextSib.prevSib = child.prevSib
	} else {
		c.lastChild = child.prevSib
	}
	child.prevSib, child.nextSib = nil, nil
	c.nchildren--
}

func (c *cell) isChild(child *cell) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return child.prevSib != nil || c.firstChild == child
}

// childList returns the children in start order.
func (c *cell) childList() []*cell {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*cell, 0, c.nchildren)
	for ch := c.firstChild; ch != nil; ch = ch.nextSib {
		out = append(out, ch)
	}
	return out
}
