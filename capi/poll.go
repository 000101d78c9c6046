package main

/*
#include <stdlib.h>
#include <string.h>
#include "stark.h"
typedef const stark_spawn_opts *stark__copts;
typedef const stark_poll_result *stark__cpollresults;
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/stark-rt/stark/host/actor"
	"github.com/stark-rt/stark/host/device"
	"github.com/stark-rt/stark/host/mem"
)

// pollerObj is a polled mailbox: polled actors hand their messages to it
// on their turns, one foreign thread takes them in batches (stark_poll)
// and gives the tokens back with the outcome (stark_poll_done). Flow
// control: when the messages handed over and not yet done reach capacity,
// the actor that hands one more pauses itself (its mailbox then fills and
// pushes back on senders) until the foreign side has caught up to half.
type pollerObj struct {
	rt       *runtimeObj
	h        uint64
	capacity int

	mu          sync.Mutex
	queue       []pollEntry // handed over, not yet polled
	head        int
	tokens      map[uint64]*pollPending // polled or queued, not yet done
	nextToken   uint64
	outstanding int // messages handed over and not yet done
	paused      map[actor.Ref]struct{}
	actors      map[actor.Ref]struct{}
	closed      bool
	polling     bool
	signal      chan struct{} // one wake-up pending at most

	arena    unsafe.Pointer // C memory holding the last batch's payloads
	arenaCap int
}

type pollEntry struct {
	kind   C.uint32_t
	tag    uint32
	actor  actor.Ref
	sender actor.Ref
	corrID uint64
	token  uint64
	data   []byte
	buf    *mem.Buffer
	dbuf   *device.Buffer
	isAsk  bool
}

type pollPending struct {
	env   actor.Envelope // kept by value: its pending ask, sender and correlation id
	actor actor.Ref
}

var pollers table[pollerObj]

// errNoReply ends an ask whose polled handler finished without answering.
var errNoReply = errors.New("stark: the polled actor finished the message without replying")

func (p *pollerObj) wake() {
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

// event queues a lifecycle item (no token, never refused).
func (p *pollerObj) event(kind C.uint32_t, ref actor.Ref) {
	p.mu.Lock()
	if !p.closed {
		p.queue = append(p.queue, pollEntry{kind: kind, actor: ref})
	}
	p.mu.Unlock()
	p.wake()
}

// polledActor is one incarnation of a polled actor.
type polledActor struct{ p *pollerObj }

func (a *polledActor) Started(ctx *actor.Context) error {
	p := a.p
	self := ctx.Self()
	p.mu.Lock()
	_, known := p.actors[self]
	if !known && !p.closed {
		p.actors[self] = struct{}{}
	}
	p.mu.Unlock()
	if !known { // started by a supervisor: tell the reaper to report its end
		p.rt.watchPolled(self, p)
	}
	p.event(C.STARK_POLL_STARTED, self)
	return nil
}

// Receive hands the message, and whatever else is queued this turn, to
// the poller.
func (a *polledActor) Receive(ctx *actor.Context, m *actor.Envelope) error {
	p := a.p
	self := ctx.Self()
	handed := 0
	for env := m; env != nil; env = ctx.Next() {
		var data []byte
		switch v := env.Value.(type) {
		case nil:
			data = env.Data
		case []byte:
			data = v
		case actor.Terminated, *device.Buffer:
		default:
			return fmt.Errorf("%w: a polled actor got a Go value of type %T (tag %#x); send bytes", actor.ErrInvalid, v, env.Tag)
		}
		e := pollEntry{kind: C.STARK_POLL_MESSAGE, tag: env.Tag, actor: self, sender: env.Sender,
			corrID: env.CorrID, data: data, buf: env.TakeBuffer(), isAsk: env.IsAsk()}
		if db, ok := env.Value.(*device.Buffer); ok {
			e.dbuf = db
			env.TakeValue()
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			if e.buf != nil {
				_ = e.buf.Release()
			}
			if e.dbuf != nil {
				_ = e.dbuf.Release()
			}
			if env.IsAsk() {
				_ = p.rt.rt.Abort(env, fmt.Errorf("%w: the poller was closed", actor.ErrStopped))
			}
			continue
		}
		p.nextToken++
		e.token = p.nextToken
		p.tokens[e.token] = &pollPending{env: *env, actor: self}
		p.queue = append(p.queue, e)
		p.outstanding++
		full := p.outstanding >= p.capacity
		if full {
			p.paused[self] = struct{}{}
		}
		p.mu.Unlock()
		handed++
		if full {
			ctx.Pause()
			break
		}
	}
	if handed > 0 {
		p.wake()
	}
	return nil
}

//export stark_poller_new
func stark_poller_new(h C.stark_runtime, capacity C.uint32_t, out *C.stark_poller) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_poller_new"
	if out == nil {
		return fail(sInvalid, "%s: out is NULL", fn)
	}
	*out = 0
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		return st
	}
	if capacity == 0 {
		capacity = 1024
	}
	if capacity > 1<<24 {
		return fail(sInvalid, "%s: capacity %d is over %d", fn, capacity, 1<<24)
	}
	p := &pollerObj{rt: r, capacity: int(capacity), tokens: map[uint64]*pollPending{},
		paused: map[actor.Ref]struct{}{}, actors: map[actor.Ref]struct{}{}, signal: make(chan struct{}, 1)}
	p.h = pollers.add(p)
	if p.h == 0 {
		return fail(sExhausted, "%s: too many pollers", fn)
	}
	*out = C.stark_poller(p.h)
	return sOK
}

func lookupPoller(r *runtimeObj, h C.stark_poller, fn string) (*pollerObj, C.stark_status) {
	p := pollers.get(uint64(h))
	if p == nil || p.rt != r {
		return nil, fail(sNotFound, "%s: poller handle %#x is not valid here (freed, or of another runtime)", fn, uint64(h))
	}
	return p, sOK
}

// close stops the poller's actors and ends what it holds.
func (p *pollerObj) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	queue := p.queue[p.head:]
	p.queue, p.head = nil, 0
	pending := p.tokens
	p.tokens = map[uint64]*pollPending{}
	actors := p.actors
	p.actors = map[actor.Ref]struct{}{}
	p.mu.Unlock()
	p.wake() // a blocked stark_poll sees closed (the channel is never closed: late wakes must not panic)
	for _, e := range queue {
		if e.buf != nil {
			_ = e.buf.Release()
		}
		if e.dbuf != nil {
			_ = e.dbuf.Release()
		}
	}
	for _, pd := range pending {
		if pd.env.IsAsk() {
			_ = p.rt.rt.Abort(&pd.env, fmt.Errorf("%w: the poller was closed", actor.ErrStopped))
		}
	}
	for ref := range actors {
		_ = p.rt.rt.Stop(ref)
	}
	// The arena is freed by the last stark_poll, or here when none runs.
	p.mu.Lock()
	if !p.polling && p.arena != nil {
		C.free(p.arena)
		p.arena, p.arenaCap = nil, 0
	}
	p.mu.Unlock()
}

//export stark_poller_free
func stark_poller_free(h C.stark_runtime, poller C.stark_poller) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_poller_free"
	r := runtimes.get(uint64(h))
	if r == nil {
		return fail(sNotFound, "%s: runtime handle %#x is not valid", fn, uint64(h))
	}
	if _, st := lookupPoller(r, poller, fn); st != sOK {
		return st
	}
	p := pollers.remove(uint64(poller))
	if p == nil {
		return fail(sNotFound, "%s: poller %#x was freed meanwhile", fn, uint64(poller))
	}
	p.close()
	return sOK
}

func releasePollersOf(r *runtimeObj) {
	var hs []uint64
	pollers.each(func(h uint64, p *pollerObj) {
		if p.rt == r {
			hs = append(hs, h)
		}
	})
	for _, h := range hs {
		if p := pollers.remove(h); p != nil {
			p.close()
		}
	}
}

// producer returns the producer of p's polled actors; the reaper must
// learn their refs (watchPolled) when they are spawned by a supervisor.
func (p *pollerObj) producer() actor.Producer {
	return func() actor.Actor { return &polledActor{p: p} }
}

//export stark_spawn_polled
func stark_spawn_polled(h C.stark_runtime, poller C.stark_poller, opts C.stark__copts, out *C.stark_ref) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_spawn_polled"
	if out == nil {
		return fail(sInvalid, "%s: out is NULL", fn)
	}
	*out = 0
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		return st
	}
	p, st := lookupPoller(r, poller, fn)
	if st != sOK {
		return st
	}
	aopts, st := spawnOptions(fn, opts)
	if st != sOK {
		return st
	}
	ref, err := r.rt.Spawn(p.producer(), aopts...)
	if err != nil {
		return fromErr(err)
	}
	p.mu.Lock()
	closed := p.closed
	if !closed {
		p.actors[ref] = struct{}{}
	}
	p.mu.Unlock()
	if closed {
		_ = r.rt.Stop(ref)
		return fail(sStopped, "%s: the poller was closed", fn)
	}
	r.watchPolled(ref, p)
	*out = C.stark_ref(ref)
	return sOK
}

// actorGone queues the STOPPED event of a polled actor that terminated.
func (p *pollerObj) actorGone(ref actor.Ref) {
	p.mu.Lock()
	delete(p.actors, ref)
	delete(p.paused, ref)
	p.mu.Unlock()
	p.event(C.STARK_POLL_STOPPED, ref)
}

//export stark_poll
func stark_poll(h C.stark_runtime, poller C.stark_poller, items *C.stark_poll_item, capacity C.size_t, timeout C.uint64_t, n *C.size_t) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_poll"
	if n == nil {
		return fail(sInvalid, "%s: n is NULL", fn)
	}
	*n = 0
	if items == nil || capacity == 0 {
		return fail(sInvalid, "%s: items is NULL or cap is 0", fn)
	}
	r := runtimes.get(uint64(h))
	if r == nil {
		return fail(sNotFound, "%s: runtime handle %#x is not valid", fn, uint64(h))
	}
	p, st := lookupPoller(r, poller, fn)
	if st != sOK {
		return st
	}
	p.mu.Lock()
	if p.polling {
		p.mu.Unlock()
		return fail(sInvalid, "%s: another thread is polling this poller", fn)
	}
	p.polling = true
	var deadline <-chan time.Time
	for p.head == len(p.queue) && !p.closed {
		p.mu.Unlock()
		if timeout == 0 {
			p.mu.Lock()
			break
		}
		if deadline == nil {
			t := time.NewTimer(dur(timeout))
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-p.signal:
		case <-deadline:
			p.mu.Lock()
			p.polling = false
			p.mu.Unlock()
			return fail(sTimeout, "%s: nothing arrived within %v", fn, dur(timeout))
		}
		p.mu.Lock()
	}
	defer func() {
		p.polling = false
		if p.closed && p.arena != nil {
			C.free(p.arena)
			p.arena, p.arenaCap = nil, 0
		}
		p.mu.Unlock()
	}()
	if p.head == len(p.queue) {
		if p.closed {
			return fail(sStopped, "%s: the poller was closed", fn)
		}
		return fail(sTimeout, "%s: nothing is ready", fn)
	}
	if r.stopped.Load() && p.closed {
		return fail(sStopped, "%s: the runtime is shut down", fn)
	}
	batch := p.queue[p.head:min(len(p.queue), p.head+int(min(capacity, 1<<20)))]
	total := 0
	for _, e := range batch {
		if e.buf == nil {
			total += len(e.data)
		}
	}
	if total > p.arenaCap {
		a := C.realloc(p.arena, C.size_t(max(total, 2*p.arenaCap)))
		if a == nil {
			return fail(sExhausted, "%s: out of memory for %d bytes of payloads", fn, total)
		}
		p.arena, p.arenaCap = a, max(total, 2*p.arenaCap)
	}
	out := unsafe.Slice(items, len(batch))
	off := 0
	for i, e := range batch {
		it := &out[i]
		*it = C.stark_poll_item{kind: e.kind, tag: C.uint32_t(e.tag), actor: C.stark_ref(e.actor),
			sender: C.stark_ref(e.sender), token: C.uint64_t(e.token), corr_id: C.uint64_t(e.corrID)}
		if e.isAsk {
			it.is_ask = 1
		}
		if e.dbuf != nil {
			it.device_buffer = C.uint64_t(dbufs.add(&dbufObj{rt: r, b: e.dbuf}))
		}
		switch {
		case e.buf != nil:
			hb := buffers.add(newBufferObj(r, e.buf))
			bs := e.buf.Bytes()
			it.buffer, it.len = C.stark_buffer(hb), C.size_t(len(bs))
			it.data = unsafe.Pointer(unsafe.SliceData(bs[:cap(bs)]))
		case len(e.data) > 0:
			dst := unsafe.Add(p.arena, off)
			copy(unsafe.Slice((*byte)(dst), len(e.data)), e.data)
			it.data, it.len = dst, C.size_t(len(e.data))
			off += len(e.data)
		default:
			it.data = p.arena
		}
		batch[i] = pollEntry{}
	}
	p.head += len(batch)
	if p.head == len(p.queue) {
		p.queue, p.head = p.queue[:0], 0
	}
	*n = C.size_t(len(batch))
	return sOK
}

//export stark_poll_done
func stark_poll_done(h C.stark_runtime, poller C.stark_poller, results C.stark__cpollresults, n C.size_t) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_poll_done"
	r := runtimes.get(uint64(h))
	if r == nil {
		return fail(sNotFound, "%s: runtime handle %#x is not valid", fn, uint64(h))
	}
	p, st := lookupPoller(r, poller, fn)
	if st != sOK {
		return st
	}
	if n == 0 {
		return sOK
	}
	if results == nil || n > 1<<24 {
		return fail(sInvalid, "%s: results is NULL or n is over %d", fn, 1<<24)
	}
	rs := unsafe.Slice((*C.stark_poll_result)(unsafe.Pointer(results)), int(n))
	unknown := 0
	for i := range rs {
		res := &rs[i]
		p.mu.Lock()
		pd := p.tokens[uint64(res.token)]
		delete(p.tokens, uint64(res.token))
		if pd != nil {
			p.outstanding--
		}
		p.mu.Unlock()
		if pd == nil {
			unknown++
			continue
		}
		var data []byte
		if res.len > 0 {
			if res.data == nil || uint64(res.len) > maxPayload {
				data = []byte("(invalid reply: NULL data or over the payload limit)")
				res = &C.stark_poll_result{token: res.token, status: sInvalid}
			} else {
				data = C.GoBytes(res.data, C.int(res.len))
			}
		}
		switch {
		case res.status != sOK:
			reason := &nativeError{status: res.status, reason: string(data)}
			if pd.env.IsAsk() {
				_ = r.rt.Abort(&pd.env, reason)
			}
			failed := pd.env
			_ = r.rt.Fail(pd.actor, &failed, reason)
		case res.reply != 0:
			_ = r.rt.Reply(&pd.env, pd.actor, uint32(res.tag), data)
		case pd.env.IsAsk():
			_ = r.rt.Abort(&pd.env, errNoReply)
		}
	}
	p.mu.Lock()
	var resume []actor.Ref
	if len(p.paused) > 0 && p.outstanding <= p.capacity/2 {
		for ref := range p.paused {
			resume = append(resume, ref)
		}
		clear(p.paused)
	}
	p.mu.Unlock()
	for _, ref := range resume {
		_ = r.rt.Unpause(ref)
	}
	if unknown > 0 {
		return fail(sNotFound, "%s: %d of %d tokens were unknown or already done", fn, unknown, len(rs))
	}
	return sOK
}
