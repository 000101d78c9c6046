package task

import (
	"context"
	"errors"
	"testing"
	"time"
)

var errCause = errors.New("cause")

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestTokenCancelReachesEveryDescendant(t *testing.T) {
	root := NewToken()
	child := root.Child()
	grandchild := child.Child()
	done := grandchild.Done() // asked for before the cancel: must be closed by it
	root.Cancel(errCause)

	for name, tok := range map[string]*Token{"root": root, "child": child, "grandchild": grandchild} {
		if !tok.Cancelled() || !isClosed(tok.Done()) {
			t.Errorf("%s not cancelled", name)
		}
		if tok.Err() != errCause {
			t.Errorf("%s: Err() = %v, want %v", name, tok.Err(), errCause)
		}
	}
	if !isClosed(done) {
		t.Error("Done channel taken before Cancel was not closed")
	}
}

func TestTokenCancelDoesNotGoUp(t *testing.T) {
	root := NewToken()
	a, b := root.Child(), root.Child()
	a1 := a.Child()
	a.Cancel(nil)

	if root.Cancelled() || b.Cancelled() {
		t.Fatal("cancelling a child cancelled its parent or sibling")
	}
	if !a1.Cancelled() {
		t.Fatal("grandchild of the cancelled token is live")
	}
	if !errors.Is(a.Err(), context.Canceled) {
		t.Fatalf("nil cause gave Err() = %v, want context.Canceled", a.Err())
	}
	root.mu.Lock()
	_, stillThere := root.children[a]
	n := len(root.children)
	root.mu.Unlock()
	if stillThere || n != 1 {
		t.Fatalf("cancelled child not detached from parent: %d children left", n)
	}
}

func TestTokenFirstCauseWins(t *testing.T) {
	tok := NewToken()
	tok.Cancel(errCause)
	tok.Cancel(errors.New("later"))
	if tok.Err() != errCause {
		t.Fatalf("Err() = %v, want the first cause", tok.Err())
	}
}

func TestTokenChildOfCancelledIsBornCancelled(t *testing.T) {
	root := NewToken()
	root.Cancel(errCause)
	c := root.Child()
	if !c.Cancelled() || c.Err() != errCause || !isClosed(c.Done()) {
		t.Fatal("child of a cancelled token is live")
	}
}

func TestTokenZeroValue(t *testing.T) {
	var tok Token
	c := tok.Child()
	if tok.Cancelled() || tok.Err() != nil || isClosed(tok.Done()) {
		t.Fatal("zero token is not live")
	}
	tok.Cancel(errCause)
	if !c.Cancelled() {
		t.Fatal("zero token did not cancel its child")
	}
}

func TestTokenContext(t *testing.T) {
	tok := NewToken()
	ctx := tok.Context()
	if ctx != tok.Context() {
		t.Fatal("Context() returned a different context on the second call")
	}
	if ctx.Err() != nil {
		t.Fatal("context of a live token is done")
	}
	tok.Child().Context() // a child's context, never cancelled here, must not matter
	tok.Cancel(errCause)
	if !isClosed(ctx.Done()) || !errors.Is(ctx.Err(), context.Canceled) || context.Cause(ctx) != errCause {
		t.Fatalf("token context: err %v cause %v", ctx.Err(), context.Cause(ctx))
	}

	late := NewToken()
	late.Cancel(errCause)
	if context.Cause(late.Context()) != errCause {
		t.Fatal("context made after the cancel does not carry the cause")
	}
}

func TestTokenFromContext(t *testing.T) {
	defer noLeak(t)()
	ctx, cancel := context.WithCancelCause(context.Background())
	tok := TokenFromContext(ctx)
	if tok.Cancelled() {
		t.Fatal("token from a live context is cancelled")
	}
	cancel(errCause)
	select {
	case <-tok.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("token not cancelled with its context")
	}
	if tok.Err() != errCause {
		t.Fatalf("Err() = %v, want the context's cause", tok.Err())
	}

	// Cancelling the token leaves the context alone.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	tok2 := TokenFromContext(ctx2)
	tok2.Cancel(nil)
	if ctx2.Err() != nil {
		t.Fatal("cancelling the token cancelled its source context")
	}

	// A context that is already done gives a cancelled token.
	tok3 := TokenFromContext(ctx)
	select {
	case <-tok3.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("token from a done context never cancelled")
	}

	// A context that can never end gives a live token and no registration.
	if TokenFromContext(context.Background()).Cancelled() {
		t.Fatal("token from Background is cancelled")
	}
}

func TestWithToken(t *testing.T) {
	tok := NewToken()
	ctx, cancel := WithToken(context.Background(), tok)
	defer cancel()
	tok.Cancel(errCause)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("context not cancelled by its token")
	}
	if context.Cause(ctx) != errCause {
		t.Fatalf("cause %v, want the token's", context.Cause(ctx))
	}

	// The parent context still ends it, and cancel releases it.
	parent, pcancel := context.WithCancel(context.Background())
	ctx2, cancel2 := WithToken(parent, NewToken())
	pcancel()
	if ctx2.Err() == nil {
		t.Fatal("parent cancel did not reach the context")
	}
	cancel2()
}
