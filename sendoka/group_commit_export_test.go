package sendoka

// GroupWaiting returns how many sends wait in groups not yet being written.
func (c *Client) GroupWaiting() int {
	c.group.mu.Lock()
	defer c.group.mu.Unlock()
	return c.group.waiting
}
