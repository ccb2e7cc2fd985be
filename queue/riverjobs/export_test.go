package riverjobs

// FastStart returns cfg with River's TestOnly mode on: maintenance services (the scheduler
// that makes scheduled jobs available among them) start at once instead of after a jitter.
func FastStart(cfg Config) Config {
	cfg.testOnly = true
	return cfg
}
