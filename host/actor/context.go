package actor

import (
	"context"
	"fmt"
	"time"

	"github.com/stark-rt/stark/host/mem"
	"github.com/stark-rt/stark/host/sched"
)

// Context is an actor's view of the runtime during one turn. It is valid
// only inside Receive (and the lifecycle and supervision hooks) and only on
// the goroutine that called them: sends made through it run the target
// next on the same core.
type Context struct {
	c   *cell
	w   *sched.Worker
	env *Envelope
}

// Self returns the running actor's ref.
func (ctx *Context) Self() Ref { return ctx.c.ref }

// Parent returns the parent's ref (the root guardian for top-level actors).
func (ctx *Context) Parent() Ref {
	if ctx.c.parent == nil {
		return 0
	}
	return ctx.c.parent.ref
}

// Message returns the message being handled, or nil in a lifecycle hook.
func (ctx *Context) Message() *Envelope { return ctx.env }

// Sender returns the sender of the message being handled (0 if none).
func (ctx *Context) Sender() Ref {
	if ctx.env == nil {
		return 0
	}
	return ctx.env.Sender
}

// System returns the system the actor runs in.
func (ctx *Context) System() *System { return ctx.c.sys }

// Now returns the system clock's time.
func (ctx *Context) Now() time.Time { return ctx.c.sys.clock.Now() }

// Send delivers a message with this actor as sender. If the target was
// idle it runs next on this core. Sending the buffer of the message in hand
// moves it on (no TakeBuffer needed).
func (ctx *Context) Send(to Ref, tag uint32, payload any) error {
	env := Envelope{Target: to, Sender: ctx.c.ref, Tag: tag}
	ctx.setPayload(&env, payload)
	return ctx.c.sys.deliver(ctx.w, &env, false)
}

// SendBytes is Send for a byte payload: it costs no interface conversion
// (an allocation per call for a slice passed as any), which matters on hot
// paths such as foreign handlers crossing the C ABI.
func (ctx *Context) SendBytes(to Ref, tag uint32, data []byte) error {
	env := Envelope{Target: to, Sender: ctx.c.ref, Tag: tag, Data: data}
	return ctx.c.sys.deliver(ctx.w, &env, false)
}

// ReplyBytes is Reply for a byte payload, without the interface conversion.
func (ctx *Context) ReplyBytes(tag uint32, data []byte) error {
	if ctx.env == nil {
		return ErrNoReplyTarget
	}
	return ctx.c.sys.replyBytes(ctx.w, ctx.env, ctx.c.ref, tag, data)
}

// TrySend is Send that fails with ErrMailboxFull rather than wait or drop.
func (ctx *Context) TrySend(to Ref, tag uint32, payload any) error {
	env := Envelope{Target: to, Sender: ctx.c.ref, Tag: tag}
	ctx.setPayload(&env, payload)
	return ctx.c.sys.deliver(ctx.w, &env, true)
}

func (ctx *Context) setPayload(env *Envelope, payload any) {
	env.setPayload(payload)
	ctx.moveCurrentBuffer(payload)
}

// moveCurrentBuffer: when the payload is the buffer of the message in
// hand, ownership moves on with the new message instead of being released
// when the handler returns.
func (ctx *Context) moveCurrentBuffer(payload any) {
	if b, ok := payload.(*mem.Buffer); ok && b != nil && ctx.env != nil && ctx.env.Buf == b {
		ctx.env.Buf = nil
	}
	if _, ok := payload.(Releaser); ok && ctx.env != nil && samePointer(payload, ctx.env.Value) {
		ctx.env.Value = nil // an owning value sent on moves with it
	}
}

// Next ends the message in hand as processed and returns the next queued
// user message within the same turn, or nil when the handler must return
// instead: the turn's budget is spent, a system message is waiting, the
// actor is no longer handling messages, or the mailbox is empty (then the
// message in hand was finished too, and Message returns nil).
//
// Actors that hand messages to foreign code (WASM guests, polled
// mailboxes) use it to deliver several messages per crossing, which is far
// cheaper than a crossing per message. Receive still returns once: its
// error, if any, is the failure of the message Next returned last. Only
// call it from Receive.
func (ctx *Context) Next() *Envelope {
	c := ctx.c
	if ctx.env == nil || c.left <= 1 || c.hasSys.Load() ||
		(c.state != stateRunning && c.state != stateDraining) ||
		(c.state == stateRunning && c.paused.Load()) {
		return nil
	}
	env := ctx.env
	env.releasePayload()
	c.processed.Add(1)
	c.done++
	c.left--
	ctx.env = c.next()
	return ctx.env
}

// Pause stops the actor from handling user messages once the message in
// hand is done: its mailbox keeps accepting (up to its capacity, so
// senders feel the back-pressure) until System.Unpause. System messages
// (stop, restart, supervision) are still handled, and a graceful stop
// lifts the pause so the actor can drain. An actor that hands messages to
// a slower consumer outside the runtime (a polled mailbox) uses it for
// flow control.
func (ctx *Context) Pause() { ctx.c.paused.Store(true) }

// Forward re-sends the message in hand to another actor, keeping its
// sender, correlation id and pending ask (the new target replies to the
// original asker).
func (ctx *Context) Forward(to Ref) error {
	if ctx.env == nil {
		return fmt.Errorf("%w: no message in hand", ErrInvalid)
	}
	env := *ctx.env
	env.Target = to
	ctx.env.Buf, ctx.env.reply = nil, nil
	return ctx.c.sys.deliver(ctx.w, &env, false)
}

// Request sends a message whose reply comes back to this actor as an
// ordinary message carrying the returned correlation id. Unlike Ask it
// never blocks the worker.
func (ctx *Context) Request(to Ref, tag uint32, payload any) (corrID uint64, err error) {
	env := Envelope{Target: to, Sender: ctx.c.ref, Tag: tag, CorrID: ctx.c.sys.corr.Add(1)}
	ctx.setPayload(&env, payload)
	return env.CorrID, ctx.c.sys.deliver(ctx.w, &env, false)
}

// Ask sends a request and blocks this actor (and its worker) until the
// reply; prefer Request inside actors.
func (ctx *Context) Ask(c context.Context, to Ref, tag uint32, payload any) (Envelope, error) {
	return ctx.c.sys.ask(c, ctx.c.ref, to, tag, payload)
}

// Reply answers the message in hand: to the waiting Ask, or as a message
// to its sender. A second reply to the same ask fails with ErrAskAbandoned.
func (ctx *Context) Reply(tag uint32, payload any) error {
	if ctx.env == nil {
		return ErrNoReplyTarget
	}
	return ctx.ReplyTo(ctx.env, tag, payload)
}

// ReplyTo answers req, a message this actor received earlier (kept by
// value), which lets an actor reply after later messages.
func (ctx *Context) ReplyTo(req *Envelope, tag uint32, payload any) error {
	ctx.moveCurrentBuffer(payload)
	return ctx.c.sys.reply(ctx.w, req, ctx.c.ref, tag, payload)
}

// Spawn starts a child of this actor.
func (ctx *Context) Spawn(p Producer, opts ...Option) (Ref, error) {
	return ctx.c.sys.spawn(ctx.w, ctx.c, p, opts)
}

// SpawnFunc starts a stateless function child.
func (ctx *Context) SpawnFunc(f func(ctx *Context, msg *Envelope) error, opts ...Option) (Ref, error) {
	if f == nil {
		return 0, fmt.Errorf("%w: nil function", ErrInvalid)
	}
	return ctx.c.sys.spawn(ctx.w, ctx.c, func() Actor { return Func(f) }, opts)
}

// Stop stops ref gracefully (see System.Stop); Stop(ctx.Self()) stops this
// actor once its queue is drained.
func (ctx *Context) Stop(ref Ref) error { return ctx.c.sys.sysTo(ctx.w, ref, sysStop) }

// Kill kills ref (see System.Kill).
func (ctx *Context) Kill(ref Ref) error { return ctx.c.sys.sysTo(ctx.w, ref, sysKill) }

// Watch delivers Terminated to this actor when target terminates.
func (ctx *Context) Watch(target Ref) error { return ctx.c.sys.watch(ctx.w, ctx.c.ref, target) }

// Unwatch undoes Watch.
func (ctx *Context) Unwatch(target Ref) { ctx.c.sys.Unwatch(ctx.c.ref, target) }

// SendAfter delivers a message to this actor after d.
func (ctx *Context) SendAfter(d time.Duration, tag uint32, payload any) *Timer {
	return ctx.c.sys.sendAfter(d, ctx.c.ref, ctx.c.ref, tag, payload)
}

// SendEvery delivers a message to this actor every d until cancelled or
// until the actor terminates.
func (ctx *Context) SendEvery(d time.Duration, tag uint32, payload any) (*Timer, error) {
	return ctx.c.sys.sendEvery(d, ctx.c.ref, ctx.c.ref, tag, payload)
}

// Publish sends to every subscriber of topic with this actor as sender.
func (ctx *Context) Publish(topic string, tag uint32, payload any) (int, error) {
	return ctx.c.sys.publish(ctx.w, ctx.c.ref, topic, tag, payload)
}

// Children returns this actor's children in start order.
func (ctx *Context) Children() []Ref { return refsOf(ctx.c.childList()) }

// child returns the cell of a child of this actor.
func (ctx *Context) child(ref Ref) (*cell, error) {
	ch := ctx.c.sys.table.lookup(ref)
	if ch == nil {
		return nil, fmt.Errorf("%w: %v", ErrStaleRef, ref)
	}
	if ch.parent != ctx.c {
		return nil, fmt.Errorf("%w: %v", ErrNotChild, ref)
	}
	return ch, nil
}

// RestartChild restarts a child after delay (0: at once): its current
// instance is stopped, its children are killed, a fresh instance is made
// by its Producer, and it goes on with the mailbox it had. Supervisors call
// it; a restart of a running child is allowed too (one-for-all).
func (ctx *Context) RestartChild(child Ref, delay time.Duration) error {
	ch, err := ctx.child(child)
	if err != nil {
		return err
	}
	// The request names the instance it replaces: if that one is replaced
	// by the time the request arrives (a duplicate decision), it is dropped.
	m := sysMsg{kind: sysRestart, gen: ch.incarnation.Load()}
	if delay <= 0 {
		ch.pushSys(ctx.w, m)
		return nil
	}
	// Hold the child where it is until the restart.
	ch.pushSys(ctx.w, sysMsg{kind: sysSuspend})
	ctx.c.sys.clock.AfterFunc(delay, func() { ch.pushSys(nil, m) })
	return nil
}

// SuspendChild holds a child: it keeps accepting messages but handles
// none until RestartChild or ResumeChild. Supervisors use it to hold
// siblings that restart one after another.
func (ctx *Context) SuspendChild(child Ref) error { return ctx.toChild(child, sysSuspend) }

// ResumeChild lets a failed child go on with its current instance and state.
func (ctx *Context) ResumeChild(child Ref) error { return ctx.toChild(child, sysResume) }

// StopChild stops a child: gracefully if it is running, dropping its queue
// to dead letters if it failed.
func (ctx *Context) StopChild(child Ref) error {
	ch, err := ctx.child(child)
	if err != nil {
		return err
	}
	ch.pushSys(ctx.w, sysMsg{kind: sysStop})
	ch.armKillTimer()
	return nil
}

// KillChild kills a child at once.
func (ctx *Context) KillChild(child Ref) error { return ctx.toChild(child, sysKill) }

// toChild sends a system message to a child of this actor.
func (ctx *Context) toChild(child Ref, k sysKind) error {
	ch, err := ctx.child(child)
	if err != nil {
		return err
	}
	ch.pushSys(ctx.w, sysMsg{kind: k})
	return nil
}

// Escalate fails this actor with reason, handing the decision to its own
// parent's supervisor. At the root it is recorded (Stats.Escalations).
func (ctx *Context) Escalate(reason error) {
	if ctx.c.state == stateRunning || ctx.c.state == stateSuspended {
		ctx.c.fail(reason)
	}
}
