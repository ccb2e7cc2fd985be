package main

import "sync"

// cleanups is a stack of functions that stop what the suite started (processes, clusters,
// mounts), run last-in first-out by run. run may be called more than once and from a
// signal handler while a scenario still runs: each function runs once.
type cleanups struct {
	mu  sync.Mutex
	fns []*cleanup
}

type cleanup struct {
	once sync.Once
	fn   func()
}

// add pushes fn and returns a function that runs it now (once) and drops it from the stack.
func (c *cleanups) add(fn func()) (runNow func()) {
	cu := &cleanup{fn: fn}
	c.mu.Lock()
	c.fns = append(c.fns, cu)
	c.mu.Unlock()
	return func() { cu.once.Do(cu.fn) }
}

// run runs every function not yet run, the last added first.
func (c *cleanups) run() {
	c.mu.Lock()
	fns := c.fns
	c.fns = nil
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i].once.Do(fns[i].fn)
	}
}
