package mem_test

import (
	"errors"
	"fmt"

	"github.com/stark-rt/stark/host/mem"
)

// A buffer is taken from a pool, filled, handed on, and released by its
// last holder; the array then serves the next Get of the same class.
func Example() {
	pool := mem.NewPool("messages", mem.DefaultConfig())

	buf, err := pool.Get(5)
	if err != nil {
		panic(err)
	}
	copy(buf.Bytes(), "hello")
	fmt.Println(string(buf.Bytes()), buf.Len(), buf.Cap())

	// A second holder (say, another actor) takes its own reference.
	_ = buf.Retain()
	_ = buf.Release() // the first holder is done
	_ = buf.Release() // the second holder is done: the array goes back

	fmt.Println(buf.Bytes() == nil, errors.Is(buf.Release(), mem.ErrReleased))

	s := pool.Stats()
	fmt.Println(s.LiveBytes, s.CachedBytes)
	// Output:
	// hello 5 64
	// true true
	// 0 64
}

// Exhaustion is an error, not a crash: the caller sheds load or waits.
func ExamplePool_Get_exhausted() {
	pool := mem.NewPool("small", mem.DefaultConfig().WithLimit(1024))

	a, _ := pool.Get(1000) // counts 1024 bytes
	_, err := pool.Get(1)
	fmt.Println(errors.Is(err, mem.ErrPoolExhausted))

	_ = a.Release()
	b, err := pool.Get(1)
	fmt.Println(err)
	_ = b.Release()

	_, err = pool.Get(2048) // can never fit
	fmt.Println(errors.Is(err, mem.ErrTooLarge))
	// Output:
	// true
	// <nil>
	// true
}

// Code that writes an unknown amount can append into the buffer's spare
// capacity and then publish the length.
func ExampleBuffer_SetLen() {
	pool := mem.NewPool("append", mem.DefaultConfig())
	buf, _ := pool.Get(0)
	defer buf.Release()

	out := append(buf.Bytes(), "actor"...)
	_ = buf.SetLen(len(out))
	fmt.Printf("%q %d\n", buf.Bytes(), buf.Cap())
	// Output: "actor" 64
}

func ExamplePool_Stats() {
	pool := mem.NewPool("stats", mem.DefaultConfig().WithClasses(256, 4096))
	a, _ := pool.Get(100)
	b, _ := pool.Get(3000)
	_ = a.Release()

	s := pool.Stats()
	fmt.Println(s.Name, s.LiveBytes, s.CachedBytes, s.PeakBytes, s.LiveBuffers())
	for _, c := range s.Classes {
		fmt.Println(c.Size, c.Gets, c.Releases, c.Free)
	}
	_ = b.Release()
	pool.Trim()
	fmt.Println(pool.Stats().CachedBytes)
	// Output:
	// stats 4096 256 4352 1
	// 256 1 1 1
	// 4096 1 0 0
	// 0
}
