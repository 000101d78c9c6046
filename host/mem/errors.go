package mem

import "errors"

var (
	// ErrPoolExhausted is returned by Pool.Get when the request would take
	// the pool's live bytes past its limit. Nothing was allocated; the same
	// request can succeed after other buffers are released.
	ErrPoolExhausted = errors.New("mem: pool exhausted")

	// ErrTooLarge is returned by Pool.Get when the request can never be
	// satisfied by the pool: the bytes it would count exceed the pool's
	// limit, or it is larger than the largest size class and larger than the
	// pool's maximum exact-size request (Config.WithMaxSize).
	ErrTooLarge = errors.New("mem: buffer too large for pool")

	// ErrReleased is returned by Buffer methods called after the buffer's
	// last reference was released (including a second, double release) and
	// by methods called on a nil *Buffer.
	ErrReleased = errors.New("mem: buffer already released")

	// ErrInvalidSize is returned for a negative size passed to Pool.Get and
	// for a length outside [0, Cap()] passed to Buffer.SetLen.
	ErrInvalidSize = errors.New("mem: invalid size")

	// ErrTooManyRefs is returned by Buffer.Retain when the buffer already
	// holds MaxRefs references.
	ErrTooManyRefs = errors.New("mem: too many references to buffer")
)
