package actor

import (
	"errors"
	"sync"
	"time"

	"github.com/stark-rt/stark/host/clock"
)

// DeadLetter records a message that was not handled, and why.
type DeadLetter struct {
	Target Ref
	Sender Ref
	CorrID uint64
	Tag    uint32
	Reason error
	At     time.Time
	// Size is the payload length in bytes (0 for Go values).
	Size int
}

// DeadLetterStats counts dead letters by cause.
type DeadLetterStats struct {
	Total       uint64
	StaleRef    uint64 // target gone or never valid
	MailboxFull uint64 // overflow policy fail, drop, or a wait that timed out
	Stopped     uint64 // target stopping, stopped, killed, or system shut down
	Failed      uint64 // the handler failed on it
	Abandoned   uint64 // a reply nobody waits for any more, or with no reply target
	Other       uint64
}

// deadLetters keeps a bounded ring of recent records and counts all of them.
type deadLetters struct {
	mu      sync.Mutex
	ring    []DeadLetter
	next    int
	full    bool
	st      DeadLetterStats
	clock   clock.Clock
	observe func(DeadLetter)
}

func newDeadLetters(limit int, c clock.Clock, observe func(DeadLetter)) *deadLetters {
	return &deadLetters{ring: make([]DeadLetter, limit), clock: c, observe: observe}
}

// record files env as a dead letter. The message gives up what it owns:
// its pooled buffer is released and a waiting Ask ends with the reason.
func (d *deadLetters) record(env *Envelope, reason error) {
	dl := DeadLetter{Target: env.Target, Sender: env.Sender, CorrID: env.CorrID, Tag: env.Tag, Reason: reason, At: d.clock.Now()}
	switch {
	case env.Data != nil:
		dl.Size = len(env.Data)
	case env.Buf != nil:
		dl.Size = env.Buf.Len()
	}
	if f := env.reply; f != nil {
		env.reply = nil
		f.complete(env.replyGen, Envelope{}, reason)
	}
	env.releasePayload()

	d.mu.Lock()
	d.st.Total++
	var f *Failure
	switch {
	case errors.As(reason, &f):
		d.st.Failed++
	case errors.Is(reason, ErrStaleRef):
		d.st.StaleRef++
	case errors.Is(reason, ErrMailboxFull):
		d.st.MailboxFull++
	case errors.Is(reason, ErrStopped), errors.Is(reason, ErrKilled):
		d.st.Stopped++
	case errors.Is(reason, ErrAskAbandoned), errors.Is(reason, ErrNoReplyTarget):
		d.st.Abandoned++
	default:
		d.st.Other++
	}
	if len(d.ring) > 0 {
		d.ring[d.next] = dl
		d.next++
		if d.next == len(d.ring) {
			d.next, d.full = 0, true
		}
	}
	d.mu.Unlock()
	if d.observe != nil {
		d.observe(dl)
	}
}

func (d *deadLetters) stats() DeadLetterStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st
}

func (d *deadLetters) recent() []DeadLetter {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.full {
		return append([]DeadLetter(nil), d.ring[:d.next]...)
	}
	out := make([]DeadLetter, 0, len(d.ring))
	out = append(out, d.ring[d.next:]...)
	return append(out, d.ring[:d.next]...)
}
