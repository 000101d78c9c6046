package main

/*
#include "stark.h"
void stark__set_error(const char *msg, size_t n);
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/debug"
	"unsafe"

	"github.com/stark-rt/stark/host/actor"
	"github.com/stark-rt/stark/host/mem"
	"github.com/stark-rt/stark/host/wasm"
)

// Status codes, from abi/stark.h itself.
const (
	sOK          C.stark_status = C.STARK_OK
	sInvalid     C.stark_status = C.STARK_INVALID
	sNotFound    C.stark_status = C.STARK_NOT_FOUND
	sTimeout     C.stark_status = C.STARK_TIMEOUT
	sFull        C.stark_status = C.STARK_FULL
	sExhausted   C.stark_status = C.STARK_EXHAUSTED
	sStopped     C.stark_status = C.STARK_STOPPED
	sUnsupported C.stark_status = C.STARK_UNSUPPORTED
	sInternal    C.stark_status = C.STARK_INTERNAL
	sDenied      C.stark_status = C.STARK_DENIED
	sTooLarge    C.stark_status = C.STARK_TOO_LARGE
	sFailed      C.stark_status = C.STARK_FAILED
)

// setError records msg as the calling thread's last error. The exported
// function runs on the C caller's thread, so the C thread-local is theirs.
func setError(msg string) {
	if msg == "" {
		msg = "stark: error"
	}
	C.stark__set_error((*C.char)(unsafe.Pointer(unsafe.StringData(msg))), C.size_t(len(msg)))
}

// fail records a formatted message and returns st.
func fail(st C.stark_status, format string, args ...any) C.stark_status {
	setError(fmt.Sprintf(format, args...))
	return st
}

// fromErr maps an error of the host packages to a status and records its message.
func fromErr(err error) C.stark_status {
	if err == nil {
		return sOK
	}
	setError(err.Error())
	return statusOf(err)
}

func statusOf(err error) C.stark_status {
	var f *actor.Failure
	var ne *nativeError
	switch {
	case errors.Is(err, errNoReply):
		return sFailed
	case errors.As(err, &ne) && !errors.As(err, &f):
		return sFailed
	case errors.As(err, &f):
		return sFailed
	case errors.Is(err, mem.ErrPoolExhausted):
		return sExhausted
	case errors.Is(err, mem.ErrTooLarge):
		return sTooLarge
	case errors.Is(err, mem.ErrInvalidSize):
		return sInvalid
	case errors.Is(err, wasm.ErrMalformed), errors.Is(err, wasm.ErrContract):
		return sInvalid
	case errors.Is(err, mem.ErrReleased):
		return sNotFound
	}
	return C.stark_status(wasm.StatusOf(err))
}

// guard turns a panic in an export into STARK_INTERNAL; every export
// defers it, so no panic ever crosses into C.
func guard(st *C.stark_status) {
	if r := recover(); r != nil {
		*st = fail(sInternal, "stark: internal error: %v\n%s", r, debug.Stack())
	}
}

// nativeError is the failure of a native handler that returned a status.
type nativeError struct {
	status C.stark_status
	reason string
}

func (e *nativeError) Error() string {
	name := C.GoString(C.stark_status_name(e.status))
	if e.reason != "" {
		return fmt.Sprintf("handler returned %d (%s): %s", int32(e.status), name, e.reason)
	}
	return fmt.Sprintf("handler returned %d (%s)", int32(e.status), name)
}
