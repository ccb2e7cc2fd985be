package sendoka

// KeyFeedSynced reports whether the Client's feed of key changes (KeyInvalidations) is live
// and has confirmed every change until less than RevocationDelay ago, by the Client's clock:
// while it holds, a cached key read under the feed is used for AuthCacheConfig.TTL.
func (c *Client) KeyFeedSynced() bool {
	c.keys.mu.Lock()
	defer c.keys.mu.Unlock()
	return c.keys.live && within(c.clock.Now(), c.keys.watermark, RevocationDelay)
}

// WaitKeyWrites waits for the background LastUsedAt writes in flight.
func (c *Client) WaitKeyWrites() { c.keys.writes.Wait() }
